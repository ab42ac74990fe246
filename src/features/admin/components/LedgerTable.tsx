import { usePaginatedQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { LoadMoreButton } from "@/src/components/LoadMoreButton";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount } from "@/src/lib/format";
import { formatDateTime, statusLabel } from "../lib/format";

/** Ledger rows per page of `admin.ledger`. */
export const LEDGER_PAGE_SIZE = 20;

/** "+100" / "−40" (a real minus sign) / "0". */
export function signedTokens(amount: number): string {
  if (amount > 0) return `+${formatCount(amount)}`;
  if (amount < 0) return `\u2212${formatCount(-amount)}`;
  return "0";
}

/** Every token movement of the account (`admin.ledger`, newest first), a page at a time. */
export function LedgerTable({ accountId }: { accountId: string }) {
  const { results, status, loadMore } = usePaginatedQuery(
    api.admin.ledger,
    { accountId },
    { initialNumItems: LEDGER_PAGE_SIZE },
  );
  return (
    <section className="card" aria-labelledby="admin-ledger-title" data-testid="admin-ledger">
      <div className="card-head">
        <h2 id="admin-ledger-title">Ledger</h2>
      </div>
      {status === "LoadingFirstPage" ? (
        <Skeleton lines={4} label="Loading the ledger" />
      ) : results.length === 0 ? (
        <EmptyState title="No token movements yet" testId="admin-ledger-empty" />
      ) : (
        <>
          <div className="table-wrap">
            <table className="table admin-table">
              <caption className="sr-only">Token ledger, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Note</th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                  <th scope="col" className="num">
                    Balance after
                  </th>
                </tr>
              </thead>
              <tbody>
                {results.map((row) => (
                  <tr key={row._id} data-testid="admin-ledger-row" data-reason={row.reason}>
                    <td data-label="When">{formatDateTime(row._creationTime)}</td>
                    <td data-label="Reason">
                      {statusLabel(row.reason)}
                      {row.feature ? <span className="admin-subline muted">{row.feature}</span> : null}
                    </td>
                    <td data-label="Note">{row.note ?? <span className="muted">—</span>}</td>
                    <td data-label="Amount" className="num" data-testid="admin-ledger-amount">
                      {signedTokens(row.amount)}
                    </td>
                    <td data-label="Balance after" className="num">
                      {formatCount(row.balanceAfter)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {status === "Exhausted" ? null : (
            <div className="admin-more">
              <span />
              <LoadMoreButton status={status} onLoadMore={() => loadMore(LEDGER_PAGE_SIZE)} testId="admin-ledger-more" />
            </div>
          )}
        </>
      )}
    </section>
  );
}
