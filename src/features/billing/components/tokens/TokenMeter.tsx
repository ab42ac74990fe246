import { useQuery } from "convex/react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { BILLING_CONFIG } from "@/convex/billing/model/plans";
import { formatCount } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";

/** Live remaining-token count for the header; nothing when signed out. */
export function TokenMeter() {
  const balance = useQuery(api.tokens.balance);
  if (balance === undefined) return <span className="skeleton-pill" aria-label="Loading tokens" />;
  if (balance === null) return null;
  const total = Math.max(balance.allowance + balance.purchased, balance.remaining, 1);
  const percent = Math.round((balance.remaining / total) * 100);
  const tone = balance.remaining === 0 ? "danger" : balance.remaining <= BILLING_CONFIG.lowTokensThreshold ? "warning" : "ok";
  return (
    <Link to={ROUTES.billing.path} className={`token-meter tone-${tone}`} title={`${balance.remaining} tokens left`} aria-label={`${balance.remaining} tokens left`}>
      <span className="token-icon" aria-hidden="true">
        ◆
      </span>
      <span className="token-count" data-testid="token-meter" data-remaining={balance.remaining}>
        {formatCount(balance.remaining)}
      </span>
      <span className="token-label" aria-hidden="true">
        left
      </span>
      <span className="token-bar" aria-hidden="true">
        <span style={{ width: `${percent}%` }} />
      </span>
    </Link>
  );
}
