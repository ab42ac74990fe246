/**
 * Client-side names for the public API's return shapes (docs/ARCHITECTURE.md
 * "Public API"), derived from the generated `api` so they never drift.
 */
import type { FunctionReturnType } from "convex/server";
import type { api } from "@/convex/_generated/api";

export type PlanView = FunctionReturnType<typeof api.plans.list>[number];
export type SubscriptionView = NonNullable<FunctionReturnType<typeof api.billing.subscription>>;
export type InvoiceView = FunctionReturnType<typeof api.billing.invoices>[number];
/** One stored line of an invoice: amount in minor units of the invoice's currency; `usage` for metered overage. */
export type InvoiceLineView = NonNullable<InvoiceView["lines"]>[number];
export type TokenBalance = NonNullable<FunctionReturnType<typeof api.tokens.balance>>;
