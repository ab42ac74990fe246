/** Invoice lines for subscription items: full periods, prorations and metered usage. */
import type Stripe from "stripe";
import { buildInvoiceLine, isMetered } from "./builders.ts";
import type { SimContext } from "./context.ts";
import { unitAmountIn } from "./currency.ts";

export function idOfProduct(price: Stripe.Price): string {
  return typeof price.product === "string" ? price.product : price.product.id;
}

export function productName(ctx: SimContext, price: Stripe.Price): string {
  return ctx.store.state.products[idOfProduct(price)]?.name ?? price.nickname ?? price.id;
}

export function lineFor(
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  amount: number,
  period: { start: number; end: number },
  description: string,
  proration: boolean,
  quantity?: number,
): Stripe.InvoiceLineItem {
  return buildInvoiceLine({
    invoice: null,
    subscription: sub.id,
    subscriptionItem: item.id,
    price: item.price,
    quantity: quantity ?? item.quantity ?? 1,
    amount,
    periodStart: period.start,
    periodEnd: period.end,
    description,
    proration,
    currency: sub.currency,
  });
}

/**
 * The line billing `item`'s current period in full (`amountOverride` 0 for a
 * trial). A metered item is billed in arrears, so its line here is the
 * 0-quantity, 0-amount one Stripe shows on a period's first invoice.
 */
export function fullLine(ctx: SimContext, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, amountOverride?: number): Stripe.InvoiceLineItem {
  if (isMetered(item.price)) return usageLine(ctx, sub, item, { start: item.current_period_start, end: item.current_period_end }, 0);
  const qty = item.quantity ?? 1;
  const amount = amountOverride ?? (unitAmountIn(item.price, sub.currency) ?? 0) * qty;
  const name = productName(ctx, item.price);
  const desc = amountOverride === 0 ? `Trial period for ${name}` : `${qty} × ${name}`;
  return lineFor(sub, item, amount, { start: item.current_period_start, end: item.current_period_end }, desc, false);
}

/** `amount` minor units of `currency` as Stripe writes it in line descriptions, e.g. `$0.12`. */
export function formatMoney(amount: number, currency: string): string {
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amount / 10 ** digits);
}

/** `month`, or `every 3 months`: the price's interval as descriptions name it. */
function intervalText(recurring: Stripe.Price.Recurring | null): string {
  if (!recurring) return "unit";
  return recurring.interval_count === 1 ? recurring.interval : `every ${recurring.interval_count} ${recurring.interval}s`;
}

/**
 * The usage line of a metered item for `period` (seconds, [start, end)):
 * `quantity` = the meter's aggregated value, amount = quantity × unit_amount
 * (minor units; 0 when `trial`), described like Stripe's
 * `3 × Overage tokens (at $0.12 / month)`.
 */
export function usageLine(
  ctx: SimContext,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  period: { start: number; end: number },
  quantity: number,
  trial = false,
): Stripe.InvoiceLineItem {
  const price = item.price;
  const name = productName(ctx, price);
  const unit = unitAmountIn(price, sub.currency) ?? 0;
  const description = trial
    ? `Trial period for ${name}`
    : `${quantity} × ${name} (at ${formatMoney(unit, sub.currency)} / ${intervalText(price.recurring)})`;
  return lineFor(sub, item, trial ? 0 : unit * quantity, period, description, false, quantity);
}
