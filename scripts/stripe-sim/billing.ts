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
import {
  buildCheckoutLineItem,
  buildCheckoutSession,
  buildCustomer,
  buildInvoice,
  buildInvoiceLine,
  buildPaymentIntent,
  buildPaymentMethod,
  buildSubscription,
  buildSubscriptionItem,
  planFromPrice,
} from "./builders.ts";
import { cardDetails, chargeCard, MAGIC_PAYMENT_METHODS, normaliseCardNumber, type ChargeResult } from "./cards.ts";
import type { SimContext } from "./context.ts";
import { cardError, found, invalid, missing, paramMissing } from "./errors.ts";
import { emit, snapshot } from "./events.ts";
import { newId, randomToken } from "./ids.ts";

const DAY = 24 * 3600;

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

export function productName(ctx: SimContext, price: Stripe.Price): string {
  const id = idOf(price.product);
  return (id && ctx.store.state.products[id]?.name) ?? price.nickname ?? price.id;
}

/** Fresh copy of the stored price (subscription items embed the full object). */
function freshPrice(ctx: SimContext, price: Stripe.Price): Stripe.Price {
  return snapshot(ctx.store.state.prices[price.id] ?? price);
}

function subCustomer(sub: Stripe.Subscription): string {
  return idOf(sub.customer) ?? "";
}

/** The subscription's current period, from its first item (API ≥ 2025-03-31). */
export function periodOf(sub: Stripe.Subscription): { start: number; end: number } {
  const item = sub.items.data[0];
  return { start: item?.current_period_start ?? sub.created, end: item?.current_period_end ?? sub.created };
}

/** Top-level fields of `after` that differ from `before`, with their old values. */
function previousAttributes(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) prev[key] = b[key] ?? null;
  }
  return prev;
}

function emitSubscriptionUpdated(ctx: SimContext, sub: Stripe.Subscription, before: Stripe.Subscription): void {
  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length === 0) return;
  emit(ctx, "customer.subscription.updated", sub, { customer: subCustomer(sub), previous });
}

// ---------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------

/** `anchor` plus `months` calendar months in UTC, clamped to the month's last day (Jan 31 → Feb 28). */
function addMonths(anchor: number, months: number): number {
  const d = new Date(anchor * 1000);
  const day = d.getUTCDate();
  const target = new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return Math.floor(target.getTime() / 1000);
}

/** The `k`-th period boundary after `anchor` for a recurring price. */
function boundary(anchor: number, recurring: Stripe.Price.Recurring, k: number): number {
  const n = recurring.interval_count * k;
  switch (recurring.interval) {
    case "day":
      return anchor + n * DAY;
    case "week":
      return anchor + n * 7 * DAY;
    case "year":
      return addMonths(anchor, 12 * n);
    default:
      return addMonths(anchor, n);
  }
}

/** First period boundary strictly after `after`, counted from the billing cycle anchor. */
function nextBoundary(anchor: number, recurring: Stripe.Price.Recurring, after: number): number {
  let k = 1;
  let t = boundary(anchor, recurring, k);
  while (t <= after) t = boundary(anchor, recurring, ++k);
  return t;
}

function recurringOf(price: Stripe.Price): Stripe.Price.Recurring {
  if (!price.recurring) throw invalid(`The price ${price.id} is not recurring.`, "price");
  return price.recurring;
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
function createSubscriptionInvoice(
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
function finalizeInvoice(ctx: SimContext, invoice: Stripe.Invoice): void {
  const customerId = idOf(invoice.customer) ?? "";
  const customer = getCustomer(ctx, customerId);
  const now = ctx.store.now(customerId);
  // Credit (negative balance) pays first; a negative total becomes credit.
  const applied = invoice.total - invoice.amount_due;
  if (invoice.total < 0) customer.balance += invoice.total;
  else if (applied > 0) customer.balance += applied;
  invoice.ending_balance = customer.balance;
  invoice.number = nextInvoiceNumber(ctx, customer);
  invoice.status = "open";
  invoice.effective_at = now;
  invoice.status_transitions.finalized_at = now;
  emit(ctx, "invoice.finalized", invoice, { customer: customerId });
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

function lineFor(
  ctx: SimContext,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  amount: number,
  period: { start: number; end: number },
  description: string,
  proration: boolean,
): Stripe.InvoiceLineItem {
  return buildInvoiceLine({
    invoice: null,
    subscription: sub.id,
    subscriptionItem: item.id,
    price: item.price,
    quantity: item.quantity ?? 1,
    amount,
    periodStart: period.start,
    periodEnd: period.end,
    description,
    proration,
  });
}

function fullLine(ctx: SimContext, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, amountOverride?: number): Stripe.InvoiceLineItem {
  const qty = item.quantity ?? 1;
  const amount = amountOverride ?? (item.price.unit_amount ?? 0) * qty;
  const name = productName(ctx, item.price);
  const desc = amountOverride === 0 ? `Trial period for ${name}` : `${qty} × ${name}`;
  return lineFor(ctx, sub, item, amount, { start: item.current_period_start, end: item.current_period_end }, desc, false);
}

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

/**
 * Ends the subscription now: `status: canceled`, `ended_at`, and
 * `customer.subscription.deleted`.
 */
export function cancelSubscriptionNow(
  ctx: SimContext,
  sub: Stripe.Subscription,
  reason: "cancellation_requested" | "payment_failed" | "payment_disputed",
): Stripe.Subscription {
  if (sub.status === "canceled") return sub;
  const now = ctx.store.now(subCustomer(sub));
  sub.status = "canceled";
  sub.ended_at = now;
  sub.canceled_at = sub.canceled_at ?? now;
  sub.cancellation_details = { ...(sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null }), reason };
  const internal = ctx.store.state.subscriptionInternal[sub.id];
  if (internal) internal.pendingLines = [];
  emit(ctx, "customer.subscription.deleted", sub, { customer: subCustomer(sub) });
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
  sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: "cancellation_requested" };
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

export type ProrationBehavior = "create_prorations" | "always_invoice" | "none";

/**
 * Moves the subscription's (first) item to `priceId`.
 * - Same interval: the period stays; unused time on the old price is
 *   credited and the rest of the period on the new price is charged
 *   (`proration: true` lines), invoiced now (`always_invoice`, a
 *   `subscription_update` invoice), on the next invoice
 *   (`create_prorations`) or not at all (`none`).
 * - Different interval: the billing cycle restarts now (as Stripe does),
 *   crediting unused time and invoicing the new price immediately.
 * Events: `customer.subscription.updated` (previous `items`), then the
 * invoice's events.
 */
export function changePrice(
  ctx: SimContext,
  sub: Stripe.Subscription,
  priceId: string,
  behavior: ProrationBehavior,
  opts: { itemId?: string; quantity?: number } = {},
): Stripe.Subscription {
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalid("This subscription is canceled and cannot be updated.", "items");
  }
  const item = opts.itemId ? sub.items.data.find((i) => i.id === opts.itemId) : sub.items.data[0];
  if (!item) throw missing("subscription_item", opts.itemId ?? "", "items[0][id]");
  const newPrice = getPrice(ctx, priceId, "items[0][price]");
  if (!newPrice.active) throw invalid(`The price ${priceId} is not active.`, "items[0][price]");
  const newRecurring = recurringOf(newPrice);
  if (newPrice.currency !== sub.currency) throw invalid("The price's currency does not match the subscription's.", "items[0][price]");
  const quantity = opts.quantity ?? item.quantity ?? 1;
  if (newPrice.id === item.price.id && quantity === (item.quantity ?? 1)) return sub;

  const customerId = subCustomer(sub);
  const now = ctx.store.now(customerId);
  const before = snapshot(sub);
  const oldRecurring = recurringOf(item.price);
  const { start, end } = { start: item.current_period_start, end: item.current_period_end };
  const fraction = end > start ? Math.max(0, Math.min(1, (end - now) / (end - start))) : 0;
  const oldAmount = (item.price.unit_amount ?? 0) * (item.quantity ?? 1);
  const newAmount = (newPrice.unit_amount ?? 0) * quantity;
  const resetCycle =
    oldRecurring.interval !== newRecurring.interval || oldRecurring.interval_count !== newRecurring.interval_count;
  const trialing = sub.status === "trialing";
  const oldItemSnapshot = snapshot(item);

  item.price = freshPrice(ctx, newPrice);
  item.plan = planFromPrice(newPrice);
  item.quantity = quantity;

  const lines: Stripe.InvoiceLineItem[] = [];
  if (!trialing && behavior !== "none") {
    const credit = Math.round(oldAmount * fraction);
    if (credit > 0) {
      lines.push(
        lineFor(ctx, sub, oldItemSnapshot, -credit, { start: now, end }, `Unused time on ${productName(ctx, oldItemSnapshot.price)}`, true),
      );
    }
  }
  if (resetCycle && !trialing) {
    item.current_period_start = now;
    item.current_period_end = boundary(now, newRecurring, 1);
    sub.billing_cycle_anchor = now;
    lines.push(fullLine(ctx, sub, item));
  } else if (!trialing && behavior !== "none") {
    const charge = Math.round(newAmount * fraction);
    if (charge > 0) {
      lines.push(lineFor(ctx, sub, item, charge, { start: now, end }, `Remaining time on ${productName(ctx, newPrice)}`, true));
    }
  }
  emitSubscriptionUpdated(ctx, sub, before);

  if (lines.length === 0) return sub;
  if (behavior === "create_prorations" && !resetCycle) {
    ctx.store.state.subscriptionInternal[sub.id]?.pendingLines.push(...lines);
    return sub;
  }
  const invoice = createSubscriptionInvoice(ctx, sub, "subscription_update", lines, { start: now, end: now });
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { automatic: true });
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
export function cycleSubscription(ctx: SimContext, sub: Stripe.Subscription): void {
  const { end } = periodOf(sub);
  if (sub.cancel_at !== null && sub.cancel_at <= end) {
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    return;
  }
  const before = snapshot(sub);
  const wasTrialing = sub.status === "trialing";
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

// ---------------------------------------------------------------------------
// Checkout
// ---------------------------------------------------------------------------

export type NewCheckoutSession = {
  mode: Stripe.Checkout.Session.Mode;
  lineItems: { price: string; quantity: number }[];
  customer: string | null;
  customerEmail: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  successUrl: string | null;
  cancelUrl: string | null;
  allowPromotionCodes: boolean | null;
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
  trialPeriodDays: number | null;
  paymentIntentMetadata: Record<string, string>;
};

export function createCheckoutSession(ctx: SimContext, input: NewCheckoutSession): Stripe.Checkout.Session {
  if (input.mode !== "subscription" && input.mode !== "payment") {
    throw invalid(`The simulator supports Checkout modes 'subscription' and 'payment', not '${input.mode}'.`, "mode");
  }
  if (!input.successUrl) throw paramMissing("success_url");
  if (input.lineItems.length === 0) throw paramMissing("line_items");
  if (input.customer) getCustomer(ctx, input.customer);
  const prices = input.lineItems.map((li, i) => getPrice(ctx, li.price, `line_items[${i}][price]`));
  prices.forEach((p, i) => {
    if (!p.active) throw invalid(`The price specified is inactive. This field only accepts active prices.`, `line_items[${i}][price]`);
    if (input.mode === "subscription" && !p.recurring) {
      throw invalid("You must provide at least one recurring price in `subscription` mode when using prices.", `line_items[${i}][price]`);
    }
    if (input.mode === "payment" && p.recurring) {
      throw invalid("You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.", `line_items[${i}][price]`);
    }
  });
  const id = `cs_test_${randomToken(58)}`;
  const lineItems = input.lineItems.map((li, i) => {
    const price = snapshot(prices[i] as Stripe.Price);
    return buildCheckoutLineItem(price, li.quantity, productName(ctx, price));
  });
  const trial = input.mode === "subscription" && input.trialPeriodDays ? input.trialPeriodDays : null;
  const amountTotal = trial ? 0 : lineItems.reduce((s, li) => s + li.amount_total, 0);
  const session = buildCheckoutSession({
    id,
    created: ctx.store.now(input.customer),
    mode: input.mode,
    customer: input.customer,
    customerEmail: input.customerEmail,
    clientReferenceId: input.clientReferenceId,
    metadata: input.metadata,
    successUrl: input.successUrl,
    cancelUrl: input.cancelUrl,
    currency: prices[0]?.currency ?? null,
    amountTotal,
    allowPromotionCodes: input.allowPromotionCodes,
    url: `${ctx.baseUrl}/checkout/${id}`,
  });
  ctx.store.state.checkoutSessions[id] = session;
  ctx.store.state.checkoutLineItems[id] = lineItems;
  ctx.store.state.checkoutExtras[id] = {
    subscriptionMetadata: input.subscriptionMetadata,
    subscriptionDescription: input.subscriptionDescription,
    trialPeriodDays: trial,
    paymentIntentMetadata: input.paymentIntentMetadata,
  };
  return session;
}

export function expireCheckoutSession(ctx: SimContext, session: Stripe.Checkout.Session): Stripe.Checkout.Session {
  if (session.status !== "open") {
    throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired.`, "session");
  }
  session.status = "expired";
  session.url = null;
  emit(ctx, "checkout.session.expired", session, { customer: idOf(session.customer as string | { id: string } | null) });
  return session;
}

export type CheckoutOutcome =
  | { kind: "redirect"; url: string }
  | { kind: "error"; message: string; code: string }
  | { kind: "requires_action" };

/**
 * Pays a Checkout Session with a test card (the hosted page's submit).
 * Declines leave the session open. Success creates the customer (if the
 * session had none), attaches the card, creates the subscription (paid first
 * invoice) or a succeeded PaymentIntent, completes the session and emits
 * `checkout.session.completed` last.
 */
export function completeCheckout(
  ctx: SimContext,
  session: Stripe.Checkout.Session,
  input: { cardNumber: string; email: string | null; name: string | null; authenticated: boolean },
): CheckoutOutcome {
  if (session.status !== "open") return { kind: "error", code: "session_inactive", message: "This Checkout Session is no longer active." };
  const number = normaliseCardNumber(input.cardNumber);
  if (!/^\d{12,19}$/.test(number)) return { kind: "error", code: "incorrect_number", message: "Your card number is incomplete." };
  const extras = ctx.store.state.checkoutExtras[session.id];
  const dueNow = (session.amount_total ?? 0) > 0;
  if (dueNow) {
    const check = chargeCard(number, { atCheckout: true, authenticated: input.authenticated });
    if (!check.ok) {
      if (check.kind === "requires_action") return { kind: "requires_action" };
      return { kind: "error", code: check.code, message: check.message };
    }
  } else {
    // A trial still validates the card (Stripe runs a SetupIntent): hard declines fail.
    const check = chargeCard(number, { atCheckout: true, authenticated: true });
    if (!check.ok && check.kind === "declined") return { kind: "error", code: check.code, message: check.message };
  }

  let customerId = idOf(session.customer);
  const email = input.email ?? session.customer_email ?? null;
  if (!customerId) {
    customerId = createCustomer(ctx, { email, name: input.name }).id;
    session.customer = customerId;
  }
  const customer = getCustomer(ctx, customerId);
  const pm = createCard(ctx, number, customerId, { email: email ?? customer.email, name: input.name });
  const lineItems = ctx.store.state.checkoutLineItems[session.id] ?? [];
  session.customer_details = {
    address: null,
    business_name: null,
    email: email ?? customer.email,
    individual_name: null,
    name: input.name ?? customer.name ?? null,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };

  if (session.mode === "subscription") {
    const { subscription, invoice } = createSubscription(ctx, {
      customer: customerId,
      items: lineItems.map((li) => ({ price: li.price?.id ?? "", quantity: li.quantity ?? 1 })),
      metadata: extras?.subscriptionMetadata ?? {},
      description: extras?.subscriptionDescription ?? null,
      trialDays: extras?.trialPeriodDays ?? null,
      paymentMethod: pm.id,
      atCheckout: true,
      authenticated: true,
    });
    session.subscription = subscription.id;
    session.invoice = invoice.id;
    session.payment_status = dueNow ? "paid" : "no_payment_required";
  } else {
    const pi = buildPaymentIntent({
      created: ctx.store.now(customerId),
      amount: session.amount_total ?? 0,
      currency: session.currency ?? "usd",
      customer: customerId,
      paymentMethod: pm.id,
      metadata: extras?.paymentIntentMetadata ?? {},
      status: "succeeded",
      description: lineItems.map((li) => li.description).join(", "),
    });
    ctx.store.state.paymentIntents[pi.id] = pi;
    emit(ctx, "payment_intent.succeeded", pi, { customer: customerId });
    session.payment_intent = pi.id;
    session.payment_status = "paid";
  }
  session.status = "complete";
  session.url = null;
  emit(ctx, "checkout.session.completed", session, { customer: customerId });
  const success = (session.success_url ?? "").replaceAll("{CHECKOUT_SESSION_ID}", session.id);
  return { kind: "redirect", url: success };
}

/** Customer-facing portal and invoice pages pay with a newly typed card or the default one. */
export function payInvoiceWithCard(
  ctx: SimContext,
  invoice: Stripe.Invoice,
  input: { cardNumber: string | null; authenticated: boolean },
): ChargeResult {
  const customerId = idOf(invoice.customer) ?? "";
  let pmId: string | null = null;
  if (input.cardNumber) {
    const number = normaliseCardNumber(input.cardNumber);
    const existing = Object.entries(ctx.store.state.cardNumbers).find(
      ([id, n]) => n === number && idOf(ctx.store.state.paymentMethods[id]?.customer as string | null) === customerId,
    );
    pmId = existing ? existing[0] : createCard(ctx, number, customerId).id;
  }
  return attemptInvoicePayment(ctx, invoice, { paymentMethod: pmId, authenticated: input.authenticated });
}
