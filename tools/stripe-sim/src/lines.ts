/** Invoice lines for subscription items: full periods and prorations. */
import type Stripe from "stripe";
import { buildInvoiceLine } from "./builders.ts";
import type { SimContext } from "./context.ts";

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
): Stripe.InvoiceLineItem {
  return buildInvoiceLine({
    invoice: null,
    subscription: sub.id,
    subscriptionItem: item.id,
    price: item.price,
    quantity: item.quantity ?? 1,
    amount,
    periodStart: period.start,
    periodEnd: period.end,
    description,
    proration,
  });
}

/** The line billing `item`'s current period in full (`amountOverride` 0 for a trial). */
export function fullLine(ctx: SimContext, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, amountOverride?: number): Stripe.InvoiceLineItem {
  const qty = item.quantity ?? 1;
  const amount = amountOverride ?? (item.price.unit_amount ?? 0) * qty;
  const name = productName(ctx, item.price);
  const desc = amountOverride === 0 ? `Trial period for ${name}` : `${qty} × ${name}`;
  return lineFor(sub, item, amount, { start: item.current_period_start, end: item.current_period_end }, desc, false);
}
