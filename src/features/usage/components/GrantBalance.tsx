import { useQuery } from "convex/react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount, formatDate, tokens } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { categoryLabel, drawOrderSentence, grantNote } from "../lib/labels";

/**
 * What the balance is made of: the active grants (`tokens.grants`) in the
 * order debits draw on them, each with what remains of it and its expiry.
 */
export function GrantBalance() {
  const grants = useQuery(api.tokens.grants);
  const balance = useQuery(api.tokens.balance);
  const available = grants?.reduce((sum, g) => sum + g.remaining, 0) ?? 0;
  return (
    <section className="card" aria-labelledby="usage-grants-title" data-testid="usage-grants">
      <div className="card-head">
        <h2 id="usage-grants-title">Your balance</h2>
        {grants && grants.length > 0 ? (
          <span className="muted" data-testid="usage-grants-total" data-available={available}>
            <strong>{formatCount(available)}</strong> available
          </span>
        ) : null}
      </div>
      {grants === undefined ? (
        <Skeleton lines={3} label="Loading your balance" />
      ) : grants.length === 0 ? (
        <EmptyState title="No tokens right now" testId="usage-grants-empty">
          Your plan adds its allowance each period; <Link to={ROUTES.billing.path}>token packs</Link> add more.
        </EmptyState>
      ) : (
        <>
          <p className="muted usage-draw-order" data-testid="usage-draw-order">
            {drawOrderSentence(grants.map((g) => g.category))}
          </p>
          <div className="table-wrap">
            <table className="table usage-grants-table">
              <caption className="sr-only">Active token grants, in the order they are used</caption>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col">Source</th>
                  <th scope="col" className="num">
                    Remaining
                  </th>
                  <th scope="col">Expiry</th>
                </tr>
              </thead>
              <tbody>
                {grants.map((grant, i) => {
                  const note = grantNote(grant);
                  const percent = grant.amount > 0 ? Math.min(100, Math.round((grant.remaining / grant.amount) * 100)) : 0;
                  return (
                    <tr key={grant.grantId} data-testid="usage-grant" data-category={grant.category} data-grant-id={grant.grantId}>
                      <td data-label="Order" className="usage-grant-order">
                        {i + 1}
                      </td>
                      <td data-label="Source">
                        <span data-testid="usage-grant-category">{categoryLabel(grant.category)}</span>
                        {note ? <span className="usage-subline muted">{note}</span> : null}
                      </td>
                      <td data-label="Remaining" className="num">
                        <span data-testid="usage-grant-remaining">
                          {formatCount(grant.remaining)} of {formatCount(grant.amount)}
                        </span>
                        <span className="usage-grant-bar" aria-hidden="true">
                          <span style={{ width: `${percent}%` }} />
                        </span>
                      </td>
                      <td data-label="Expiry" data-testid="usage-grant-expiry">
                        {grant.expiresAt === null ? "Never expires" : `Expires ${formatDate(grant.expiresAt)}`}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
      {balance && balance.held > 0 ? (
        <p className="muted" data-testid="usage-held" data-held={balance.held}>
          {tokens(balance.held)} reserved for running jobs are not counted above: charged when they finish, given back if they fail.
        </p>
      ) : null}
    </section>
  );
}
