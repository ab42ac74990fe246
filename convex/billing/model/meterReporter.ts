/**
 * The Stripe side of metering (`model/metering.ts`): send pending overage
 * reports as meter events, and read Stripe's meter event summaries to
 * reconcile closed periods.
 *
 * - One meter event per report
 *   (https://docs.stripe.com/api/billing/meter-event/create):
 *   `event_name` = `OVERAGE_METER.eventName`, `payload` = the customer and
 *   the tokens, `identifier` = the ledger row id, `timestamp` = when they
 *   were used (seconds). The same id is the request's idempotency key.
 * - Stripe refuses an identifier it has seen in the last 24 hours with
 *   "An event already exists with identifier …": that report was
 *   delivered, so it is recorded `sent`, never sent again.
 * - Sends run `SEND_CONCURRENCY` at a time, well under Stripe's 1,000
 *   meter events a second.
 */
import Stripe from "stripe";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx } from "../_generated/server";
import {
  METER_WINDOW_MS,
  minuteFloor,
  RECONCILE_BATCH,
  REPORT_BATCH,
  type DueReport,
  type ReportResult,
} from "./metering";
import { OVERAGE_METER } from "./plans";
import { getStripe, stripeRead } from "./stripeClient";

/** Reports sent in parallel. */
const SEND_CONCURRENCY = 10;
/** Batches per run; the cron and the next debit pick up the rest. */
const MAX_BATCHES_PER_RUN = 50;
/** Rows summed per page when reconciling (one query each). */
const SUM_PAGE = 1_000;

/** Stripe's answer to a meter event whose identifier it already holds. */
export function isDuplicateIdentifier(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    typeof error.message === "string" &&
    error.message.startsWith("An event already exists with identifier")
  );
}

/** Sends one report; never throws. */
export async function sendReport(stripe: Stripe, report: DueReport, nowMs: number): Promise<ReportResult> {
  const { reportId } = report;
  if (!report.stripeCustomerId) return { reportId, status: "unbillable", error: "the account has no Stripe customer" };
  if (nowMs - report.usedAt > METER_WINDOW_MS) {
    return { reportId, status: "unbillable", error: "older than Stripe's 35-day meter event window" };
  }
  try {
    await stripe.billing.meterEvents.create(
      {
        event_name: OVERAGE_METER.eventName,
        payload: { stripe_customer_id: report.stripeCustomerId, value: String(report.tokens) },
        identifier: report.identifier,
        timestamp: Math.floor(report.usedAt / 1000),
      },
      { idempotencyKey: `meter-event:${report.identifier}` },
    );
    return { reportId, status: "sent" };
  } catch (error) {
    if (isDuplicateIdentifier(error)) return { reportId, status: "sent" };
    const message = error instanceof Error ? error.message : String(error);
    return { reportId, status: "failed", error: message.slice(0, 500) };
  }
}

/**
 * Sends every due report, a batch at a time, and records the outcomes.
 * Returns the counts. Throws only when Convex itself fails; Stripe's
 * failures are recorded on the reports and retried later.
 */
export async function reportDue(ctx: ActionCtx): Promise<{ sent: number; failed: number; unbillable: number }> {
  const counts = { sent: 0, failed: 0, unbillable: 0 };
  let stripe: Stripe | null = null;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
    const due: DueReport[] = await ctx.runMutation(internal.metering.claimDueReports, {
      nowMs: Date.now(),
      limit: REPORT_BATCH,
    });
    if (due.length === 0) break;
    stripe ??= getStripe();
    const results: ReportResult[] = [];
    for (let i = 0; i < due.length; i += SEND_CONCURRENCY) {
      const nowMs = Date.now();
      const client = stripe;
      results.push(...(await Promise.all(due.slice(i, i + SEND_CONCURRENCY).map((r) => sendReport(client, r, nowMs)))));
    }
    await ctx.runMutation(internal.metering.recordResults, { results });
    for (const r of results) counts[r.status]++;
    // A batch that was all failures is retried after its backoff, not now.
    if (due.length < REPORT_BATCH || results.every((r) => r.status === "failed")) break;
  }
  return counts;
}

/** The overage meter's id (`mtr_…`), by its event name among active meters; null when Stripe has none. */
async function overageMeterId(stripe: Stripe): Promise<string | null> {
  for await (const meter of stripe.billing.meters.list({ status: "active", limit: 100 })) {
    if (meter.event_name === OVERAGE_METER.eventName) return meter.id;
  }
  return null;
}

/** Stripe's aggregated overage tokens for a customer over [fromMs, toMs) (minute-aligned). */
async function stripeTokens(stripe: Stripe, meterId: string, customer: string, fromMs: number, toMs: number): Promise<number> {
  let total = 0;
  const summaries = stripe.billing.meters.listEventSummaries(meterId, {
    customer,
    start_time: Math.floor(fromMs / 1000),
    end_time: Math.floor(toMs / 1000),
    limit: 100,
  });
  for await (const summary of summaries) total += summary.aggregated_value;
  return total;
}

/** The ledger's reports of an account over [fromMs, toMs), summed page by page. */
async function ledgerTokens(
  ctx: ActionCtx,
  accountId: Id<"billingAccounts">,
  fromMs: number,
  toMs: number,
): Promise<{ sent: number; pending: number; unbillable: number }> {
  const sums = { sent: 0, pending: 0, unbillable: 0 };
  let cursor: string | null = null;
  for (;;) {
    const page: { sent: number; pending: number; unbillable: number; cursor: string; isDone: boolean } =
      await ctx.runQuery(internal.metering.sumReports, { accountId, fromMs, toMs, cursor, limit: SUM_PAGE });
    sums.sent += page.sent;
    sums.pending += page.pending;
    sums.unbillable += page.unbillable;
    if (page.isDone) return sums;
    cursor = page.cursor;
  }
}

/**
 * Reconciles the closed periods that are due: the ledger's overage in each
 * period's minute-aligned range against Stripe's meter event summary for
 * the same customer and range. Returns how many were settled and how many
 * disagreed. A Stripe failure leaves the period open for the next run.
 */
export async function reconcileDue(ctx: ActionCtx): Promise<{ matched: number; mismatched: number; deferred: number }> {
  const counts = { matched: 0, mismatched: 0, deferred: 0 };
  const due = await ctx.runQuery(internal.metering.duePeriods, { nowMs: Date.now(), limit: RECONCILE_BATCH });
  if (due.length === 0) return counts;
  const stripe = getStripe();
  const meterId = await stripeRead("billing.meters.list", () => overageMeterId(stripe));
  for (const period of due) {
    const fromMs = minuteFloor(period.periodStart);
    const toMs = minuteFloor(period.periodEnd);
    const ledger = await ledgerTokens(ctx, period.accountId, fromMs, toMs);
    let outcome:
      | { status: "matched" | "mismatch"; stripeTokens: number; ledgerTokens: number; unbillableTokens: number }
      | { status: "deferred"; error: string };
    if (ledger.pending > 0) {
      outcome = { status: "deferred", error: `${ledger.pending} tokens not yet reported` };
    } else if (!period.stripeCustomerId || !meterId) {
      outcome = { status: "deferred", error: !meterId ? "Stripe has no overage meter" : "the account has no Stripe customer" };
    } else {
      try {
        const reported = await stripeTokens(stripe, meterId, period.stripeCustomerId, fromMs, toMs);
        outcome = {
          status: reported === ledger.sent && ledger.unbillable === 0 ? "matched" : "mismatch",
          stripeTokens: reported,
          ledgerTokens: ledger.sent + ledger.unbillable,
          unbillableTokens: ledger.unbillable,
        };
      } catch (error) {
        outcome = { status: "deferred", error: (error instanceof Error ? error.message : String(error)).slice(0, 500) };
      }
    }
    await ctx.runMutation(internal.metering.recordReconciliation, { periodId: period.periodId, outcome });
    counts[outcome.status === "matched" ? "matched" : outcome.status === "mismatch" ? "mismatched" : "deferred"]++;
  }
  return counts;
}
