/**
 * Which currency an account pays in (docs/BILLING_COMPONENT.md "Currencies").
 *
 * Stripe keeps a customer in one currency once it is billed: the customer's
 * `currency` is set by its first invoice or subscription, and Stripe refuses
 * to bill it in another one afterwards
 * (https://docs.stripe.com/api/customers/object#customer_object-currency).
 * So an account's currency is:
 *
 * 1. the **billed currency**, once there is one: the Stripe customer's
 *    `currency` mirrored from `customer.*` events (`billingAccounts.currency`),
 *    else the currency of the account's newest mirrored invoice that is not a
 *    draft; null while the account has no live customer, or one never billed;
 * 2. otherwise the currency the caller asks for, when it is one of
 *    `CURRENCIES`;
 * 3. otherwise `DEFAULT_CURRENCY` (USD).
 *
 * Checkout refuses a requested currency that differs from the billed one
 * (`CURRENCY_LOCKED`) before calling Stripe.
 */
import type { Doc } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { fail } from "./errors";
import { CURRENCIES, DEFAULT_CURRENCY, isCurrency, type Currency } from "./plans";

/** Newest invoices looked at for a currency (one non-draft suffices; drafts are rare). */
const INVOICE_SCAN = 5;

/**
 * The currency Stripe bills `account` in (lower case, e.g. `"eur"`), or null
 * when none is fixed yet. Reads at most `INVOICE_SCAN` invoices, only when the
 * account row has no `currency`.
 */
export async function billedCurrency(ctx: QueryCtx, account: Doc<"billingAccounts">): Promise<string | null> {
  if (!account.stripeCustomerId || account.stripeCustomerDeleted) return null;
  if (account.currency) return account.currency;
  const recent = await ctx.db
    .query("invoices")
    .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", account._id))
    .order("desc")
    .take(INVOICE_SCAN);
  return recent.find((invoice) => invoice.status !== "draft")?.currency ?? null;
}

/**
 * The currency a Checkout for this account charges: the billed one, else
 * `requested`, else `DEFAULT_CURRENCY`.
 * @throws `CURRENCY_LOCKED` (`currency` = the billed one) when `requested`
 *   differs from the billed currency.
 * @throws `INVALID_ARGUMENT` for a requested currency not in `CURRENCIES`
 *   (the app's validator already refuses it).
 */
export function checkoutCurrency(billed: string | null, requested: string | undefined): string {
  if (requested !== undefined && !isCurrency(requested)) {
    fail("INVALID_ARGUMENT", `We don't sell in "${requested}". Choose one of ${CURRENCIES.map((c) => c.toUpperCase()).join(", ")}.`);
  }
  if (billed) {
    if (requested !== undefined && requested !== billed) {
      fail(
        "CURRENCY_LOCKED",
        `Your account is billed in ${billed.toUpperCase()}. Stripe keeps a customer in one currency once billed, so this purchase must be in ${billed.toUpperCase()} too.`,
        { currency: billed },
      );
    }
    return billed;
  }
  return requested ?? (DEFAULT_CURRENCY satisfies Currency);
}

/** Whether `currency` is `DEFAULT_CURRENCY`, every Stripe price's own currency (no `currency_options` needed). */
export function isDefaultCurrency(currency: string): boolean {
  return currency === DEFAULT_CURRENCY;
}

/**
 * The currency's part of a Checkout idempotency key: `"eur:"`, or nothing
 * for `DEFAULT_CURRENCY` (keys as before currencies existed). A second click
 * in another currency within the minute is then a new session, not Stripe's
 * `idempotency_error` for changed parameters.
 */
export function currencyKeyPart(currency: string): string {
  return isDefaultCurrency(currency) ? "" : `${currency}:`;
}
