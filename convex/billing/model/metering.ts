/**
 * Overage billed through Stripe Billing Meters
 * (https://docs.stripe.com/billing/subscriptions/usage-based): the database
 * side. The ledger stays the real-time source of truth; Stripe bills what
 * is reported to it.
 *
 * - **Recorded with the debit.** A ledger row that records overage (a
 *   consume or a settled hold, `ledger.commit`) gets a `meterReports` row in
 *   the same transaction, so a report can't be lost or made twice.
 * - **Reported in batches** by `metering.report` (`model/meterReporter.ts`):
 *   scheduled by the debit (once per burst, `meterReportAt` on the balance
 *   row) and by a one-minute cron. Each becomes one meter event whose
 *   `identifier` is the ledger row id: Stripe de-duplicates it over 24 hours,
 *   and its "already exists" answer counts as delivered. Failures back off
 *   (30 s doubling, at most an hour) and are retried until Stripe takes
 *   them; a report older than the meter's 35-day window is `unbillable`.
 * - **Reconciled per period.** When an allowance period with overage closes
 *   (`ledger.startPeriod`) a `meterPeriods` row is opened. Once the invoice
 *   is due, `metering.reconcile` compares the ledger's reports in the
 *   period's time range with Stripe's meter event summary for the same
 *   range, and records `matched` or `mismatch` for staff.
 *
 * Times are Convex ms unless named `…Seconds` (Stripe's unit); tokens integers.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internal } from "../_generated/api";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Reports sent per batch: one query and one mutation each, far under Convex's limits. */
export const REPORT_BATCH = 100;
/** A debit's reporter runs this long after it, so a burst of debits shares one run. */
export const REPORT_DELAY_MS = 10_000;
/** First retry after a failed send; doubles per attempt up to `MAX_BACKOFF_MS`. */
export const FIRST_BACKOFF_MS = 30_000;
export const MAX_BACKOFF_MS = HOUR_MS;
/**
 * Stripe takes meter events up to 35 days old; a report older than this
 * (an hour's margin for the send itself) can no longer be billed.
 */
export const METER_WINDOW_MS = 35 * DAY_MS - HOUR_MS;
/**
 * A period is reconciled this long after it ends: Stripe keeps the invoice
 * a draft for an hour (the finalization grace, during which late usage
 * still counts), and the reporter's retries need time too.
 */
export const RECONCILE_DELAY_MS = 2 * HOUR_MS;
/** Periods reconciled per cron run; each costs one Stripe read and a paginated sum. */
export const RECONCILE_BATCH = 20;

export type OverageUse = { ledgerId: Id<"tokenLedger">; tokens: number };

/**
 * Queues one report per ledger row in `uses` (called by `ledger.commit` in
 * the debit's transaction) and returns the balance-row fields to store with
 * the debit: `meterReportAt` when this debit scheduled the reporter.
 */
export async function queueOverageReports(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  uses: OverageUse[],
  nowMs: number,
): Promise<Partial<Pick<Doc<"tokenBalances">, "meterReportAt">>> {
  if (uses.length === 0) return {};
  for (const use of uses) {
    await ctx.db.insert("meterReports", {
      accountId: current.accountId,
      ledgerId: use.ledgerId,
      tokens: use.tokens,
      usedAt: nowMs,
      status: "pending",
      nextAttemptAt: nowMs,
    });
  }
  if (current.meterReportAt !== undefined && current.meterReportAt > nowMs) return {};
  await ctx.scheduler.runAfter(REPORT_DELAY_MS, internal.metering.report, {});
  return { meterReportAt: nowMs + REPORT_DELAY_MS };
}

/** What the reporter sends for one pending report. `stripeCustomerId` null: the account has none. */
export type DueReport = {
  reportId: Id<"meterReports">;
  /** The meter event `identifier`: the ledger row id. */
  identifier: string;
  stripeCustomerId: string | null;
  tokens: number;
  usedAt: number;
};

/**
 * A claimed report is not handed to another run for this long: the run
 * that claimed it records the outcome well within it, and if that run dies
 * the report is due again afterwards.
 */
export const CLAIM_LEASE_MS = 2 * MINUTE_MS;

/**
 * Claims up to `limit` pending reports due at `nowMs` (oldest due first) for
 * one reporter run, with their customers: each is pushed `CLAIM_LEASE_MS`
 * into the future, so overlapping runs (the cron and debit-scheduled ones)
 * send disjoint batches.
 */
export async function claimDueReports(ctx: MutationCtx, nowMs: number, limit: number): Promise<DueReport[]> {
  const rows = await ctx.db
    .query("meterReports")
    .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", "pending").lte("nextAttemptAt", nowMs))
    .take(limit);
  const customers = new Map<Id<"billingAccounts">, string | null>();
  const out: DueReport[] = [];
  for (const row of rows) {
    await ctx.db.patch("meterReports", row._id, { nextAttemptAt: nowMs + CLAIM_LEASE_MS });
    if (!customers.has(row.accountId)) {
      const account = await ctx.db.get("billingAccounts", row.accountId);
      customers.set(row.accountId, account?.stripeCustomerId ?? null);
    }
    out.push({
      reportId: row._id,
      identifier: row.ledgerId,
      stripeCustomerId: customers.get(row.accountId) ?? null,
      tokens: row.tokens,
      usedAt: row.usedAt,
    });
  }
  return out;
}

/** The outcome of sending one report. */
export type ReportResult =
  | { reportId: Id<"meterReports">; status: "sent" }
  | { reportId: Id<"meterReports">; status: "unbillable"; error: string }
  | { reportId: Id<"meterReports">; status: "failed"; error: string };

/** Delay before retry number `attempts` (1 = the first retry). */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * Records the reporter's outcomes. Only pending reports change, so a
 * repeated or overlapping run never moves a sent one back. Returns how many
 * changed.
 */
export async function recordResults(ctx: MutationCtx, results: ReportResult[], nowMs: number): Promise<number> {
  let changed = 0;
  for (const result of results) {
    const row = await ctx.db.get("meterReports", result.reportId);
    if (!row || row.status !== "pending") continue;
    changed++;
    if (result.status === "sent") {
      await ctx.db.patch("meterReports", row._id, { status: "sent", sentAt: nowMs, lastError: undefined });
    } else if (result.status === "unbillable") {
      await ctx.db.patch("meterReports", row._id, { status: "unbillable", lastError: result.error });
    } else {
      const attempts = (row.attempts ?? 0) + 1;
      await ctx.db.patch("meterReports", row._id, {
        attempts,
        nextAttemptAt: nowMs + backoffMs(attempts),
        lastError: result.error,
      });
    }
  }
  return changed;
}

/** Stripe's summaries take minute-aligned ranges; both sides of a reconciliation use the same one. */
export function minuteFloor(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/**
 * Opens the reconciliation of a period that closed with `overage` tokens
 * (called by `ledger.startPeriod`). Idempotent per account and period.
 */
export async function openMeterPeriod(
  ctx: MutationCtx,
  closing: Doc<"tokenBalances">,
  overage: number,
): Promise<void> {
  const { periodKey, periodStart, periodEnd } = closing;
  if (overage <= 0 || periodKey === undefined || periodStart === undefined || periodEnd === undefined) return;
  const existing = await ctx.db
    .query("meterPeriods")
    .withIndex("by_accountId_and_periodKey", (q) => q.eq("accountId", closing.accountId).eq("periodKey", periodKey))
    .unique();
  if (existing) return;
  await ctx.db.insert("meterPeriods", {
    accountId: closing.accountId,
    periodKey,
    periodStart,
    periodEnd,
    tokens: overage,
    status: "open",
    reconcileAfter: Math.max(periodEnd, Date.now()) + RECONCILE_DELAY_MS,
  });
}

/** Tokens of an account's reports used in [fromMs, toMs), by status; one page of `limit` rows after `cursor`. */
export async function sumReports(
  ctx: QueryCtx,
  args: { accountId: Id<"billingAccounts">; fromMs: number; toMs: number; cursor: string | null; limit: number },
): Promise<{ sent: number; pending: number; unbillable: number; cursor: string; isDone: boolean }> {
  const page = await ctx.db
    .query("meterReports")
    .withIndex("by_accountId_and_usedAt", (q) =>
      q.eq("accountId", args.accountId).gte("usedAt", args.fromMs).lt("usedAt", args.toMs),
    )
    .paginate({ cursor: args.cursor, numItems: args.limit });
  const sums = { sent: 0, pending: 0, unbillable: 0 };
  for (const row of page.page) sums[row.status] += row.tokens;
  return { ...sums, cursor: page.continueCursor, isDone: page.isDone };
}

/** A closed period due for reconciliation, with its customer. */
export type DuePeriod = {
  periodId: Id<"meterPeriods">;
  accountId: Id<"billingAccounts">;
  stripeCustomerId: string | null;
  periodStart: number;
  periodEnd: number;
};

/** Up to `limit` open periods whose reconciliation is due at `nowMs`. */
export async function duePeriods(ctx: QueryCtx, nowMs: number, limit: number): Promise<DuePeriod[]> {
  const rows = await ctx.db
    .query("meterPeriods")
    .withIndex("by_status_and_reconcileAfter", (q) => q.eq("status", "open").lte("reconcileAfter", nowMs))
    .take(limit);
  const out: DuePeriod[] = [];
  for (const row of rows) {
    const account = await ctx.db.get("billingAccounts", row.accountId);
    out.push({
      periodId: row._id,
      accountId: row.accountId,
      stripeCustomerId: account?.stripeCustomerId ?? null,
      periodStart: row.periodStart,
      periodEnd: row.periodEnd,
    });
  }
  return out;
}

export type ReconciliationOutcome =
  | { status: "matched" | "mismatch"; stripeTokens: number; ledgerTokens: number; unbillableTokens: number }
  | { status: "deferred"; error: string };

/**
 * Records a period's reconciliation. `deferred` (reports still pending,
 * Stripe unreachable) keeps it open and tries again after the backoff.
 */
export async function recordReconciliation(
  ctx: MutationCtx,
  periodId: Id<"meterPeriods">,
  outcome: ReconciliationOutcome,
  nowMs: number,
): Promise<void> {
  const row = await ctx.db.get("meterPeriods", periodId);
  if (!row || row.status !== "open") return;
  if (outcome.status === "deferred") {
    const attempts = (row.attempts ?? 0) + 1;
    await ctx.db.patch("meterPeriods", periodId, {
      attempts,
      lastError: outcome.error,
      reconcileAfter: nowMs + backoffMs(attempts),
    });
    return;
  }
  await ctx.db.patch("meterPeriods", periodId, {
    status: outcome.status,
    tokens: outcome.ledgerTokens,
    stripeTokens: outcome.stripeTokens,
    unbillableTokens: outcome.unbillableTokens || undefined,
    reconciledAt: nowMs,
    lastError: undefined,
  });
}
