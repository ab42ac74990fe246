/**
 * PaymentIntents made through the API (https://docs.stripe.com/api/payment_intents):
 * create (confirming at once with `confirm`), confirm, cancel, and the
 * 3-D Secure step of an on-session confirmation. Parameter checks live in
 * `paymentIntentParams.ts`.
 *
 * Confirmation charges the payment method's test card (`cards.ts`):
 * - it pays: `succeeded` with a succeeded Charge as `latest_charge`
 *   (`charge.succeeded`, `payment_intent.succeeded`);
 * - the issuer declines it (0002, 9995, 0069, and 0341 once attached): a
 *   `failed` Charge, the PaymentIntent back to `requires_payment_method` with
 *   `last_payment_error` (`charge.failed`, `payment_intent.payment_failed`),
 *   and a 402 `card_error` carrying `charge`, `payment_intent` and
 *   `payment_method`, as Stripe answers;
 * - it needs 3-D Secure (3184): off-session (or with
 *   `error_on_requires_action`) that is the decline `authentication_required`;
 *   on-session the PaymentIntent waits in `requires_action` with a
 *   `next_action` pointing at the hosted challenge page (`/3ds/:id`), whose
 *   Complete / Fail buttons finish it (`completeAuthentication`).
 */
import type Stripe from "stripe";
import { createCard, getCustomer, idOf } from "./billing.ts";
import { buildPaymentIntent, type ChargeFailure } from "./builders.ts";
import { chargeCard, MAGIC_PAYMENT_METHODS } from "./cards.ts";
import type { SimContext } from "./context.ts";
import { found, invalid, missing, StripeApiError } from "./errors.ts";
import { emit, snapshot } from "./events.ts";
import { newId } from "./ids.ts";
import { checkConfirmable, checkNewPaymentIntent, type NewPaymentIntent, type OffSession } from "./paymentIntentParams.ts";
import { createCharge } from "./payments.ts";

export type { NewPaymentIntent, OffSession } from "./paymentIntentParams.ts";

/** What a confirmation may carry besides the PaymentIntent's own fields. */
export type ConfirmInput = {
  paymentMethod: string | null;
  offSession: OffSession;
  returnUrl: string | null;
  errorOnRequiresAction: boolean;
  setupFutureUsage?: "on_session" | "off_session" | null;
  receiptEmail?: string | null;
};

const AUTH_FAILURE_MESSAGE =
  "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.";

export function getPaymentIntent(ctx: SimContext, id: string, param = "intent"): Stripe.PaymentIntent {
  return found(ctx.store.state.paymentIntents[id], "payment_intent", id, param);
}

const customerOf = (pi: Stripe.PaymentIntent): string | null => idOf(pi.customer);

/**
 * The payment method to charge. Stripe's magic ids (`pm_card_visa`) make a
 * fresh card. With a customer, a stored one must be attached to that
 * customer, unless it is unattached and `setup_future_usage` will attach it
 * on success; without one, it must not belong to any customer.
 */
function paymentMethodFor(
  ctx: SimContext,
  id: string,
  customerId: string | null,
  setupFutureUsage: string | null,
): Stripe.PaymentMethod {
  const magic = MAGIC_PAYMENT_METHODS[id];
  if (magic) return createCard(ctx, magic, null);
  const pm = ctx.store.state.paymentMethods[id];
  if (!pm) throw missing("payment_method", id, "payment_method");
  const owner = idOf(pm.customer);
  if (!customerId && owner) {
    throw invalid(
      `The \`payment_method\` parameter supplied ${id} belongs to the Customer ${owner}. Please include the Customer in the \`customer\` parameter on the PaymentIntent.`,
      "payment_method",
    );
  }
  if (customerId && owner !== customerId && !(owner === null && setupFutureUsage)) {
    throw invalid(
      `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`,
      "payment_method",
      "resource_missing",
    );
  }
  return pm;
}

/** `POST /v1/payment_intents`. Throws a 402 `card_error` when `confirm` ends in a decline. */
export function createPaymentIntent(ctx: SimContext, input: NewPaymentIntent): Stripe.PaymentIntent {
  const { amount, currency } = checkNewPaymentIntent(input);
  const customerId = input.customer ? getCustomer(ctx, input.customer).id : null;
  const pm = input.paymentMethod ? paymentMethodFor(ctx, input.paymentMethod, customerId, input.setupFutureUsage) : null;
  const pi = buildPaymentIntent({
    created: ctx.store.now(customerId),
    amount,
    currency,
    customer: customerId,
    paymentMethod: pm?.id ?? null,
    metadata: input.metadata,
    status: pm ? "requires_confirmation" : "requires_payment_method",
    description: input.description,
    receiptEmail: input.receiptEmail,
    statementDescriptorSuffix: input.statementDescriptorSuffix,
    setupFutureUsage: input.setupFutureUsage,
    paymentMethodTypes: input.paymentMethodTypes,
    automaticPaymentMethods: input.paymentMethodTypes
      ? null
      : { enabled: input.automaticPaymentMethods?.enabled ?? true, allow_redirects: input.automaticPaymentMethods?.allowRedirects ?? "always" },
  });
  ctx.store.state.paymentIntents[pi.id] = pi;
  emit(ctx, "payment_intent.created", pi, { customer: customerId });
  if (!input.confirm) return pi;
  return confirmPaymentIntent(ctx, pi, {
    paymentMethod: null,
    offSession: input.offSession ?? false,
    returnUrl: input.returnUrl,
    errorOnRequiresAction: input.errorOnRequiresAction,
  });
}

/** `POST /v1/payment_intents/:id/confirm` (and `confirm=true` at creation). */
export function confirmPaymentIntent(ctx: SimContext, pi: Stripe.PaymentIntent, input: ConfirmInput): Stripe.PaymentIntent {
  const setupFutureUsage = input.setupFutureUsage === undefined ? pi.setup_future_usage : input.setupFutureUsage;
  checkConfirmable(pi, { offSession: input.offSession, setupFutureUsage });
  const customerId = customerOf(pi);
  const pm = input.paymentMethod
    ? paymentMethodFor(ctx, input.paymentMethod, customerId, setupFutureUsage)
    : pi.payment_method
      ? (ctx.store.state.paymentMethods[idOf(pi.payment_method) ?? ""] ?? null)
      : null;
  if (!pm) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "payment_intent_unexpected_state",
      message:
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
      param: "payment_method",
      payment_intent: snapshot(pi),
    });
  }
  dropPendingAuths(ctx, pi.id);
  pi.payment_method = pm.id;
  pi.setup_future_usage = setupFutureUsage;
  if (input.receiptEmail !== undefined) pi.receipt_email = input.receiptEmail;
  pi.next_action = null;

  const result = chargeCard(ctx.store.state.cardNumbers[pm.id] ?? "", { atCheckout: false, authenticated: false });
  if (result.ok) return succeed(ctx, pi, pm);
  if (result.kind === "declined") {
    throw declined(ctx, pi, pm, { code: result.code, declineCode: result.declineCode, message: result.message });
  }
  if (input.offSession !== false || input.errorOnRequiresAction) {
    throw declined(ctx, pi, pm, {
      code: "authentication_required",
      declineCode: "authentication_required",
      message: "Your card was declined. This transaction requires authentication.",
    });
  }
  return requireAction(ctx, pi, pm, input.returnUrl);
}

/**
 * The payment went through: the Charge, the card saved to the customer when
 * `setup_future_usage` asks for it, `charge.succeeded`, `payment_intent.succeeded`.
 */
export function succeed(ctx: SimContext, pi: Stripe.PaymentIntent, pm: Stripe.PaymentMethod): Stripe.PaymentIntent {
  const customerId = customerOf(pi);
  pi.status = "succeeded";
  pi.amount_received = pi.amount;
  pi.last_payment_error = null;
  pi.next_action = null;
  if (pi.setup_future_usage && customerId && pm.customer === null) {
    pm.customer = customerId;
    emit(ctx, "payment_method.attached", pm, { customer: customerId });
  }
  const charge = createCharge(ctx, pi);
  emit(ctx, "charge.succeeded", charge, { customer: customerId });
  emit(ctx, "payment_intent.succeeded", pi, { customer: customerId });
  return pi;
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replaceAll("_", "-")}`;
}

/**
 * The issuer declined: a failed Charge, the PaymentIntent back to
 * `requires_payment_method` with `last_payment_error` (its payment method
 * moves there), `charge.failed`, `payment_intent.payment_failed`. Returns the
 * 402 Stripe answers, with the PaymentIntent in it.
 */
function declined(ctx: SimContext, pi: Stripe.PaymentIntent, pm: Stripe.PaymentMethod, failure: ChargeFailure): StripeApiError {
  const customerId = customerOf(pi);
  const charge = createCharge(ctx, pi, failure);
  pi.status = "requires_payment_method";
  pi.amount_received = 0;
  pi.payment_method = null;
  pi.last_payment_error = {
    type: "card_error",
    charge: charge.id,
    code: failure.code,
    decline_code: failure.declineCode,
    doc_url: docUrl(failure.code),
    message: failure.message,
    payment_method: snapshot(pm),
  };
  emit(ctx, "charge.failed", charge, { customer: customerId });
  emit(ctx, "payment_intent.payment_failed", pi, { customer: customerId });
  return new StripeApiError(402, {
    type: "card_error",
    code: failure.code,
    decline_code: failure.declineCode,
    message: failure.message,
    doc_url: docUrl(failure.code),
    charge: charge.id,
    payment_intent: snapshot(pi),
    payment_method: snapshot(pm),
  });
}

/**
 * On-session 3-D Secure: `requires_action` with a `next_action` to the hosted
 * challenge page — `redirect_to_url` when the caller gave a `return_url`,
 * otherwise `use_stripe_sdk` (its `stripe_js` is the same page). Emits
 * `payment_intent.requires_action`.
 */
function requireAction(ctx: SimContext, pi: Stripe.PaymentIntent, pm: Stripe.PaymentMethod, returnUrl: string | null): Stripe.PaymentIntent {
  const id = newId("3ds");
  ctx.store.state.pendingAuths[id] = {
    id,
    kind: "payment_intent",
    targetId: pi.id,
    cardNumber: ctx.store.state.cardNumbers[pm.id] ?? "",
    email: null,
    name: null,
    returnPath: returnUrl ?? "",
  };
  const url = `${ctx.baseUrl}/3ds/${id}`;
  pi.status = "requires_action";
  pi.next_action = returnUrl
    ? { type: "redirect_to_url", redirect_to_url: { url, return_url: returnUrl } }
    : { type: "use_stripe_sdk", use_stripe_sdk: { type: "three_d_secure_redirect", stripe_js: url, source: id } };
  emit(ctx, "payment_intent.requires_action", pi, { customer: customerOf(pi) });
  return pi;
}

/**
 * The customer's answer on the challenge page. Approved: the payment goes
 * through (as `succeed`). Failed: `requires_payment_method` with the
 * `payment_intent_authentication_failure` error and `payment_intent.payment_failed`
 * (no Charge: the issuer never saw it). A PaymentIntent no longer waiting is left alone.
 */
export function completeAuthentication(ctx: SimContext, pi: Stripe.PaymentIntent, approved: boolean): Stripe.PaymentIntent {
  if (pi.status !== "requires_action") return pi;
  const pm = ctx.store.state.paymentMethods[idOf(pi.payment_method) ?? ""];
  if (!pm) return pi;
  if (approved) {
    const result = chargeCard(ctx.store.state.cardNumbers[pm.id] ?? "", { atCheckout: false, authenticated: true });
    if (result.ok) return succeed(ctx, pi, pm);
    if (result.kind === "declined") {
      declined(ctx, pi, pm, { code: result.code, declineCode: result.declineCode, message: result.message });
      return pi;
    }
  }
  pi.status = "requires_payment_method";
  pi.next_action = null;
  pi.payment_method = null;
  pi.last_payment_error = {
    type: "invalid_request_error",
    code: "payment_intent_authentication_failure",
    doc_url: docUrl("payment_intent_authentication_failure"),
    message: AUTH_FAILURE_MESSAGE,
    payment_method: snapshot(pm),
  };
  emit(ctx, "payment_intent.payment_failed", pi, { customer: customerOf(pi) });
  return pi;
}

const CANCELABLE: readonly string[] = ["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"];
const CANCELLATION_REASONS: readonly string[] = ["abandoned", "duplicate", "fraudulent", "requested_by_customer"];

/** `POST /v1/payment_intents/:id/cancel`: `canceled`, `payment_intent.canceled`. */
export function cancelPaymentIntent(ctx: SimContext, pi: Stripe.PaymentIntent, reason: string | null): Stripe.PaymentIntent {
  if (reason !== null && !CANCELLATION_REASONS.includes(reason)) {
    throw invalid(`Invalid cancellation_reason: must be one of ${CANCELLATION_REASONS.join(", ")}`, "cancellation_reason");
  }
  if (!CANCELABLE.includes(pi.status)) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "payment_intent_unexpected_state",
      message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(", ")}.`,
      payment_intent: snapshot(pi),
    });
  }
  dropPendingAuths(ctx, pi.id);
  pi.status = "canceled";
  pi.canceled_at = ctx.store.now(customerOf(pi));
  pi.cancellation_reason = reason;
  pi.next_action = null;
  emit(ctx, "payment_intent.canceled", pi, { customer: customerOf(pi) });
  return pi;
}

/** A new confirmation or a cancel ends any challenge still open for the PaymentIntent. */
function dropPendingAuths(ctx: SimContext, piId: string): void {
  const auths = ctx.store.state.pendingAuths;
  for (const [id, auth] of Object.entries(auths)) if (auth.kind === "payment_intent" && auth.targetId === piId) delete auths[id];
}
