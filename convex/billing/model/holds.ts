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
import { chargeMember, closeMemberHold, loadMember, memberPeriodOf, roomOf } from "./memberUsage";
import {
  commit,
  countersOf,
  drawOrRefuse,
  ensureBalance,
  overageRoom,
  requireOverageRoom,
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
  args: {
    feature: string;
    complexity?: Complexity;
    amount: number;
    idempotencyKey: string;
    ttlMs?: number;
    /** The plan's overage cap for the feature (0 = block): the part the balance cannot cover is reserved as overage, within it. */
    overageCap?: number;
    /** An organisation member (`user:<id>`): the reservation counts against their per-member cap (`MEMBER_CAP_REACHED`). */
    memberKey?: string;
  },
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

  const fromBalance = Math.min(args.amount, current.balance);
  const overage = args.amount - fromBalance;
  requireOverageRoom(current, args.amount, overage, args.overageCap ?? 0);
  // The whole reservation counts against the member's cap, checked on their row in this transaction.
  const memberPeriod =
    args.memberKey !== undefined ? await chargeMember(ctx, current, args.memberKey, args.amount, "held") : null;
  const draw = fromBalance > 0 ? await drawOrRefuse(ctx, current, fromBalance) : null;
  const counters = countersOf(current);
  const remaining = await commit(
    ctx,
    current,
    {
      ...counters,
      purchased: counters.purchased - (draw?.expiredTotal ?? 0),
      held: counters.held + fromBalance,
      overageHeld: counters.overageHeld + overage,
    },
    [
      ...(draw?.expiryRows ?? []),
      {
        amount: -fromBalance,
        reason: "hold",
        sourceKey,
        feature: args.feature,
        complexity: args.complexity,
        drawnFrom: draw?.draws ?? [],
        note: overage > 0 ? `${overage} reserved as overage` : undefined,
        ...(args.memberKey !== undefined ? { memberKey: args.memberKey } : {}),
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
    ...(overage > 0 ? { overage } : {}),
    drawnFrom: draw?.draws ?? [],
    status: "open",
    expiresAt,
    ...(args.memberKey !== undefined && memberPeriod ? { memberKey: args.memberKey, memberPeriodKey: memberPeriod.periodKey } : {}),
  });
  return { holdId, status: "open", amount: args.amount, expiresAt, remaining, duplicate: false };
}

/** What an open hold still reserves: from the balance (`held`) and as overage (`overageHeld`). Nothing once expired. */
function reservedBy(hold: Doc<"tokenHolds">): { fromBalance: number; overage: number } {
  if (hold.status !== "open") return { fromBalance: 0, overage: 0 };
  const overage = hold.overage ?? 0;
  return { fromBalance: hold.amount - overage, overage };
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
  /** Of `charged`, tokens beyond the balance recorded as overage (overage policy). */
  overage: number;
  /** Tokens the job used beyond the balance and the overage room (not charged). */
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
export async function settle(
  ctx: MutationCtx,
  hold: Doc<"tokenHolds">,
  requested: number = hold.amount,
  overageCap = 0,
): Promise<SettleResult> {
  requireTokenAmount(requested, "actual", { allowZero: true });
  let actual = requested;
  const current = await ensureBalance(ctx, hold.accountId);
  if (hold.status === "settled") {
    const charged = hold.charged ?? hold.amount;
    return {
      charged,
      returned: Math.max(0, hold.amount - charged),
      overage: hold.chargedOverage ?? 0,
      shortfall: hold.shortfall ?? 0,
      remaining: current.balance,
      duplicate: true,
    };
  }
  if (hold.status === "released") fail("HOLD_CLOSED", "This hold was released; reserve again to run the job.");
  const now = Date.now();
  const counters = countersOf(current);
  const sourceKey = `settle:${hold.sourceKey}`;
  const base: Pick<Entry, "reason" | "sourceKey" | "feature" | "complexity" | "memberKey"> = {
    reason: "hold_settle",
    sourceKey,
    feature: hold.feature,
    complexity: hold.complexity,
    ...(hold.memberKey !== undefined ? { memberKey: hold.memberKey } : {}),
  };
  // An open hold still holds its tokens; an expired one gave them back.
  const reserved = reservedBy(hold);
  const reservedTotal = reserved.fromBalance + reserved.overage;
  // A member's job may use more than it reserved only within their cap's
  // room; the rest is shortfall, not charged, like the overage cap.
  const memberPeriod = memberPeriodOf(current);
  let memberShortfall = 0;
  if (hold.memberKey !== undefined && actual > reservedTotal) {
    const extraRoom = roomOf(await loadMember(ctx, hold.accountId, memberPeriod, hold.memberKey));
    if (actual - reservedTotal > extraRoom) {
      memberShortfall = actual - reservedTotal - extraRoom;
      actual = reservedTotal + extraRoom;
    }
  }
  // Its own overage reservation ends here, so it counts as room again.
  const released = { ...counters, held: counters.held - reserved.fromBalance, overageHeld: counters.overageHeld - reserved.overage };
  let result: SettleResult;
  if (actual <= reservedTotal) {
    // Overage is the part the balance could not cover: charge the balance first.
    const fromBalance = Math.min(actual, reserved.fromBalance);
    const overage = actual - fromBalance;
    const back = await giveBack(ctx, hold.drawnFrom, reserved.fromBalance - fromBalance, now);
    const credited = back.toAllowance + back.toOthers;
    const remaining = await commit(
      ctx,
      current,
      {
        ...released,
        used: counters.used + fromBalance,
        purchased: counters.purchased - back.forfeited,
        overage: counters.overage + overage,
      },
      [
        {
          ...base,
          amount: credited,
          drawnFrom: back.credited,
          note: settleNote(actual, reservedTotal, back.forfeited, 0, memberShortfall),
          ...(overage > 0 ? { overage } : {}),
        },
      ],
    );
    result = { charged: actual, returned: credited, overage, shortfall: 0, remaining, duplicate: false };
  } else {
    const extra = actual - reservedTotal;
    const take = Math.min(extra, current.balance);
    const draw = take > 0 ? await drawOrRefuse(ctx, current, take) : null;
    // Room with this hold's reservation handed back; what it reserved is
    // chargeable even if the cap was lowered since.
    const room = overageRoom(released, overageCap);
    const wanted = reserved.overage + extra - take;
    const overage = Math.min(wanted, Math.max(room, reserved.overage));
    const shortfall = wanted - overage;
    const remaining = await commit(
      ctx,
      current,
      {
        ...released,
        used: counters.used + reserved.fromBalance + take,
        purchased: counters.purchased - (draw?.expiredTotal ?? 0),
        overage: counters.overage + overage,
      },
      [
        ...(draw?.expiryRows ?? []),
        {
          ...base,
          amount: -take,
          drawnFrom: draw?.draws ?? [],
          note: settleNote(actual, reservedTotal, 0, shortfall, memberShortfall),
          ...(overage > 0 ? { overage } : {}),
        },
      ],
    );
    result = { charged: actual - shortfall, returned: 0, overage, shortfall, remaining, duplicate: false };
  }
  if (memberShortfall > 0) result = { ...result, shortfall: result.shortfall + memberShortfall };
  if (hold.memberKey !== undefined) {
    await closeMemberHold(ctx, hold.accountId, {
      memberKey: hold.memberKey,
      heldPeriodKey: hold.memberPeriodKey,
      reserved: reservedTotal,
      charged: result.charged,
      period: memberPeriod,
    });
  }
  await recordUsage(ctx, hold.accountId, hold.feature, result.charged, now);
  await ctx.db.patch("tokenHolds", hold._id, {
    status: "settled",
    charged: result.charged,
    chargedOverage: result.overage > 0 ? result.overage : undefined,
    shortfall: result.shortfall > 0 ? result.shortfall : undefined,
    closedAt: now,
  });
  return result;
}

function settleNote(actual: number, reserved: number, forfeited: number, shortfall = 0, memberShortfall = 0): string {
  const parts = [`Charged ${actual - shortfall} of ${reserved} reserved`];
  if (forfeited > 0) parts.push(`${forfeited} not returned (their grant expired)`);
  if (shortfall > 0) parts.push(`${shortfall} over the balance (and any overage allowed) not charged`);
  if (memberShortfall > 0) parts.push(`${memberShortfall} over the member's cap not charged`);
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
  const reserved = reservedBy(hold);
  const back = await giveBack(ctx, hold.drawnFrom, reserved.fromBalance, now);
  const credited = back.toAllowance + back.toOthers;
  const counters = countersOf(current);
  const remaining = await commit(
    ctx,
    current,
    {
      ...counters,
      held: counters.held - reserved.fromBalance,
      overageHeld: counters.overageHeld - reserved.overage,
      purchased: counters.purchased - back.forfeited,
    },
    [
      {
        amount: credited,
        reason: "hold_release",
        sourceKey: `release:${hold.sourceKey}`,
        feature: hold.feature,
        drawnFrom: back.credited,
        ...(hold.memberKey !== undefined ? { memberKey: hold.memberKey } : {}),
        note:
          (status === "expired" ? "Hold expired unsettled" : "Hold released") +
          (back.forfeited > 0 ? `; ${back.forfeited} not returned (their grant expired)` : ""),
      },
    ],
  );
  if (hold.memberKey !== undefined) {
    await closeMemberHold(ctx, hold.accountId, {
      memberKey: hold.memberKey,
      heldPeriodKey: hold.memberPeriodKey,
      reserved: reserved.fromBalance + reserved.overage,
      charged: 0,
      period: memberPeriodOf(current),
    });
  }
  await ctx.db.patch("tokenHolds", hold._id, { status, closedAt: now });
  return { returned: credited, remaining, duplicate: false };
}
