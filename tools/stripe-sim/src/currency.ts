/**
 * Multi-currency prices (`currency_options`) and the one-currency-per-customer
 * rule. Amounts are integer minor units of the currency named.
 */
import type Stripe from "stripe";
import { StripeApiError, invalid } from "./errors.ts";

/** The price's unit amount in `currency` (its own currency or a `currency_options` entry), or `null` when it has none. */
export function unitAmountIn(price: Stripe.Price, currency: string): number | null {
  if (price.currency === currency) return price.unit_amount;
  const option = price.currency_options?.[currency];
  return option ? option.unit_amount : null;
}

/** `unitAmountIn`, or a 400 naming `param` when the price has no amount in `currency`. */
export function requireUnitAmountIn(price: Stripe.Price, currency: string, param: string): number {
  const amount = unitAmountIn(price, currency);
  if (amount === null) {
    throw invalid(
      `The price \`${price.id}\` does not have a \`currency_options\` entry for \`${currency}\`. Add ${currency} to the price's currency_options or use a price in ${currency}.`,
      param,
    );
  }
  return amount;
}

/**
 * Stripe's refusal to bill a customer in a second currency: once a
 * customer's `currency` is set (its first invoice), subscriptions, invoices
 * and subscription Checkouts in another currency are refused.
 */
export function requireCustomerCurrency(customer: Stripe.Customer, currency: string, param = "currency"): void {
  if (customer.currency && customer.currency !== currency) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      message: `You cannot combine currencies on a single customer. This customer has an active subscription, subscription schedule, discount, quote, or invoice item with currency ${customer.currency}.`,
      param,
    });
  }
}
