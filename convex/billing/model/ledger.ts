/**
 * The token ledger: every token movement goes through these helpers.
 *
 * State per account lives in two tables written in the same transaction:
 * - `tokenBalances` (one row): `allowance` granted for the current period,
 *   `purchased` tokens that carry across periods, `used` this period, and
 *   `balance` = allowance + purchased − used, read in O(1) by queries;
 * - `tokenLedger` (append-only): one signed row per movement, each with the
 *   `balanceAfter` it produced, so the balance always equals the ledger's sum.
 *
 * Consumption draws from the allowance first, then from purchased tokens:
 * `used` simply grows by the cost, and the part of `used` above `allowance`
 * is what came out of `purchased`. At a new period the unused allowance
 * expires (`period_expire`), purchased tokens carry over minus what was drawn
 * from them, and the new allowance is granted (`period_grant`).
 *
 * Idempotency: every helper takes a `sourceKey` (invoice id, period key,
 * client key) that is unique per account, looked up through
 * `by_accountId_and_sourceKey`. A key already in the ledger makes the call a
 * no-op that returns `applied: false`. Convex mutations are serialisable
 * (https://docs.convex.dev/database/advanced/occ), so two concurrent calls
 * with the same key cannot both miss the lookup.
 *
 * Amounts are integer tokens. Invalid amounts throw `INVALID_ARGUMENT`;
 * debits larger than the balance throw `INSUFFICIENT_TOKENS`.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { fail } from "./errors";
import type { Complexity } from "./plans";
import type { LedgerReason } from "./validators";

type AccountId = Id<"billingAccounts">;

/** Longest `sourceKey` stored; client keys are capped below this by `tokens.consume`. */
export const MAX_SOURCE_KEY_LENGTH = 256;

/**
 * Requires a resulting balance (or counter) to stay an exact integer. A grant
 * that would push it past `Number.MAX_SAFE_INTEGER` is refused, since the
 * ledger could no longer be summed exactly.
 */
function requireSafeResult(value: number, what: string) {
  if (!Number.isSafeInteger(value)) {
    fail("INVALID_ARGUMENT", `That would make the ${what} too large to keep exactly (over ${Number.MAX_SAFE_INTEGER}).`);
  }
}

function requireTokenAmount(value: number, what: string, { allowZero = false, allowNegative = false } = {}) {
  if (!Number.isSafeInteger(value)) fail("INVALID_ARGUMENT", `${what} must be an integer number of tokens.`);
  if (!allowZero && value === 0) fail("INVALID_ARGUMENT", `${what} must not be zero.`);
  if (!allowNegative && value < 0) fail("INVALID_ARGUMENT", `${what} must not be negative.`);
}

function requireSourceKey(sourceKey: string) {
  if (sourceKey.length === 0 || sourceKey.length > MAX_SOURCE_KEY_LENGTH) {
    fail("INVALID_ARGUMENT", `sourceKey must be 1 to ${MAX_SOURCE_KEY_LENGTH} characters.`);
  }
}

/** Allowance not yet consumed this period. */
export function unusedAllowance(b: Pick<Doc<"tokenBalances">, "allowance" | "used">): number {
  return Math.max(0, b.allowance - b.used);
}

/** Purchased tokens not yet drawn on (consumption beyond the allowance draws on them). */
export function unusedPurchased(b: Pick<Doc<"tokenBalances">, "allowance" | "used" | "purchased">): number {
  return b.purchased - Math.max(0, b.used - b.allowance);
}

/** The ledger row with `sourceKey` for the account, or null. */
export async function findEntry(
  ctx: QueryCtx,
  accountId: AccountId,
  sourceKey: string,
): Promise<Doc<"tokenLedger"> | null> {
  // `first` rather than `unique`: the key is unique by construction, and a
  // duplicate must not make every later call for the account throw.
  return await ctx.db
    .query("tokenLedger")
    .withIndex("by_accountId_and_sourceKey", (q) => q.eq("accountId", accountId).eq("sourceKey", sourceKey))
    .first();
}

/** The account's balance row, or null when it has none yet (read-only contexts). */
export async function getBalance(ctx: QueryCtx, accountId: AccountId): Promise<Doc<"tokenBalances"> | null> {
  return await ctx.db
    .query("tokenBalances")
    .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
    .unique();
}

/** The account's balance row, created empty (all zeros, no period) when missing. */
export async function ensureBalance(ctx: MutationCtx, accountId: AccountId): Promise<Doc<"tokenBalances">> {
  const existing = await getBalance(ctx, accountId);
  if (existing) return existing;
  const id = await ctx.db.insert("tokenBalances", {
    accountId,
    allowance: 0,
    purchased: 0,
    used: 0,
    balance: 0,
  });
  const created = await ctx.db.get("tokenBalances", id);
  if (!created) throw new Error("tokenBalances row vanished after insert");
  return created;
}

type Entry = {
  amount: number;
  reason: LedgerReason;
  sourceKey: string;
  feature?: string;
  complexity?: Complexity;
  note?: string;
};

async function append(ctx: MutationCtx, accountId: AccountId, balanceAfter: number, entry: Entry) {
  await ctx.db.insert("tokenLedger", { accountId, balanceAfter, ...entry });
}

type Counters = { allowance: number; purchased: number; used: number };
type PeriodField = "periodKey" | "periodStart" | "periodEnd" | "windowAnchor" | "windowTier";

function balanceOf(b: Counters): number {
  return b.allowance + b.purchased - b.used;
}

/**
 * The one place a movement is written: appends `entry` with the balance the
 * `next` counters give, and stores those counters (and `period`, when a new
 * period starts) on the balance row. Returns the new balance.
 */
async function commit(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  next: Counters,
  entry: Entry,
  period: Partial<Pick<Doc<"tokenBalances">, PeriodField>> = {},
): Promise<number> {
  const balance = balanceOf(next);
  requireSafeResult(balance, "balance");
  for (const field of ["allowance", "purchased", "used"] as const) requireSafeResult(next[field], field);
  await append(ctx, current.accountId, balance, entry);
  await ctx.db.patch("tokenBalances", current._id, { ...next, balance, ...period });
  return balance;
}

/**
 * Starts a new allowance period: expires the unused allowance of the current
 * period (`period_expire`, sourceKey `<sourceKey>:expire`), keeps the unused
 * purchased tokens, and grants `tokens` (`period_grant`, `sourceKey`).
 *
 * - `sourceKey`: e.g. `period:free:2026-11` or `invoice:in_…`; a repeat is a no-op.
 * - `periodStart` / `periodEnd`: Convex ms; `periodKey` is stored for display.
 * - A period that ended at or before the current period started is stale (an
 *   older invoice delivered late) and is not applied: it would replace a newer
 *   allowance with an older one.
 *
 * Returns `{ applied }`: false for a repeated key or a stale period.
 */
export async function startPeriod(
  ctx: MutationCtx,
  accountId: AccountId,
  args: {
    sourceKey: string;
    tokens: number;
    periodKey: string;
    periodStart: number;
    periodEnd: number;
    /** Subscriber windows: the anchor and the tier the allowance is for (see `model/allowance.ts`). */
    windowAnchor?: number;
    windowTier?: Doc<"tokenBalances">["windowTier"];
  },
): Promise<{ applied: boolean }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.tokens, "tokens", { allowZero: true });
  if (!(args.periodEnd > args.periodStart)) fail("INVALID_ARGUMENT", "periodEnd must be after periodStart.");
  if (await findEntry(ctx, accountId, args.sourceKey)) return { applied: false };
  const current = await ensureBalance(ctx, accountId);
  if (current.periodStart !== undefined && args.periodEnd <= current.periodStart) return { applied: false };

  const expired = unusedAllowance(current);
  const purchased = unusedPurchased(current);
  if (expired > 0) {
    await append(ctx, accountId, current.balance - expired, {
      amount: -expired,
      reason: "period_expire",
      sourceKey: `${args.sourceKey}:expire`,
      note: current.periodKey ? `Unused allowance of ${current.periodKey}` : undefined,
    });
  }
  await commit(
    ctx,
    current,
    { allowance: args.tokens, purchased, used: 0 },
    // A grant's note is its period key; `toHistoryEntry` reads it back from
    // `sourceKey` when the two are equal, so it is stored only when they differ.
    {
      amount: args.tokens,
      reason: "period_grant",
      sourceKey: args.sourceKey,
      note: args.periodKey === args.sourceKey ? undefined : args.periodKey,
    },
    {
      periodKey: args.periodKey,
      periodStart: args.periodStart,
      periodEnd: args.periodEnd,
      windowAnchor: args.windowAnchor ?? current.windowAnchor,
      windowTier: args.windowTier,
    },
  );
  return { applied: true };
}

/**
 * Sets the current window's allowance to `allowance` (`plan_change`, the
 * signed difference), e.g. raised to a paid upgrade's or lowered after a
 * downgrade applied at once (`model/allowance.ts` picks the value). Records
 * the window's new `windowTier`. Writes nothing when the allowance is
 * unchanged or the key was used.
 *
 * Throws `INVALID_ARGUMENT` when `allowance` is negative or would leave
 * `used` drawing on purchased tokens it did not draw on before.
 */
export async function setAllowance(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  args: { sourceKey: string; allowance: number; windowTier: Doc<"tokenBalances">["windowTier"]; note: string },
): Promise<{ applied: boolean }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.allowance, "allowance", { allowZero: true });
  if (args.allowance < Math.min(current.used, current.allowance)) {
    fail("INVALID_ARGUMENT", "An allowance cannot drop below what was already used of it.");
  }
  if (await findEntry(ctx, current.accountId, args.sourceKey)) return { applied: false };
  const difference = args.allowance - current.allowance;
  if (difference === 0) {
    if (current.windowTier !== args.windowTier) await ctx.db.patch("tokenBalances", current._id, { windowTier: args.windowTier });
    return { applied: false };
  }
  await commit(
    ctx,
    current,
    { allowance: args.allowance, purchased: current.purchased, used: current.used },
    { amount: difference, reason: "plan_change", sourceKey: args.sourceKey, note: args.note },
    { windowTier: args.windowTier },
  );
  return { applied: true };
}

/**
 * Debits `cost` tokens (`consume`), from the allowance first, then from
 * purchased tokens. The check and the debit are one transaction, so
 * concurrent consumers can never take the balance below zero.
 *
 * Returns `{ applied, cost, remaining }`; for a repeated `sourceKey`,
 * `applied` is false and `cost` is the cost originally debited.
 * Throws `INSUFFICIENT_TOKENS` (`required`, `available`) when the balance is
 * lower than `cost`, and `INVALID_ARGUMENT` for a cost that is not a positive
 * integer.
 */
export async function consume(
  ctx: MutationCtx,
  accountId: AccountId,
  args: { sourceKey: string; cost: number; feature: string; complexity?: Complexity },
): Promise<{ applied: boolean; cost: number; remaining: number }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.cost, "cost");
  const existing = await findEntry(ctx, accountId, args.sourceKey);
  const current = await ensureBalance(ctx, accountId);
  if (existing) return { applied: false, cost: -existing.amount, remaining: current.balance };
  if (current.balance < args.cost) {
    fail("INSUFFICIENT_TOKENS", `This needs ${args.cost} tokens; you have ${current.balance}.`, {
      required: args.cost,
      available: current.balance,
    });
  }
  const remaining = await commit(
    ctx,
    current,
    { allowance: current.allowance, purchased: current.purchased, used: current.used + args.cost },
    { amount: -args.cost, reason: "consume", sourceKey: args.sourceKey, feature: args.feature, complexity: args.complexity },
  );
  return { applied: true, cost: args.cost, remaining };
}

/**
 * Adds (or, with a negative `amount`, removes) tokens outside the allowance:
 * `top_up` purchases and operators' `admin_grant` corrections.
 *
 * - A positive amount adds to `purchased`, so it carries across periods.
 * - A negative amount removes unused purchased tokens first, then unused
 *   allowance; it throws `INSUFFICIENT_TOKENS` rather than go below zero.
 * - `amount` must be a non-zero integer (`INVALID_ARGUMENT`).
 *
 * Returns `{ applied, balance }`; `applied` is false for a repeated key.
 */
export async function grant(
  ctx: MutationCtx,
  accountId: AccountId,
  args: { sourceKey: string; amount: number; reason: "admin_grant" | "top_up"; note?: string },
): Promise<{ applied: boolean; balance: number }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.amount, "amount", { allowNegative: true });
  const existing = await findEntry(ctx, accountId, args.sourceKey);
  const current = await ensureBalance(ctx, accountId);
  if (existing) return { applied: false, balance: current.balance };

  let next: Counters = { allowance: current.allowance, purchased: current.purchased, used: current.used };
  if (args.amount > 0) {
    next.purchased += args.amount;
  } else {
    const removing = -args.amount;
    if (removing > current.balance) {
      fail("INSUFFICIENT_TOKENS", `Cannot remove ${removing} tokens; the balance is ${current.balance}.`, {
        required: removing,
        available: current.balance,
      });
    }
    const fromPurchased = Math.min(removing, unusedPurchased(current));
    next = { ...next, purchased: next.purchased - fromPurchased, allowance: next.allowance - (removing - fromPurchased) };
  }
  const balance = await commit(ctx, current, next, {
    amount: args.amount,
    reason: args.reason,
    sourceKey: args.sourceKey,
    note: args.note,
  });
  return { applied: true, balance };
}

/**
 * Audits one account: the stored balance must equal the sum of its ledger,
 * every row's `balanceAfter` must equal the running sum at that row, and the
 * balance row must be consistent (non-negative integers, balance =
 * allowance + purchased − used, used ≤ allowance + purchased).
 *
 * Reads the whole ledger of the account, so it is for operators and tests; an
 * account with more rows than one transaction may read (Convex's read limits,
 * https://docs.convex.dev/production/state/limits) needs an offline audit.
 * `problems` lists what failed, empty when `ok`.
 */
export async function checkInvariant(
  ctx: QueryCtx,
  accountId: AccountId,
): Promise<{ ok: boolean; balance: number; ledgerSum: number; entries: number; problems: string[] }> {
  const problems: string[] = [];
  const row = await getBalance(ctx, accountId);
  let ledgerSum = 0;
  let entries = 0;
  // Ascending `_creationTime` within the account: the order rows were appended.
  for await (const entry of ctx.db.query("tokenLedger").withIndex("by_accountId", (q) => q.eq("accountId", accountId))) {
    entries += 1;
    ledgerSum += entry.amount;
    if (!Number.isSafeInteger(entry.amount)) problems.push(`ledger ${entry._id}: amount ${entry.amount} is not an integer`);
    if (entry.balanceAfter !== ledgerSum) {
      problems.push(`ledger ${entry._id}: balanceAfter ${entry.balanceAfter} but running sum ${ledgerSum}`);
    }
  }
  const balance = row?.balance ?? 0;
  if (balance !== ledgerSum) problems.push(`balance ${balance} but ledger sums to ${ledgerSum}`);
  if (row) {
    for (const field of ["allowance", "purchased", "used", "balance"] as const) {
      if (!Number.isSafeInteger(row[field]) || row[field] < 0) {
        problems.push(`${field} ${row[field]} is not a non-negative integer`);
      }
    }
    if (row.balance !== balanceOf(row)) {
      problems.push(`balance ${row.balance} ≠ allowance ${row.allowance} + purchased ${row.purchased} − used ${row.used}`);
    }
  }
  return { ok: problems.length === 0, balance, ledgerSum, entries, problems };
}
