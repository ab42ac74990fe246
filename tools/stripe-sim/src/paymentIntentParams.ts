/**
 * The parameter rules of PaymentIntent create and confirm
 * (https://docs.stripe.com/api/payment_intents/create): amount within the
 * currency's minimum (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts),
 * `off_session` and the other confirm-only parameters only with `confirm=true`,
 * never `off_session` with `setup_future_usage`, one of
 * `payment_method_types` / `automatic_payment_methods`, and which statuses
 * can be confirmed. All throw 400s before anything is stored.
 */
import type Stripe from "stripe";
import { invalid, paramMissing, StripeApiError } from "./errors.ts";
import { snapshot } from "./events.ts";
import { money } from "./html.ts";

/** `off_session`: `true`, or Stripe's `one_off` / `recurring`; `false` when absent. */
export type OffSession = boolean | "one_off" | "recurring";

export type NewPaymentIntent = {
  /** As sent (a decimal string); checked here. */
  amount: string | undefined;
  currency: string | undefined;
  customer: string | null;
  paymentMethod: string | null;
  confirm: boolean;
  offSession: OffSession | undefined;
  description: string | null;
  metadata: Record<string, string>;
  /** `allowed_payment_method_types` (or the older `payment_method_types`). */
  paymentMethodTypes: string[] | null;
  automaticPaymentMethods: { enabled: boolean; allowRedirects: "always" | "never" | null } | null;
  receiptEmail: string | null;
  statementDescriptorSuffix: string | null;
  setupFutureUsage: "on_session" | "off_session" | null;
  returnUrl: string | null;
  errorOnRequiresAction: boolean;
  captureMethod: string | null;
};

/** Smallest amounts Stripe charges, in minor units (others: 1). */
const MINIMUM: Record<string, number> = {
  usd: 50, aud: 50, brl: 50, cad: 50, chf: 50, eur: 50, inr: 50, jpy: 50, nzd: 50, sgd: 50,
  gbp: 30, dkk: 250, hkd: 400, mxn: 1000, nok: 300, pln: 200, sek: 300,
};
const MAXIMUM = 99_999_999;

export function parseOffSession(v: string | undefined): OffSession | undefined {
  if (v === undefined || v === "") return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  if (v === "one_off" || v === "recurring") return v;
  throw invalid("Invalid off_session: must be one of true, false, one_off, or recurring", "off_session");
}

export function parseSetupFutureUsage(v: string | undefined, param = "setup_future_usage"): "on_session" | "off_session" | null | undefined {
  if (v === undefined) return undefined;
  if (v === "") return null;
  if (v === "on_session" || v === "off_session") return v;
  throw invalid(`Invalid ${param}: must be one of on_session or off_session`, param);
}

function confirmOnly(param: string): StripeApiError {
  return invalid(`The parameter \`${param}\` can only be used when \`confirm\` is set to \`true\`.`, param);
}

function offSessionWithSetup(): StripeApiError {
  return invalid(
    "You cannot confirm with the `off_session` parameter when `setup_future_usage` is also set on the PaymentIntent because you cannot set up future usages when processing payments off-session.",
    "off_session",
  );
}

/** Checks a create request; answers the amount and the lower-cased currency. */
export function checkNewPaymentIntent(input: NewPaymentIntent): { amount: number; currency: string } {
  if (input.amount === undefined) throw paramMissing("amount");
  if (!/^\d+$/.test(input.amount) || Number(input.amount) < 1) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "parameter_invalid_integer",
      message: "Invalid positive integer",
      param: "amount",
      doc_url: "https://stripe.com/docs/error-codes/parameter-invalid-integer",
    });
  }
  if (!input.currency) throw paramMissing("currency");
  const currency = input.currency.toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${input.currency}.`, "currency");
  const amount = Number(input.amount);
  const min = MINIMUM[currency] ?? 1;
  if (amount < min) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "amount_too_small",
      message: `Amount must be at least ${money(min, currency)} ${currency}`,
      param: "amount",
      doc_url: "https://stripe.com/docs/error-codes/amount-too-small",
    });
  }
  if (amount > MAXIMUM) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "amount_too_large",
      message: `Amount must be no more than ${money(MAXIMUM, currency)}`,
      param: "amount",
      doc_url: "https://stripe.com/docs/error-codes/amount-too-large",
    });
  }
  if (input.paymentMethodTypes && input.automaticPaymentMethods) {
    throw invalid("You may only specify one of these parameters: allowed_payment_method_types, automatic_payment_methods.", "automatic_payment_methods");
  }
  if (input.captureMethod && input.captureMethod !== "automatic" && input.captureMethod !== "automatic_async") {
    throw invalid(`The simulator supports capture_method 'automatic' only, not '${input.captureMethod}'.`, "capture_method");
  }
  if (!input.confirm) {
    if (input.offSession) throw confirmOnly("off_session");
    if (input.returnUrl) throw confirmOnly("return_url");
    if (input.errorOnRequiresAction) throw confirmOnly("error_on_requires_action");
  } else if (input.offSession && input.setupFutureUsage) {
    throw offSessionWithSetup();
  }
  return { amount, currency };
}

const CONFIRMABLE: readonly string[] = ["requires_payment_method", "requires_confirmation", "requires_action"];

/** Whether `pi` can be confirmed now with these options (the refusal carries the PaymentIntent, as Stripe's does). */
export function checkConfirmable(pi: Stripe.PaymentIntent, opts: { offSession: OffSession; setupFutureUsage: string | null }): void {
  if (!CONFIRMABLE.includes(pi.status)) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "payment_intent_unexpected_state",
      message: `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action.`,
      doc_url: "https://stripe.com/docs/error-codes/payment-intent-unexpected-state",
      payment_intent: snapshot(pi),
    });
  }
  if (opts.offSession && opts.setupFutureUsage) throw offSessionWithSetup();
}
