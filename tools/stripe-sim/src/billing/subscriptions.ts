/** Subscriptions: creation, cancellation (now, at period end, at a time), renewal cycles, trial ends. */
import type Stripe from "stripe";
import { buildSubscription, buildSubscriptionItem, isMetered } from "../builders.ts";
import { boundary, DAY, nextBoundary, recurringOf } from "../calendar.ts";
import type { ChargeResult } from "../cards.ts";
import type { SimContext } from "../context.ts";
import { invalid, missing, paramMissing } from "../errors.ts";
import { emit, snapshot } from "../events.ts";
import { newId } from "../ids.ts";
import type { TrialMissingPaymentMethod } from "../store.ts";
import { requireCustomerCurrency, requireUnitAmountIn, unitAmountIn } from "../currency.ts";
import { fullLine } from "../lines.ts";
import { redeem } from "./discounts.ts";
import { attemptInvoicePayment, createSubscriptionInvoice, finalizeInvoice } from "./invoices.ts";
import { meteredUsageLine } from "./meters.ts";
import { emitSubscriptionUpdated, freshPrice, getCustomer, getPrice, idOf, periodOf, subCustomer } from "./lookups.ts";

export type NewSubscription = {
  customer: string;
  /** `quantity` must be absent for a metered price; a licensed one defaults to 1. */
  items: { price: string; quantity?: number }[];
  metadata: Record<string, string>;
  description: string | null;
  trialDays: number | null;
  /** `trial_settings[end_behavior][missing_payment_method]` (default `create_invoice`, as Stripe's). */
  trialMissingPaymentMethod?: TrialMissingPaymentMethod | null;
  paymentMethod: string | null;
  atCheckout: boolean;
  authenticated: boolean;
  /** Coupons (and promotion codes) to redeem into the subscription's `discounts`, already validated. */
  discounts?: { coupon: Stripe.Coupon; promotionCode: Stripe.PromotionCode | null }[];
  /** The Checkout Session the discounts were redeemed at (`discount.checkout_session`). */
  checkoutSession?: string | null;
  /** `automatic_tax[enabled]`: this and every renewal invoice is taxed (billing/tax.ts). */
  automaticTax?: boolean;
  /** Lower-case ISO code; defaults to the first price's. Each price needs an amount in it (`currency_options`). */
  currency?: string;
};

/**
 * Creates a subscription and collects its first invoice (`subscription_create`).
 * Events: `customer.subscription.created` (incomplete, or trialing),
 * `invoice.created`, `invoice.finalized`, then `invoice.paid` +
 * `invoice.payment_succeeded` + `customer.subscription.updated` (→ active),
 * or `invoice.payment_failed` (the subscription stays `incomplete`).
 */
export function createSubscription(ctx: SimContext, input: NewSubscription): { subscription: Stripe.Subscription; invoice: Stripe.Invoice; payment: ChargeResult } {
  const customer = getCustomer(ctx, input.customer);
  if (input.items.length === 0) throw paramMissing("items");
  const prices = input.items.map((it, i) => getPrice(ctx, it.price, `items[${i}][price]`));
  const first = prices[0] as Stripe.Price;
  const recurring = recurringOf(first);
  const currency = input.currency ?? first.currency;
  prices.forEach((p, i) => {
    recurringOf(p);
    if (!input.currency && p.currency !== first.currency) throw invalid("All prices on a subscription must have the same currency.", "items");
    requireUnitAmountIn(p, currency, `items[${i}][price]`);
  });
  requireCustomerCurrency(customer, currency);
  requireSameInterval(prices, "items");
  const quantities = input.items.map((it, i) => itemQuantity(prices[i] as Stripe.Price, it.quantity, `items[${i}][quantity]`));
  const now = ctx.store.now(customer.id);
  const id = newId("sub");
  const trialEnd = input.trialDays ? now + input.trialDays * DAY : null;
  const periodEnd = trialEnd ?? boundary(now, recurring, 1);
  const items = input.items.map((_, i) =>
    buildSubscriptionItem({
      subscription: id,
      price: freshPrice(ctx, prices[i] as Stripe.Price),
      quantity: quantities[i] ?? null,
      created: now,
      periodStart: now,
      periodEnd,
    }),
  );
  const sub = buildSubscription({
    id,
    customer: customer.id,
    created: now,
    currency,
    items,
    status: trialEnd ? "trialing" : "incomplete",
    metadata: input.metadata,
    defaultPaymentMethod: input.paymentMethod,
    trialStart: trialEnd ? now : null,
    trialEnd,
    testClock: ctx.store.clockOf(customer.id),
    description: input.description,
  });
  if (input.automaticTax) sub.automatic_tax = { disabled_reason: null, enabled: true, liability: { type: "self" } };
  sub.trial_settings = { end_behavior: { billing_cycle_anchor: null, missing_payment_method: input.trialMissingPaymentMethod ?? "create_invoice" } };
  sub.discounts = (input.discounts ?? []).map(
    (picked) => redeem(ctx, picked, { customer: customer.id, subscription: id, checkoutSession: input.checkoutSession ?? null }, now).id,
  );
  ctx.store.state.subscriptions[id] = sub;
  ctx.store.state.subscriptionInternal[id] = { trialWillEndSent: false, pendingLines: [] };
  emit(ctx, "customer.subscription.created", sub, { customer: customer.id });

  const lines = items.map((item) => fullLine(ctx, sub, item, trialEnd ? 0 : undefined));
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_create", lines, { start: now, end: now });
  finalizeInvoice(ctx, invoice);
  const payment = attemptInvoicePayment(ctx, invoice, {
    paymentMethod: input.paymentMethod,
    atCheckout: input.atCheckout,
    authenticated: input.authenticated,
  });
  return { subscription: sub, invoice, payment };
}

/**
 * The quantity a subscription item gets: none for a metered price (Stripe
 * refuses one: usage comes from the meter), `quantity ?? 1` otherwise.
 */
export function itemQuantity(price: Stripe.Price, quantity: number | undefined, param: string): number | null {
  if (!isMetered(price)) return quantity ?? 1;
  if (quantity !== undefined) {
    throw invalid(`Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`${param.replace(/\[quantity\]$/, "")}\`.`, param);
  }
  return null;
}

/**
 * The simulator renews every item of a subscription at one period end, so
 * all its prices must share `recurring.interval` and `interval_count`
 * (Stripe's rule in `billing_mode: classic`; mixed-interval subscriptions
 * need flexible billing mode, not simulated).
 */
export function requireSameInterval(prices: Stripe.Price[], param: string): void {
  const first = prices[0]?.recurring;
  for (const p of prices) {
    if (first && (p.recurring?.interval !== first.interval || p.recurring.interval_count !== first.interval_count)) {
      throw invalid(
        "All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count` (the simulator's subscriptions use `billing_mode: classic`; mixed intervals need flexible billing mode, which is not simulated).",
        param,
      );
    }
  }
}

/** `cancellation_details[comment|feedback]` as sent (`null` clears, `undefined` keeps). */
export type CancellationInput = { comment?: string | null; feedback?: Stripe.Subscription.CancellationDetails.Feedback | null };

export function withCancellationDetails(
  current: Stripe.Subscription.CancellationDetails | null,
  input: CancellationInput,
): Stripe.Subscription.CancellationDetails {
  const base = current ?? { comment: null, feedback: null, feedback_option: null, reason: null };
  return {
    ...base,
    comment: input.comment === undefined ? base.comment : input.comment,
    feedback: input.feedback === undefined ? base.feedback : input.feedback,
  };
}

/**
 * Ends the subscription now: `status: canceled`, `ended_at`, and
 * `customer.subscription.deleted`.
 */
export function cancelSubscriptionNow(
  ctx: SimContext,
  sub: Stripe.Subscription,
  reason: "cancellation_requested" | "payment_failed" | "payment_disputed",
  details: CancellationInput = {},
): Stripe.Subscription {
  if (sub.status === "canceled") return sub;
  const now = ctx.store.now(subCustomer(sub));
  sub.status = "canceled";
  sub.ended_at = now;
  sub.canceled_at = sub.canceled_at ?? now;
  sub.cancellation_details = { ...withCancellationDetails(sub.cancellation_details, details), reason };
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  if (internal) {
    internal.pendingLines = [];
    internal.pendingChange = null;
  }
  sub.pending_update = null;
  emit(ctx, "customer.subscription.deleted", sub, { customer: subCustomer(sub) });
  // A schedule still driving the subscription ends with it.
  const schedule = ctx.store.state.subscriptionSchedules[idOf(sub.schedule) ?? ""];
  if (schedule && schedule.status === "active") {
    schedule.status = "canceled";
    schedule.canceled_at = now;
    schedule.current_phase = null;
    emit(ctx, "subscription_schedule.canceled", schedule, { customer: subCustomer(sub) });
  }
  return sub;
}

/**
 * Schedules a cancel at the end of the current period. `style`
 * `at_period_end` sets `cancel_at_period_end: true` (and `cancel_at`);
 * `cancel_at` sets only `cancel_at`, as flexible billing mode's Portal does.
 */
export function scheduleCancel(
  ctx: SimContext,
  sub: Stripe.Subscription,
  style: "at_period_end" | "cancel_at",
  cancelAt?: number,
  details: CancellationInput = {},
): Stripe.Subscription {
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalid("A canceled subscription can only update its cancellation_details and metadata.", "cancel_at_period_end");
  }
  const before = snapshot(sub);
  const now = ctx.store.now(subCustomer(sub));
  const end = periodOf(sub).end;
  sub.cancel_at_period_end = style === "at_period_end";
  sub.cancel_at = cancelAt ?? end;
  sub.canceled_at = now;
  sub.cancellation_details = { ...withCancellationDetails(null, details), reason: "cancellation_requested" };
  emitSubscriptionUpdated(ctx, sub, before);
  return sub;
}

/** Undoes a scheduled cancel (Portal "Renew plan", API `cancel_at_period_end=false`). */
export function unscheduleCancel(ctx: SimContext, sub: Stripe.Subscription): Stripe.Subscription {
  if (sub.status === "canceled") throw invalid("A canceled subscription cannot be renewed.", "cancel_at_period_end");
  const before = snapshot(sub);
  sub.cancel_at_period_end = false;
  sub.cancel_at = null;
  sub.canceled_at = null;
  sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: null };
  emitSubscriptionUpdated(ctx, sub, before);
  return sub;
}

/**
 * The end of a period (or trial): either the scheduled cancel happens
 * (`customer.subscription.deleted`) or the subscription renews:
 * `invoice.created` (`subscription_cycle`), `customer.subscription.updated`
 * (period moved; `trialing` → `active`), `invoice.finalized`, then
 * `invoice.paid` + `invoice.payment_succeeded`, or `invoice.payment_failed`
 * and `customer.subscription.updated` → `past_due`.
 */
export function cycleSubscription(
  ctx: SimContext,
  sub: Stripe.Subscription,
  opts: { beforeCycle?: (sub: Stripe.Subscription, end: number) => void } = {},
): void {
  const { end } = periodOf(sub);
  if (sub.cancel_at !== null && sub.cancel_at <= end) {
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    return;
  }
  const wasTrialing = sub.status === "trialing";
  if (wasTrialing && !hasPaymentMethod(ctx, sub) && endTrialWithoutPaymentMethod(ctx, sub)) return;
  const before = snapshot(sub);
  // Metered items bill the period that just ended, before any schedule phase switches items.
  const usage = sub.items.data
    .filter((item) => isMetered(item.price))
    .map((item) => meteredUsageLine(ctx, sub, item, { start: item.current_period_start, end: item.current_period_end }, wasTrialing));
  // A subscription schedule's next phase starts here: items switch, no proration.
  opts.beforeCycle?.(sub, end);
  for (const item of sub.items.data) {
    const recurring = recurringOf(item.price);
    item.current_period_start = end;
    item.current_period_end = wasTrialing ? boundary(end, recurring, 1) : nextBoundary(sub.billing_cycle_anchor, recurring, end);
  }
  if (wasTrialing) {
    sub.status = "active";
    sub.billing_cycle_anchor = end;
  }
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  const pending = internal?.pendingLines ?? [];
  if (internal) internal.pendingLines = [];
  const licensed = sub.items.data.filter((item) => !isMetered(item.price)).map((item) => fullLine(ctx, sub, item));
  const lines = [...licensed, ...usage, ...pending];
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_cycle", lines, { start: before.items.data[0]?.current_period_start ?? end, end });
  emitSubscriptionUpdated(ctx, sub, before);
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { automatic: true });
}

/** Whether Stripe could charge the subscription: its own default payment method, or its customer's. */
export function hasPaymentMethod(ctx: SimContext, sub: Stripe.Subscription): boolean {
  if (idOf(sub.default_payment_method) || idOf(sub.default_source)) return true;
  const customer = ctx.store.state.customers[subCustomer(sub)];
  return Boolean(idOf(customer?.invoice_settings.default_payment_method ?? null));
}

/**
 * A trial ends with no payment method on file
 * (`trial_settings.end_behavior.missing_payment_method`,
 * https://docs.stripe.com/billing/subscriptions/trials/free-trials):
 * `cancel` cancels it now (`customer.subscription.deleted`); `pause` moves it
 * to `paused` with no invoice (`customer.subscription.updated` and
 * `customer.subscription.paused`); `create_invoice` renews as usual and
 * returns false: the invoice cannot be collected, so the subscription goes
 * `past_due` and Stripe's retries follow. Returns true when it handled the end.
 */
export function endTrialWithoutPaymentMethod(ctx: SimContext, sub: Stripe.Subscription): boolean {
  const behavior = sub.trial_settings?.end_behavior.missing_payment_method ?? "create_invoice";
  if (behavior === "cancel") {
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    return true;
  }
  if (behavior === "pause") {
    const before = snapshot(sub);
    sub.status = "paused";
    emitSubscriptionUpdated(ctx, sub, before);
    emit(ctx, "customer.subscription.paused", sub, { customer: subCustomer(sub) });
    return true;
  }
  return false;
}

/** `customer.subscription.trial_will_end`, once per trial. */
export function trialWillEnd(ctx: SimContext, sub: Stripe.Subscription): void {
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  if (internal) internal.trialWillEndSent = true;
  emit(ctx, "customer.subscription.trial_will_end", sub, { customer: subCustomer(sub) });
}

/**
 * Adds a metered item (`subscriptions.update` with `items[n][price]` and no
 * id): no quantity, its period from now to the subscription's period end, so
 * usage from now on is billed at that end.
 */
export function addMeteredItem(ctx: SimContext, sub: Stripe.Subscription, priceId: string, quantity: number | undefined, param: string): Stripe.SubscriptionItem {
  if (sub.status === "canceled" || sub.status === "incomplete_expired") throw invalid("This subscription is canceled and cannot be updated.", "items");
  const price = getPrice(ctx, priceId, `${param}[price]`);
  if (!price.active) throw invalid(`The price ${price.id} is not active.`, `${param}[price]`);
  if (unitAmountIn(price, sub.currency) === null) throw invalid("The price's currency does not match the subscription's.", `${param}[price]`);
  if (sub.items.data.some((i) => i.price.id === price.id)) {
    throw invalid(`Cannot add multiple subscription items with the same price: ${price.id}.`, `${param}[price]`);
  }
  requireSameInterval([...sub.items.data.map((i) => i.price), price], "items");
  itemQuantity(price, quantity, `${param}[quantity]`);
  const now = ctx.store.now(subCustomer(sub));
  const item = buildSubscriptionItem({
    subscription: sub.id,
    price: freshPrice(ctx, price),
    quantity: null,
    created: now,
    periodStart: now,
    periodEnd: periodOf(sub).end,
  });
  sub.items.data.push(item);
  return item;
}

/**
 * Removes a metered item (`items[n][deleted]=true`). Usage it accrued in the
 * current period is not billed (Stripe bills it on the next invoice; not
 * simulated). Licensed items are not removed this way in the simulator.
 */
export function deleteItem(ctx: SimContext, sub: Stripe.Subscription, itemId: string, param: string): void {
  const item = sub.items.data.find((i) => i.id === itemId);
  if (!item) throw missing("subscription_item", itemId, param);
  if (!isMetered(item.price)) {
    throw invalid("The simulator deletes only metered items; change a licensed item's price instead.", param);
  }
  if (sub.items.data.length === 1) throw invalid("A subscription must keep at least one item; cancel it instead.", param);
  sub.items.data = sub.items.data.filter((i) => i.id !== itemId);
}
