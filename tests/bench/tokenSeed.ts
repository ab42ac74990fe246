/**
 * Token state for the benches' bulk seeding, shaped as the ledger helpers
 * (`convex/billing/model/ledger.ts`, `model/grants.ts`) leave it: every
 * credit a `tokenGrants` row, ledger rows naming the grant they created or
 * expired (`grantId`) or drew on (`drawnFrom`), and a balance row with
 * `grantsVersion: 1`, `held` and the period's `allowanceGrantId`, so
 * balance = sum of the ledger = sum of the active grants' `remaining`.
 *
 * Seeders insert these directly (hundreds of thousands of documents); the
 * functions measured then find what they would have written themselves.
 */
import type { WithoutSystemFields } from "convex/server";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { DEFAULT_GRANT_PRIORITY, NEVER_EXPIRES, drawClassOf } from "../../convex/billing/model/grants";
import type { GrantCategory } from "../../convex/billing/model/validators";
import type { BillingMutationCtx } from "../lib/billingComponent";

type AccountId = Id<"billingAccounts">;
type GrantId = Id<"tokenGrants">;
export type Draw = { grantId: GrantId; amount: number };

/** A ledger row to append (its `balanceAfter` is computed by `insertLedger`). */
export type LedgerRow = {
  amount: number;
  reason: Doc<"tokenLedger">["reason"];
  sourceKey: string;
  feature?: string;
  note?: string;
  grantId?: GrantId;
  drawnFrom?: Draw[];
};

/**
 * A grant as `createGrant` writes it and draws, expiries and returns leave
 * it: `status` follows `remaining` unless `expired`; `lapsesAt` is set only
 * on a grant other than the plan allowance that has an expiry and has not
 * expired yet.
 */
export function grantDoc(
  accountId: AccountId,
  g: {
    category: GrantCategory;
    amount: number;
    remaining: number;
    expired?: boolean;
    startsAt: number;
    expiresAt?: number;
    priority?: number;
    sourceKey: string;
    note?: string;
  },
): WithoutSystemFields<Doc<"tokenGrants">> {
  const expired = g.expired === true;
  const lapses = g.category !== "plan_allowance" && g.expiresAt !== undefined && !expired;
  return {
    accountId,
    category: g.category,
    amount: g.amount,
    remaining: expired ? 0 : g.remaining,
    status: expired ? "expired" : g.remaining > 0 ? "active" : "depleted",
    startsAt: g.startsAt,
    expiresAt: g.expiresAt,
    lapsesAt: lapses ? g.expiresAt : undefined,
    priority: g.priority ?? DEFAULT_GRANT_PRIORITY,
    drawExpiresAt: g.expiresAt ?? NEVER_EXPIRES,
    drawClass: drawClassOf(g.category),
    sourceKey: g.sourceKey,
    note: g.note,
  };
}

/** A plan-allowance grant of `tokens` for the period `start`–`end`, `used` of it drawn (`startPeriod`'s shape). */
export function allowanceGrantDoc(
  accountId: AccountId,
  a: { tokens: number; used: number; expired?: boolean; sourceKey: string; periodKey: string; start: number; end: number },
): WithoutSystemFields<Doc<"tokenGrants">> {
  return grantDoc(accountId, {
    category: "plan_allowance",
    amount: a.tokens,
    remaining: a.tokens - a.used,
    expired: a.expired,
    startsAt: a.start,
    expiresAt: a.end,
    sourceKey: a.sourceKey,
    note: a.periodKey,
  });
}

/** `period_grant` row of an allowance grant; its note is stored only when it differs from the key, as `startPeriod` does. */
export function periodGrantRow(grantId: GrantId, tokens: number, sourceKey: string, periodKey: string): LedgerRow {
  return { amount: tokens, reason: "period_grant", sourceKey, grantId, ...(periodKey === sourceKey ? {} : { note: periodKey }) };
}

/** Appends `rows` with their running `balanceAfter` from `start` (default 0); returns the final balance. */
export async function insertLedger(ctx: BillingMutationCtx, accountId: AccountId, rows: LedgerRow[], start = 0): Promise<number> {
  let balance = start;
  for (const row of rows) {
    balance += row.amount;
    await ctx.db.insert("tokenLedger", { accountId, ...row, balanceAfter: balance });
  }
  return balance;
}
