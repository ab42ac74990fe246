/** Look-ups of stored objects (throwing Stripe's `resource_missing`), period and id helpers, and `customer.subscription.updated` with `previous_attributes`. */
import type Stripe from "stripe";
import type { SimContext } from "../context.ts";
import { found } from "../errors.ts";
import { emit, snapshot } from "../events.ts";

export function idOf(v: string | { id: string } | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : v.id;
}

export function getCustomer(ctx: SimContext, id: string, param = "customer"): Stripe.Customer {
  return found(ctx.store.state.customers[id], "customer", id, param);
}

export function getPrice(ctx: SimContext, id: string, param = "price"): Stripe.Price {
  return found(ctx.store.state.prices[id], "price", id, param);
}

export function getProduct(ctx: SimContext, id: string, param = "product"): Stripe.Product {
  return found(ctx.store.state.products[id], "product", id, param);
}

export function getSubscription(ctx: SimContext, id: string, param = "subscription"): Stripe.Subscription {
  return found(ctx.store.state.subscriptions[id], "subscription", id, param);
}

export function getInvoice(ctx: SimContext, id: string, param = "invoice"): Stripe.Invoice {
  return found(ctx.store.state.invoices[id], "invoice", id, param);
}

export function getCheckoutSession(ctx: SimContext, id: string): Stripe.Checkout.Session {
  return found(ctx.store.state.checkoutSessions[id], "checkout.session", id, "session");
}

/** Fresh copy of the stored price (subscription items embed the full object). */
export function freshPrice(ctx: SimContext, price: Stripe.Price): Stripe.Price {
  return snapshot(ctx.store.state.prices[price.id] ?? price);
}

export function subCustomer(sub: Stripe.Subscription): string {
  return idOf(sub.customer) ?? "";
}

/** The subscription's current period, from its first item (API ≥ 2025-03-31). */
export function periodOf(sub: Stripe.Subscription): { start: number; end: number } {
  const item = sub.items.data[0];
  return { start: item?.current_period_start ?? sub.created, end: item?.current_period_end ?? sub.created };
}

/** Top-level fields of `after` that differ from `before`, with their old values. */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) prev[key] = b[key] ?? null;
  }
  return prev;
}

export function emitSubscriptionUpdated(ctx: SimContext, sub: Stripe.Subscription, before: Stripe.Subscription): void {
  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length === 0) return;
  emit(ctx, "customer.subscription.updated", sub, { customer: subCustomer(sub), previous });
}
