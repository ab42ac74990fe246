/**
 * Overage billed through Stripe Billing Meters (`model/metering.ts` explains
 * the flow; `model/meterReporter.ts` talks to Stripe).
 *
 * - `report` (internal action): sends due overage reports as meter events.
 *   Scheduled by a debit that recorded overage, and by a one-minute cron.
 * - `reconcile` (internal action, cron): checks closed periods against
 *   Stripe's meter event summaries.
 * - `reconciliation` (query, staff): periods that disagree or are still
 *   open, and unbillable reports
 *   (`npx convex run --component billing metering:reconciliation '{}'`).
 *
 * Times are Convex ms; tokens integers.
 */
import { v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalAction, internalMutation, internalQuery, query } from "./_generated/server";
import * as model from "./model/metering";
import { reconcileDue, reportDue } from "./model/meterReporter";

const vCounts = { sent: v.number(), failed: v.number(), unbillable: v.number() };

/** Sends every due overage report to Stripe. Returns `{ sent, failed, unbillable }`. */
export const report = internalAction({
  args: {},
  returns: v.object(vCounts),
  handler: async (ctx) => await reportDue(ctx),
});

/** Claims up to `limit` pending reports due at `nowMs` (ms) for one run, with their customers (see `claimDueReports`). */
export const claimDueReports = internalMutation({
  args: { nowMs: v.number(), limit: v.number() },
  returns: v.array(
    v.object({
      reportId: v.id("meterReports"),
      identifier: v.string(),
      stripeCustomerId: v.union(v.string(), v.null()),
      tokens: v.number(),
      usedAt: v.number(),
    }),
  ),
  handler: async (ctx, { nowMs, limit }) => await model.claimDueReports(ctx, nowMs, Math.min(limit, model.REPORT_BATCH)),
});

/** Records the reporter's outcomes (only pending reports change). Returns how many changed. */
export const recordResults = internalMutation({
  args: {
    results: v.array(
      v.union(
        v.object({ reportId: v.id("meterReports"), status: v.literal("sent") }),
        v.object({ reportId: v.id("meterReports"), status: v.literal("unbillable"), error: v.string() }),
        v.object({ reportId: v.id("meterReports"), status: v.literal("failed"), error: v.string() }),
      ),
    ),
  },
  returns: v.number(),
  handler: async (ctx, { results }) => await model.recordResults(ctx, results, Date.now()),
});

/** Reconciles the closed periods that are due. Returns `{ matched, mismatched, deferred }`. */
export const reconcile = internalAction({
  args: {},
  returns: v.object({ matched: v.number(), mismatched: v.number(), deferred: v.number() }),
  handler: async (ctx) => await reconcileDue(ctx),
});

/** Open periods whose reconciliation is due at `nowMs` (ms). */
export const duePeriods = internalQuery({
  args: { nowMs: v.number(), limit: v.number() },
  returns: v.array(
    v.object({
      periodId: v.id("meterPeriods"),
      accountId: v.id("billingAccounts"),
      stripeCustomerId: v.union(v.string(), v.null()),
      periodStart: v.number(),
      periodEnd: v.number(),
    }),
  ),
  handler: async (ctx, { nowMs, limit }) => await model.duePeriods(ctx, nowMs, Math.min(limit, model.RECONCILE_BATCH)),
});

/** One page of an account's reports in [fromMs, toMs), summed by status. */
export const sumReports = internalQuery({
  args: {
    accountId: v.id("billingAccounts"),
    fromMs: v.number(),
    toMs: v.number(),
    cursor: v.union(v.string(), v.null()),
    limit: v.number(),
  },
  returns: v.object({ sent: v.number(), pending: v.number(), unbillable: v.number(), cursor: v.string(), isDone: v.boolean() }),
  handler: async (ctx, args) => await model.sumReports(ctx, { ...args, limit: Math.min(args.limit, 4_000) }),
});

/** Records a period's reconciliation (`deferred` keeps it open and backs off). */
export const recordReconciliation = internalMutation({
  args: {
    periodId: v.id("meterPeriods"),
    outcome: v.union(
      v.object({
        status: v.union(v.literal("matched"), v.literal("mismatch")),
        stripeTokens: v.number(),
        ledgerTokens: v.number(),
        unbillableTokens: v.number(),
      }),
      v.object({ status: v.literal("deferred"), error: v.string() }),
    ),
  },
  returns: v.null(),
  handler: async (ctx, { periodId, outcome }) => {
    await model.recordReconciliation(ctx, periodId, outcome, Date.now());
    return null;
  },
});

const vPeriodView = v.object({
  accountId: v.id("billingAccounts"),
  periodKey: v.string(),
  periodStart: v.number(),
  periodEnd: v.number(),
  status: v.union(v.literal("open"), v.literal("matched"), v.literal("mismatch")),
  tokens: v.number(),
  stripeTokens: v.optional(v.number()),
  unbillableTokens: v.optional(v.number()),
  reconciledAt: v.optional(v.number()),
  lastError: v.optional(v.string()),
});

/**
 * For staff: the latest `limit` (default 20, at most 100) periods that
 * disagree with Stripe (`mismatch`) and those still `open`, newest first.
 * The component's functions are reachable only through the app, which
 * exposes this to staff alone.
 */
export const reconciliation = query({
  args: { limit: v.optional(v.number()) },
  returns: v.object({ mismatches: v.array(vPeriodView), open: v.array(vPeriodView) }),
  handler: async (ctx, { limit }) => {
    const n = Math.max(1, Math.min(100, Math.floor(limit ?? 20)));
    const view = (p: Doc<"meterPeriods">) => ({
      accountId: p.accountId,
      periodKey: p.periodKey,
      periodStart: p.periodStart,
      periodEnd: p.periodEnd,
      status: p.status,
      tokens: p.tokens,
      stripeTokens: p.stripeTokens,
      unbillableTokens: p.unbillableTokens,
      reconciledAt: p.reconciledAt,
      lastError: p.lastError,
    });
    const byStatus = (status: "open" | "mismatch") =>
      ctx.db
        .query("meterPeriods")
        .withIndex("by_status_and_reconcileAfter", (q) => q.eq("status", status))
        .order("desc")
        .take(n);
    return { mismatches: (await byStatus("mismatch")).map(view), open: (await byStatus("open")).map(view) };
  },
});
