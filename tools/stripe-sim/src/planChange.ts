/**
 * Plan changes on a subscription item (`subscriptions.update` with
 * `items[0][price|quantity]`, the Portal's switch, schedule phases):
 *
 * - `planChange` computes, without changing anything, what a change bills:
 *   same interval → credit for the unused time on the old price and a charge
 *   for the rest of the period on the new one (`proration: true` lines);
 *   different interval (or `billing_cycle_anchor=now`) → the cycle restarts
 *   now with a full-period line. `invoices.createPreview` uses the same plan,
 *   so a preview and the update that follows bill the same amounts.
 * - `changePrice` applies it with Stripe's `proration_behavior`
 *   (`create_prorations`: on the next invoice; `always_invoice`: a
 *   `subscription_update` invoice now; `none`) and `payment_behavior`
 *   (`allow_incomplete`: applied, a failed payment leaves the invoice open
 *   and the subscription `past_due`; `error_if_incomplete`: a failing
 *   payment is a 402 and nothing changes; `pending_if_incomplete`: applied
 *   only once the invoice is paid, meanwhile `subscription.pending_update`).
 */
import type Stripe from "stripe";
import {
  attemptInvoicePayment,
  createSubscriptionInvoice,
  emitSubscriptionUpdated,
  finalizeInvoice,
  freshPrice,
  getCustomer,
  getPrice,
  idOf,
  meteredUsageLine,
  requireSameInterval,
  subCustomer,
  voidInvoice,
} from "./billing.ts";
import { isMetered, planFromPrice } from "./builders.ts";
import { boundary, recurringOf } from "./calendar.ts";
import { chargeCard } from "./cards.ts";
import type { SimContext } from "./context.ts";
import { unitAmountIn } from "./currency.ts";
import { cardError, invalid, missing } from "./errors.ts";
import { snapshot } from "./events.ts";
import { applyPendingTrialEnd } from "./endTrial.ts";
import { fullLine, lineFor, productName } from "./lines.ts";

export type ProrationBehavior = "create_prorations" | "always_invoice" | "none";
export const PRORATION_BEHAVIORS: ProrationBehavior[] = ["create_prorations", "always_invoice", "none"];
export type PaymentBehavior = "allow_incomplete" | "error_if_incomplete" | "pending_if_incomplete" | "default_incomplete";
export const PAYMENT_BEHAVIORS: PaymentBehavior[] = ["allow_incomplete", "error_if_incomplete", "pending_if_incomplete", "default_incomplete"];

/** How long a pending update waits for its payment (Stripe: 23 hours). */
export const PENDING_UPDATE_SECONDS = 23 * 3600;

export type ItemChange = { itemId?: string; price: string; quantity?: number };

export type ChangeOptions = {
  prorationBehavior: ProrationBehavior;
  paymentBehavior?: PaymentBehavior;
  /** When the proration is computed (`proration_date`); default now. */
  prorationDate?: number;
  /** `billing_cycle_anchor=now`: restart the cycle even at the same interval. */
  resetAnchor?: boolean;
};

export type PlannedChange = {
  /** The live item. */
  item: Stripe.SubscriptionItem;
  /** The item as it becomes. */
  next: Stripe.SubscriptionItem;
  resetCycle: boolean;
  /** The moment of the change (the proration date). */
  at: number;
  lines: Stripe.InvoiceLineItem[];
  /** The lines are invoiced at once (`always_invoice`, or a restarted cycle). */
  invoiceNow: boolean;
  /** The new billing cycle anchor, when the cycle restarts. */
  anchor: number | null;
};

/** What changing one item would do, computed without changing anything (null: no change). */
export function planChange(ctx: SimContext, sub: Stripe.Subscription, change: ItemChange, opts: ChangeOptions): PlannedChange | null {
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalid("This subscription is canceled and cannot be updated.", "items");
  }
  const item = change.itemId ? sub.items.data.find((i) => i.id === change.itemId) : sub.items.data[0];
  if (!item) throw missing("subscription_item", change.itemId ?? "", "items[0][id]");
  const newPrice = getPrice(ctx, change.price, "items[0][price]");
  if (!newPrice.active) throw invalid(`The price ${newPrice.id} is not active.`, "items[0][price]");
  const newRecurring = recurringOf(newPrice);
  if (unitAmountIn(newPrice, sub.currency) === null) throw invalid("The price's currency does not match the subscription's.", "items[0][price]");
  requireSameInterval([...sub.items.data.filter((i) => i.id !== item.id).map((i) => i.price), newPrice], "items");
  const at = opts.prorationDate ?? ctx.store.now(subCustomer(sub));
  if (isMetered(item.price) || isMetered(newPrice)) return planMeteredChange(ctx, item, newPrice, change, at);
  const quantity = change.quantity ?? item.quantity ?? 1;
  if (newPrice.id === item.price.id && quantity === (item.quantity ?? 1) && !opts.resetAnchor) return null;

  const oldRecurring = recurringOf(item.price);
  const trialing = sub.status === "trialing";
  const resetCycle =
    !trialing &&
    (opts.resetAnchor === true ||
      oldRecurring.interval !== newRecurring.interval ||
      oldRecurring.interval_count !== newRecurring.interval_count);
  const { current_period_start: start, current_period_end: end } = item;
  const fraction = end > start ? Math.max(0, Math.min(1, (end - at) / (end - start))) : 0;
  const next: Stripe.SubscriptionItem = { ...snapshot(item), price: freshPrice(ctx, newPrice), plan: planFromPrice(newPrice), quantity };
  if (resetCycle) {
    next.current_period_start = at;
    next.current_period_end = boundary(at, newRecurring, 1);
  }

  const lines: Stripe.InvoiceLineItem[] = [];
  const prorate = !trialing && opts.prorationBehavior !== "none";
  const credit = prorate ? Math.round((unitAmountIn(item.price, sub.currency) ?? 0) * (item.quantity ?? 1) * fraction) : 0;
  if (credit > 0) {
    lines.push(lineFor(sub, snapshot(item), -credit, { start: at, end }, `Unused time on ${productName(ctx, item.price)}`, true));
  }
  if (resetCycle) {
    lines.push(fullLine(ctx, sub, next));
  } else if (prorate) {
    const charge = Math.round((unitAmountIn(newPrice, sub.currency) ?? 0) * quantity * fraction);
    if (charge > 0) lines.push(lineFor(sub, next, charge, { start: at, end }, `Remaining time on ${productName(ctx, newPrice)}`, true));
  }
  const invoiceNow = lines.length > 0 && (opts.prorationBehavior === "always_invoice" || resetCycle);
  return { item, next, resetCycle, at, lines, invoiceNow, anchor: resetCycle ? at : null };
}

/**
 * A metered item moving to another metered price: no quantity, nothing to
 * prorate (usage is billed at the period end, at the price the item has then).
 * Switching between metered and licensed is refused.
 */
function planMeteredChange(ctx: SimContext, item: Stripe.SubscriptionItem, newPrice: Stripe.Price, change: ItemChange, at: number): PlannedChange | null {
  if (isMetered(item.price) !== isMetered(newPrice)) {
    throw invalid("The simulator cannot switch an item between metered and licensed prices; delete the item (items[n][deleted]) and add another.", "items[0][price]");
  }
  if (change.quantity !== undefined) {
    throw invalid("Quantity should not be specified where usage_type is `metered`. Remove quantity from `items[0]`.", "items[0][quantity]");
  }
  if (newPrice.id === item.price.id) return null;
  const next: Stripe.SubscriptionItem = { ...snapshot(item), price: freshPrice(ctx, newPrice), plan: planFromPrice(newPrice) };
  return { item, next, resetCycle: false, at, lines: [], invoiceNow: false, anchor: null };
}

/**
 * A restarted cycle (`billing_cycle_anchor=now`) moves every other item to
 * the new period too; a metered one first bills its usage so far
 * ([period start, at)). Returns those usage lines.
 */
function restartOtherItems(ctx: SimContext, sub: Stripe.Subscription, plan: PlannedChange): Stripe.InvoiceLineItem[] {
  if (!plan.resetCycle) return [];
  const lines: Stripe.InvoiceLineItem[] = [];
  for (const other of sub.items.data) {
    if (other.id === plan.item.id) continue;
    if (isMetered(other.price)) lines.push(meteredUsageLine(ctx, sub, other, { start: other.current_period_start, end: plan.at }));
    else lines.push(fullLine(ctx, sub, { ...other, current_period_start: plan.next.current_period_start, current_period_end: plan.next.current_period_end }));
    other.current_period_start = plan.next.current_period_start;
    other.current_period_end = plan.next.current_period_end;
  }
  return lines;
}

function applyItem(sub: Stripe.Subscription, item: Stripe.SubscriptionItem, next: Stripe.SubscriptionItem, anchor: number | null): void {
  item.price = next.price;
  item.plan = next.plan;
  if (next.quantity === undefined) delete item.quantity;
  else item.quantity = next.quantity;
  item.current_period_start = next.current_period_start;
  item.current_period_end = next.current_period_end;
  if (anchor !== null) sub.billing_cycle_anchor = anchor;
}

/**
 * Moves one item to a new price and/or quantity (see the module comment).
 * Events: `customer.subscription.updated` (previous `items`), then the
 * `subscription_update` invoice's events when invoiced now; with
 * `pending_if_incomplete` the invoice's events come first.
 */
export function changePrice(ctx: SimContext, sub: Stripe.Subscription, change: ItemChange, opts: ChangeOptions): Stripe.Subscription {
  const plan = planChange(ctx, sub, change, opts);
  if (!plan) return sub;
  const payment = opts.paymentBehavior ?? "allow_incomplete";
  if (!plan.invoiceNow) {
    const before = snapshot(sub);
    applyItem(sub, plan.item, plan.next, plan.anchor);
    emitSubscriptionUpdated(ctx, sub, before);
    if (opts.prorationBehavior === "create_prorations") ctx.store.state.subscriptionInternal[sub.id]?.pendingLines.push(...plan.lines);
    return sub;
  }
  if (payment === "pending_if_incomplete") return changeWhenPaid(ctx, sub, plan);
  if (payment === "error_if_incomplete") refuseUnpayable(ctx, sub, plan.lines);
  const before = snapshot(sub);
  applyItem(sub, plan.item, plan.next, plan.anchor);
  const lines = [...plan.lines, ...restartOtherItems(ctx, sub, plan)];
  emitSubscriptionUpdated(ctx, sub, before);
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_update", lines, { start: plan.at, end: plan.at });
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { automatic: true });
  return sub;
}

/** Amount the customer would be charged for `lines` now, after their credit balance. */
export function amountDueFor(customer: Stripe.Customer, lines: Stripe.InvoiceLineItem[]): number {
  const total = lines.reduce((s, l) => s + l.amount, 0);
  return total < 0 ? 0 : Math.max(total + customer.balance, 0);
}

/** `error_if_incomplete`: a payment for `lines` that would fail is a 402 before anything changes. */
export function refuseUnpayable(ctx: SimContext, sub: Stripe.Subscription, lines: Stripe.InvoiceLineItem[]): void {
  const customer = getCustomer(ctx, subCustomer(sub));
  if (amountDueFor(customer, lines) === 0) return;
  const pmId = idOf(sub.default_payment_method) ?? idOf(customer.invoice_settings.default_payment_method);
  if (!pmId) {
    throw invalid("This customer has no attached payment source or default payment method.", undefined, "resource_missing");
  }
  const result = chargeCard(ctx.store.state.cardNumbers[pmId] ?? "", { atCheckout: false, authenticated: false });
  if (result.ok) return;
  if (result.kind === "requires_action") {
    throw cardError(
      "subscription_payment_intent_requires_action",
      "Payment for this subscription requires additional user action before it can be completed successfully.",
    );
  }
  throw cardError(result.code, result.message, result.declineCode);
}

/**
 * `pending_if_incomplete`: the invoice is created and charged first; paid →
 * the change applies; not paid → `pending_update` until the invoice is paid
 * (`applyPendingChange`) or `expires_at` passes (`expirePendingChange`).
 */
function changeWhenPaid(ctx: SimContext, sub: Stripe.Subscription, plan: PlannedChange): Stripe.Subscription {
  discardPendingChange(ctx, sub);
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  const before = snapshot(sub);
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_update", plan.lines, { start: plan.at, end: plan.at });
  finalizeInvoice(ctx, invoice);
  if (internal) internal.pendingChange = { invoice: invoice.id, item: plan.next, billingCycleAnchor: plan.anchor };
  // A payment that goes through applies the change (see markInvoicePaid).
  const result = attemptInvoicePayment(ctx, invoice, { automatic: false });
  if (result.ok) return sub;
  const now = ctx.store.now(subCustomer(sub));
  const pendingUpdate: Stripe.Subscription.PendingUpdate = {
    billing_cycle_anchor: plan.anchor,
    cancel_at_period_end: null,
    discount: null,
    discounts: null,
    expires_at: now + PENDING_UPDATE_SECONDS,
    metadata: null,
    subscription_items: [plan.next],
    trial_end: null,
    trial_from_plan: null,
  };
  sub.pending_update = pendingUpdate;
  emitSubscriptionUpdated(ctx, sub, before);
  return sub;
}

/** The pending update's invoice was paid: the change applies now. */
export function applyPendingChange(ctx: SimContext, sub: Stripe.Subscription): void {
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  const pending = internal?.pendingChange;
  if (!internal || !pending) return;
  const before = snapshot(sub);
  const next = pending.item;
  const item = next ? sub.items.data.find((i) => i.id === next.id) : undefined;
  if (item && next) applyItem(sub, item, next, pending.billingCycleAnchor);
  // A trial ended early (`trial_end=now`) ends once paid, unless it already ran out meanwhile.
  if (pending.trialEnd && sub.status === "trialing") applyPendingTrialEnd(sub, pending.trialEnd);
  internal.pendingChange = null;
  sub.pending_update = null;
  emitSubscriptionUpdated(ctx, sub, before);
}

/** Drops a pending update (expired, or replaced): its invoice is voided. Returns whether there was one. */
export function discardPendingChange(ctx: SimContext, sub: Stripe.Subscription): boolean {
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  const pending = internal?.pendingChange;
  if (!internal || !pending) return false;
  const before = snapshot(sub);
  internal.pendingChange = null;
  sub.pending_update = null;
  const invoice = ctx.store.state.invoices[pending.invoice];
  if (invoice?.status === "open") voidInvoice(ctx, invoice);
  emitSubscriptionUpdated(ctx, sub, before);
  return true;
}

/** The clock passed `pending_update.expires_at`. */
export function expirePendingChange(ctx: SimContext, sub: Stripe.Subscription): void {
  discardPendingChange(ctx, sub);
}
