/**
 * The billing engine: customers, cards, Checkout completion, subscriptions,
 * invoices and their payment, plan changes, cancellation and dunning. Every
 * function is synchronous, mutates the store and emits the events Stripe
 * would, in a realistic order (see docs/STRIPE_SIMULATOR.md, "Events").
 *
 * Times are Stripe seconds from `store.now(customer)`: a test clock's frozen
 * time for customers on a clock, real time (+ offset) otherwise.
 */
import type Stripe from "stripe";
import { recordInvoicePayment } from "./invoicePayments.ts";
import {
  buildBalanceTransaction,
  buildCustomer,
  buildInvoice,
  buildPaymentMethod,
  buildSubscription,
  buildSubscriptionItem,
} from "./builders.ts";
import { boundary, DAY, nextBoundary, recurringOf } from "./calendar.ts";
import { cardDetails, chargeCard, MAGIC_PAYMENT_METHODS, normaliseCardNumber, type ChargeResult } from "./cards.ts";
import type { SimContext } from "./context.ts";
import { cardError, found, invalid, missing, paramMissing } from "./errors.ts";
import { emit, snapshot } from "./events.ts";
import { newId, randomToken } from "./ids.ts";
import { fullLine, productName } from "./lines.ts";
import { applyPendingChange } from "./planChange.ts";

export { productName };

// ---------------------------------------------------------------------------
// Look-ups
// ---------------------------------------------------------------------------

export function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : v.id;
}

export function getCustomer(ctx: SimContext, id: string, param = "customer"): Stripe.Customer {
  return found(ctx.store.state.customers[id], "customer", id, param);
}

export function getPrice(ctx: SimContext, id: string, param = "price"): Stripe.Price {
  return found(ctx.store.state.prices[id], "price", id, param);
}

export function getProduct(ctx: SimContext, id: string, param = "product"): Stripe.Product {
  return found(ctx.store.state.products[id], "product", id, param);
}

export function getSubscription(ctx: SimContext, id: string, param = "subscription"): Stripe.Subscription {
  return found(ctx.store.state.subscriptions[id], "subscription", id, param);
}

export function getInvoice(ctx: SimContext, id: string, param = "invoice"): Stripe.Invoice {
  return found(ctx.store.state.invoices[id], "invoice", id, param);
}

export function getCheckoutSession(ctx: SimContext, id: string): Stripe.Checkout.Session {
  return found(ctx.store.state.checkoutSessions[id], "checkout.session", id, "session");
}

/** Fresh copy of the stored price (subscription items embed the full object). */
export function freshPrice(ctx: SimContext, price: Stripe.Price): Stripe.Price {
  return snapshot(ctx.store.state.prices[price.id] ?? price);
}

export function subCustomer(sub: Stripe.Subscription): string {
  return idOf(sub.customer) ?? "";
}

/** The subscription's current period, from its first item (API ≥ 2025-03-31). */
export function periodOf(sub: Stripe.Subscription): { start: number; end: number } {
  const item = sub.items.data[0];
  return { start: item?.current_period_start ?? sub.created, end: item?.current_period_end ?? sub.created };
}

/** Top-level fields of `after` that differ from `before`, with their old values. */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) prev[key] = b[key] ?? null;
  }
  return prev;
}

export function emitSubscriptionUpdated(ctx: SimContext, sub: Stripe.Subscription, before: Stripe.Subscription): void {
  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length === 0) return;
  emit(ctx, "customer.subscription.updated", sub, { customer: subCustomer(sub), previous });
}

// ---------------------------------------------------------------------------
// Customers and payment methods
// ---------------------------------------------------------------------------

export function createCustomer(
  ctx: SimContext,
  input: {
    email?: string | null;
    name?: string | null;
    description?: string | null;
    phone?: string | null;
    metadata?: Record<string, string>;
    testClock?: string | null;
  },
): Stripe.Customer {
  const clock = input.testClock ? ctx.store.state.testClocks[input.testClock] : undefined;
  if (input.testClock && !clock) throw missing("test_helpers.test_clock", input.testClock, "test_clock");
  const customer = buildCustomer({
    created: clock ? clock.frozen_time : ctx.store.now(),
    email: input.email ?? null,
    name: input.name ?? null,
    description: input.description ?? null,
    phone: input.phone ?? null,
    metadata: input.metadata ?? {},
    testClock: input.testClock ?? null,
    invoicePrefix: randomToken(8).toUpperCase(),
  });
  ctx.store.state.customers[customer.id] = customer;
  emit(ctx, "customer.created", customer, { customer: customer.id });
  return customer;
}

export function updateCustomer(
  ctx: SimContext,
  customer: Stripe.Customer,
  apply: (c: Stripe.Customer) => void,
): Stripe.Customer {
  const before = snapshot(customer);
  apply(customer);
  const previous = previousAttributes(before, customer);
  if (Object.keys(previous).length > 0) {
    emit(ctx, "customer.updated", customer, { customer: customer.id, previous });
  }
  return customer;
}

/** Creates a card payment method from a test card number, attached to `customerId` when given. */
export function createCard(
  ctx: SimContext,
  cardNumber: string,
  customerId: string | null,
  billing: { email?: string | null; name?: string | null } = {},
): Stripe.PaymentMethod {
  const number = normaliseCardNumber(cardNumber);
  const pm = buildPaymentMethod({
    created: ctx.store.now(customerId),
    customer: customerId,
    card: cardDetails(number),
    email: billing.email ?? null,
    name: billing.name ?? null,
  });
  ctx.store.state.paymentMethods[pm.id] = pm;
  ctx.store.state.cardNumbers[pm.id] = number;
  if (customerId) emit(ctx, "payment_method.attached", pm, { customer: customerId });
  return pm;
}

/** A stored payment method id, or one of Stripe's magic test ids (`pm_card_visa`), attached to the customer. */
export function resolvePaymentMethod(ctx: SimContext, id: string, customerId: string, param = "payment_method"): Stripe.PaymentMethod {
  const magic = MAGIC_PAYMENT_METHODS[id];
  if (magic) return createCard(ctx, magic, customerId);
  const pm = ctx.store.state.paymentMethods[id];
  if (!pm) throw missing("payment_method", id, param);
  if (pm.customer === null) {
    pm.customer = customerId;
    emit(ctx, "payment_method.attached", pm, { customer: customerId });
  } else if (idOf(pm.customer) !== customerId) {
    throw invalid(`The payment method ${id} belongs to a different customer.`, param);
  }
  return pm;
}

/** Makes `pmId` the customer's default and the default of their live subscriptions (what the Portal does). */
export function setDefaultPaymentMethod(ctx: SimContext, customerId: string, pmId: string): void {
  const customer = getCustomer(ctx, customerId);
  updateCustomer(ctx, customer, (c) => {
    c.invoice_settings.default_payment_method = pmId;
  });
  for (const sub of Object.values(ctx.store.state.subscriptions)) {
    if (subCustomer(sub) !== customerId || sub.status === "canceled" || sub.status === "incomplete_expired") continue;
    const before = snapshot(sub);
    sub.default_payment_method = pmId;
    emitSubscriptionUpdated(ctx, sub, before);
  }
}

// ---------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------

function nextInvoiceNumber(ctx: SimContext, customer: Stripe.Customer): string {
  const seq = (ctx.store.state.invoiceSeq[customer.id] ?? 0) + 1;
  ctx.store.state.invoiceSeq[customer.id] = seq;
  customer.next_invoice_sequence = seq + 1;
  return `${customer.invoice_prefix ?? "INV"}-${String(seq).padStart(4, "0")}`;
}

/** Creates a draft subscription invoice and emits `invoice.created`. */
export function createSubscriptionInvoice(
  ctx: SimContext,
  sub: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: Stripe.InvoiceLineItem[],
  period: { start: number; end: number },
): Stripe.Invoice {
  const customer = getCustomer(ctx, subCustomer(sub));
  const id = newId("in");
  for (const line of lines) line.invoice = id;
  const invoice = buildInvoice({
    id,
    customer,
    subscription: sub,
    created: ctx.store.now(customer.id),
    currency: sub.currency,
    billingReason: reason,
    lines,
    periodStart: period.start,
    periodEnd: period.end,
    startingBalance: customer.balance,
    baseUrl: ctx.baseUrl,
    number: null,
  });
  ctx.store.state.invoices[id] = invoice;
  sub.latest_invoice = id;
  emit(ctx, "invoice.created", invoice, { customer: customer.id });
  return invoice;
}

/** draft → open: numbers the invoice, applies credit balance, emits `invoice.finalized`. */
export function finalizeInvoice(ctx: SimContext, invoice: Stripe.Invoice): void {
  const customerId = idOf(invoice.customer) ?? "";
  const customer = getCustomer(ctx, customerId);
  const now = ctx.store.now(customerId);
  invoice.number = nextInvoiceNumber(ctx, customer);
  invoice.status = "open";
  invoice.effective_at = now;
  invoice.status_transitions.finalized_at = now;
  // Credit (negative balance) pays first, a debt is added, and a negative
  // total becomes credit: the balance moves by what the invoice took or gave.
  const delta = invoice.total < 0 ? invoice.total : invoice.total - invoice.amount_due;
  invoice.ending_balance = customer.balance + delta;
  emit(ctx, "invoice.finalized", invoice, { customer: customerId });
  if (delta !== 0) adjustBalance(ctx, customer, delta, { type: "applied_to_invoice", invoice: invoice.id, currency: invoice.currency });
}

/**
 * Moves the customer's credit balance (negative = credit the customer holds)
 * by `amount`, records a customer balance transaction and emits
 * `customer.updated` with the previous `balance`.
 */
export function adjustBalance(
  ctx: SimContext,
  customer: Stripe.Customer,
  amount: number,
  opts: {
    type: Stripe.CustomerBalanceTransaction.Type;
    invoice?: string | null;
    currency?: string | null;
    description?: string | null;
    metadata?: Record<string, string>;
  },
): Stripe.CustomerBalanceTransaction {
  updateCustomer(ctx, customer, (c) => {
    c.balance += amount;
  });
  const txn = buildBalanceTransaction({
    created: ctx.store.now(customer.id),
    customer: customer.id,
    amount,
    endingBalance: customer.balance,
    currency: opts.currency ?? customer.currency ?? "usd",
    type: opts.type,
    invoice: opts.invoice ?? null,
    description: opts.description ?? null,
    metadata: opts.metadata ?? {},
  });
  ctx.store.state.balanceTransactions[txn.id] = txn;
  return txn;
}

function markInvoicePaid(ctx: SimContext, invoice: Stripe.Invoice, pmId: string | null): void {
  const customerId = idOf(invoice.customer) ?? "";
  const now = ctx.store.now(customerId);
  invoice.status = "paid";
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.attempted = true;
  invoice.next_payment_attempt = null;
  invoice.default_payment_method = pmId;
  invoice.status_transitions.paid_at = now;
  emit(ctx, "invoice.paid", invoice, { customer: customerId });
  emit(ctx, "invoice.payment_succeeded", invoice, { customer: customerId });
  // A plan change waiting for this payment (`payment_behavior=pending_if_incomplete`) now applies.
  const sub = subscriptionOfInvoice(ctx, invoice);
  if (sub && ctx.store.state.subscriptionInternal[sub.id]?.pendingChange?.invoice === invoice.id) {
    applyPendingChange(ctx, sub);
  }
}

export function subscriptionOfInvoice(ctx: SimContext, invoice: Stripe.Invoice): Stripe.Subscription | null {
  const id = idOf(invoice.parent?.subscription_details?.subscription);
  return id ? (ctx.store.state.subscriptions[id] ?? null) : null;
}

export type PaymentAttempt = {
  /** Payment method to charge; defaults to the subscription's, then the customer's default. */
  paymentMethod?: string | null;
  /** True at Checkout (card 0341 still succeeds there). */
  atCheckout?: boolean;
  /** True after the customer passed 3-D Secure. */
  authenticated?: boolean;
  /** True for Stripe's own attempts (renewals, retries): failures drive dunning. */
  automatic?: boolean;
};

/**
 * Tries to collect an open invoice. Emits `invoice.paid` +
 * `invoice.payment_succeeded`, or `invoice.payment_failed` (+
 * `invoice.payment_action_required` for 3-D Secure). A paid invoice brings a
 * `past_due`/`unpaid`/`incomplete` subscription back to `active`.
 */
export function attemptInvoicePayment(ctx: SimContext, invoice: Stripe.Invoice, opts: PaymentAttempt): ChargeResult {
  if (invoice.status !== "open") {
    throw invalid(`Invoice ${invoice.id} is ${invoice.status ?? "draft"}; only open invoices can be paid.`, "invoice", "invoice_not_open");
  }
  const customerId = idOf(invoice.customer) ?? "";
  const customer = getCustomer(ctx, customerId);
  const sub = subscriptionOfInvoice(ctx, invoice);
  const pmId =
    opts.paymentMethod ??
    idOf(sub?.default_payment_method) ??
    idOf(customer.invoice_settings.default_payment_method);

  let result: ChargeResult;
  if (invoice.amount_due === 0) {
    result = { ok: true };
  } else if (!pmId) {
    result = {
      ok: false,
      kind: "declined",
      code: "invoice_no_payment_method",
      declineCode: "no_payment_method",
      message: "The customer has no default payment method.",
    };
  } else {
    const number = ctx.store.state.cardNumbers[pmId] ?? "";
    result = chargeCard(number, { atCheckout: opts.atCheckout ?? false, authenticated: opts.authenticated ?? false });
    invoice.attempt_count += 1;
    recordInvoicePayment(ctx, invoice, pmId, result, ctx.store.now(customerId));
  }
  invoice.attempted = true;

  if (result.ok) {
    markInvoicePaid(ctx, invoice, pmId);
    if (sub && (sub.status === "past_due" || sub.status === "unpaid" || sub.status === "incomplete")) {
      const stillOpen = Object.values(ctx.store.state.invoices).some(
        (i) => i.status === "open" && subscriptionOfInvoice(ctx, i)?.id === sub.id,
      );
      if (!stillOpen) {
        const before = snapshot(sub);
        sub.status = "active";
        emitSubscriptionUpdated(ctx, sub, before);
      }
    }
    return result;
  }

  const now = ctx.store.now(customerId);
  let exhausted = false;
  if (opts.automatic) {
    const retryDays = ctx.config.dunning.retryDays;
    const next = retryDays[invoice.attempt_count - 1];
    invoice.next_payment_attempt = next === undefined ? null : now + next * DAY;
    exhausted = next === undefined;
  }
  emit(ctx, "invoice.payment_failed", invoice, { customer: customerId });
  if (!result.ok && result.kind === "requires_action") {
    emit(ctx, "invoice.payment_action_required", invoice, { customer: customerId });
  }
  if (opts.automatic && sub) {
    if (exhausted) {
      invoice.auto_advance = false;
      if (ctx.config.dunning.finalAction === "cancel") {
        cancelSubscriptionNow(ctx, sub, "payment_failed");
      } else if (sub.status !== "canceled") {
        const before = snapshot(sub);
        sub.status = "unpaid";
        emitSubscriptionUpdated(ctx, sub, before);
      }
    } else if (sub.status === "active" || sub.status === "trialing") {
      const before = snapshot(sub);
      sub.status = "past_due";
      emitSubscriptionUpdated(ctx, sub, before);
    }
  }
  return result;
}

/** `POST /v1/invoices/:id/pay`: a customer-initiated payment; card failures are 402s. */
export function payInvoiceFromApi(ctx: SimContext, invoice: Stripe.Invoice, paymentMethod: string | null): Stripe.Invoice {
  if (invoice.status === "paid") throw invalid("Invoice is already paid.", "invoice", "invoice_not_open");
  const customerId = idOf(invoice.customer) ?? "";
  const pm = paymentMethod ? resolvePaymentMethod(ctx, paymentMethod, customerId).id : null;
  const result = attemptInvoicePayment(ctx, invoice, { paymentMethod: pm });
  if (!result.ok) {
    if (result.kind === "requires_action") {
      throw cardError("invoice_payment_intent_requires_action", "This payment requires additional user action before it can be completed successfully. Pay through the hosted_invoice_url.");
    }
    throw cardError(result.code, result.message, result.declineCode);
  }
  return invoice;
}

export function voidInvoice(ctx: SimContext, invoice: Stripe.Invoice): Stripe.Invoice {
  if (invoice.status !== "open") throw invalid(`You can only void open invoices.`, "invoice", "invoice_not_open");
  const customerId = idOf(invoice.customer) ?? "";
  invoice.status = "void";
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.voided_at = ctx.store.now(customerId);
  emit(ctx, "invoice.voided", invoice, { customer: customerId });
  return invoice;
}

// ---------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------

export type NewSubscription = {
  customer: string;
  items: { price: string; quantity: number }[];
  metadata: Record<string, string>;
  description: string | null;
  trialDays: number | null;
  paymentMethod: string | null;
  atCheckout: boolean;
  authenticated: boolean;
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
  for (const p of prices) {
    recurringOf(p);
    if (p.currency !== first.currency) throw invalid("All prices on a subscription must have the same currency.", "items");
  }
  const now = ctx.store.now(customer.id);
  const id = newId("sub");
  const trialEnd = input.trialDays ? now + input.trialDays * DAY : null;
  const periodEnd = trialEnd ?? boundary(now, recurring, 1);
  const items = input.items.map((it, i) =>
    buildSubscriptionItem({
      subscription: id,
      price: freshPrice(ctx, prices[i] as Stripe.Price),
      quantity: it.quantity,
      created: now,
      periodStart: now,
      periodEnd,
    }),
  );
  const sub = buildSubscription({
    id,
    customer: customer.id,
    created: now,
    currency: first.currency,
    items,
    status: trialEnd ? "trialing" : "incomplete",
    metadata: input.metadata,
    defaultPaymentMethod: input.paymentMethod,
    trialStart: trialEnd ? now : null,
    trialEnd,
    testClock: ctx.store.clockOf(customer.id),
    description: input.description,
  });
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
  const before = snapshot(sub);
  const wasTrialing = sub.status === "trialing";
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
  const lines = [...sub.items.data.map((item) => fullLine(ctx, sub, item)), ...pending];
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_cycle", lines, { start: before.items.data[0]?.current_period_start ?? end, end });
  emitSubscriptionUpdated(ctx, sub, before);
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { automatic: true });
}

/** `customer.subscription.trial_will_end`, once per trial. */
export function trialWillEnd(ctx: SimContext, sub: Stripe.Subscription): void {
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  if (internal) internal.trialWillEndSent = true;
  emit(ctx, "customer.subscription.trial_will_end", sub, { customer: subCustomer(sub) });
}
