/**
 * The payment behind each charged invoice, as API 2026-10-28.endive shows it:
 * a PaymentIntent (one per invoice, reused by every attempt) and the
 * `invoice_payment` that links them (`GET /v1/invoice_payments?invoice=`).
 * A declined attempt leaves the PaymentIntent `requires_payment_method` with
 * `last_payment_error`; a 3-D Secure one `requires_action`; a paid one
 * `succeeded`, with its Charge as `latest_charge`. That is how a caller
 * tells a decline from a confirmation (https://docs.stripe.com/api/invoice-payment).
 */
import type Stripe from "stripe";
import type { ChargeResult } from "./cards.ts";
import { buildPaymentIntent } from "./builders.ts";
import type { SimContext } from "./context.ts";
import { newId } from "./ids.ts";
import { createCharge } from "./payments.ts";

function statusOf(result: ChargeResult): Stripe.PaymentIntent.Status {
  if (result.ok) return "succeeded";
  return result.kind === "requires_action" ? "requires_action" : "requires_payment_method";
}

/**
 * Records one payment attempt on `invoice` with `paymentMethod` (Stripe
 * seconds from the customer's clock), on `paymentIntentId` when the payment
 * already has one (Checkout `invoice_creation`), else on the invoice's own.
 */
export function recordInvoicePayment(
  ctx: SimContext,
  invoice: Stripe.Invoice,
  paymentMethod: string | null,
  result: ChargeResult,
  now: number,
  paymentIntentId?: string,
): void {
  const state = ctx.store.state;
  state.invoicePayments ??= {};
  const existing = Object.values(state.invoicePayments).find((p) => p.invoice === invoice.id);
  const piId = existing ? (existing.payment.payment_intent as string) : (paymentIntentId ?? null);
  const pi =
    (piId ? state.paymentIntents[piId] : undefined) ??
    buildPaymentIntent({
      created: now,
      amount: invoice.amount_due,
      currency: invoice.currency,
      customer: typeof invoice.customer === "string" ? invoice.customer : (invoice.customer?.id ?? null),
      paymentMethod,
      metadata: {},
      status: "requires_payment_method",
      description: `Payment for Invoice ${invoice.number ?? invoice.id}`,
    });
  pi.status = statusOf(result);
  pi.payment_method = paymentMethod;
  pi.amount_received = result.ok ? pi.amount : 0;
  pi.last_payment_error =
    !result.ok && result.kind === "declined"
      ? ({ type: "card_error", code: result.code, decline_code: result.declineCode, message: result.message })
      : null;
  state.paymentIntents[pi.id] = pi;
  if (result.ok && !pi.latest_charge) createCharge(ctx, pi);
  const payment: Stripe.InvoicePayment = existing ?? {
    id: newId("inpay"),
    object: "invoice_payment",
    amount_paid: null,
    amount_requested: invoice.amount_due,
    created: now,
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: "payment_intent", payment_intent: pi.id },
    status: "open",
    status_transitions: { canceled_at: null, paid_at: null },
  };
  if (result.ok) {
    payment.status = "paid";
    payment.amount_paid = invoice.amount_due;
    payment.status_transitions = { canceled_at: null, paid_at: now };
  }
  state.invoicePayments[payment.id] = payment;
}
