import { ConvexError } from "convex/values";

/**
 * The closed set of error codes the backend throws as `ConvexError` data.
 * Clients switch on `code` to show a human message (see `src/lib/errors.ts`).
 */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "NOT_FOUND",
  "FORBIDDEN",
  "INVALID_ARGUMENT",
  "NOT_AN_UPGRADE",
  "NO_CUSTOMER",
  "STRIPE_NOT_CONFIGURED",
  "STRIPE_ERROR",
  "PRICE_NOT_FOUND",
  "INSUFFICIENT_TOKENS",
  "TIER_REQUIRED",
  "NO_SUBSCRIPTION",
  "NOT_A_CHANGE",
  "PAYMENT_REQUIRED",
  "CHANGE_PENDING",
  "HOLD_CLOSED",
  "NO_PAYMENT_METHOD",
  "CURRENCY_LOCKED",
  "TRIAL_ALREADY_USED",
  "TRIAL_ACTIVE",
  "NOT_TRIALING",
  "ACCOUNT_SUSPENDED",
  "ACCOUNT_RESTRICTED",
  "MEMBER_CAP_REACHED",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type BillingErrorData = {
  code: ErrorCode;
  message: string;
  /** INSUFFICIENT_TOKENS / MEMBER_CAP_REACHED: tokens the operation needs. */
  required?: number;
  /** INSUFFICIENT_TOKENS: tokens the account has left. MEMBER_CAP_REACHED: tokens left under the member's cap. */
  available?: number;
  /** MEMBER_CAP_REACHED: the member's cap this period (tokens). */
  cap?: number;
  /** TIER_REQUIRED / NOT_AN_UPGRADE: the tier involved. */
  tier?: string;
  /** STRIPE_NOT_CONFIGURED: the missing environment variable. */
  variable?: string;
  /** PAYMENT_REQUIRED: the hosted page of the invoice to pay first, when there is one. */
  hostedInvoiceUrl?: string;
  /** CURRENCY_LOCKED: the currency the account is billed in (lower case, e.g. `eur`). */
  currency?: string;
};

/** Throws a typed `ConvexError`. */
export function fail(code: ErrorCode, message: string, extra: Omit<BillingErrorData, "code" | "message"> = {}): never {
  throw new ConvexError<BillingErrorData>({ code, message, ...extra });
}

/**
 * Throws `NOT_FOUND` for a signed-in caller whose account does not exist yet
 * (the app's sign-in has not stored the user, or `accounts.ensure` has not run).
 */
export function failAccountNotSetUp(): never {
  fail("NOT_FOUND", "Your account is still being set up. Try again in a moment.");
}

/** True when `error` is a `ConvexError` thrown by `fail` (optionally with `code`). */
export function isBillingError(error: unknown, code?: ErrorCode): error is ConvexError<BillingErrorData> {
  if (!(error instanceof ConvexError)) return false;
  const data: unknown = error.data;
  if (typeof data !== "object" || data === null || !("code" in data)) return false;
  return code === undefined || data.code === code;
}

/** A thrown value's message, for `lastError`. */
export function errorMessage(error: unknown): string {
  if (error instanceof ConvexError && typeof (error.data as { message?: unknown }).message === "string") {
    return (error.data as { message: string }).message;
  }
  if (error instanceof Error) return error.message || error.name;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
