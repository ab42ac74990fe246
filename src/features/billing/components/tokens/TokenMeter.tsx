import { useQuery } from "convex/react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { isRunningLow } from "@/src/features/billing/lib/tokens";
import { formatCount, tokens } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";

/**
 * Live remaining-token count for the header; nothing when signed out. While
 * a run holds tokens (reserved, not yet charged or returned) it also says
 * how many: they are already out of `remaining`. While dunning freezes the
 * tokens (suspended or restricted) it says "frozen" instead of "left".
 */
export function TokenMeter() {
  const balance = useQuery(api.tokens.balance);
  if (balance === undefined) return <span className="skeleton-pill" aria-label="Loading tokens" />;
  if (balance === null) return null;
  const total = Math.max(balance.allowance + balance.purchased, balance.remaining, 1);
  const percent = Math.round((balance.remaining / total) * 100);
  const frozen = balance.frozen === true;
  const tone = frozen || balance.remaining === 0 ? "danger" : isRunningLow(balance) ? "warning" : "ok";
  const held = balance.held > 0 ? `, ${tokens(balance.held)} reserved for running jobs` : "";
  const label = frozen
    ? `${balance.remaining} tokens, frozen until the overdue invoice is paid`
    : `${balance.remaining} tokens left${held}`;
  return (
    <Link to={ROUTES.billing.path} className={`token-meter tone-${tone}`} title={label} aria-label={label}>
      <span className="token-icon" aria-hidden="true">
        ◆
      </span>
      <span className="token-count" data-testid="token-meter" data-remaining={balance.remaining}>
        {formatCount(balance.remaining)}
      </span>
      <span className="token-label" aria-hidden="true" data-testid={frozen ? "token-meter-frozen" : undefined}>
        {frozen ? "frozen" : "left"}
      </span>
      {balance.held > 0 ? (
        <span className="token-label" aria-hidden="true" data-testid="token-meter-held" data-held={balance.held}>
          · {formatCount(balance.held)} reserved
        </span>
      ) : null}
      <span className="token-bar" aria-hidden="true">
        <span style={{ width: `${percent}%` }} />
      </span>
    </Link>
  );
}
