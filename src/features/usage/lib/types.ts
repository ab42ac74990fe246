/**
 * Client-side names for the token API's return shapes, derived from the
 * generated `api` so they never drift from convex/tokens.ts.
 */
import type { FunctionReturnType } from "convex/server";
import type { api } from "@/convex/_generated/api";

/** One active grant of `tokens.grants`, in draw order. */
export type GrantView = FunctionReturnType<typeof api.tokens.grants>[number];
export type GrantCategory = GrantView["category"];
/** `tokens.usage` when signed in: this period's and the previous period's daily rows. */
export type UsageView = NonNullable<FunctionReturnType<typeof api.tokens.usage>>;
export type PeriodUsage = UsageView["current"];
/** One row of `tokens.history` (a ledger entry). */
export type LedgerEntry = FunctionReturnType<typeof api.tokens.history>["page"][number];
