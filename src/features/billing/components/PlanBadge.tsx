import { useQuery } from "convex/react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { tierName } from "@/src/features/billing/lib/pricing";
import { ROUTES } from "@/src/lib/routes";

/** Header badge with the caller's effective tier; nothing when signed out. */
export function PlanBadge() {
  const subscription = useQuery(api.billing.subscription);
  if (subscription === undefined) return <span className="skeleton-pill" aria-label="Loading plan" />;
  if (subscription === null) return null;
  const warn = subscription.status === "past_due";
  return (
    <Link
      to={ROUTES.billing.path}
      className={`plan-badge tier-${subscription.tier}${warn ? " is-warning" : ""}`}
      data-testid="plan-badge"
      data-tier={subscription.tier}
      data-status={subscription.status}
      title={warn ? "Payment past due" : `${tierName(subscription.tier)} plan`}
    >
      {tierName(subscription.tier)}
    </Link>
  );
}
