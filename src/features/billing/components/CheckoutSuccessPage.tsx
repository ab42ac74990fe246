import { useConvexAuth, useQuery } from "convex/react";
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../../../../convex/_generated/api";
import { PAID_TIERS, isTier, tierRank } from "../../../../convex/model/plans";
import { rememberTierBeforeCheckout, tierBeforeCheckout } from "../../../lib/browser";
import { tierName } from "../../../lib/pricing";
import type { SubscriptionView } from "../../../lib/types";

/** How long to wait for the webhook before telling the person it is taking a while. */
export const ACTIVATION_TIMEOUT_MS = 30_000;

/**
 * Whether the subscription now reflects the checkout: a paid tier that is
 * active or trialing, and higher than the tier before checkout when known.
 */
export function isActivated(subscription: SubscriptionView | null | undefined, previousTier: string | null): boolean {
  if (!subscription) return false;
  if (!(PAID_TIERS as readonly string[]).includes(subscription.tier)) return false;
  if (subscription.status !== "active" && subscription.status !== "trialing") return false;
  if (previousTier && isTier(previousTier)) return tierRank(subscription.tier) > tierRank(previousTier);
  return true;
}

/**
 * /billing/success: Stripe redirects here after Checkout. The plan flips live
 * when the webhook lands (billing.subscription is a reactive query; no polling).
 */
export function CheckoutSuccessPage({ timeoutMs = ACTIVATION_TIMEOUT_MS }: { timeoutMs?: number }) {
  const [params] = useSearchParams();
  const sessionId = params.get("session_id");
  const [previousTier] = useState(tierBeforeCheckout);
  const { isLoading: authLoading } = useConvexAuth();
  const subscription = useQuery(api.billing.subscription);
  const [timedOut, setTimedOut] = useState(false);
  const activated = isActivated(subscription, previousTier);

  useEffect(() => {
    const timer = setTimeout(() => setTimedOut(true), timeoutMs);
    return () => clearTimeout(timer);
  }, [timeoutMs]);

  useEffect(() => {
    if (activated) rememberTierBeforeCheckout(null);
  }, [activated]);

  let state: "active" | "delayed" | "signed-out" | "activating";
  if (activated) state = "active";
  else if (subscription === null && !authLoading) state = "signed-out";
  else if (timedOut) state = "delayed";
  else state = "activating";

  return (
    <section className="card success-card" aria-live="polite">
      <div data-testid="success-status" data-state={state} data-session-id={sessionId ?? undefined}>
        {state === "active" && subscription ? (
          <>
            <div className="success-icon" aria-hidden="true">
              ✓
            </div>
            <h1>You're on {tierName(subscription.tier)}</h1>
            <p className="muted">Thanks! Your new token allowance is ready to use.</p>
            <div className="actions center">
              <Link className="button button-primary" to="/">
                Start using it
              </Link>
              <Link className="button button-ghost" to="/billing">
                View billing
              </Link>
            </div>
          </>
        ) : null}
        {state === "activating" ? (
          <>
            <div className="spinner" aria-hidden="true" />
            <h1>Activating your plan…</h1>
            <p className="muted">Payment received. We're waiting for confirmation from Stripe; this usually takes a few seconds.</p>
          </>
        ) : null}
        {state === "delayed" ? (
          <>
            <h1>Still activating your plan</h1>
            <p className="muted">
              Confirmation is taking longer than usual. You won't be charged twice; your plan will switch as soon as the payment is
              confirmed.
            </p>
            <div className="actions center">
              <Link className="button button-primary" to="/billing" data-testid="success-billing-link">
                Check your billing page
              </Link>
            </div>
          </>
        ) : null}
        {state === "signed-out" ? (
          <>
            <h1>Sign in to see your plan</h1>
            <p className="muted">Your payment went through; sign in with the same account to use your new plan.</p>
          </>
        ) : null}
      </div>
    </section>
  );
}
