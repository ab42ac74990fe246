/**
 * Daily usage rows: tokens charged per account, UTC day and feature, kept
 * in the same transaction as each debit so the usage chart reads a few
 * pre-aggregated rows instead of the ledger. One index look-up and one
 * write per debit. Times Convex ms; tokens integers.
 */
import { v } from "convex/values";
import type { Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";

/** Longest range `usageBetween` reads, in days (two 31-day periods). */
export const MAX_USAGE_DAYS = 62;
/** Most rows `usageBetween` returns: 20 features a day over the longest range. */
export const MAX_USAGE_ROWS = MAX_USAGE_DAYS * 20;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day (`YYYY-MM-DD`) of `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Adds `tokens` charged for one run of `feature` now to the account's day row. */
export async function recordUsage(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  feature: string,
  tokens: number,
  now: number = Date.now(),
): Promise<void> {
  if (tokens <= 0) return;
  const day = utcDay(now);
  const row = await ctx.db
    .query("tokenUsageDaily")
    .withIndex("by_accountId_and_day_and_feature", (q) => q.eq("accountId", accountId).eq("day", day).eq("feature", feature))
    .unique();
  if (row) await ctx.db.patch("tokenUsageDaily", row._id, { tokens: row.tokens + tokens, runs: row.runs + 1 });
  else await ctx.db.insert("tokenUsageDaily", { accountId, day, feature, tokens, runs: 1 });
}

export type UsageDay = { day: string; feature: string; tokens: number; runs: number };

/**
 * The account's usage rows from `fromDay` to `toDay` (inclusive,
 * `YYYY-MM-DD`), oldest first. Reads one index range of at most
 * `MAX_USAGE_DAYS` days × the features used.
 */
export async function usageBetween(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  fromDay: string,
  toDay: string,
): Promise<UsageDay[]> {
  const rows = await ctx.db
    .query("tokenUsageDaily")
    .withIndex("by_accountId_and_day_and_feature", (q) => q.eq("accountId", accountId).gte("day", fromDay).lte("day", toDay))
    .take(MAX_USAGE_ROWS);
  return rows.map((r) => ({ day: r.day, feature: r.feature, tokens: r.tokens, runs: r.runs }));
}

export type PeriodUsage = { start: number; end: number; days: UsageDay[] };

/**
 * Usage of the current allowance period (`periodStart`–`periodEnd` of the
 * balance row; the UTC month of `now` without one) and of the period of the
 * same length just before it. Periods are at most a month, so this reads
 * at most `MAX_USAGE_DAYS` days. Times ms.
 */
export async function currentAndPreviousUsage(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  period: { periodStart?: number; periodEnd?: number } | null,
  now: number,
): Promise<{ current: PeriodUsage; previous: PeriodUsage }> {
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const start = period?.periodStart ?? monthStart;
  const end = period?.periodEnd ?? Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1, 1);
  const length = Math.min(end - start, 31 * DAY_MS);
  const previousStart = start - length;
  const rows = await usageBetween(ctx, accountId, utcDay(previousStart), utcDay(end - 1));
  const startDay = utcDay(start);
  return {
    current: { start, end, days: rows.filter((r) => r.day >= startDay) },
    previous: { start: previousStart, end: start, days: rows.filter((r) => r.day < startDay) },
  };
}

const vUsageDay = v.object({ day: v.string(), feature: v.string(), tokens: v.number(), runs: v.number() });
const vPeriodUsage = v.object({ start: v.number(), end: v.number(), days: v.array(vUsageDay) });
/** `{ current, previous }` periods of daily usage, as `tokens.usage` returns them. */
export const vUsageView = v.object({ current: vPeriodUsage, previous: vPeriodUsage });
