/** Invoices: numbering, finalisation, the customer balance, payment attempts (cards, dunning), pay and void from the API. */
import type Stripe from "stripe";
import { buildBalanceTransaction, buildInvoice } from "../builders.ts";
import { DAY } from "../calendar.ts";
import { chargeCard, type ChargeResult } from "../cards.ts";
import type { SimContext } from "../context.ts";
import { cardError, invalid } from "../errors.ts";
import { emit, snapshot } from "../events.ts";
import { newId } from "../ids.ts";
import { recordInvoicePayment } from "../invoicePayments.ts";
import { applyPendingChange } from "../planChange.ts";
import { resolvePaymentMethod, updateCustomer } from "./customers.ts";
import { invoiceDiscounts, settleDiscounts } from "./discounts.ts";
import { discountsThatApplied, priceInvoice } from "./invoiceTotals.ts";
import { emitSubscriptionUpdated, getCustomer, idOf, subCustomer } from "./lookups.ts";
import { cancelSubscriptionNow } from "./subscriptions.ts";

function nextInvoiceNumber(ctx: SimContext, customer: Stripe.Customer): string {
  const seq = (ctx.store.state.invoiceSeq[customer.id] ?? 0) + 1;
  ctx.store.state.invoiceSeq[customer.id] = seq;
  customer.next_invoice_sequence = seq + 1;
  return `${customer.invoice_prefix ?? "INV"}-${String(seq).padStart(4, "0")}`;
}

/**
 * Creates a draft subscription invoice and emits `invoice.created`. The
 * subscription's (else the customer's) running discounts apply, and tax when
 * `automatic_tax.enabled`; a `once` discount that took something off is then
 * used up. The customer's `currency` is set by its first invoice.
 */
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
  const now = invoice.created;
  priceInvoice(ctx, invoice, customer, { discounts: invoiceDiscounts(ctx, customer, sub, now), automaticTax: sub.automatic_tax.enabled });
  settleDiscounts(ctx, customer, sub, discountsThatApplied(invoice), now);
  if (!customer.currency) customer.currency = invoice.currency;
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
  /** The PaymentIntent that pays it, instead of one of its own (Checkout `invoice_creation`: the session's). */
  paymentIntent?: string;
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
    // Stripe counts the attempt (and schedules its retries) even with no card to charge.
    invoice.attempt_count += 1;
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
    recordInvoicePayment(ctx, invoice, pmId, result, ctx.store.now(customerId), opts.paymentIntent);
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
    const finalAction = ctx.config.dunning.finalAction;
    if (exhausted) invoice.auto_advance = false;
    if (exhausted && finalAction === "cancel") {
      cancelSubscriptionNow(ctx, sub, "payment_failed");
    } else if (exhausted && finalAction === "unpaid" && sub.status !== "canceled") {
      const before = snapshot(sub);
      sub.status = "unpaid";
      emitSubscriptionUpdated(ctx, sub, before);
    } else if (sub.status === "active" || sub.status === "trialing") {
      // A failed attempt (or, with `past_due`, the last one: "leave the subscription past-due").
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
