import type { ReactNode } from "react";
import { overageUnitAmount, PLANS, type Interval } from "@/convex/billing/model/plans";
import { formatCount, formatMoney } from "@/src/lib/format";
import { priceLabel } from "@/src/features/billing/lib/pricing";
import type { PlanView } from "@/src/features/billing/lib/types";

export function PricingCard({
  plan,
  interval,
  isCurrent,
  highlighted,
  action,
  currency,
}: {
  plan: PlanView;
  interval: Interval;
  isCurrent: boolean;
  highlighted: boolean;
  action: ReactNode;
  /** Lower-case currency the prices are shown in (default: the plan's own). */
  currency?: string;
}) {
  const price = priceLabel(plan, interval, undefined, currency);
  // The per-token overage rate in the shown currency (plans that bill overage).
  const overage = PLANS[plan.tier].overage;
  const rate = overage && currency ? overageUnitAmount(currency) : null;
  return (
    <article
      className={`card pricing-card${isCurrent ? " is-current" : ""}${highlighted ? " is-highlighted" : ""}`}
      data-testid={`pricing-card-${plan.tier}`}
      data-current={isCurrent || undefined}
      aria-label={`${plan.name} plan`}
    >
      <header className="pricing-card-head">
        <h2>{plan.name}</h2>
        {isCurrent ? (
          <span className="pill pill-success" data-testid={`current-plan-${plan.tier}`}>
            Current plan
          </span>
        ) : highlighted ? (
          <span className="pill pill-accent">Most popular</span>
        ) : null}
      </header>
      <p className="muted">{plan.description}</p>
      <p className="price" data-testid={`price-${plan.tier}`}>
        {price ? (
          <>
            <span className="price-amount">{price.amount}</span>
            <span className="price-per">{price.per}</span>
          </>
        ) : (
          <span className="price-amount">Free</span>
        )}
      </p>
      <p className="price-note muted">{price?.monthlyEquivalent ?? "\u00a0"}</p>
      <p className="tokens-line">
        <strong>{formatCount(plan.tokensPerPeriod)}</strong> tokens per month
      </p>
      <ul className="checklist">
        {plan.features.map((feature) => (
          <li key={feature}>{feature}</li>
        ))}
        {rate !== null && currency ? (
          <li data-testid={`overage-rate-${plan.tier}`}>Extra tokens at {formatMoney(rate, currency)} each</li>
        ) : null}
      </ul>
      <div className="pricing-card-action">{action}</div>
    </article>
  );
}
