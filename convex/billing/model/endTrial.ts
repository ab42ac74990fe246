/**
 * Ending a free trial early to start the paid plan now (docs/TRIALS.md,
 * "Ending a trial early"): the Stripe side of `endTrial.previewEndTrial` and
 * `endTrial.endTrialNow`.
 *
 * Stripe: `subscriptions.update(id, { trial_end: "now", payment_behavior:
 * "pending_if_incomplete" })`. `trial_end` is one of the parameters a pending
 * update accepts (https://docs.stripe.com/billing/subscriptions/pending-updates-reference),
 * so Stripe charges the invoice for the new period first and ends the trial
 * only once it is paid; a declined card or 3-D Secure leaves the subscription
 * trialing, unchanged, with the update in `pending_update` (it expires after
 * 23 hours and its invoice is voided). Stripe re-anchors billing at that
 * moment: the new period is `[now, now + interval)`, the next renewal a month
 * (or a year) from now. Tier and tokens then arrive through the webhook path
 * like any paid invoice (`model/invoiceSync.ts`, `model/allowance.ts`): the
 * paid allowance replaces the trial's, anchored at the trial's new end.
 *
 * Trust: the client sends nothing but its identity; the account comes from
 * the app's `ownerKey`, the subscription from the database, re-read from
 * Stripe, which must agree it is the account customer's (`FORBIDDEN`).
 *
 * Refusals, from the database first (no Stripe call), then from Stripe's
 * fresh copy: `NO_SUBSCRIPTION` (no live subscription), `NOT_TRIALING` (not
 * in a trial), `NO_PAYMENT_METHOD` (no card to charge: add one first),
 * `CHANGE_PENDING` (a cancellation is scheduled: resume first).
 *
 * Idempotency key (https://docs.stripe.com/api/idempotent_requests):
 * `end-trial:<accountId>:<subId>:<minute>`: a double click within the
 * minute replays the first answer; a retry after a declined card (a new
 * minute, a new card) is a new request, which replaces the pending one.
 *
 * Units: money in integer minor units of `currency`; times in Convex ms.
 */
import { v, type Infer } from "convex/values";
import Stripe from "stripe";
import type { ActionCtx } from "../_generated/server";
import { timeBucket } from "./billingActions";
import { fail } from "./errors";
import { latestInvoiceUrl, liveSubscription, loadCaller, paymentIntentOf, planLabel, type Live, type Loaded } from "./planChanges";
import { PLANS, seatAllowance, type PaidTier } from "./plans";
import { getStripe, stripeRead, stripeWrite } from "./stripeClient";
import { vInterval, vPaidTier } from "./validators";

export const vEndTrialPreview = v.object({
  tier: vPaidTier,
  interval: vInterval,
  currency: v.string(),
  /** Charged now for the first paid period (after discounts, tax and customer credit), minor units. */
  dueNow: v.number(),
  /** The trial's planned end (ms): the days between now and then are given up. */
  trialEnd: v.number(),
  /** The first paid period's end (ms), when the next invoice comes. */
  nextRenewalAt: v.number(),
  /** Monthly token allowance of the paid plan (for the subscription's seats), granted once paid. */
  allowance: v.number(),
  /** The trial's allowance it replaces. */
  trialAllowance: v.number(),
});
export type EndTrialPreview = Infer<typeof vEndTrialPreview>;

export const vEndTrialResult = v.object({
  /**
   * `paid`: the trial ended and the plan starts once Stripe's events arrive;
   * `requires_action`: 3-D Secure — confirm at `hostedInvoiceUrl`, the trial
   * runs on until then; `payment_failed`: declined, the trial runs on unchanged.
   */
  status: v.union(v.literal("paid"), v.literal("requires_action"), v.literal("payment_failed")),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  /** A sentence for the customer. */
  message: v.string(),
});
export type EndTrialResult = Infer<typeof vEndTrialResult>;

const BUCKET_MS = 60_000;

type Prepared = Loaded & { stripe: Stripe; live: Live; tier: PaidTier; interval: "month" | "year" };

/** Whether Stripe has a card to charge: the subscription's default payment method, else its customer's. */
async function stripeHasPaymentMethod(stripe: Stripe, subscription: Stripe.Subscription, customerId: string): Promise<boolean> {
  if (subscription.default_payment_method || subscription.default_source) return true;
  const customer = await stripeRead("customers.retrieve", () => stripe.customers.retrieve(customerId));
  return !customer.deleted && Boolean(customer.invoice_settings?.default_payment_method);
}

function refuse(facts: { status: string; hasPaymentMethod: boolean; cancelScheduled: boolean }): void {
  if (facts.status !== "trialing") fail("NOT_TRIALING", "Your subscription is not in a free trial, so there is no trial to end.");
  if (facts.cancelScheduled) fail("CHANGE_PENDING", "Your trial is set to end without renewing. Resume it first, then start the paid plan.");
  if (!facts.hasPaymentMethod) fail("NO_PAYMENT_METHOD", "Add a card first: the paid plan is charged to the card on file.");
}

/** The caller's trialing subscription, checked in the database and then at Stripe. */
async function prepare(ctx: ActionCtx, ownerKey: string): Promise<Prepared> {
  const loaded = await loadCaller(ctx, ownerKey);
  const { mirror } = loaded;
  refuse({ status: mirror.status, hasPaymentMethod: mirror.hasPaymentMethod, cancelScheduled: mirror.cancelScheduled });
  const stripe = getStripe();
  const live = await liveSubscription(stripe, loaded);
  refuse({
    status: live.facts.status,
    cancelScheduled: live.facts.cancelScheduled,
    // The mirror said yes; Stripe's copy (or its customer's default) must agree.
    hasPaymentMethod: await stripeHasPaymentMethod(stripe, live.subscription, loaded.customer),
  });
  const { tier, interval } = live.facts.plan;
  if (tier === "free" || tier === "internal" || interval === null) {
    fail("STRIPE_ERROR", "Your trial's plan is not one we sell. Contact support.");
  }
  return { ...loaded, stripe, live, tier, interval };
}

/** See `endTrial.previewEndTrial`. */
export async function previewEndTrial(ctx: ActionCtx, args: { ownerKey: string }): Promise<EndTrialPreview> {
  const p = await prepare(ctx, args.ownerKey);
  const { live } = p;
  const preview = await stripeRead("invoices.createPreview", () =>
    p.stripe.invoices.createPreview({
      customer: p.customer,
      subscription: live.subscription.id,
      subscription_details: { trial_end: "now" },
    }),
  );
  const lines = preview.lines?.data ?? [];
  const planLine = lines.find((line) => line.amount > 0 && line.period?.end) ?? lines[0];
  const trialEnd = (live.subscription.trial_end ?? live.periodEnd) * 1000;
  return {
    tier: p.tier,
    interval: p.interval,
    currency: preview.currency,
    dueNow: preview.amount_due,
    trialEnd,
    nextRenewalAt: (planLine?.period.end ?? live.periodEnd) * 1000,
    allowance: seatAllowance(p.tier, live.quantity),
    trialAllowance: PLANS[p.tier].trial?.tokens ?? 0,
  };
}

type UpdateOutcome = { subscription: Stripe.Subscription } | { cardError: Stripe.errors.StripeCardError };

/** See `endTrial.endTrialNow`. */
export async function endTrialNow(ctx: ActionCtx, args: { ownerKey: string }): Promise<EndTrialResult> {
  const p = await prepare(ctx, args.ownerKey);
  const { stripe, live } = p;
  const subId = live.subscription.id;
  const key = `end-trial:${p.account.accountId}:${subId}:${timeBucket(BUCKET_MS)}`;
  const outcome = await stripeWrite<UpdateOutcome>("subscriptions.update", key, async (options) => {
    try {
      const subscription = await stripe.subscriptions.update(
        subId,
        { trial_end: "now", payment_behavior: "pending_if_incomplete", expand: ["latest_invoice"] },
        options,
      );
      return { subscription };
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) return { cardError: error };
      throw error;
    }
  });
  const label = planLabel(p.tier, p.interval);
  if ("cardError" in outcome) {
    const error = outcome.cardError;
    const url = await latestInvoiceUrl(stripe, subId);
    if (error.code === "invoice_payment_intent_requires_action") return requiresAction(label, url);
    return paymentFailed(url, error.decline_code ?? error.code);
  }
  const subscription = outcome.subscription;
  const invoice = typeof subscription.latest_invoice === "object" ? subscription.latest_invoice : null;
  if (subscription.pending_update || subscription.status === "trialing") {
    const url = invoice?.hosted_invoice_url ?? null;
    const intent = invoice ? await paymentIntentOf(stripe, invoice) : null;
    if (intent && intent.status === "requires_action") return requiresAction(label, url);
    return paymentFailed(url, intent?.last_payment_error?.decline_code ?? intent?.last_payment_error?.code);
  }
  return {
    status: "paid",
    hostedInvoiceUrl: null,
    message: `Your trial has ended and ${label} has started. Your plan and tokens update in a moment.`,
  };
}

function requiresAction(label: string, url: string | null): EndTrialResult {
  return {
    status: "requires_action",
    hostedInvoiceUrl: url,
    message: `Your bank needs you to confirm the payment for ${label}. Your trial continues until you do.`,
  };
}

function paymentFailed(url: string | null, reason: string | null | undefined): EndTrialResult {
  const why = reason === "insufficient_funds" ? " (insufficient funds)" : "";
  return {
    status: "payment_failed",
    hostedInvoiceUrl: url,
    message: `Your card was declined${why}, so nothing was charged and your trial continues unchanged. Update your card and try again.`,
  };
}
