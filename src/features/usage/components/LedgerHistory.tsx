import { usePaginatedQuery } from "convex/react";
import { useId } from "react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { LoadMoreButton } from "@/src/components/LoadMoreButton";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { csvFileName, downloadText, ledgerCsv } from "../lib/csv";
import { drawnFromText, reasonLabel, signedAmount, visibleNote } from "../lib/labels";
import { formatDateTime } from "../lib/time";

/** Rows per page of `tokens.history` (the server allows up to 100). */
export const HISTORY_PAGE_SIZE = 25;

/**
 * Every change to the balance (`tokens.history`, newest first), a page at a
 * time: when, what happened, the signed amount, the balance after, and for
 * debits the grants they drew from. "Download CSV" saves the rows loaded so
 * far (load more first to include older ones).
 */
export function LedgerHistory() {
  const { results, status, loadMore } = usePaginatedQuery(api.tokens.history, {}, { initialNumItems: HISTORY_PAGE_SIZE });
  const loading = status === "LoadingFirstPage";
  const csvHintId = useId();
  const entries = `${formatCount(results.length)} ${results.length === 1 ? "entry" : "entries"}`;
  return (
    <section className="card" aria-labelledby="usage-history-title" data-testid="usage-history">
      <div className="card-head usage-history-head">
        <h2 id="usage-history-title">History</h2>
        {!loading && results.length > 0 ? (
          <button
            type="button"
            className="button button-secondary"
            onClick={() => downloadText(ledgerCsv(results), csvFileName())}
            data-testid="usage-download-csv"
            data-rows={results.length}
            aria-describedby={csvHintId}
          >
            Download CSV
          </button>
        ) : null}
      </div>
      {loading ? (
        <Skeleton lines={5} label="Loading history" />
      ) : results.length === 0 ? (
        <EmptyState title="Nothing here yet" testId="usage-history-empty">
          Every token added, used or returned will be listed here. <Link to={ROUTES.dashboard.path}>Run an analysis</Link> to see one.
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table usage-history-table">
              <caption className="sr-only">Token history, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What happened</th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                  <th scope="col" className="num">
                    Balance after
                  </th>
                </tr>
              </thead>
              <tbody>
                {results.map((entry) => {
                  const drawn = drawnFromText(entry);
                  const note = visibleNote(entry);
                  const tone = entry.amount > 0 ? "credit" : entry.amount < 0 ? "debit" : "zero";
                  return (
                    <tr key={entry._id} data-testid="usage-history-row" data-reason={entry.reason} data-amount={entry.amount}>
                      <td data-label="When" className="usage-when">
                        <time dateTime={new Date(entry._creationTime).toISOString()}>{formatDateTime(entry._creationTime)}</time>
                      </td>
                      <td data-label="What happened">
                        <span data-testid="usage-history-label">{reasonLabel(entry)}</span>
                        {drawn ? (
                          <span className="usage-subline muted" data-testid="usage-history-drawn">
                            {drawn}
                          </span>
                        ) : null}
                        {note ? (
                          <span className="usage-subline muted" data-testid="usage-history-note">
                            {note}
                          </span>
                        ) : null}
                      </td>
                      <td data-label="Amount" className={`num usage-amount usage-amount-${tone}`} data-testid="usage-history-amount">
                        {signedAmount(entry.amount)}
                      </td>
                      <td data-label="Balance after" className="num" data-testid="usage-history-balance">
                        {formatCount(entry.balanceAfter)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <div className="usage-history-more">
            <p className="muted" id={csvHintId} data-testid="usage-history-count">
              {status === "Exhausted"
                ? `That's everything: ${entries}. The CSV has them all.`
                : `Showing the latest ${entries}. The CSV has the entries loaded; load more to include older ones.`}
            </p>
            <LoadMoreButton status={status} onLoadMore={() => loadMore(HISTORY_PAGE_SIZE)} testId="usage-history-more" />
          </div>
        </>
      )}
    </section>
  );
}
