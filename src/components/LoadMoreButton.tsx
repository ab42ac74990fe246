import type { PaginationStatus } from "convex/react";

/**
 * The "Load more" button under a paginated list (`usePaginatedQuery`):
 * nothing once every page is loaded, disabled and "Loading…" while the next
 * page is on its way.
 */
export function LoadMoreButton({
  status,
  onLoadMore,
  testId,
}: {
  status: PaginationStatus;
  onLoadMore: () => void;
  testId: string;
}) {
  if (status === "Exhausted") return null;
  const loading = status === "LoadingMore";
  return (
    <button
      type="button"
      className="button button-secondary"
      onClick={onLoadMore}
      disabled={loading || status === "LoadingFirstPage"}
      aria-busy={loading}
      data-testid={testId}
    >
      {loading ? "Loading…" : "Load more"}
    </button>
  );
}
