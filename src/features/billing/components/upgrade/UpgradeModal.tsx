import { useQuery } from "convex/react";
import { useCallback, useMemo, useState, type ReactNode } from "react";
import { api } from "@/convex/_generated/api";
import { FEATURES, PLANS, nextTier, tierRank, type Interval, type PaidTier, type Tier } from "@/convex/billing/model/plans";
import { useCheckout } from "@/src/features/billing/hooks/useCheckout";
import { useCurrency } from "@/src/features/billing/hooks/useCurrency";
import { hasBilledSubscription, subscribedTier } from "@/src/features/billing/lib/planChange";
import { priceLabel, tierName, yearlySavings } from "@/src/features/billing/lib/pricing";
import { Dialog } from "@/src/components/Dialog";
import { usePlanChange } from "@/src/features/billing/components/planChange/context";
import { PayFirst } from "@/src/features/billing/components/planChange/PayFirst";
import { IntervalToggle } from "@/src/features/billing/components/pricing/IntervalToggle";
import { TokenPacks } from "@/src/features/billing/components/pricing/TokenPacks";
import { Skeleton } from "@/src/components/Skeleton";
import { UpgradeModalContext, type UpgradeRequest } from "./context";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

function titleFor(request: UpgradeRequest): string {
  const featureName = request.feature ? FEATURES[request.feature]?.name : undefined;
  switch (request.reason) {
    case "tier_required":
      return `${featureName ?? "This feature"} needs ${tierName(request.requiredTier ?? "pro")}`;
    case "no_tokens":
      return "You're out of tokens";
    case "insufficient_tokens":
      return `Not enough tokens for ${featureName ?? "this"}`;
    case "low_tokens":
      return "You're running low on tokens";
    case "manual":
      return "Upgrade your plan";
  }
}

/**
 * The upgrade dialog: the tiers above the caller's, what each adds over the
 * current plan, and an upgrade button per tier (same behaviour as /pricing):
 * Checkout for free users, the in-app plan change (preview → confirm) for
 * subscribers, or "pay first" while a payment needs attention. An
 * organisation member is told admins buy plans and tokens, with no buttons.
 */
export function UpgradeModal({ request, onClose }: { request: UpgradeRequest | null; onClose: () => void }) {
  const plans = useQuery(api.plans.list);
  const subscription = useQuery(api.billing.subscription);
  const balance = useQuery(api.tokens.balance);
  const { startCheckout, pendingTier } = useCheckout();
  const { currency } = useCurrency();
  const { openPlanChange } = usePlanChange();
  const [chosenInterval, setInterval] = useState<Interval | null>(null);
  const interval: Interval = chosenInterval ?? subscription?.interval ?? "month";
  const member = useIsOrgMember();

  const subscribed = hasBilledSubscription(subscription);
  const currentTier: Tier = subscription ? (subscribed ? subscribedTier(subscription) : subscription.tier) : "free";
  const recommended: Tier | null =
    request?.requiredTier && tierRank(request.requiredTier) > tierRank(currentTier) ? request.requiredTier : nextTier(currentTier);
  const higher = (plans ?? []).filter((p) => p.purchasable && tierRank(p.tier) > tierRank(currentTier));
  const choose = (tier: PaidTier) => {
    if (subscribed) {
      // Only higher tiers are listed, so this is always an upgrade: preview and confirm it in the app.
      onClose();
      openPlanChange({ tier, interval });
      return;
    }
    void startCheckout(tier, interval, subscription ?? null, currency);
  };
  const current = PLANS[currentTier];

  const tokenReason = request?.reason === "no_tokens" || request?.reason === "insufficient_tokens" || request?.reason === "low_tokens";
  const packs =
    tokenReason && subscription ? (
      <section aria-label="Token packs">
        <h3 className="subheading">{higher.length > 0 ? "Or top up without changing plan" : "Top up your tokens"}</h3>
        <TokenPacks purchasedBefore={balance?.purchased ?? null} />
      </section>
    ) : null;

  let body: ReactNode;
  if (plans === undefined || subscription === undefined) {
    body = <Skeleton lines={4} label="Loading plans" />;
  } else if (member) {
    body = <AdminOnlyNote detail="Ask an admin of this organisation to upgrade the plan or buy tokens." testId="upgrade-modal-admin-only" />;
  } else if (higher.length === 0) {
    body = (
      <>
        <p className="muted">You're on our top plan. Tokens refill at the start of your next period.</p>
        {packs}
      </>
    );
  } else {
    body = (
      <>
        <IntervalToggle value={interval} onChange={setInterval} testId="upgrade-modal-interval" savingsLabel={yearlySavings(plans)} />
        <ul className="upgrade-options">
          {higher.map((plan) => {
            const price = priceLabel(plan, interval, undefined, currency);
            const isRecommended = plan.tier === recommended;
            const gained = plan.tokensPerPeriod - current.tokensPerPeriod;
            return (
              <li key={plan.tier} className={`upgrade-option${isRecommended ? " is-recommended" : ""}`} data-testid={`upgrade-modal-option-${plan.tier}`}>
                <div className="upgrade-option-head">
                  <h3>
                    {plan.name}
                    {isRecommended ? <span className="pill pill-accent">Recommended</span> : null}
                  </h3>
                  {price ? (
                    <p className="price-inline">
                      <strong>{price.amount}</strong>
                      <span className="muted">{price.per}</span>
                    </p>
                  ) : null}
                </div>
                <ul className="checklist">
                  {gained > 0 ? <li>+{gained} tokens per period ({plan.tokensPerPeriod} in total)</li> : null}
                  {plan.features.map((f) => (
                    <li key={f}>{f}</li>
                  ))}
                </ul>
                {subscribed && subscription?.attention ? (
                  <PayFirst hostedInvoiceUrl={subscription.attention.hostedInvoiceUrl} testId={`upgrade-modal-pay-first-${plan.tier}`} />
                ) : (
                  <button
                    type="button"
                    className={`button ${isRecommended ? "button-primary" : "button-secondary"} button-block`}
                    data-testid={`upgrade-modal-upgrade-${plan.tier}`}
                    disabled={pendingTier !== null}
                    aria-busy={pendingTier === plan.tier}
                    onClick={() => choose(plan.tier as PaidTier)}
                  >
                    {pendingTier === plan.tier ? "Redirecting…" : `Upgrade to ${plan.name}`}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
        {packs}
      </>
    );
  }

  return (
    <Dialog
      open={request !== null}
      onClose={onClose}
      title={request ? titleFor(request) : ""}
      description={`You're on the ${current.name} plan.`}
      testId="upgrade-modal"
      closeTestId="upgrade-modal-close"
      size="lg"
      footer={
        <button type="button" className="button button-ghost" data-testid="upgrade-modal-dismiss" onClick={onClose}>
          Not now
        </button>
      }
    >
      {body}
    </Dialog>
  );
}

/** Mounts one UpgradeModal and exposes `useUpgradeModal().openUpgrade(...)`. */
export function UpgradeModalProvider({ children }: { children: ReactNode }) {
  const [request, setRequest] = useState<UpgradeRequest | null>(null);
  const openUpgrade = useCallback((next: UpgradeRequest = { reason: "manual" }) => setRequest(next), []);
  const closeUpgrade = useCallback(() => setRequest(null), []);
  const value = useMemo(() => ({ openUpgrade, closeUpgrade }), [openUpgrade, closeUpgrade]);
  return (
    <UpgradeModalContext.Provider value={value}>
      {children}
      {request ? <UpgradeModal request={request} onClose={closeUpgrade} /> : null}
    </UpgradeModalContext.Provider>
  );
}
