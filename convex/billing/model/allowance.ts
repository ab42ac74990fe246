/**
 * Subscribers' token allowance: one monthly window at a time, following the
 * money (docs/ARCHITECTURE.md, "Allowance rules").
 *
 * - **Monthly on every plan.** Windows are calendar months from the
 *   account's `windowAnchor` (its day of month and time of day, clamped to
 *   short months as Stripe clamps billing anchors: Jan 31 → Feb 28 → Mar 31).
 *   A yearly subscriber gets the plan's monthly allowance at each window.
 * - **Paid before granted.** A window opens only when paid coverage
 *   (`model/coverage.ts`) covers the instant it is opened at; its allowance is
 *   the tier paid for at the window's latest covered instant.
 * - **Once per window.** A window's grant is keyed by its start
 *   (`window:<start ms>`); changes within it only move the allowance to the
 *   paid tier's: a paid upgrade raises it (never refills it), a downgrade
 *   applied at once lowers it so that what remains is at most the new
 *   allowance minus what was used. A change of plan or interval never moves
 *   the anchor, so it never opens a window early.
 * - **Per seat.** A per-seat plan's allowance is `seatAllowance(tier, seats)`
 *   for the seats *paid* at that instant (`coverage.seatsAt`: the paid
 *   invoices' line quantities), so added seats raise the window once their
 *   proration invoice is paid, and a seat decrease (unprorated) leaves the
 *   window as paid (docs/SEATS.md).
 * - **Order-independent.** The target allowance is a function of the paid
 *   invoices recorded, whatever order they arrived in.
 *
 * The anchor is the subscription's `start_date`, which never moves (Stripe
 * re-anchors billing on an interval switch; the windows do not follow). It
 * is set by the first paid window, and again only when the account had no
 * paid window running when its new coverage started (a lapse and a new
 * subscription).
 *
 * Times are Convex ms.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { currentSubscriptionOf } from "./currentSubscription";
import { COVERAGE_LOOKBACK_MS, coverageAt, coverageRows, coverageRunStart, latestCoveredPlan, paidRows } from "./coverage";
import { ensureBalance, setAllowance, startPeriod } from "./ledger";
import { PLANS, seatAllowance, type Tier } from "./plans";

const WINDOW_PREFIX = "window:";

/** Whether a balance's period is a subscriber window (not a free or override month). */
export function isWindowKey(periodKey: string | undefined): boolean {
  return periodKey?.startsWith(WINDOW_PREFIX) ?? false;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/** The window boundary in UTC month `month` of `year` (month may overflow) for `anchor`. */
function boundary(anchor: Date, year: number, month: number): number {
  const first = new Date(Date.UTC(year, month, 1));
  const y = first.getUTCFullYear();
  const m = first.getUTCMonth();
  const day = Math.min(anchor.getUTCDate(), daysInMonth(y, m));
  return Date.UTC(y, m, day, anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds());
}

/** The monthly window `[start, end)` on `anchorMs`'s grid that contains `t` (ms). */
export function windowContaining(anchorMs: number, t: number): { start: number; end: number } {
  const anchor = new Date(anchorMs);
  const at = new Date(t);
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  const here = boundary(anchor, year, month);
  if (here <= t) return { start: here, end: boundary(anchor, year, month + 1) };
  return { start: boundary(anchor, year, month - 1), end: here };
}

export type AllowanceSync =
  | { outcome: "opened"; tier: Tier; windowStart: number }
  | { outcome: "adjusted"; tier: Tier; from: number; to: number }
  | { outcome: "unchanged" }
  | { outcome: "not_covered" };

/**
 * Brings the account's allowance in line with what was paid, at `nowMs`:
 * opens the window containing `nowMs` when it is paid for and not opened
 * yet, or moves the open window's allowance to its paid tier's.
 *
 * `opKey` makes the ledger keys of an adjustment unique (the Stripe event id,
 * or the cron run); opening a window is keyed by the window alone.
 * Returns what it did; `not_covered` when nothing pays for now (a free
 * account, an unpaid renewal), which leaves the balance alone.
 */
export async function syncAllowance(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
  opKey: string,
): Promise<AllowanceSync> {
  const balance = await ensureBalance(ctx, accountId);
  // A trial's coverage buys the trial allowance (`model/trials.ts`), never a paid window.
  const rows = paidRows(await coverageRows(ctx, accountId, nowMs - COVERAGE_LOOKBACK_MS));
  const inWindow =
    isWindowKey(balance.periodKey) &&
    balance.periodStart !== undefined &&
    balance.periodEnd !== undefined &&
    balance.periodStart <= nowMs &&
    nowMs < balance.periodEnd;
  if (inWindow) return await adjustWindow(ctx, balance, rows, opKey);

  if (coverageAt(rows, nowMs) === null) return { outcome: "not_covered" };
  const runStart = coverageRunStart(rows, nowMs);
  const lastWindowEnd = isWindowKey(balance.periodKey) ? balance.periodEnd : undefined;
  const anchor =
    balance.windowAnchor !== undefined && lastWindowEnd !== undefined && lastWindowEnd >= runStart
      ? balance.windowAnchor
      : await subscriptionAnchor(ctx, accountId, runStart);
  const window = windowContaining(anchor, nowMs);
  const paid = latestCoveredPlan(rows, window.start, window.end);
  if (paid === null || paid.tier === "free") return { outcome: "not_covered" };
  const { tier, seats } = paid;
  const key = `${WINDOW_PREFIX}${window.start}`;
  const { applied } = await startPeriod(ctx, accountId, {
    sourceKey: key,
    tokens: seatAllowance(tier, seats),
    periodKey: key,
    periodStart: window.start,
    periodEnd: window.end,
    windowAnchor: anchor,
    windowTier: tier,
    windowSeats: seats,
  });
  return applied ? { outcome: "opened", tier, windowStart: window.start } : { outcome: "unchanged" };
}

/**
 * A new anchor: the current subscription's `start_date` — its trial end
 * after a trial, where Stripe re-anchors billing — when it lies at or
 * before the paid run (so every delivery order picks the same one), else
 * the run's start.
 *
 * A trial ended early (`trial_end: "now"`, docs/TRIALS.md) re-anchors
 * billing where the paid run starts, before the trial's planned end: the
 * mirror may still carry the planned end (its `customer.subscription.updated`
 * not in yet) or already the new one (equal to the run's start). Either way
 * the anchor is the run's start, never the trial's start.
 */
async function subscriptionAnchor(ctx: MutationCtx, accountId: Id<"billingAccounts">, runStart: number): Promise<number> {
  const account = await ctx.db.get("billingAccounts", accountId);
  const subscription = account ? await currentSubscriptionOf(ctx, account) : null;
  const trialEnd = subscription?.trialEnd;
  if (trialEnd !== undefined && subscription?.trialStart !== undefined && trialEnd > runStart) return runStart;
  const startDate = trialEnd !== undefined && trialEnd <= runStart ? trialEnd : subscription?.startDate;
  return startDate !== undefined && startDate <= runStart ? startDate : runStart;
}

/** Moves the open window's allowance to the tier (and seats) paid at its latest covered instant. */
async function adjustWindow(
  ctx: MutationCtx,
  balance: Doc<"tokenBalances">,
  rows: Awaited<ReturnType<typeof coverageRows>>,
  opKey: string,
): Promise<AllowanceSync> {
  const paid = latestCoveredPlan(rows, balance.periodStart!, balance.periodEnd!);
  if (paid === null || paid.tier === "free") return { outcome: "unchanged" };
  const { tier, seats } = paid;
  if (tier === balance.windowTier && seats === (balance.windowSeats ?? 1)) return { outcome: "unchanged" };
  const target = seatAllowance(tier, seats);
  // Lowering never takes back tokens already used from the allowance, and
  // never turns allowance use into purchased-token use.
  const next = target >= balance.allowance ? target : Math.max(target, Math.min(balance.used, balance.allowance));
  const from = balance.allowance;
  await setAllowance(ctx, balance, {
    sourceKey: `${balance.periodKey}:${tier}${seats === 1 ? "" : `x${seats}`}:${opKey}`,
    allowance: next,
    windowTier: tier,
    windowSeats: seats,
    note: `${PLANS[tier].name}${seats === 1 ? "" : ` × ${seats} seats`} allowance for this window (${from} → ${next})`,
  });
  return { outcome: "adjusted", tier, from, to: next };
}
