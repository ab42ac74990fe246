/**
 * Turns anything a Convex call can throw into a message a person can act on.
 *
 * Backend errors are `ConvexError`s whose `data` is `{ code, message, ... }`
 * (convex/billing/model/errors.ts). Anything else that escapes an action or mutation
 * is either a lost connection or a server bug; the client can only offer a retry.
 */
import { ConvexError } from "convex/values";
import { ERROR_CODES, isBillingError, type BillingErrorData, type ErrorCode } from "@/convex/billing/model/errors";
import { PLANS, isTier } from "@/convex/billing/model/plans";

export type HumanError = {
  /** The backend's code, "NETWORK" for transport failures, "UNKNOWN" otherwise. */
  code: ErrorCode | "NETWORK" | "UNKNOWN";
  title: string;
  description?: string;
  /** Whether trying the same thing again may help. */
  retryable: boolean;
  /** PAYMENT_REQUIRED: the invoice to pay first, when the server named one. */
  hostedInvoiceUrl?: string;
};

/** The typed data of a backend `ConvexError`, or null. */
export function billingErrorData(error: unknown): BillingErrorData | null {
  if (!isBillingError(error)) return null;
  // A code this client doesn't know (a newer server) is handled like an untyped error.
  return (ERROR_CODES as readonly string[]).includes(error.data.code) ? error.data : null;
}

/**
 * True for failures where the request never got a definite answer: fetch's
 * TypeError, the Convex client's "Connection lost while action was in flight",
 * or a browser reporting offline.
 */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof ConvexError) return false;
  if (typeof navigator !== "undefined" && navigator.onLine === false) return true;
  if (!(error instanceof Error)) return false;
  if (error instanceof TypeError && /fetch|network|load failed/i.test(error.message)) return true;
  return /connection lost|network|failed to fetch|websocket|timed? ?out/i.test(error.message);
}

export function humanizeError(error: unknown): HumanError {
  const data = billingErrorData(error);
  if (data) {
    switch (data.code) {
      case "UNAUTHENTICATED":
        return { code: data.code, title: "Please sign in first", description: "Sign in to manage your plan.", retryable: false };
      case "NOT_AN_UPGRADE":
        // The server refuses Checkout for a lower/equal tier and while a subscription
        // is billed (plan changes then go through the Customer Portal); its message says which.
        return {
          code: data.code,
          title: "Change your plan from Manage billing",
          description: data.message || "That plan isn't an upgrade from your current one.",
          retryable: false,
        };
      case "STRIPE_NOT_CONFIGURED":
        return { code: data.code, title: "Billing isn't set up yet", description: "Payments are not configured on this server.", retryable: false };
      case "PRICE_NOT_FOUND":
        return { code: data.code, title: "This plan isn't available right now", description: "Please try again later.", retryable: false };
      case "STRIPE_ERROR":
        return { code: data.code, title: "The payment provider didn't respond", description: "Please try again in a moment.", retryable: true };
      case "NO_CUSTOMER":
        return { code: data.code, title: "No billing account yet", description: "Choose a plan first; invoices and cards appear after your first purchase.", retryable: false };
      case "INSUFFICIENT_TOKENS":
        return {
          code: data.code,
          title: "Not enough tokens",
          description:
            data.required !== undefined && data.available !== undefined
              ? `This needs ${data.required} and you have ${data.available}.`
              : undefined,
          retryable: false,
        };
      case "TIER_REQUIRED": {
        const title = data.tier && isTier(data.tier) ? `This needs the ${PLANS[data.tier].name} plan` : "This needs a higher plan";
        return { code: data.code, title, retryable: false };
      }
      case "NOT_FOUND":
        // e.g. billing actions before users.store finished: "still being set up".
        return { code: data.code, title: "Not ready yet", description: data.message || "Please try again in a moment.", retryable: true };
      case "FORBIDDEN":
        return { code: data.code, title: "You don't have access to that", description: data.message || undefined, retryable: false };
      case "INVALID_ARGUMENT":
        return { code: data.code, title: "That request wasn't valid", description: data.message, retryable: false };
      case "NO_PAYMENT_METHOD":
        return { code: data.code, title: "No saved card", description: data.message, retryable: false };
      case "HOLD_CLOSED":
        return { code: data.code, title: "That run is already finished", description: data.message, retryable: false };
      case "NO_SUBSCRIPTION":
        return { code: data.code, title: "You don't have a plan to change", description: "Choose a plan on the pricing page first.", retryable: false };
      case "NOT_A_CHANGE":
        return { code: data.code, title: "You're already on that plan", retryable: false };
      case "PAYMENT_REQUIRED":
        return {
          code: data.code,
          title: "Pay your open invoice first",
          description: "Plan changes are paused until the outstanding payment goes through.",
          retryable: false,
          ...(data.hostedInvoiceUrl ? { hostedInvoiceUrl: data.hostedInvoiceUrl } : {}),
        };
      case "TRIAL_ALREADY_USED":
        return {
          code: data.code,
          title: "You've already had your free trial",
          description: "There is one free trial per person and per account. Subscribe to the plan to keep using it.",
          retryable: false,
        };
      case "NOT_TRIALING":
        return {
          code: data.code,
          title: "Your trial has already ended",
          description: "There is no trial left to end: your plan is already paid, or the trial ran out. Refresh the page to see where it stands.",
          retryable: false,
        };
      case "TRIAL_ACTIVE":
        return {
          code: data.code,
          title: "Plan changes open after your trial",
          description: "A free trial keeps its plan to its end. Add a card to keep the plan, then change plans once the trial is over.",
          retryable: false,
        };
      case "ACCOUNT_SUSPENDED":
        return {
          code: data.code,
          title: "Your account is suspended for an unpaid invoice",
          description: "Paid features and tokens are paused until the overdue invoice is paid. Pay it on the Billing page to restore them at once.",
          retryable: false,
          ...(data.hostedInvoiceUrl ? { hostedInvoiceUrl: data.hostedInvoiceUrl } : {}),
        };
      case "ACCOUNT_RESTRICTED":
        return {
          code: data.code,
          title: "Your account is restricted for an unpaid invoice",
          description: "Only the Billing page is available until the overdue invoice is paid. Paying restores everything at once.",
          retryable: false,
          ...(data.hostedInvoiceUrl ? { hostedInvoiceUrl: data.hostedInvoiceUrl } : {}),
        };
      case "CURRENCY_LOCKED":
        return {
          code: data.code,
          title: data.currency ? `Your account is billed in ${data.currency.toUpperCase()}` : "Your account's currency is fixed",
          description: "Stripe keeps a customer in one currency once billed. Pay in that currency.",
          retryable: false,
        };
      case "MEMBER_CAP_REACHED":
        return {
          code: data.code,
          title: "You've reached your token limit for this period",
          description:
            data.cap !== undefined && data.available !== undefined && data.required !== undefined
              ? `Your organisation's admins limit you to ${data.cap} tokens a period; you have ${data.available} left and this needs ${data.required}. Ask an admin to raise your limit.`
              : "Your organisation's admins set a limit on the tokens you can use this period. Ask an admin to raise it.",
          retryable: false,
        };
      case "CHANGE_PENDING":
        return {
          code: data.code,
          title: "A plan change is already in progress",
          description: "Finish or cancel it before choosing another plan.",
          retryable: false,
        };
    }
  }
  if (isNetworkError(error)) {
    return {
      code: "NETWORK",
      title: "Couldn't reach the server",
      description: "Check your connection and try again.",
      retryable: true,
    };
  }
  return { code: "UNKNOWN", title: "Something went wrong", description: "Please try again.", retryable: true };
}
