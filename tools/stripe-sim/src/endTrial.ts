/**
 * Ending a trial early: `subscriptions.update` with `trial_end=now`
 * (https://docs.stripe.com/billing/subscriptions/trials#end-trial-early)
 * and its preview (`invoices.createPreview` with
 * `subscription_details[trial_end]=now`).
 *
 * - The trial ends at the moment of the request: the billing cycle is
 *   re-anchored there (`billing_cycle_anchor` = `trial_end` = now), every
 *   item's period becomes `[now, now + interval)`, and a
 *   `subscription_update` invoice bills that full period (a metered item's
 *   trial usage is billed at 0). Status `trialing` → `active`.
 * - `payment_behavior` as for plan changes: `allow_incomplete` (default)
 *   applies at once, a failed payment leaves the invoice open and the
 *   subscription `past_due`; `error_if_incomplete` refuses with a 402 before
 *   anything changes; `pending_if_incomplete` (Stripe allows `trial_end` in a
 *   pending update) charges first and ends the trial only once the invoice is
 *   paid; until then `pending_update.trial_end` holds it, the subscription
 *   keeps trialing unchanged, and the update expires after 23 hours
 *   (its invoice voided).
 * - Events: applied at once → `customer.subscription.updated`, then the
 *   invoice's `invoice.created`, `invoice.finalized`, `invoice.paid` +
 *   `invoice.payment_succeeded` (or `invoice.payment_failed`); pending → the
 *   invoice's events first, then `customer.subscription.updated`.
 */
import type Stripe from "stripe";
import {
  attemptInvoicePayment,
  createSubscriptionInvoice,
  emitSubscriptionUpdated,
  finalizeInvoice,
  meteredUsageLine,
  subCustomer,
} from "./billing.ts";
import { isMetered } from "./builders.ts";
import { boundary, recurringOf } from "./calendar.ts";
import type { SimContext } from "./context.ts";
import { invalid } from "./errors.ts";
import { snapshot } from "./events.ts";
import { fullLine } from "./lines.ts";
import { discardPendingChange, PENDING_UPDATE_SECONDS, refuseUnpayable, type PaymentBehavior } from "./planChange.ts";

export type PlannedTrialEnd = {
  /** The moment the trial ends (Stripe seconds). */
  at: number;
  /** The invoice's lines: each licensed item's full new period, metered trial usage at 0. */
  lines: Stripe.InvoiceLineItem[];
  /** Each item's new period. */
  periods: Map<string, { start: number; end: number }>;
};

/** `trial_end`: `"now"`, or a timestamp (accepted only for a trialing subscription, as a new trial end). */
export function trialEndParam(value: string | undefined, param: string): "now" | number | undefined {
  if (value === undefined) return undefined;
  if (value === "now") return "now";
  const n = Number(value);
  if (!Number.isInteger(n)) throw invalid(`Invalid ${param}: must be \`now\` or a Unix timestamp`, param);
  return n;
}

/** What ending the trial now would bill, without changing anything. */
export function planTrialEnd(ctx: SimContext, sub: Stripe.Subscription, param: string): PlannedTrialEnd {
  if (sub.status !== "trialing") {
    throw invalid(`The subscription ${sub.id} is not trialing (status: ${sub.status}); \`trial_end=now\` ends a trial.`, param);
  }
  const at = ctx.store.now(subCustomer(sub));
  const periods = new Map<string, { start: number; end: number }>();
  const lines: Stripe.InvoiceLineItem[] = [];
  for (const item of sub.items.data) {
    const period = { start: at, end: boundary(at, recurringOf(item.price), 1) };
    periods.set(item.id, period);
    if (isMetered(item.price)) {
      lines.push(meteredUsageLine(ctx, sub, item, { start: item.current_period_start, end: at }, true));
    } else {
      lines.push(fullLine(ctx, sub, { ...snapshot(item), current_period_start: period.start, current_period_end: period.end }));
    }
  }
  return { at, lines, periods };
}

function applyTrialEnd(sub: Stripe.Subscription, plan: Pick<PlannedTrialEnd, "at" | "periods">): void {
  for (const item of sub.items.data) {
    const period = plan.periods.get(item.id);
    if (!period) continue;
    item.current_period_start = period.start;
    item.current_period_end = period.end;
  }
  sub.status = "active";
  sub.trial_end = plan.at;
  sub.billing_cycle_anchor = plan.at;
}

/** `trial_end=now` on `subscriptions.update` (see the module comment). */
export function endTrialNow(ctx: SimContext, sub: Stripe.Subscription, paymentBehavior: PaymentBehavior): Stripe.Subscription {
  const plan = planTrialEnd(ctx, sub, "trial_end");
  if (paymentBehavior === "pending_if_incomplete") return endTrialWhenPaid(ctx, sub, plan);
  if (paymentBehavior === "error_if_incomplete") refuseUnpayable(ctx, sub, plan.lines);
  const before = snapshot(sub);
  applyTrialEnd(sub, plan);
  emitSubscriptionUpdated(ctx, sub, before);
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_update", plan.lines, { start: plan.at, end: plan.at });
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { automatic: true });
  return sub;
}

/**
 * `pending_if_incomplete`: the invoice is charged first; paid → the trial
 * ends (`applyPendingChange` → `applyPendingTrialEnd`); not paid →
 * `pending_update.trial_end` and the trial runs on unchanged.
 */
function endTrialWhenPaid(ctx: SimContext, sub: Stripe.Subscription, plan: PlannedTrialEnd): Stripe.Subscription {
  discardPendingChange(ctx, sub);
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  const before = snapshot(sub);
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_update", plan.lines, { start: plan.at, end: plan.at });
  finalizeInvoice(ctx, invoice);
  if (internal) {
    internal.pendingChange = { invoice: invoice.id, item: null, billingCycleAnchor: plan.at, trialEnd: { at: plan.at, periods: Object.fromEntries(plan.periods) } };
  }
  const result = attemptInvoicePayment(ctx, invoice, { automatic: false });
  if (result.ok) return sub;
  sub.pending_update = {
    billing_cycle_anchor: plan.at,
    cancel_at_period_end: null,
    discount: null,
    discounts: null,
    expires_at: plan.at + PENDING_UPDATE_SECONDS,
    metadata: null,
    subscription_items: null,
    trial_end: plan.at,
    trial_from_plan: null,
  };
  emitSubscriptionUpdated(ctx, sub, before);
  return sub;
}

/** A pending trial end's invoice was paid: the trial ends at the moment it was asked for. */
export function applyPendingTrialEnd(sub: Stripe.Subscription, pending: { at: number; periods: Record<string, { start: number; end: number }> }): void {
  applyTrialEnd(sub, { at: pending.at, periods: new Map(Object.entries(pending.periods)) });
}
