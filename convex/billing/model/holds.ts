/**
 * Holds: reserve tokens before a job runs, then settle what it actually
 * cost or release them when it fails. The pattern follows Convex's
 * AI-budget component (atomic reserve, settle, cleanup cron): a naive
 * check-then-record lets concurrent jobs overspend, a reserve cannot.
 *
 * - `reserve` draws the estimate from the account's grants (draw order in
 *   `model/grants.ts`) into `held`: it leaves the spendable balance at once,
 *   in the same transaction as the check, so concurrent reserves never
 *   overspend.
 * - `settle` charges the actual amount exactly once. Less than reserved: the
 *   rest goes back to the grants it came from. More: the extra is drawn now
 *   if the balance covers it; under the block overage policy the part it
 *   cannot cover is recorded as `shortfall` and not charged (the balance
 *   never goes below zero).
 * - `release` returns everything (the job failed or was cancelled).
 * - The hold cron (`tokens.expireHolds`) releases holds still open after
 *   their TTL, as `expired`. Settling an expired hold later still charges
 *   the job, drawing afresh.
 *
 * Returned tokens go back to the grants they came from; a grant that
 * expired meanwhile does not take its share back (it would have expired
 * unused), and the ledger note says how many were forfeited.
 *
 * Ledger rows: `hold` (−estimate), `hold_settle` (+unused or −extra; 0 when
 * exact, so the settlement is still on record), `hold_release` (+returned).
 * Amounts are integer tokens; times Convex ms.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { fail } from "./errors";
import { giveBack } from "./grants";
import {
  commit,
  countersOf,
  drawOrRefuse,
  ensureBalance,
  requireSpendable,
  requireTokenAmount,
  type Entry,
} from "./ledger";
import type { Complexity } from "./plans";
import { recordUsage } from "./usage";
import type { HoldStatus } from "./validators";

/** A hold's time to live when the caller gives none: 10 minutes. */
export const DEFAULT_HOLD_TTL_MS = 10 * 60_000;
/** Shortest and longest TTL accepted: 10 seconds to 24 hours. */
export const MIN_HOLD_TTL_MS = 10_000;
export const MAX_HOLD_TTL_MS = 24 * 60 * 60_000;

export type HoldView = {
  holdId: Id<"tokenHolds">;
  status: HoldStatus;
  amount: number;
  expiresAt: number;
  remaining: number;
  duplicate: boolean;
};

function holdKey(idempotencyKey: string): string {
  return `hold:${idempotencyKey}`;
}

async function holdByKey(ctx: MutationCtx, accountId: Id<"billingAccounts">, sourceKey: string) {
  return await ctx.db
    .query("tokenHolds")
    .withIndex("by_accountId_and_sourceKey", (q) => q.eq("accountId", accountId).eq("sourceKey", sourceKey))
    .first();
}

/**
 * Reserves `amount` tokens for `feature` (the caller has checked the tier
 * and validated the key). A repeated `idempotencyKey` returns the hold it
 * opened, whatever its status, with `duplicate: true`.
 * Throws `INSUFFICIENT_TOKENS` (`required`, `available`) and
 * `INVALID_ARGUMENT` (amount not a positive integer, TTL out of range).
 */
export async function reserve(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  args: { feature: string; complexity?: Complexity; amount: number; idempotencyKey: string; ttlMs?: number },
): Promise<HoldView> {
  requireTokenAmount(args.amount, "estimate");
  const ttl = args.ttlMs ?? DEFAULT_HOLD_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl < MIN_HOLD_TTL_MS || ttl > MAX_HOLD_TTL_MS) {
    fail("INVALID_ARGUMENT", `ttlMs must be an integer from ${MIN_HOLD_TTL_MS} to ${MAX_HOLD_TTL_MS}.`);
  }
  const sourceKey = holdKey(args.idempotencyKey);
  const current = await ensureBalance(ctx, accountId);
  const existing = await holdByKey(ctx, accountId, sourceKey);
  if (existing) return viewOf(existing, current.balance, true);

  requireSpendable(current, args.amount, `This needs ${args.amount} tokens; you have ${current.balance}.`);
  const draw = await drawOrRefuse(ctx, current, args.amount);
  const counters = countersOf(current);
  const remaining = await commit(
    ctx,
    current,
    { ...counters, purchased: counters.purchased - draw.expiredTotal, held: counters.held + args.amount },
    [
      ...draw.expiryRows,
      {
        amount: -args.amount,
        reason: "hold",
        sourceKey,
        feature: args.feature,
        complexity: args.complexity,
        drawnFrom: draw.draws,
      },
    ],
  );
  const expiresAt = Date.now() + ttl;
  const holdId = await ctx.db.insert("tokenHolds", {
    accountId,
    sourceKey,
    feature: args.feature,
    complexity: args.complexity,
    amount: args.amount,
    drawnFrom: draw.draws,
    status: "open",
    expiresAt,
  });
  return { holdId, status: "open", amount: args.amount, expiresAt, remaining, duplicate: false };
}

function viewOf(hold: Doc<"tokenHolds">, remaining: number, duplicate: boolean): HoldView {
  return { holdId: hold._id, status: hold.status, amount: hold.amount, expiresAt: hold.expiresAt, remaining, duplicate };
}

/** The account's hold `holdId`; another account's hold, or none, is `NOT_FOUND`. */
export async function requireHold(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  holdId: string,
): Promise<Doc<"tokenHolds">> {
  const id = ctx.db.normalizeId("tokenHolds", holdId);
  const hold = id ? await ctx.db.get("tokenHolds", id) : null;
  if (!hold || hold.accountId !== accountId) fail("NOT_FOUND", "No such hold.");
  return hold;
}

export type SettleResult = {
  /** Tokens charged for the job. */
  charged: number;
  /** Reserved tokens given back (0 when the job used all or more). */
  returned: number;
  /** Tokens the job used beyond what the balance could cover (not charged, block policy). */
  shortfall: number;
  remaining: number;
  duplicate: boolean;
};

/**
 * Settles `hold` at `actual` tokens (default: the amount reserved), once: a
 * repeat returns the first settlement with `duplicate: true`.
 * Throws `HOLD_CLOSED` for a hold that was released, and `INVALID_ARGUMENT`
 * for an `actual` that is not a non-negative integer.
 */
export async function settle(ctx: MutationCtx, hold: Doc<"tokenHolds">, actual: number = hold.amount): Promise<SettleResult> {
  requireTokenAmount(actual, "actual", { allowZero: true });
  const current = await ensureBalance(ctx, hold.accountId);
  if (hold.status === "settled") {
    const charged = hold.charged ?? hold.amount;
    return {
      charged,
      returned: Math.max(0, hold.amount - charged),
      shortfall: hold.shortfall ?? 0,
      remaining: current.balance,
      duplicate: true,
    };
  }
  if (hold.status === "released") fail("HOLD_CLOSED", "This hold was released; reserve again to run the job.");
  const now = Date.now();
  const counters = countersOf(current);
  const sourceKey = `settle:${hold.sourceKey}`;
  const base: Pick<Entry, "reason" | "sourceKey" | "feature" | "complexity"> = {
    reason: "hold_settle",
    sourceKey,
    feature: hold.feature,
    complexity: hold.complexity,
  };
  // An open hold still holds its tokens; an expired one gave them back.
  const reserved = hold.status === "open" ? hold.amount : 0;
  let result: SettleResult;
  if (actual <= reserved) {
    const back = await giveBack(ctx, hold.drawnFrom, reserved - actual, now);
    const credited = back.toAllowance + back.toOthers;
    const remaining = await commit(
      ctx,
      current,
      {
        ...counters,
        held: counters.held - reserved,
        used: counters.used + actual,
        purchased: counters.purchased - back.forfeited,
      },
      [{ ...base, amount: credited, drawnFrom: back.credited, note: settleNote(actual, reserved, back.forfeited) }],
    );
    result = { charged: actual, returned: credited, shortfall: 0, remaining, duplicate: false };
  } else {
    const extra = actual - reserved;
    const take = Math.min(extra, current.balance);
    const draw = take > 0 ? await drawOrRefuse(ctx, current, take) : null;
    const expiredTotal = draw?.expiredTotal ?? 0;
    const remaining = await commit(
      ctx,
      current,
      {
        ...counters,
        held: counters.held - reserved,
        used: counters.used + reserved + take,
        purchased: counters.purchased - expiredTotal,
      },
      [
        ...(draw?.expiryRows ?? []),
        { ...base, amount: -take, drawnFrom: draw?.draws ?? [], note: settleNote(actual, reserved, 0, extra - take) },
      ],
    );
    result = { charged: reserved + take, returned: 0, shortfall: extra - take, remaining, duplicate: false };
  }
  await recordUsage(ctx, hold.accountId, hold.feature, result.charged, now);
  await ctx.db.patch("tokenHolds", hold._id, {
    status: "settled",
    charged: result.charged,
    shortfall: result.shortfall > 0 ? result.shortfall : undefined,
    closedAt: now,
  });
  return result;
}

function settleNote(actual: number, reserved: number, forfeited: number, shortfall = 0): string {
  const parts = [`Charged ${actual - shortfall} of ${reserved} reserved`];
  if (forfeited > 0) parts.push(`${forfeited} not returned (their grant expired)`);
  if (shortfall > 0) parts.push(`${shortfall} over the balance not charged`);
  return parts.join("; ");
}

/**
 * Returns everything `hold` reserved (`hold_release`) and closes it as
 * `status` (`released` by the caller, `expired` by the cron). Releasing a
 * hold already released or expired returns `duplicate: true` and moves
 * nothing. Throws `HOLD_CLOSED` for a settled hold.
 */
export async function release(
  ctx: MutationCtx,
  hold: Doc<"tokenHolds">,
  status: "released" | "expired" = "released",
): Promise<{ returned: number; remaining: number; duplicate: boolean }> {
  const current = await ensureBalance(ctx, hold.accountId);
  if (hold.status === "released" || hold.status === "expired") {
    return { returned: 0, remaining: current.balance, duplicate: true };
  }
  if (hold.status === "settled") fail("HOLD_CLOSED", "This hold was already settled.");
  const now = Date.now();
  const back = await giveBack(ctx, hold.drawnFrom, hold.amount, now);
  const credited = back.toAllowance + back.toOthers;
  const counters = countersOf(current);
  const remaining = await commit(
    ctx,
    current,
    { ...counters, held: counters.held - hold.amount, purchased: counters.purchased - back.forfeited },
    [
      {
        amount: credited,
        reason: "hold_release",
        sourceKey: `release:${hold.sourceKey}`,
        feature: hold.feature,
        drawnFrom: back.credited,
        note:
          (status === "expired" ? "Hold expired unsettled" : "Hold released") +
          (back.forfeited > 0 ? `; ${back.forfeited} not returned (their grant expired)` : ""),
      },
    ],
  );
  await ctx.db.patch("tokenHolds", hold._id, { status, closedAt: now });
  return { returned: credited, remaining, duplicate: false };
}
