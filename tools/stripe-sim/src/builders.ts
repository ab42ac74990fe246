/**
 * Object builders typed against the stripe SDK (23.1.0 → API version
 * `2026-10-28.endive`). Every function returns the SDK's type, so a field the
 * pinned version adds, removes or moves (e.g. the subscription period living
 * on `items.data[i].current_period_*`, `invoice.parent.subscription_details`,
 * invoice lines priced through `pricing.price_details`) fails `npm run
 * typecheck` here instead of drifting silently.
 *
 * Builders only shape objects; the billing engine decides values.
 *
 * One module per Stripe resource under builders/; this file re-exports them.
 */
export * from "./builders/common.ts";
export * from "./builders/customers.ts";
export * from "./builders/catalog.ts";
export * from "./builders/subscriptions.ts";
export * from "./builders/invoices.ts";
export * from "./builders/checkout.ts";
export * from "./builders/portal.ts";
export * from "./builders/platform.ts";
export * from "./builders/payments.ts";
export * from "./builders/meters.ts";
export * from "./builders/discounts.ts";
