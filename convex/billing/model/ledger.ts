/**
 * The token ledger: every token movement goes through these helpers.
 *
 * State per account lives in three tables written in the same transaction:
 * - `tokenGrants` (`model/grants.ts`): every credit as a grant with what
 *   remains of it, an optional expiry and a draw priority;
 * - `tokenBalances` (one row): the spendable `balance` read in O(1) by
 *   queries, and this period's counters: `allowance` granted, `purchased`
 *   (tokens from other grants), `used`, and `held` by open holds, with
 *   balance = allowance + purchased − used − held;
 * - `tokenLedger` (append-only): one signed row per movement, each with the
 *   `balanceAfter` it produced and the grants it drew on (`drawnFrom`) or
 *   created (`grantId`).
 *
 * The invariant, checked by `checkInvariant` and the daily audit:
 * balance = sum of the ledger = sum of the active grants' `remaining`.
 *
 * Debits draw on grants in the fixed order documented in `model/grants.ts`
 * (priority, soonest expiry, free before paid, oldest). At a new period the
 * previous plan-allowance grant expires (`period_expire`) and the new one is
 * granted (`period_grant`); other grants carry over until they expire.
 *
 * Idempotency: every helper takes a `sourceKey` (invoice id, period key,
 * client key) that is unique per account, looked up through
 * `by_accountId_and_sourceKey`. A key already in the ledger makes the call a
 * no-op that returns `applied: false`. Convex mutations are serialisable
 * (https://docs.convex.dev/database/advanced/occ), so two concurrent calls
 * with the same key cannot both miss the lookup.
 *
 * Amounts are integer tokens; times Convex ms. Invalid amounts throw
 * `INVALID_ARGUMENT`; debits larger than the balance throw
 * `INSUFFICIENT_TOKENS`.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { appendAudit, SYSTEM_ACTOR, type AuditActor } from "./audit";
import { fail } from "./errors";
import {
  activeGrants,
  adjustGrant,
  createGrant,
  drawFromGrants,
  expireGrant,
  MAX_GRANTS_PER_DRAW,
  type Draw,
  type DrawResult,
  type Grant,
} from "./grants";
import { PLANS, type Complexity } from "./plans";
import { recordUsage } from "./usage";
import { chargeMember } from "./memberUsage";
import { maybeFireAlerts } from "./alerts";
import { maybeStartAutoRecharge } from "./autoRecharge";
import { openMeterPeriod, queueOverageReports, type OverageUse } from "./metering";
import type { GrantCategory, LedgerReason } from "./validators";

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

export function requireTokenAmount(value: number, what: string, { allowZero = false, allowNegative = false } = {}) {
  if (!Number.isSafeInteger(value)) fail("INVALID_ARGUMENT", `${what} must be an integer number of tokens.`);
  if (!allowZero && value === 0) fail("INVALID_ARGUMENT", `${what} must not be zero.`);
  if (!allowNegative && value < 0) fail("INVALID_ARGUMENT", `${what} must not be negative.`);
}

export function requireSourceKey(sourceKey: string) {
  if (sourceKey.length === 0 || sourceKey.length > MAX_SOURCE_KEY_LENGTH) {
    fail("INVALID_ARGUMENT", `sourceKey must be 1 to ${MAX_SOURCE_KEY_LENGTH} characters.`);
  }
}

/** Tokens held by open holds (absent on rows written before holds). */
export function heldOf(b: Pick<Doc<"tokenBalances">, "held">): number {
  return b.held ?? 0;
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

/**
 * The account's balance row, created empty (all zeros, no period) when
 * missing. A row written before grants existed is converted first: its
 * unused allowance becomes the period's plan-allowance grant and its unused
 * purchased tokens one `purchased` grant (sourceKey `legacy:purchased`), so
 * the grants hold exactly its balance.
 */
export async function ensureBalance(ctx: MutationCtx, accountId: AccountId): Promise<Doc<"tokenBalances">> {
  const existing = await getBalance(ctx, accountId);
  if (existing && existing.grantsVersion === 1) return existing;
  if (existing) return await convertToGrants(ctx, existing);
  const id = await ctx.db.insert("tokenBalances", {
    accountId,
    allowance: 0,
    purchased: 0,
    used: 0,
    held: 0,
    balance: 0,
    grantsVersion: 1,
  });
  return await reread(ctx, id);
}

async function reread(ctx: MutationCtx, id: Id<"tokenBalances">): Promise<Doc<"tokenBalances">> {
  const row = await ctx.db.get("tokenBalances", id);
  if (!row) throw new Error("tokenBalances row vanished after a write");
  return row;
}

async function convertToGrants(ctx: MutationCtx, row: Doc<"tokenBalances">): Promise<Doc<"tokenBalances">> {
  const unusedAllowance = Math.max(0, row.allowance - row.used);
  const unusedOther = row.balance - unusedAllowance;
  const now = row.periodStart ?? Date.now();
  let allowanceGrantId: Id<"tokenGrants"> | undefined;
  if (row.allowance > 0) {
    allowanceGrantId = await createGrant(ctx, row.accountId, {
      category: "plan_allowance",
      amount: row.allowance,
      sourceKey: row.periodKey ?? "legacy:allowance",
      now,
      expiresAt: row.periodEnd,
    });
    await ctx.db.patch("tokenGrants", allowanceGrantId, {
      remaining: unusedAllowance,
      status: unusedAllowance > 0 ? "active" : "depleted",
    });
  }
  if (unusedOther > 0) {
    await createGrant(ctx, row.accountId, { category: "purchased", amount: unusedOther, sourceKey: "legacy:purchased", now });
  }
  await ctx.db.patch("tokenBalances", row._id, { held: 0, grantsVersion: 1, allowanceGrantId });
  return await reread(ctx, row._id);
}

/** Debits for usage: the ones that may trigger auto-recharge. */
const USAGE_REASONS: ReadonlySet<LedgerReason> = new Set<LedgerReason>(["consume", "hold", "hold_settle"]);

/**
 * Ledger reasons that are changes to money or credits in the audit log's
 * sense (docs/AUDIT_LOG.md): grants paid for or taken back. Usage (consume,
 * holds), expiries and rollovers are routine and live in the ledger alone;
 * operator grants (`admin_grant`, `promotional_grant`) are audited by their
 * entry points, which know the staff member and the reason.
 */
const AUDITED_REASONS: ReadonlySet<LedgerReason> = new Set<LedgerReason>([
  "period_grant",
  "plan_change",
  "top_up",
  "refund_clawback",
  "dispute_freeze",
  "dispute_release",
  "dispute_lost",
]);

/**
 * Who a ledger row's change is attributed to when its writer names nobody:
 * read from the idempotency key's prefix (`checkout:`, `refund:`,
 * `dispute:` → the Stripe object; `period:` → the allowance cron;
 * `auto_recharge:` → the auto-recharge job; invoice keys → the invoice).
 */
function actorOfSourceKey(sourceKey: string): AuditActor {
  const [prefix, id] = sourceKey.split(":");
  if (prefix === "checkout" || prefix === "refund" || prefix === "dispute") return { actorKind: "stripe", actor: id ?? sourceKey };
  if (prefix === "auto_recharge") return { actorKind: "system", actor: "auto_recharge" };
  if (prefix === "period") return { actorKind: "cron", actor: "allowance" };
  if (sourceKey.includes("in_")) return { actorKind: "stripe", actor: sourceKey };
  return SYSTEM_ACTOR;
}

/** A ledger row to append. */
export type Entry = {
  amount: number;
  reason: LedgerReason;
  /** Audited reasons: who made the change (not stored on the ledger row; default from `sourceKey`). */
  actor?: AuditActor;
  sourceKey: string;
  feature?: string;
  complexity?: Complexity;
  note?: string;
  grantId?: Id<"tokenGrants">;
  drawnFrom?: Draw[];
  /** Tokens used beyond the balance (overage policy); not part of `amount`. */
  overage?: number;
  /** An organisation member's usage: who it counts for (`model/memberUsage.ts`). */
  memberKey?: string;
};

/** The balance row's counters. `overage` / `overageHeld`: this period's overage used and reserved (not in the balance). */
export type Counters = { allowance: number; purchased: number; used: number; held: number; overage: number; overageHeld: number };
type PeriodField = "periodKey" | "periodStart" | "periodEnd" | "windowAnchor" | "windowTier" | "windowSeats" | "allowanceGrantId";

export function countersOf(b: Doc<"tokenBalances">): Counters {
  return {
    allowance: b.allowance,
    purchased: b.purchased,
    used: b.used,
    held: heldOf(b),
    overage: b.overage ?? 0,
    overageHeld: b.overageHeld ?? 0,
  };
}

/**
 * Overage tokens the account may still use or reserve this period under a
 * policy allowing `capTokens` (0 = block): the cap less what is used and
 * reserved (`countersOf`).
 */
export function overageRoom(c: Pick<Counters, "overage" | "overageHeld">, capTokens: number): number {
  return Math.max(0, capTokens - c.overage - c.overageHeld);
}

function balanceOf(b: Pick<Counters, "allowance" | "purchased" | "used" | "held">): number {
  return b.allowance + b.purchased - b.used - b.held;
}

/**
 * The one place movements are written: appends `entries` in order, each with
 * the running balance it produced, and stores the `next` counters (and
 * `period` fields) on the balance row. The entries must add up to the
 * counters' change; anything else is a bug and throws before writing.
 * Returns the new balance.
 */
export async function commit(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  next: Counters,
  entries: Entry[],
  period: Partial<Pick<Doc<"tokenBalances">, PeriodField>> = {},
): Promise<number> {
  const balance = balanceOf(next);
  requireSafeResult(balance, "balance");
  for (const field of ["allowance", "purchased", "used", "held", "overage", "overageHeld"] as const) {
    requireSafeResult(next[field], field);
    if (next[field] < 0) throw new Error(`ledger counter ${field} would go negative: ${next[field]}`);
  }
  const moved = entries.reduce((sum, e) => sum + e.amount, 0);
  if (current.balance + moved !== balance) {
    throw new Error(`ledger out of balance: ${current.balance} + ${moved} ≠ ${balance}`);
  }
  let running = current.balance;
  const overageUses: OverageUse[] = [];
  for (const { actor, ...entry } of entries) {
    const before = running;
    running += entry.amount;
    const ledgerId = await ctx.db.insert("tokenLedger", { accountId: current.accountId, balanceAfter: running, ...entry });
    if (entry.overage !== undefined && entry.overage > 0) overageUses.push({ ledgerId, tokens: entry.overage });
    if (AUDITED_REASONS.has(entry.reason)) {
      await appendAudit(ctx, {
        ...(actor ?? actorOfSourceKey(entry.sourceKey)),
        accountId: current.accountId,
        action: `tokens.${entry.reason}`,
        before: { balance: before },
        after: { balance: running, amount: entry.amount, sourceKey: entry.sourceKey },
        reason: entry.note,
      });
    }
  }
  // Overage used is reported to Stripe's meter: queued here, in the debit's own transaction.
  const metering = await queueOverageReports(ctx, current, overageUses, Date.now());
  // Overage counters are stored only while non-zero (absent = 0), so rows on plans that block stay as small as before.
  const overage = { overage: next.overage || undefined, overageHeld: next.overageHeld || undefined };
  await ctx.db.patch("tokenBalances", current._id, { ...next, ...overage, balance, ...period, ...metering });
  // A new period resets the counters; only movements within one can cross an alert.
  if (period.periodKey === undefined) await maybeFireAlerts(ctx, current, { ...next, balance, periodKey: current.periodKey });
  // Auto-recharge: only usage that lowers the balance below the threshold
  // reads anything more (`model/autoRecharge.ts`). Expiries, refunds and
  // corrections never buy a pack: a refund must not be charged again.
  const below = current.autoRechargeBelow;
  if (below !== undefined && balance < below && balance < current.balance) {
    const trigger = entries.find((e) => e.amount < 0 && USAGE_REASONS.has(e.reason));
    if (trigger) await maybeStartAutoRecharge(ctx, current.accountId, { after: balance, triggerKey: trigger.sourceKey });
  }
  return balance;
}

/**
 * Ledger rows for grants a draw found past their expiry (`grant_expire`,
 * sourceKey `expire:<grant id>`), and the tokens they took with them. Only
 * grants other than the plan allowance lapse, so these come off `purchased`.
 */
export function expiryEntries(expired: DrawResult["expired"]): { entries: Entry[]; total: number } {
  const entries = expired
    .filter((e) => e.amount > 0)
    .map((e) => ({
      amount: -e.amount,
      reason: "grant_expire" as const,
      sourceKey: `expire:${e.grant._id}`,
      grantId: e.grant._id,
      note: expiryNote(e.grant),
    }));
  return { entries, total: entries.reduce((sum, e) => sum - e.amount, 0) };
}

function expiryNote(grant: Grant): string {
  return grant.note ? `Expired: ${grant.note}` : `Expired ${grant.category.replace("_", " ")} grant`;
}

/**
 * Starts a new allowance period: expires the previous plan-allowance grant
 * (`period_expire` of what it still held, sourceKey `<sourceKey>:expire`),
 * rolls part of that over when the ending window's plan says so
 * (`rollover`, a grant of at most `rollover.maxTokens` expiring
 * `rollover.periods` periods on, sourceKey `<sourceKey>:rollover`), keeps
 * every other grant, and grants `tokens` as the new plan-allowance grant
 * expiring at `periodEnd` (`period_grant`, `sourceKey`).
 *
 * - `sourceKey`: e.g. `period:free:2026-11` or `window:<ms>`; a repeat is a no-op.
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
    /** Paid seats the allowance is for (per-seat plans); absent = 1. */
    windowSeats?: number;
  },
): Promise<{ applied: boolean }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.tokens, "tokens", { allowZero: true });
  if (!(args.periodEnd > args.periodStart)) fail("INVALID_ARGUMENT", "periodEnd must be after periodStart.");
  if (await findEntry(ctx, accountId, args.sourceKey)) return { applied: false };
  const current = await ensureBalance(ctx, accountId);
  if (current.periodStart !== undefined && args.periodEnd <= current.periodStart) return { applied: false };

  const entries: Entry[] = [];
  // Rollovers end with the period they were carried into, in the period's
  // own time (a test clock's too), before anything new rolls over.
  let rolloverExpired = 0;
  for (const grant of await activeGrants(ctx, accountId, MAX_GRANTS_PER_DRAW)) {
    if (grant.category !== "rollover" || grant.expiresAt === undefined || grant.expiresAt > args.periodStart) continue;
    const amount = await expireGrant(ctx, grant);
    rolloverExpired += amount;
    entries.push(...expiryEntries([{ grant, amount }]).entries);
  }
  const previous = current.allowanceGrantId ? await ctx.db.get("tokenGrants", current.allowanceGrantId) : null;
  const expired = previous ? await expireGrant(ctx, previous) : 0;
  if (expired > 0) {
    entries.push({
      amount: -expired,
      reason: "period_expire",
      sourceKey: `${args.sourceKey}:expire`,
      grantId: previous!._id,
      note: current.periodKey ? `Unused allowance of ${current.periodKey}` : undefined,
    });
  }
  // The ending window's plan may carry some of what expired into the new
  // period as a rollover grant (free months and staff overrides carry no
  // `windowTier`, so never roll over).
  const policy = current.windowTier ? PLANS[current.windowTier].rollover : null;
  const rolled = policy ? Math.min(expired, policy.maxTokens) : 0;
  if (rolled > 0) {
    const periodLength = args.periodEnd - args.periodStart;
    const rolloverKey = `${args.sourceKey}:rollover`;
    const rolloverId = await createGrant(ctx, accountId, {
      category: "rollover",
      amount: rolled,
      sourceKey: rolloverKey,
      now: args.periodStart,
      expiresAt: args.periodEnd + (policy!.periods - 1) * periodLength,
      note: `Rolled over from ${current.periodKey ?? "the previous period"}`,
    });
    entries.push({
      amount: rolled,
      reason: "rollover",
      sourceKey: rolloverKey,
      grantId: rolloverId,
      note: `Unused allowance rolled over (up to ${policy!.maxTokens})`,
    });
  }
  const grantId = await createGrant(ctx, accountId, {
    category: "plan_allowance",
    amount: args.tokens,
    sourceKey: args.sourceKey,
    now: args.periodStart,
    expiresAt: args.periodEnd,
    note: args.periodKey,
  });
  // A grant's note is its period key; `toHistoryEntry` reads it back from
  // `sourceKey` when the two are equal, so it is stored only when they differ.
  entries.push({
    amount: args.tokens,
    reason: "period_grant",
    sourceKey: args.sourceKey,
    grantId,
    note: args.periodKey === args.sourceKey ? undefined : args.periodKey,
  });
  const held = heldOf(current);
  // Everything spendable or held that is not the old allowance now counts as
  // carried over (`purchased`); the period's usage starts again.
  const carried = current.balance - rolloverExpired - expired + rolled + held;
  // The ended period's overage is billed with it (metering: its reconciliation
  // opens now); the new one starts at none.
  const { overage: closingOverage, overageHeld } = countersOf(current);
  await openMeterPeriod(ctx, current, closingOverage);
  await commit(ctx, current, { allowance: args.tokens, purchased: carried, used: 0, held, overage: 0, overageHeld }, entries, {
    periodKey: args.periodKey,
    periodStart: args.periodStart,
    periodEnd: args.periodEnd,
    windowAnchor: args.windowAnchor ?? current.windowAnchor,
    windowTier: args.windowTier,
    windowSeats: args.windowSeats,
    allowanceGrantId: grantId,
  });
  return { applied: true };
}

/**
 * Sets the current window's allowance to `allowance` (`plan_change`, the
 * signed difference, applied to the period's plan-allowance grant), e.g.
 * raised to a paid upgrade's or lowered after a downgrade applied at once
 * (`model/allowance.ts` picks the value). Records the window's new
 * `windowTier`. Writes nothing when the allowance is unchanged or the key
 * was used.
 *
 * Throws `INVALID_ARGUMENT` when `allowance` is negative or would take back
 * tokens already drawn from the allowance.
 */
export async function setAllowance(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  args: {
    sourceKey: string;
    allowance: number;
    windowTier: Doc<"tokenBalances">["windowTier"];
    /** Paid seats the allowance is for (per-seat plans); absent = 1. */
    windowSeats?: number;
    note: string;
  },
): Promise<{ applied: boolean }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.allowance, "allowance", { allowZero: true });
  if (args.allowance < Math.min(current.used, current.allowance)) {
    fail("INVALID_ARGUMENT", "An allowance cannot drop below what was already used of it.");
  }
  if (await findEntry(ctx, current.accountId, args.sourceKey)) return { applied: false };
  const difference = args.allowance - current.allowance;
  if (difference === 0) {
    if (current.windowTier !== args.windowTier || current.windowSeats !== args.windowSeats) {
      await ctx.db.patch("tokenBalances", current._id, { windowTier: args.windowTier, windowSeats: args.windowSeats });
    }
    return { applied: false };
  }
  let grantId = current.allowanceGrantId;
  if (grantId) {
    await adjustGrant(ctx, grantId, difference);
  } else {
    if (difference < 0) fail("INVALID_ARGUMENT", "An allowance cannot drop below what was already used of it.");
    grantId = await createGrant(ctx, current.accountId, {
      category: "plan_allowance",
      amount: difference,
      sourceKey: args.sourceKey,
      now: Date.now(),
      expiresAt: current.periodEnd,
      note: current.periodKey,
    });
  }
  await commit(
    ctx,
    current,
    { ...countersOf(current), allowance: args.allowance },
    [{ amount: difference, reason: "plan_change", sourceKey: args.sourceKey, note: args.note, grantId }],
    { windowTier: args.windowTier, windowSeats: args.windowSeats, allowanceGrantId: grantId },
  );
  return { applied: true };
}

/** Throws `INSUFFICIENT_TOKENS` unless `required` tokens are spendable. */
export function requireSpendable(current: Doc<"tokenBalances">, required: number, message: string): void {
  if (current.balance < required) {
    fail("INSUFFICIENT_TOKENS", message, { required, available: current.balance });
  }
}

/**
 * Draws `amount` from the account's grants in draw order, expiring any it
 * finds past their expiry, and returns the ledger rows for those expiries
 * with the draw. Throws `INSUFFICIENT_TOKENS` when the grants, once expired
 * ones are dropped, cannot cover `amount`.
 */
export async function drawOrRefuse(
  ctx: MutationCtx,
  current: Doc<"tokenBalances">,
  amount: number,
  eligibleFirst?: (grant: Grant) => boolean,
): Promise<DrawResult & { expiryRows: Entry[]; expiredTotal: number }> {
  const now = Date.now();
  const first = await drawFromGrants(ctx, current.accountId, amount, now, eligibleFirst);
  let result = first;
  const drawn = first.fromAllowance + first.fromOthers;
  if (drawn < amount && eligibleFirst) {
    const rest = await drawFromGrants(ctx, current.accountId, amount - drawn, now);
    result = {
      draws: [...first.draws, ...rest.draws],
      fromAllowance: first.fromAllowance + rest.fromAllowance,
      fromOthers: first.fromOthers + rest.fromOthers,
      expired: [...first.expired, ...rest.expired],
    };
  }
  const { entries, total } = expiryEntries(result.expired);
  const covered = result.fromAllowance + result.fromOthers;
  if (covered < amount) {
    // Grants past their expiry made up the difference; the sweep expires them.
    fail("INSUFFICIENT_TOKENS", `This needs ${amount} tokens; you have ${current.balance - total}.`, {
      required: amount,
      available: current.balance - total,
    });
  }
  return { ...result, expiryRows: entries, expiredTotal: total };
}

/**
 * Debits `cost` tokens (`consume`) from the account's grants in draw order
 * (`model/grants.ts`), recording the grants drawn on. The check and the
 * debit are one transaction, so concurrent consumers can never take the
 * balance below zero.
 *
 * Overage: with `overageCap` > 0 (the plan's policy, `plans.overagePolicy`)
 * the part the balance cannot cover, up to the room left this period, is
 * recorded as `overage` on the ledger row and the balance row instead of
 * refused; the balance itself stops at zero. 0 (default) blocks.
 *
 * Returns `{ applied, cost, remaining, overage }`; for a repeated
 * `sourceKey`, `applied` is false and `cost` / `overage` are what was
 * originally debited. With `memberKey`, the cost is counted in the
 * member's usage this period and refused past their cap
 * (`MEMBER_CAP_REACHED`, `model/memberUsage.ts`). Throws `INSUFFICIENT_TOKENS` (`required`,
 * `available` = balance + overage room) when the balance and the overage
 * room together fall short, and `INVALID_ARGUMENT` for a cost that is not a
 * positive integer.
 */
export async function consume(
  ctx: MutationCtx,
  accountId: AccountId,
  args: {
    sourceKey: string;
    cost: number;
    feature: string;
    complexity?: Complexity;
    overageCap?: number;
    /** An organisation member (`user:<id>`): counted in their per-member usage and held to their cap. */
    memberKey?: string;
  },
): Promise<{ applied: boolean; cost: number; remaining: number; overage: number }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.cost, "cost");
  const existing = await findEntry(ctx, accountId, args.sourceKey);
  const current = await ensureBalance(ctx, accountId);
  if (existing) {
    const overage = existing.overage ?? 0;
    return { applied: false, cost: overage - existing.amount, remaining: current.balance, overage };
  }
  const fromBalance = Math.min(args.cost, current.balance);
  const overage = args.cost - fromBalance;
  requireOverageRoom(current, args.cost, overage, args.overageCap ?? 0);
  // The member's cap is checked against their row read here, in this transaction (MEMBER_CAP_REACHED).
  if (args.memberKey !== undefined) await chargeMember(ctx, current, args.memberKey, args.cost, "used");
  const draw = fromBalance > 0 ? await drawOrRefuse(ctx, current, fromBalance) : null;
  const counters = countersOf(current);
  await recordUsage(ctx, accountId, args.feature, args.cost);
  const remaining = await commit(
    ctx,
    current,
    {
      ...counters,
      purchased: counters.purchased - (draw?.expiredTotal ?? 0),
      used: counters.used + fromBalance,
      overage: counters.overage + overage,
    },
    [
      ...(draw?.expiryRows ?? []),
      {
        amount: -fromBalance,
        reason: "consume",
        sourceKey: args.sourceKey,
        feature: args.feature,
        complexity: args.complexity,
        drawnFrom: draw?.draws ?? [],
        ...(overage > 0 ? { overage } : {}),
        ...(args.memberKey !== undefined ? { memberKey: args.memberKey } : {}),
      },
    ],
  );
  return { applied: true, cost: args.cost, remaining, overage };
}

/**
 * Throws `INSUFFICIENT_TOKENS` unless `overage` tokens of a `required`-token
 * debit fit in the room `capTokens` leaves this period (0 = block policy:
 * only an overage of 0 fits).
 */
export function requireOverageRoom(current: Doc<"tokenBalances">, required: number, overage: number, capTokens: number): void {
  if (overage === 0) return;
  const room = overageRoom(countersOf(current), capTokens);
  if (overage <= room) return;
  const message =
    capTokens > 0
      ? `This needs ${required} tokens; you have ${current.balance} and ${room} of this period's ${capTokens} overage tokens left.`
      : `This needs ${required} tokens; you have ${current.balance}.`;
  fail("INSUFFICIENT_TOKENS", message, { required, available: current.balance + room });
}

/** The grant category a positive `grant` creates, by ledger reason. */
const CATEGORY_OF: Record<"admin_grant" | "top_up" | "promotional_grant", GrantCategory> = {
  admin_grant: "admin",
  top_up: "purchased",
  promotional_grant: "promotional",
};

/**
 * Adds (or, with a negative `amount`, removes) tokens outside the allowance:
 * `top_up` purchases, operators' `admin_grant` corrections and
 * `promotional_grant`s.
 *
 * - A positive amount creates a grant (`purchased`, `admin` or
 *   `promotional`) with the optional `expiresAt` (ms, in the future) and
 *   `priority`; it carries across periods until it expires.
 * - A negative amount removes tokens from grants other than the plan
 *   allowance first (in draw order), then from the allowance; it throws
 *   `INSUFFICIENT_TOKENS` rather than go below zero.
 * - `amount` must be a non-zero integer (`INVALID_ARGUMENT`).
 *
 * Returns `{ applied, balance }`; `applied` is false for a repeated key.
 */
export async function grant(
  ctx: MutationCtx,
  accountId: AccountId,
  args: {
    sourceKey: string;
    amount: number;
    reason: "admin_grant" | "top_up" | "promotional_grant";
    note?: string;
    expiresAt?: number;
    priority?: number;
    /** A top-up: the PaymentIntent that paid for it, so refunds and disputes find the grant. */
    stripePaymentIntentId?: string;
  },
): Promise<{ applied: boolean; balance: number }> {
  requireSourceKey(args.sourceKey);
  requireTokenAmount(args.amount, "amount", { allowNegative: true });
  const now = Date.now();
  if (args.expiresAt !== undefined && !(Number.isSafeInteger(args.expiresAt) && args.expiresAt > now)) {
    fail("INVALID_ARGUMENT", "expiresAt must be a time in the future (ms).");
  }
  if (args.priority !== undefined && !Number.isSafeInteger(args.priority)) {
    fail("INVALID_ARGUMENT", "priority must be an integer.");
  }
  const existing = await findEntry(ctx, accountId, args.sourceKey);
  const current = await ensureBalance(ctx, accountId);
  if (existing) return { applied: false, balance: current.balance };
  const counters = countersOf(current);

  if (args.amount > 0) {
    const grantId = await createGrant(ctx, accountId, {
      category: CATEGORY_OF[args.reason],
      amount: args.amount,
      sourceKey: args.sourceKey,
      now,
      expiresAt: args.expiresAt,
      priority: args.priority,
      note: args.note,
      stripePaymentIntentId: args.stripePaymentIntentId,
    });
    const balance = await commit(ctx, current, { ...counters, purchased: counters.purchased + args.amount }, [
      { amount: args.amount, reason: args.reason, sourceKey: args.sourceKey, note: args.note, grantId },
    ]);
    return { applied: true, balance };
  }
  const removing = -args.amount;
  requireSpendable(current, removing, `Cannot remove ${removing} tokens; the balance is ${current.balance}.`);
  const draw = await drawOrRefuse(ctx, current, removing, (g) => g.category !== "plan_allowance");
  const balance = await commit(
    ctx,
    current,
    {
      ...counters,
      purchased: counters.purchased - draw.expiredTotal - draw.fromOthers,
      allowance: counters.allowance - draw.fromAllowance,
    },
    [
      ...draw.expiryRows,
      { amount: args.amount, reason: args.reason, sourceKey: args.sourceKey, note: args.note, drawnFrom: draw.draws },
    ],
  );
  return { applied: true, balance };
}

/**
 * Expires one grant the sweep found past its `lapsesAt`: what it still held
 * leaves the balance (`grant_expire`, sourceKey `expire:<grant id>`).
 * Returns the tokens expired (0 when it was already expired or empty).
 */
export async function expireLapsedGrant(ctx: MutationCtx, grant: Grant): Promise<number> {
  const current = await ensureBalance(ctx, grant.accountId);
  const amount = await expireGrant(ctx, grant);
  if (amount === 0) return 0;
  const counters = countersOf(current);
  const { entries } = expiryEntries([{ grant, amount }]);
  await commit(ctx, current, { ...counters, purchased: counters.purchased - amount }, entries);
  return amount;
}

/**
 * Audits one account:
 * - the stored balance equals the sum of its ledger, and every row's
 *   `balanceAfter` equals the running sum at that row;
 * - the balance equals the sum of its active grants' `remaining`;
 * - the balance row is consistent (non-negative integers, balance =
 *   allowance + purchased − used − held).
 *
 * Reads the whole ledger of the account, so it is for operators and tests; an
 * account with more rows than one transaction may read (Convex's read limits,
 * https://docs.convex.dev/production/state/limits) needs an offline audit.
 * The daily cron uses `auditBalanceRow`, which reads only the latest ledger
 * row. `problems` lists what failed, empty when `ok`.
 */
export async function checkInvariant(
  ctx: QueryCtx,
  accountId: AccountId,
): Promise<{ ok: boolean; balance: number; ledgerSum: number; grantsSum: number; entries: number; problems: string[] }> {
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
  const audit = row ? await auditBalanceRow(ctx, row, { latestEntry: false }) : { problems: [], grantsSum: 0 };
  problems.push(...audit.problems);
  return { ok: problems.length === 0, balance, ledgerSum, grantsSum: audit.grantsSum, entries, problems };
}

/**
 * The bounded part of the audit, for one balance row: its counters agree,
 * its balance equals its active grants' remaining (at most
 * `MAX_GRANTS_PER_DRAW` grants read) and, with `latestEntry`, the
 * `balanceAfter` of its latest ledger row. Reads 2–3 index ranges.
 */
export async function auditBalanceRow(
  ctx: QueryCtx,
  row: Doc<"tokenBalances">,
  { latestEntry }: { latestEntry: boolean },
): Promise<{ problems: string[]; grantsSum: number }> {
  const problems: string[] = [];
  for (const field of ["allowance", "purchased", "used", "balance"] as const) {
    if (!Number.isSafeInteger(row[field]) || row[field] < 0) {
      problems.push(`${field} ${row[field]} is not a non-negative integer`);
    }
  }
  for (const [field, value] of [["held", heldOf(row)], ["overage", row.overage ?? 0], ["overageHeld", row.overageHeld ?? 0]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) problems.push(`${field} ${value} is not a non-negative integer`);
  }
  const held = heldOf(row);
  if (row.balance !== balanceOf(countersOf(row))) {
    problems.push(
      `balance ${row.balance} ≠ allowance ${row.allowance} + purchased ${row.purchased} − used ${row.used} − held ${held}`,
    );
  }
  let grantsSum = row.balance;
  if (row.grantsVersion === 1) {
    const grants = await activeGrants(ctx, row.accountId, MAX_GRANTS_PER_DRAW + 1);
    grantsSum = grants.reduce((sum, g) => sum + g.remaining, 0);
    if (grants.length > MAX_GRANTS_PER_DRAW) problems.push(`over ${MAX_GRANTS_PER_DRAW} active grants`);
    else if (grantsSum !== row.balance) problems.push(`balance ${row.balance} but active grants hold ${grantsSum}`);
  }
  if (latestEntry) {
    const last = await ctx.db
      .query("tokenLedger")
      .withIndex("by_accountId", (q) => q.eq("accountId", row.accountId))
      .order("desc")
      .first();
    const after = last?.balanceAfter ?? 0;
    if (after !== row.balance) problems.push(`balance ${row.balance} but the latest ledger row says ${after}`);
  }
  return { problems, grantsSum };
}
