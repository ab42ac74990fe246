import { useConvexAuth, useQuery } from "convex/react";
import { useState } from "react";
import { api } from "@/convex/_generated/api";
import { tierRank, type Interval, type PaidTier, type Tier } from "@/convex/billing/model/plans";
import { EmptyState } from "@/src/components/EmptyState";
import { IntervalToggle } from "./IntervalToggle";
import { usePlanChange } from "@/src/features/billing/components/planChange/context";
import { PayFirst } from "@/src/features/billing/components/planChange/PayFirst";
import { SkeletonCard } from "@/src/components/Skeleton";
import { useCheckout } from "@/src/features/billing/hooks/useCheckout";
import { useCurrency } from "@/src/features/billing/hooks/useCurrency";
import { CurrencySelect } from "./CurrencySelect";
import { formatDate } from "@/src/lib/format";
import { changeDirection, hasBilledSubscription, subscribedTier } from "@/src/features/billing/lib/planChange";
import { yearlySavings } from "@/src/features/billing/lib/pricing";
import { useSession } from "@/src/lib/session";
import type { PlanView, SubscriptionView } from "@/src/features/billing/lib/types";
import { PricingCard } from "./PricingCard";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";
import { useCheckoutSeats } from "@/src/features/billing/components/seats/CheckoutSeats";

type CardAction =
  | { kind: "loading" }
  | { kind: "current" }
  | { kind: "upgrade" }
  | { kind: "change"; direction: "upgrade" | "downgrade" }
  | { kind: "scheduled"; effectiveAt: number }
  | { kind: "pay-first"; hostedInvoiceUrl: string | null }
  /** On a free trial: its plan stays to the trial's end (`TRIAL_ACTIVE`, docs/TRIALS.md). */
  | { kind: "after-trial" }
  | { kind: "sign-in" }
  | { kind: "included" }
  | { kind: "get-started" }
  /** An organisation member: admins buy and change plans. */
  | { kind: "admins-only" };

/**
 * What a plan card offers on `interval`, given the caller's subscription.
 * `subscription`: undefined = loading, null = signed out.
 *
 * A subscriber (a subscription Stripe bills) changes plan in the app: a higher
 * tier, or the same tier yearly instead of monthly, is an upgrade; a lower
 * tier or a shorter interval switches at the period end. Their plan is
 * "current" only on its own interval. Everyone else buys through Checkout.
 * A free trial keeps its plan to its end: other plans wait for it.
 */
export function cardAction(plan: PlanView, subscription: SubscriptionView | null | undefined, interval: Interval): CardAction {
  if (subscription === undefined) return { kind: "loading" };
  if (subscription === null) return plan.purchasable ? { kind: "sign-in" } : { kind: "get-started" };
  if (!hasBilledSubscription(subscription)) {
    const current: Tier = subscription.tier;
    if (plan.tier === current) return { kind: "current" };
    return tierRank(plan.tier) > tierRank(current) && plan.purchasable ? { kind: "upgrade" } : { kind: "included" };
  }
  const direction = changeDirection({ tier: subscribedTier(subscription), interval: subscription.interval }, plan.tier, interval);
  if (direction === "current") return { kind: "current" };
  if (!plan.purchasable) return { kind: "included" };
  const scheduled = subscription.scheduledChange;
  if (scheduled && scheduled.tier === plan.tier && scheduled.interval === interval) return { kind: "scheduled", effectiveAt: scheduled.effectiveAt };
  if (subscription.attention) return { kind: "pay-first", hostedInvoiceUrl: subscription.attention.hostedInvoiceUrl };
  if (subscription.status === "trialing") return { kind: "after-trial" };
  return { kind: "change", direction };
}

/** /pricing: the plan catalogue with monthly/yearly prices and upgrade buttons. */
export function PricingPage({ compact = false }: { compact?: boolean }) {
  const plans = useQuery(api.plans.list);
  const subscription = useQuery(api.billing.subscription);
  const { isLoading: authLoading } = useConvexAuth();
  const { openSignIn } = useSession();
  const { startCheckout, pendingTier } = useCheckout();
  const { openPlanChange } = usePlanChange();
  const [chosenInterval, setInterval] = useState<Interval | null>(null);
  const currency = useCurrency();
  const member = useIsOrgMember();
  // An organisation admin buying a per-seat plan chooses its seats (docs/SEATS.md).
  const checkoutSeats = useCheckoutSeats();

  // While Convex is still confirming the token, a null subscription means "not yet", not "signed out".
  const effectiveSubscription = authLoading ? undefined : subscription;
  // Open on the subscriber's own interval until they pick one.
  const interval: Interval = chosenInterval ?? effectiveSubscription?.interval ?? "month";

  return (
    <section className="pricing" aria-labelledby="pricing-title">
      <div className="section-head">
        <div>
          <h1 id="pricing-title" className={compact ? "h2" : undefined}>
            {compact ? "Plans" : "Simple pricing that grows with you"}
          </h1>
          {!compact ? <p className="muted">Every plan includes a token allowance that refills every month, yearly plans too.</p> : null}
          {member ? <AdminOnlyNote detail="You can compare plans; an admin of this organisation changes them." /> : null}
        </div>
        <div className="pricing-controls" style={{ display: "flex", flexWrap: "wrap", alignItems: "center", gap: "0.75rem 1rem" }}>
          <IntervalToggle value={interval} onChange={setInterval} testId="interval-toggle" savingsLabel={plans ? yearlySavings(plans) : null} />
          <CurrencySelect preference={currency} />
        </div>
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
            const offered = cardAction(plan, effectiveSubscription, interval);
            const buys = offered.kind === "upgrade" || offered.kind === "change" || offered.kind === "pay-first";
            const action: CardAction = member && buys ? { kind: "admins-only" } : offered;
            return (
              <PricingCard
                key={plan.tier}
                plan={plan}
                interval={interval}
                isCurrent={action.kind === "current"}
                highlighted={plan.tier === "pro" && action.kind !== "current"}
                currency={currency.currency}
                action={
                  <>
                  {action.kind === "upgrade" ? checkoutSeats.picker(plan, interval, currency.currency) : null}
                  {renderAction(action, plan, {
                  pending: pendingTier,
                  onUpgrade: () =>
                    void startCheckout(plan.tier as PaidTier, interval, effectiveSubscription ?? null, currency.currency, false, checkoutSeats.seatsFor(plan.tier)),
                  // One free trial per account and per person (docs/TRIALS.md): offered only
                  // until the account or the caller has had one (`trialUsed`).
                  onTrial:
                    plan.trial && effectiveSubscription && !effectiveSubscription.trialUsed
                      ? () => void startCheckout(plan.tier as PaidTier, interval, effectiveSubscription, currency.currency, true, checkoutSeats.seatsFor(plan.tier))
                      : undefined,
                  trialUsed: Boolean(plan.trial && effectiveSubscription?.trialUsed),
                  onChange: () => openPlanChange({ tier: plan.tier as PaidTier, interval }),
                  onSignIn: openSignIn,
                })}
                  </>
                }
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
  {
    pending,
    onUpgrade,
    onChange,
    onSignIn,
    onTrial,
    trialUsed,
  }: { pending: PaidTier | null; onUpgrade: () => void; onChange: () => void; onSignIn: () => void; onTrial?: () => void; trialUsed: boolean },
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
        <>
        {onTrial && plan.trial ? (
          <button
            type="button"
            className="button button-block button-primary"
            data-testid={`start-trial-${plan.tier}`}
            disabled={pending !== null}
            onClick={onTrial}
          >
            {`Start ${plan.trial.days}-day trial`}
            {plan.trial.cardRequired ? null : <span className="sr-only"> (no card needed)</span>}
          </button>
        ) : null}
        {trialUsed ? (
          <p className="plan-note muted" data-testid={`trial-used-${plan.tier}`}>
            You've already had your free trial.
          </p>
        ) : null}
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
        </>
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
    case "change":
      return action.direction === "upgrade" ? (
        <button
          type="button"
          className={`button button-block ${plan.tier === "pro" ? "button-primary" : "button-secondary"}`}
          data-testid={`upgrade-button-${plan.tier}`}
          data-change="upgrade"
          onClick={onChange}
        >
          Upgrade
        </button>
      ) : (
        <button type="button" className="button button-secondary button-block" data-testid={`switch-button-${plan.tier}`} data-change="downgrade" onClick={onChange}>
          Switch at period end
        </button>
      );
    case "scheduled":
      return (
        <p className="plan-note" data-testid={testId}>
          Starts on {formatDate(action.effectiveAt)}
        </p>
      );
    case "after-trial":
      return (
        <p className="plan-note muted" data-testid={testId}>
          Available after your trial
        </p>
      );
    case "admins-only":
      return (
        <p className="plan-note muted" data-testid={testId}>
          Admins only
        </p>
      );
    case "pay-first":
      return <PayFirst hostedInvoiceUrl={action.hostedInvoiceUrl} testId={`pay-first-${plan.tier}`} />;
  }
}
