/**
 * Charges, refunds and disputes (https://docs.stripe.com/api/charges,
 * /api/refunds, /api/disputes).
 *
 * Every PaymentIntent the simulator makes succeed gets one Charge, its
 * `latest_charge`, carrying the PaymentIntent's amount, customer and
 * metadata; an API PaymentIntent declined by the issuer gets a `failed` one
 * (neither refundable nor disputable). A refund (`POST /v1/refunds`) takes part or all of what is left
 * of a charge: `amount_refunded` adds up, `refunded` turns true at the full
 * amount, and `charge.refunded` carries the charge as it now is, then
 * `refund.created` the Refund. A dispute (`/_sim/disputes`: real test mode
 * uses special cards) marks the charge `disputed` and goes `needs_response`
 * → `won` or `lost`, with `charge.dispute.created` / `funds_withdrawn` and
 * `charge.dispute.closed` (+ `funds_reinstated` when won).
 */
import type Stripe from "stripe";
import { idOf } from "./billing/lookups.ts";
import { buildCharge, buildDispute, buildRefund, type ChargeFailure } from "./builders.ts";
import type { SimContext } from "./context.ts";
import { found, invalid, StripeApiError } from "./errors.ts";
import { emit } from "./events.ts";
import { money } from "./html.ts";

/**
 * Creates the Charge of a PaymentIntent that just succeeded (or, with
 * `failure`, was declined by the issuer) and sets its `latest_charge`.
 */
export function createCharge(ctx: SimContext, pi: Stripe.PaymentIntent, failure: ChargeFailure | null = null): Stripe.Charge {
  const state = ctx.store.state;
  const pmId = idOf(pi.payment_method);
  const charge = buildCharge({
    created: ctx.store.now(idOf(pi.customer)),
    paymentIntent: pi,
    paymentMethod: pmId ? (state.paymentMethods[pmId] ?? null) : null,
    failure,
  });
  state.charges[charge.id] = charge;
  pi.latest_charge = charge.id;
  return charge;
}

export function getCharge(ctx: SimContext, id: string, param = "id"): Stripe.Charge {
  return found(ctx.store.state.charges[id], "charge", id, param);
}

export function getDispute(ctx: SimContext, id: string, param = "dispute"): Stripe.Dispute {
  return found(ctx.store.state.disputes[id], "dispute", id, param);
}

/**
 * The charge named by `charge`, or the succeeded charge of `payment_intent`
 * (one of them is required; both must agree when both are given).
 */
export function chargeOf(
  ctx: SimContext,
  ref: { charge?: string | undefined; paymentIntent?: string | undefined },
  purpose: "refund" | "dispute" = "refund",
): Stripe.Charge {
  if (!ref.charge && !ref.paymentIntent) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "parameter_missing",
      message: "Must provide either a charge or a payment_intent.",
      param: "charge",
    });
  }
  let charge: Stripe.Charge | null = ref.charge ? getCharge(ctx, ref.charge, "charge") : null;
  if (ref.paymentIntent) {
    const pi = found(ctx.store.state.paymentIntents[ref.paymentIntent], "payment_intent", ref.paymentIntent, "payment_intent");
    const latest = idOf(pi.latest_charge);
    if (pi.status !== "succeeded" || !latest) {
      throw invalid(`This PaymentIntent (${pi.id}) does not have a successful charge to ${purpose}.`, "payment_intent", "charge_not_refundable");
    }
    if (charge && charge.id !== latest) {
      throw invalid(`The charge ${charge.id} does not belong to the PaymentIntent ${pi.id}.`, "charge");
    }
    charge ??= getCharge(ctx, latest, "payment_intent");
  }
  return charge as Stripe.Charge;
}

/** A failed charge moved no money: nothing to refund or dispute. */
function notPaid(charge: Stripe.Charge): StripeApiError {
  return invalid(`Charge ${charge.id} has failed; there is no payment to refund or dispute.`, "charge", "charge_not_refundable");
}

const REFUND_REASONS: readonly string[] = ["duplicate", "fraudulent", "requested_by_customer"];

/** Disputes still waiting for an outcome. */
const OPEN_DISPUTE: readonly string[] = ["needs_response", "under_review", "warning_needs_response", "warning_under_review"];

function disputesOf(ctx: SimContext, chargeId: string): Stripe.Dispute[] {
  return Object.values(ctx.store.state.disputes).filter((d) => d.charge === chargeId);
}

export type NewRefund = {
  charge: Stripe.Charge;
  /** Minor units; `undefined` = what is left to refund. */
  amount: number | undefined;
  reason: string | undefined;
  metadata: Record<string, string>;
};

/**
 * Refunds `amount` (default: the rest) of a charge. Refused, as by Stripe:
 * a charge refunded in full (`charge_already_refunded`), a charge with a
 * dispute not won (`charge_disputed`), and an amount above what is left
 * (invalid_request_error on `amount`). Emits `charge.refunded` (the updated
 * charge, `previous_attributes` with the old `amount_refunded`) then
 * `refund.created`.
 */
export function createRefund(ctx: SimContext, input: NewRefund): Stripe.Refund {
  const charge = input.charge;
  if (input.reason !== undefined && !REFUND_REASONS.includes(input.reason)) {
    throw invalid(`Invalid reason: must be one of ${REFUND_REASONS.join(", ")}`, "reason", "parameter_invalid_string");
  }
  if (input.amount !== undefined && input.amount < 1) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "parameter_invalid_integer",
      message: "Invalid positive integer",
      param: "amount",
      doc_url: "https://stripe.com/docs/error-codes/parameter-invalid-integer",
    });
  }
  if (charge.status !== "succeeded") throw notPaid(charge);
  const left = charge.amount - charge.amount_refunded;
  if (left <= 0) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "charge_already_refunded",
      message: `Charge ${charge.id} has already been refunded.`,
      doc_url: "https://stripe.com/docs/error-codes/charge-already-refunded",
    });
  }
  if (disputesOf(ctx, charge.id).some((d) => d.status !== "won")) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "charge_disputed",
      message: `Charge ${charge.id} has been charged back; cannot issue a refund.`,
      doc_url: "https://stripe.com/docs/error-codes/charge-disputed",
    });
  }
  const amount = input.amount ?? left;
  if (amount > left) {
    const what = charge.amount_refunded > 0 ? "unrefunded amount on charge" : "charge amount";
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      message: `Refund amount (${money(amount, charge.currency)}) is greater than ${what} (${money(left, charge.currency)})`,
      param: "amount",
    });
  }
  const customerId = idOf(charge.customer);
  const refund = buildRefund({
    created: ctx.store.now(customerId),
    charge,
    amount,
    reason: input.reason ?? null,
    metadata: input.metadata,
  });
  ctx.store.state.refunds[refund.id] = refund;
  const previous: Record<string, unknown> = { amount_refunded: charge.amount_refunded };
  charge.amount_refunded += amount;
  if (charge.amount_refunded >= charge.amount) {
    previous.refunded = charge.refunded;
    charge.refunded = true;
  }
  emit(ctx, "charge.refunded", charge, { customer: customerId, previous });
  emit(ctx, "refund.created", refund, { customer: customerId });
  return refund;
}

const DISPUTE_REASONS: readonly string[] = [
  "bank_cannot_process",
  "check_returned",
  "credit_not_processed",
  "customer_initiated",
  "debit_not_authorized",
  "duplicate",
  "fraudulent",
  "general",
  "incorrect_account_details",
  "insufficient_funds",
  "noncompliant",
  "product_not_received",
  "product_unacceptable",
  "subscription_canceled",
  "unrecognized",
];

/**
 * The cardholder disputes a charge (what Stripe's dispute test cards do):
 * a `needs_response` Dispute for what is left unrefunded, the charge marked
 * `disputed`. Emits `charge.dispute.created` then
 * `charge.dispute.funds_withdrawn`. One dispute per charge; a charge refunded
 * in full cannot be disputed.
 */
export function createDispute(ctx: SimContext, input: { charge: Stripe.Charge; reason: string | undefined }): Stripe.Dispute {
  const charge = input.charge;
  const reason = input.reason ?? "fraudulent";
  if (!DISPUTE_REASONS.includes(reason)) throw invalid(`Invalid reason: must be one of ${DISPUTE_REASONS.join(", ")}`, "reason");
  if (charge.status !== "succeeded") throw notPaid(charge);
  const existing = disputesOf(ctx, charge.id)[0];
  if (existing) throw invalid(`Charge ${charge.id} is already disputed (${existing.id}).`, "charge");
  const amount = charge.amount - charge.amount_refunded;
  if (amount <= 0) throw invalid(`Charge ${charge.id} has been refunded in full; there is nothing to dispute.`, "charge", "charge_already_refunded");
  const customerId = idOf(charge.customer);
  const dispute = buildDispute({ created: ctx.store.now(customerId), charge, amount, reason });
  ctx.store.state.disputes[dispute.id] = dispute;
  charge.disputed = true;
  emit(ctx, "charge.dispute.created", dispute, { customer: customerId });
  emit(ctx, "charge.dispute.funds_withdrawn", dispute, { customer: customerId });
  return dispute;
}

/**
 * Closes an open dispute: `won` (emits `charge.dispute.closed`, then
 * `charge.dispute.funds_reinstated`) or `lost` (`charge.dispute.closed`).
 */
export function closeDispute(ctx: SimContext, dispute: Stripe.Dispute, outcome: "won" | "lost"): Stripe.Dispute {
  if (!OPEN_DISPUTE.includes(dispute.status)) {
    throw invalid(`This dispute is already closed (status ${dispute.status}).`, "dispute");
  }
  const customerId = idOf(ctx.store.state.charges[idOf(dispute.charge) ?? ""]?.customer);
  const previous = { status: dispute.status };
  dispute.status = outcome;
  emit(ctx, "charge.dispute.closed", dispute, { customer: customerId, previous });
  if (outcome === "won") emit(ctx, "charge.dispute.funds_reinstated", dispute, { customer: customerId });
  return dispute;
}
