/**
 * Client-side names for the operator console's API (`convex/admin.ts`,
 * docs/OPERATOR_CONSOLE.md), derived from the generated `api` so they never drift.
 */
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import type { api } from "@/convex/_generated/api";

/** One row of `admin.listAccounts` (money in minor units, times in ms). */
export type AccountRow = FunctionReturnType<typeof api.admin.listAccounts>["page"][number];
export type AccountDetail = NonNullable<FunctionReturnType<typeof api.admin.accountDetail>>;
export type AuditRow = FunctionReturnType<typeof api.admin.auditLog>["page"][number];
export type LedgerRow = FunctionReturnType<typeof api.admin.ledger>["page"][number];
export type QueueHealth = FunctionReturnType<typeof api.admin.queueHealth>;
export type AccountFilters = Omit<FunctionArgs<typeof api.admin.listAccounts>, "paginationOpts">;
