import { useConvexAuth, useQuery } from "convex/react";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../../../convex/_generated/api";
import { tierRank, type Interval, type PaidTier, type Tier } from "../../../../convex/model/plans";
import { EmptyState } from "../../../components/EmptyState";
import { IntervalToggle } from "../../../components/IntervalToggle";
import { SkeletonCard } from "../../../components/Skeleton";
import { useCheckout } from "../../../hooks/useCheckout";
import { yearlySavings } from "../../../lib/pricing";
import { useSession } from "../../../lib/session";
import type { PlanView, SubscriptionView } from "../../../lib/types";
import { PricingCard } from "./PricingCard";

type CardAction =
  | { kind: "loading" }
  | { kind: "current" }
  | { kind: "upgrade" }
  | { kind: "sign-in" }
  | { kind: "included" }
  | { kind: "contact-downgrade" }
  | { kind: "get-started" };

/**
 * What a plan card offers, given the caller's effective tier.
 * `subscription`: undefined = loading, null = signed out.
 */
export function cardAction(plan: PlanView, subscription: SubscriptionView | null | undefined): CardAction {
  if (subscription === undefined) return { kind: "loading" };
  if (subscription === null) return plan.purchasable ? { kind: "sign-in" } : { kind: "get-started" };
  const current: Tier = subscription.tier;
  if (plan.tier === current) return { kind: "current" };
  if (tierRank(plan.tier) > tierRank(current)) return plan.purchasable ? { kind: "upgrade" } : { kind: "included" };
  const subscribed = subscription.status !== "none" && subscription.status !== "canceled" && current !== "internal";
  return plan.purchasable && subscribed ? { kind: "contact-downgrade" } : { kind: "included" };
}

/** /pricing: the plan catalogue with monthly/yearly prices and upgrade buttons. */
export function PricingPage({ compact = false }: { compact?: boolean }) {
  const plans = useQuery(api.plans.list);
  const subscription = useQuery(api.billing.subscription);
  const { isLoading: authLoading } = useConvexAuth();
  const { openSignIn } = useSession();
  const { startCheckout, pendingTier } = useCheckout();
  const [interval, setInterval] = useState<Interval>("month");

  // While Convex is still confirming the token, a null subscription means "not yet", not "signed out".
  const effectiveSubscription = authLoading ? undefined : subscription;

  return (
    <section className="pricing" aria-labelledby="pricing-title">
      <div className="section-head">
        <div>
          <h1 id="pricing-title" className={compact ? "h2" : undefined}>
            {compact ? "Plans" : "Simple pricing that grows with you"}
          </h1>
          {!compact ? <p className="muted">Every plan includes a token allowance that refills each billing period.</p> : null}
        </div>
        <IntervalToggle value={interval} onChange={setInterval} testId="interval-toggle" savingsLabel={plans ? yearlySavings(plans) : null} />
      </div>

      {plans === undefined ? (
        <div className="pricing-grid" aria-busy="true">
          {[0, 1, 2, 3].map((i) => (
            <SkeletonCard key={i} label="Loading plans" lines={6} />
          ))}
        </div>
      ) : plans.length === 0 ? (
        <EmptyState title="No plans are available right now." testId="pricing-empty">
          Please check back soon.
        </EmptyState>
      ) : (
        <div className="pricing-grid">
          {plans.map((plan) => {
            const action = cardAction(plan, effectiveSubscription);
            return (
              <PricingCard
                key={plan.tier}
                plan={plan}
                interval={interval}
                isCurrent={action.kind === "current"}
                highlighted={plan.tier === "pro" && action.kind !== "current"}
                action={renderAction(action, plan, {
                  pending: pendingTier,
                  onUpgrade: () => void startCheckout(plan.tier as PaidTier, interval, effectiveSubscription ?? null),
                  onSignIn: openSignIn,
                })}
              />
            );
          })}
        </div>
      )}
    </section>
  );
}

function renderAction(
  action: CardAction,
  plan: PlanView,
  { pending, onUpgrade, onSignIn }: { pending: PaidTier | null; onUpgrade: () => void; onSignIn: () => void },
) {
  const testId = `pricing-action-${plan.tier}`;
  switch (action.kind) {
    case "loading":
      return <span className="skeleton-button" data-testid={testId} aria-hidden="true" />;
    case "current":
      return (
        <button type="button" className="button button-secondary button-block" disabled data-testid={testId}>
          Your current plan
        </button>
      );
    case "upgrade":
      return (
        <button
          type="button"
          className={`button button-block ${plan.tier === "pro" ? "button-primary" : "button-secondary"}`}
          data-testid={`upgrade-button-${plan.tier}`}
          disabled={pending !== null}
          aria-busy={pending === plan.tier}
          onClick={onUpgrade}
        >
          {pending === plan.tier ? "Redirecting…" : "Upgrade"}
        </button>
      );
    case "sign-in":
      return (
        <button type="button" className="button button-secondary button-block" data-testid={`upgrade-button-${plan.tier}`} onClick={onSignIn}>
          Sign in to upgrade
        </button>
      );
    case "get-started":
      return (
        <button type="button" className="button button-secondary button-block" data-testid={testId} onClick={onSignIn}>
          Get started free
        </button>
      );
    case "included":
      return (
        <p className="plan-note" data-testid={testId}>
          Included
        </p>
      );
    case "contact-downgrade":
      return (
        <Link className="plan-note link" to="/billing" data-testid={testId}>
          Contact to downgrade
        </Link>
      );
  }
}
