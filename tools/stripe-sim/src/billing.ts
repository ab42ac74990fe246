/**
 * The billing engine: customers, cards, Checkout completion, subscriptions,
 * invoices and their payment, plan changes, cancellation and dunning. Every
 * function is synchronous, mutates the store and emits the events Stripe
 * would, in a realistic order (see docs/STRIPE_SIMULATOR.md, "Events").
 *
 * Times are Stripe seconds from `store.now(customer)`: a test clock's frozen
 * time for customers on a clock, real time (+ offset) otherwise.
 *
 * One module per concern under billing/; this file re-exports them.
 */
export { productName } from "./lines.ts";
export * from "./billing/lookups.ts";
export * from "./billing/customers.ts";
export * from "./billing/invoices.ts";
export * from "./billing/subscriptions.ts";
export * from "./billing/meters.ts";
export * from "./billing/discounts.ts";
export * from "./billing/tax.ts";
export * from "./billing/totals.ts";
export * from "./billing/invoiceTotals.ts";
