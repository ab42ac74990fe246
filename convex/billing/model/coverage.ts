/**
 * Paid coverage: what the customer's money has paid for, and when.
 *
 * Every paid subscription invoice is recorded line by line in `paidCoverage`
 * (once per invoice id): a line of a catalogue price with a non-negative
 * amount covers that price over the line's period (sign +1); a proration
 * credit ("Unused time on Pro", negative amount) takes that price's coverage
 * back over its period (sign −1). So after an upgrade Starter → Elite on
 * day 10 of 30 the rows read `+starter[0,30) −starter[10,30) +elite[10,30)`,
 * and at any instant the price with a positive net count is what was paid for.
 *
 * Only *paid* invoices are recorded, credits included: an unpaid change
 * (a Portal switch whose proration failed) neither grants the new plan nor
 * takes the old, paid one away.
 *
 * The tier at an instant is a pure function of the recorded rows, so it does
 * not depend on the order the invoices arrived in.
 *
 * Times are Convex ms (Stripe's line periods × 1000).
 */
import type Stripe from "stripe";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { tierRank, type Tier } from "./plans";
import { linePriceId } from "./stripeShapes";

export type CoverageRow = Pick<Doc<"paidCoverage">, "stripePriceId" | "tier" | "sign" | "start" | "end" | "quantity" | "trial">;

/** The rows money paid for: trial rows (`model/trials.ts`) left out, which buy no paid allowance and no grace. */
export function paidRows<R extends Pick<CoverageRow, "trial">>(rows: readonly R[]): R[] {
  return rows.filter((row) => row.trial !== true);
}

/**
 * Rows read per look-up. An account has a handful of invoices overlapping a
 * month (a cycle invoice, a few plan changes); a yearly line overlaps twelve.
 */
export const COVERAGE_READ_LIMIT = 200;

/** How far back the allowance and access look-ups read (ms): a little over the longest month. */
export const COVERAGE_LOOKBACK_MS = 32 * 24 * 60 * 60 * 1000;

/** The paid tier at instant `t` (ms): the highest tier whose price has a positive net count, or null. */
export function coverageAt(rows: readonly CoverageRow[], t: number): Tier | null {
  const net = new Map<string, { tier: Tier; count: number }>();
  for (const row of rows) {
    if (row.start > t || t >= row.end) continue;
    const entry = net.get(row.stripePriceId) ?? { tier: row.tier, count: 0 };
    entry.count += row.sign;
    net.set(row.stripePriceId, entry);
  }
  let best: Tier | null = null;
  for (const { tier, count } of net.values()) {
    if (count > 0 && (best === null || tierRank(tier) > tierRank(best))) best = tier;
  }
  return best;
}

/**
 * The paid tier at the latest covered instant of `[from, to)` (ms), or null
 * when nothing in the range is paid for. Coverage changes only at a row's
 * start or end, so the candidates are just before each such boundary.
 *
 * This is what a window's allowance follows: a paid upgrade covers the rest
 * of the window at the higher tier (raised); a downgrade applied at once
 * covers the rest at the lower one (lowered); a downgrade scheduled for the
 * period end leaves the window's end at the tier that was paid.
 */
export function latestCoveredTier(rows: readonly CoverageRow[], from: number, to: number): Tier | null {
  return latestCoveredInstant(rows, from, to)?.tier ?? null;
}

/** The latest instant `t` (ms) of `[from, to)` that is paid for, with its tier (see `latestCoveredTier`). */
function latestCoveredInstant(rows: readonly CoverageRow[], from: number, to: number): { t: number; tier: Tier } | null {
  const instants = new Set<number>([to - 1]);
  for (const row of rows) {
    for (const boundary of [row.start, row.end]) {
      if (boundary > from && boundary <= to) instants.add(boundary - 1);
    }
  }
  for (const t of [...instants].sort((a, b) => b - a)) {
    if (t < from) break;
    const tier = coverageAt(rows, t);
    if (tier !== null) return { t, tier };
  }
  return null;
}

/**
 * Seats of `tier` paid for at instant `t` (ms): the quantity of the latest
 * paid charge of that tier covering `t` (a row without one counts 1), at
 * least 1. Stripe prorates a seat change as a credit for the old quantity
 * and a charge for the new one from the change on ("Unused time on 3 × Pro",
 * "Remaining time on 5 × Pro"), so once that invoice is paid the latest
 * charge says 5; a renewal's charge says what the new period pays for; an
 * unprorated decrease charges nothing, so the period keeps the seats it
 * paid for. Never more than one charge's quantity: a stray charge line
 * without its credit does not add seats.
 */
export function seatsAt(rows: readonly CoverageRow[], t: number, tier: Tier): number {
  let latest: CoverageRow | null = null;
  for (const row of rows) {
    if (row.tier !== tier || row.sign !== 1 || row.start > t || t >= row.end) continue;
    if (!latest || row.start > latest.start || (row.start === latest.start && (row.quantity ?? 1) > (latest.quantity ?? 1))) latest = row;
  }
  return Math.max(1, latest?.quantity ?? 1);
}

/**
 * The paid tier and its paid seats at the latest covered instant of
 * `[from, to)` (see `latestCoveredTier`), or null when nothing is covered.
 */
export function latestCoveredPlan(rows: readonly CoverageRow[], from: number, to: number): { tier: Tier; seats: number } | null {
  const covered = latestCoveredInstant(rows, from, to);
  return covered && { tier: covered.tier, seats: seatsAt(rows, covered.t, covered.tier) };
}

/**
 * The start (ms) of the uninterrupted paid run that covers `t`: walks back
 * over the starts of rows covering `t` while coverage continues just before
 * them. Used to anchor a new subscriber's allowance windows.
 */
export function coverageRunStart(rows: readonly CoverageRow[], t: number): number {
  let start = t;
  for (;;) {
    const earlier = rows
      .filter((row) => row.sign === 1 && row.start < start && row.end >= start)
      .map((row) => row.start);
    if (earlier.length === 0) return start;
    const candidate = Math.min(...earlier);
    if (coverageAt(rows, candidate) === null) return start;
    start = candidate;
  }
}

/** The account's coverage rows that end after `after` (ms), bounded. */
export async function coverageRows(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  after: number,
): Promise<CoverageRow[]> {
  return await ctx.db
    .query("paidCoverage")
    .withIndex("by_accountId_and_end", (q) => q.eq("accountId", accountId).gt("end", after))
    .take(COVERAGE_READ_LIMIT);
}

/**
 * The most the account's money supports at `nowMs`: the paid tier now (a
 * trial's coverage included), or, when nothing covers now (a renewal not
 * paid yet, within the grace period), the tier of the latest paid instant
 * before it, trials left out (a trial that ended unpaid leaves no grace).
 * Null when nothing was ever paid. The access policy never grants more than this.
 */
export async function paidTierCap(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
): Promise<Tier | null> {
  const current = await coverageRows(ctx, accountId, nowMs);
  const now = coverageAt(current, nowMs);
  if (now !== null) return now;
  const recent = await ctx.db
    .query("paidCoverage")
    .withIndex("by_accountId_and_end", (q) => q.eq("accountId", accountId).lte("end", nowMs))
    .order("desc")
    .take(COVERAGE_READ_LIMIT);
  const all = paidRows([...current, ...recent]);
  const lastEnd = Math.max(...paidRows(recent).map((row) => row.end), -Infinity);
  return lastEnd === -Infinity ? null : latestCoveredTier(all, -Infinity, lastEnd);
}

/** One line of a paid invoice as coverage: its price id, sign, period (ms) and quantity (seats; absent = 1). */
export type CoverageLine = { stripePriceId: string; sign: 1 | -1; start: number; end: number; quantity?: number; trial?: true };

/**
 * Whether an invoice line is a trial line: amount 0 (before discounts, so a
 * 100% coupon is not one) starting before the subscription's trial end
 * (`trialEndMs`, ms). Stripe describes it "Trial period for …". The start,
 * not the end, is compared: a trial ended early (`trial_end: "now"`) keeps
 * its $0 line over the planned trial, which then ends after the new
 * `trial_end`, and must stay a trial line whenever it is delivered.
 */
export function isTrialLine(line: Pick<Stripe.InvoiceLineItem, "amount" | "period">, trialEndMs: number | undefined): boolean {
  return line.amount === 0 && trialEndMs !== undefined && line.period.start * 1000 < trialEndMs;
}

/**
 * The lines of an invoice that pay for (or credit back) a subscription
 * price; lines of the trial ending at `trialEndMs` (ms) are marked `trial`.
 */
export function coverageLines(invoice: Stripe.Invoice, trialEndMs?: number): CoverageLine[] {
  const lines: CoverageLine[] = [];
  for (const line of invoice.lines?.data ?? []) {
    const stripePriceId = linePriceId(line);
    if (!stripePriceId || !(line.period.end > line.period.start)) continue;
    lines.push({
      stripePriceId,
      sign: line.amount < 0 ? -1 : 1,
      start: line.period.start * 1000,
      end: line.period.end * 1000,
      ...(line.quantity !== null && line.quantity !== undefined && line.quantity !== 1 ? { quantity: line.quantity } : {}),
      ...(isTrialLine(line, trialEndMs) ? { trial: true as const } : {}),
    });
  }
  return lines;
}

/** Whether the invoice's coverage is already recorded. */
export async function hasCoverage(ctx: QueryCtx, stripeInvoiceId: string): Promise<boolean> {
  const row = await ctx.db
    .query("paidCoverage")
    .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", stripeInvoiceId))
    .first();
  return row !== null;
}

/** Records a paid invoice's lines, each with the tier its price sells (`free` lines are skipped). */
export async function recordCoverage(
  ctx: MutationCtx,
  args: {
    accountId: Id<"billingAccounts">;
    stripeInvoiceId: string;
    lines: ReadonlyArray<CoverageLine & { tier: Tier }>;
  },
): Promise<number> {
  let written = 0;
  for (const line of args.lines) {
    if (line.tier === "free") continue;
    await ctx.db.insert("paidCoverage", {
      accountId: args.accountId,
      stripeInvoiceId: args.stripeInvoiceId,
      ...line,
    });
    written++;
  }
  return written;
}
