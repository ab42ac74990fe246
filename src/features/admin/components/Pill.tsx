import { statusLabel, statusTone } from "../lib/format";

/** A status pill (subscription, invoice, queue, grant or hold status), "—" when absent. */
export function StatusPill({ status, testId }: { status: string | null | undefined; testId?: string }) {
  if (!status) return <span className="muted">—</span>;
  return (
    <span className={`pill pill-${statusTone(status)}`} data-testid={testId} data-status={status}>
      {statusLabel(status)}
    </span>
  );
}
