/** Placeholder shown while a query is `undefined` (loading). */
export function Skeleton({ lines = 3, label = "Loading", className = "" }: { lines?: number; label?: string; className?: string }) {
  return (
    <div className={`skeleton ${className}`} role="status" aria-live="polite" aria-label={label} aria-busy="true">
      {Array.from({ length: lines }, (_, i) => (
        <span key={i} className="skeleton-line" style={{ width: `${90 - ((i * 17) % 40)}%` }} />
      ))}
    </div>
  );
}

export function SkeletonCard({ label, lines = 4 }: { label?: string; lines?: number }) {
  return (
    <div className="card">
      <Skeleton lines={lines} label={label} />
    </div>
  );
}
