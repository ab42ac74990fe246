import { useConvexAuth, useQuery } from "convex/react";
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { PAID_TIERS, isTier, tierRank } from "@/convex/billing/model/plans";
import { pendingTopUp, rememberCheckout, tierBeforeCheckout, type PendingTopUp } from "@/src/features/billing/lib/browser";
import { formatDate, tokens } from "@/src/lib/format";
import { tierName } from "@/src/features/billing/lib/pricing";
import type { SubscriptionView, TokenBalance } from "@/src/features/billing/lib/types";
import { ROUTES } from "@/src/lib/routes";

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

/** Whether a token-pack purchase has landed: purchased tokens grew (or, if the before-count is unknown, any purchased tokens). */
export function isTopUpCredited(balance: TokenBalance | null | undefined, topUp: PendingTopUp): boolean {
  if (!balance) return false;
  return topUp.purchasedBefore === null ? balance.purchased > 0 : balance.purchased > topUp.purchasedBefore;
}

function Activated({ title, note, start }: { title: string; note: string; start: string }) {
  return (
    <>
      <div className="success-icon" aria-hidden="true">
        ✓
      </div>
      <h1>{title}</h1>
      <p className="muted">{note}</p>
      <div className="actions center">
        <Link className="button button-primary" to={ROUTES.dashboard.path}>
          {start}
        </Link>
        <Link className="button button-ghost" to={ROUTES.billing.path}>
          View billing
        </Link>
      </div>
    </>
  );
}

/**
 * /billing/success: Stripe redirects here after Checkout (plans and token packs). The plan flips live
 * when the webhook lands (billing.subscription is a reactive query; no polling).
 */
export function CheckoutSuccessPage({ timeoutMs = ACTIVATION_TIMEOUT_MS }: { timeoutMs?: number }) {
  const [params] = useSearchParams();
  const sessionId = params.get("session_id");
  const [previousTier] = useState(tierBeforeCheckout);
  const [topUp] = useState(pendingTopUp);
  const { isLoading: authLoading } = useConvexAuth();
  const subscription = useQuery(api.billing.subscription);
  const balance = useQuery(api.tokens.balance, topUp ? {} : "skip");
  const [timedOut, setTimedOut] = useState(false);
  const activated = topUp ? isTopUpCredited(balance, topUp) : isActivated(subscription, previousTier);

  useEffect(() => {
    const timer = setTimeout(() => setTimedOut(true), timeoutMs);
    return () => clearTimeout(timer);
  }, [timeoutMs]);

  useEffect(() => {
    if (!activated) return;
    rememberCheckout(null);
  }, [activated]);

  let state: "active" | "delayed" | "signed-out" | "activating";
  if (activated) state = "active";
  else if (subscription === null && !authLoading) state = "signed-out";
  else if (timedOut) state = "delayed";
  else state = "activating";

  return (
    <section className="card success-card" aria-live="polite">
      <div data-testid="success-status" data-state={state} data-kind={topUp ? "top_up" : "plan"} data-session-id={sessionId ?? undefined}>
        {state === "active" && topUp ? (
          <Activated title={`${tokens(topUp.tokens)} added`} note="Purchased tokens carry over between periods." start="Start using them" />
        ) : null}
        {state === "active" && !topUp && subscription && subscription.status === "trialing" ? (
          <Activated
            title={`Your ${tierName(subscription.tier)} trial has started`}
            note={
              subscription.trialEnd === null
                ? "Your trial allowance is ready to use."
                : `Your trial allowance is ready to use. The trial ends on ${formatDate(subscription.trialEnd)}.`
            }
            start="Start using it"
          />
        ) : null}
        {state === "active" && !topUp && subscription && subscription.status !== "trialing" ? (
          <Activated
            title={`You're on ${tierName(subscription.tier)}`}
            note="Thanks! Your new token allowance is ready to use."
            start="Start using it"
          />
        ) : null}
        {state === "activating" ? (
          <>
            <div className="spinner" aria-hidden="true" />
            <h1>{topUp ? "Adding your tokens…" : "Activating your plan…"}</h1>
            <p className="muted">Payment received. We're waiting for confirmation from Stripe; this usually takes a few seconds.</p>
          </>
        ) : null}
        {state === "delayed" ? (
          <>
            <h1>{topUp ? "Still adding your tokens" : "Still activating your plan"}</h1>
            <p className="muted">
              Confirmation is taking longer than usual. You won't be charged twice; {topUp ? "your tokens appear" : "your plan will switch"}{" "}
              as soon as the payment is confirmed.
            </p>
            <div className="actions center">
              <Link className="button button-primary" to={ROUTES.billing.path} data-testid="success-billing-link">
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
