import { usePaginatedQuery } from "convex/react";
import { generatePath, Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { LoadMoreButton } from "@/src/components/LoadMoreButton";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { actionLabel, actorLabel, changedKeys, formatDateTime, prettyJson } from "../lib/format";
import type { AuditRow } from "../lib/types";

/** Audit entries per page of `admin.auditLog`. */
export const AUDIT_PAGE_SIZE = 25;

/**
 * The audit log (`admin.auditLog`, newest first, a page at a time): when,
 * who, what, before → after, and why. With `accountId`, that account's
 * entries; without, every account's (with a link to each).
 */
export function AuditLogTable({ accountId }: { accountId?: string }) {
  const args = accountId ? { accountId } : {};
  const { results, status, loadMore } = usePaginatedQuery(api.admin.auditLog, args, { initialNumItems: AUDIT_PAGE_SIZE });
  const titleId = accountId ? "admin-account-audit-title" : "admin-audit-title";
  return (
    <section className="card" aria-labelledby={titleId} data-testid="admin-audit">
      <div className="card-head">
        <h2 id={titleId}>{accountId ? "Audit log for this account" : "Audit log"}</h2>
      </div>
      {status === "LoadingFirstPage" ? (
        <Skeleton lines={5} label="Loading the audit log" />
      ) : results.length === 0 ? (
        <EmptyState title="No audit entries yet" testId="admin-audit-empty">
          Every change to money, access or credits is recorded here with who made it and why.
        </EmptyState>
      ) : (
        <>
          <ol className="admin-audit-list">
            {results.map((row) => (
              <AuditEntry key={row._id} row={row} showAccount={!accountId} />
            ))}
          </ol>
          <div className="admin-more">
            <p className="muted">{`${formatCount(results.length)} ${results.length === 1 ? "entry" : "entries"} shown${status === "Exhausted" ? ", that's all." : "."}`}</p>
            <LoadMoreButton status={status} onLoadMore={() => loadMore(AUDIT_PAGE_SIZE)} testId="admin-audit-more" />
          </div>
        </>
      )}
    </section>
  );
}

function AuditEntry({ row, showAccount }: { row: AuditRow; showAccount: boolean }) {
  const changed = changedKeys(row.before, row.after);
  return (
    <li className="admin-audit-entry" data-testid="admin-audit-row" data-action={row.action}>
      <div className="admin-audit-head">
        <strong data-testid="admin-audit-action">{actionLabel(row.action)}</strong>
        <time className="muted" dateTime={new Date(row._creationTime).toISOString()}>
          {formatDateTime(row._creationTime)}
        </time>
      </div>
      <p className="admin-audit-meta muted">
        <span data-testid="admin-audit-actor">{actorLabel(row.actorKind, row.actor)}</span>
        {showAccount && row.accountId ? (
          <>
            {" · "}
            <Link to={generatePath(ROUTES.adminAccount.path, { accountId: row.accountId })}>Account</Link>
          </>
        ) : null}
        {changed.length > 0 ? ` · changed ${changed.join(", ")}` : ""}
      </p>
      <p className="admin-audit-reason" data-testid="admin-audit-reason">
        <span className="muted">Reason: </span>
        {row.reason || "—"}
      </p>
      <details className="admin-audit-diff">
        <summary>Before and after</summary>
        <div className="admin-diff">
          <pre aria-label="Before" data-testid="admin-audit-before">
            {prettyJson(row.before)}
          </pre>
          <pre aria-label="After" data-testid="admin-audit-after">
            {prettyJson(row.after)}
          </pre>
        </div>
      </details>
    </li>
  );
}
