/**
 * Errors in Stripe's wire shape:
 * `{ error: { type, code?, message, param?, decline_code?, doc_url? } }`
 * with the HTTP status Stripe uses (https://docs.stripe.com/api/errors).
 */

export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error";

export type StripeErrorBody = {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  /** Card errors of a PaymentIntent: the failed Charge, the PaymentIntent and PaymentMethod as they were. */
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
};

export class StripeApiError extends Error {
  readonly status: number;
  readonly body: StripeErrorBody;

  constructor(status: number, body: StripeErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
  }

  toJSON(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

/** 404 `resource_missing`, e.g. "No such customer: 'cus_x'". */
export function missing(kind: string, id: string, param = "id"): StripeApiError {
  return new StripeApiError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${kind}: '${id}'`,
    param,
    doc_url: "https://stripe.com/docs/error-codes/resource-missing",
  });
}

/** `row` itself, or the `missing` 404 for `kind` `id` when there is none. */
export function found<T>(row: T | undefined, kind: string, id: string, param = "id"): T {
  if (!row) throw missing(kind, id, param);
  return row;
}

/** 400 `parameter_missing`. */
export function paramMissing(param: string): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    code: "parameter_missing",
    message: `Missing required param: ${param}.`,
    param,
    doc_url: "https://stripe.com/docs/error-codes/parameter-missing",
  });
}

/** 400 `parameter_invalid_*` / generic invalid request. */
export function invalid(message: string, param?: string, code = "parameter_invalid"): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", code, message, param });
}

/** 402 card error (declines, authentication failures). */
export function cardError(code: string, message: string, declineCode?: string): StripeApiError {
  return new StripeApiError(402, {
    type: "card_error",
    code,
    message,
    ...(declineCode ? { decline_code: declineCode } : {}),
  });
}
