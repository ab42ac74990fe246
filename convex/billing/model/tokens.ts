/**
 * Token rules on top of the ledger: feature costs and tier gates, the
 * caller's consumption, operator grants, and the monthly free-tier reset.
 *
 * Costs come from `plans.ts` (`featureCost`: base cost × complexity
 * multiplier, rounded up; unknown features cost `DEFAULT_FEATURE_COST`).
 * All amounts are integer tokens; all times Convex milliseconds.
 */
import { requireTokensNotFrozen } from "./dunningPolicy";
import type { PaginationResult } from "convex/server";
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { fail } from "./errors";
import * as ledger from "./ledger";
import { activeOverride, tierFromSubscription } from "./access";
import { currentSubscriptionOf } from "./currentSubscription";
import { syncAllowance } from "./allowance";
import { freePeriodSourceKey, monthlyPeriod } from "./periods";
import { featureCost, featureMinTier, OVERAGE_METER, overagePolicy, overageUnitAmount, PLANS, tierRank, type Complexity, type OveragePolicy, type Tier } from "./plans";
import { vGrantCategory, vHoldStatus, vLedgerReason, vTier, type GrantCategory } from "./validators";
import * as holds from "./holds";
import type { HoldView } from "./holds";
import { paginator } from "convex-helpers/server/pagination";
import schema from "../schema";

/** Longest feature name accepted (feature names are short identifiers). */
export const MAX_FEATURE_LENGTH = 100;
/** Longest client idempotency key accepted by `tokens.consume`. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
/** Most ledger rows one `tokens.history` page returns. */
export const MAX_HISTORY_PAGE = 100;
/**
 * Balances the monthly reset (`tokens.resetFreeTier`) handles per mutation;
 * the next batch is scheduled with the cursor. Sized so a batch stays under a
 * quarter of Convex's per-transaction limits
 * (https://docs.convex.dev/production/state/limits: 32,000 documents read,
 * 16,000 written, 4,096 index ranges), measured by `npm run bench`:
 * - a free account: the account, the period-key look-up and the balance
 *   (3 index ranges, 4 documents read), up to 3 writes;
 * - a yearly subscriber opening its next window (`syncAllowance`): the
 *   account, the balance, its paid coverage, the window-key look-up, its
 *   active grants (rollovers ending, `ledger.startPeriod`) and the balance
 *   again (about 7 index ranges), up to 6 writes with a rollover; an
 *   account whose anchor or override needs its subscription costs 1–2
 *   ranges more.
 * At 160 a batch of yearly subscribers carrying rollovers read 1,123 index
 * ranges, over the quarter (1,024); at 110 it stays near 770, and an
 * all-override batch (about 9 ranges each) under 1,024 too.
 */
export const FREE_RESET_BATCH_SIZE = 110;

// ---------------------------------------------------------------------------
// Views returned by public functions
// ---------------------------------------------------------------------------

export const vBalanceView = v.object({
  /** This period's plan allowance. */
  allowance: v.number(),
  /** Tokens from other grants: carried into this period plus granted since. */
  purchased: v.number(),
  /** Consumed this period. */
  used: v.number(),
  /** Reserved by open holds (running jobs). */
  held: v.number(),
  /** Spendable now: allowance + purchased − used − held. */
  remaining: v.number(),
  /**
   * True while dunning freezes the tokens (the account is suspended or
   * restricted, docs/DUNNING.md): `remaining` is kept but no run may spend
   * it until the overdue invoice is paid. Absent otherwise.
   */
  frozen: v.optional(v.boolean()),
  /** Used this period beyond the balance under the plan's overage policy (billed as overage). */
  overage: v.number(),
  /**
   * What `overage` will be billed, estimated at the meter price: minor units
   * of `overageCurrency`. Stripe bills the reported usage on the invoice at
   * the end of the subscription's billing period. Present when `overage` > 0.
   */
  overageAmount: v.optional(v.number()),
  overageCurrency: v.optional(v.string()),
  /**
   * The period's overage limit (the spend cap: no run goes past it) while
   * the account may run into overage now (plan policy and an active
   * subscription with the metered price); absent when overage is blocked.
   */
  overageCap: v.optional(v.number()),
  periodEnd: v.union(v.number(), v.null()),
});
export type BalanceView = Infer<typeof vBalanceView>;

export const vCheckResult = v.object({
  allowed: v.boolean(),
  cost: v.number(),
  remaining: v.number(),
  /** Allowed under the plan's overage policy: tokens of `cost` beyond the balance, billed as overage. */
  overage: v.optional(v.number()),
  /** What that overage costs, minor units of `currency` (the plan's overage price). */
  overageAmount: v.optional(v.number()),
  currency: v.optional(v.string()),
  reason: v.union(
    v.literal("ok"),
    v.literal("insufficient_tokens"),
    v.literal("tier_required"),
    v.literal("signed_out"),
  ),
  requiredTier: v.optional(vTier),
});
export type CheckResult = Infer<typeof vCheckResult>;

export const vConsumeResult = v.object({
  cost: v.number(),
  remaining: v.number(),
  /** Tokens of `cost` used beyond the balance under the overage policy (0 when blocked or covered). */
  overage: v.number(),
  duplicate: v.boolean(),
});
export type ConsumeResult = Infer<typeof vConsumeResult>;

export const vHistoryEntry = v.object({
  _id: v.id("tokenLedger"),
  _creationTime: v.number(),
  amount: v.number(),
  reason: vLedgerReason,
  sourceKey: v.string(),
  balanceAfter: v.number(),
  feature: v.optional(v.string()),
  note: v.optional(v.string()),
  /** A debit or return: the grants it drew on (or credited), in draw order. */
  drawnFrom: v.optional(v.array(v.object({ grantId: v.string(), amount: v.number(), category: vGrantCategory }))),
});
export type HistoryEntry = Infer<typeof vHistoryEntry>;

/**
 * The balance as the customer sees it. `account` decides the overage cap
 * shown (its plan's, while overage is billable) — the cap for any feature
 * that doesn't opt out. `currency` is the one the account is billed in
 * (`model/currency.ts`; default `account.currency`, else USD): the overage
 * amount is estimated at the metered price's unit amount in it.
 */
export function toBalanceView(
  balance: Doc<"tokenBalances"> | null,
  account: Doc<"billingAccounts"> | null,
  currency: string | null = account?.currency ?? null,
): BalanceView {
  const policy = account?.overageBillable ? PLANS[effectiveTier(account)].overage : null;
  const cap = policy ? { overageCap: policy.capTokens } : {};
  const frozen = account?.dunningStage === "suspended" || account?.dunningStage === "restricted" ? { frozen: true } : {};
  if (!balance) return { allowance: 0, purchased: 0, used: 0, held: 0, remaining: 0, overage: 0, periodEnd: null, ...cap, ...frozen };
  const overage = balance.overage ?? 0;
  return {
    allowance: balance.allowance,
    purchased: balance.purchased,
    used: balance.used,
    held: ledger.heldOf(balance),
    remaining: balance.balance,
    overage,
    // Every plan's overage is billed at the one metered price (`OVERAGE_METER`),
    // in the account's currency (its `currency_options`).
    ...(overage > 0 ? overageEstimate(overage, currency) : {}),
    ...cap,
    ...frozen,
    periodEnd: balance.periodEnd ?? null,
  };
}

/** `overage` tokens at the metered price in `currency` (minor units), USD when it is not sold in it. */
function overageEstimate(overage: number, currency: string | null): { overageAmount: number; overageCurrency: string } {
  const unit = currency ? overageUnitAmount(currency) : null;
  if (currency && unit !== null) return { overageAmount: overage * unit, overageCurrency: currency };
  return { overageAmount: overage * OVERAGE_METER.price.unitAmount, overageCurrency: OVERAGE_METER.price.currency };
}

/**
 * A ledger row as history shows it, with the category of each grant it drew
 * on (`categories`: grant id → category, read once per page).
 */
export function toHistoryEntry(row: Doc<"tokenLedger">, categories: Map<string, GrantCategory>): HistoryEntry {
  return {
    _id: row._id,
    _creationTime: row._creationTime,
    amount: row.amount,
    reason: row.reason,
    sourceKey: row.sourceKey,
    balanceAfter: row.balanceAfter,
    feature: row.feature,
    // A period grant stores no note when it equals its key (`ledger.startPeriod`).
    note: row.note ?? (row.reason === "period_grant" ? row.sourceKey : undefined),
    drawnFrom: row.drawnFrom?.map((d) => ({
      grantId: d.grantId,
      amount: d.amount,
      category: categories.get(d.grantId) ?? "purchased",
    })),
  };
}

/** The categories of the grants `rows` drew on: one read per distinct grant. */
export async function grantCategories(ctx: QueryCtx, rows: Doc<"tokenLedger">[]): Promise<Map<string, GrantCategory>> {
  const categories = new Map<string, GrantCategory>();
  for (const row of rows) {
    for (const draw of row.drawnFrom ?? []) {
      if (categories.has(draw.grantId)) continue;
      const grant = await ctx.db.get("tokenGrants", draw.grantId);
      if (grant) categories.set(draw.grantId, grant.category);
    }
  }
  return categories;
}

/** Most grants `tokens.grants` lists (active ones, in draw order). */
export const MAX_GRANTS_LISTED = 100;

export const vGrantView = v.object({
  grantId: v.string(),
  category: vGrantCategory,
  amount: v.number(),
  remaining: v.number(),
  startsAt: v.number(),
  expiresAt: v.union(v.number(), v.null()),
  priority: v.number(),
  note: v.optional(v.string()),
});
export type GrantView = Infer<typeof vGrantView>;

export function toGrantView(grant: Doc<"tokenGrants">): GrantView {
  return {
    grantId: grant._id,
    category: grant.category,
    amount: grant.amount,
    remaining: grant.remaining,
    startsAt: grant.startsAt,
    expiresAt: grant.expiresAt ?? null,
    priority: grant.priority,
    note: grant.note,
  };
}

export const EMPTY_PAGE: PaginationResult<HistoryEntry> = { page: [], isDone: true, continueCursor: "" };

// ---------------------------------------------------------------------------
// Costs and gates
// ---------------------------------------------------------------------------

/**
 * The tier the account may use now: a staff override wins, as in the access
 * policy, until its `tierOverrideUntil` (ms); past it, before the scheduled
 * lapse has run, the tier without the override (`tierWithoutOverride`).
 */
export function effectiveTier(account: Doc<"billingAccounts">): Tier {
  if (account.tierOverride === undefined) return account.tier;
  const override = activeOverride(account, Date.now());
  return override ?? account.tierWithoutOverride ?? account.tier;
}

function requireFeature(feature: string) {
  if (feature.length === 0 || feature.length > MAX_FEATURE_LENGTH) {
    fail("INVALID_ARGUMENT", `feature must be 1 to ${MAX_FEATURE_LENGTH} characters.`);
  }
}

/**
 * Whether `account` may use `feature` now, and what it costs. `null` account
 * means signed out. Order of reasons: signed out, tier, then tokens, so the
 * client shows an upgrade prompt before a top-up prompt.
 * Throws `INVALID_ARGUMENT` for an empty or over-long feature name.
 */
export function checkFeature(
  account: Doc<"billingAccounts"> | null,
  balance: Doc<"tokenBalances"> | null,
  feature: string,
  complexity: Complexity | undefined,
): CheckResult {
  requireFeature(feature);
  const cost = featureCost(feature, complexity);
  if (!account) return { allowed: false, cost, remaining: 0, reason: "signed_out" };
  const remaining = balance?.balance ?? 0;
  const requiredTier = featureMinTier(feature);
  if (tierRank(effectiveTier(account)) < tierRank(requiredTier)) {
    return { allowed: false, cost, remaining, reason: "tier_required", requiredTier };
  }
  if (remaining >= cost) return { allowed: true, cost, remaining, reason: "ok" };
  const policy = accountOveragePolicy(account, feature);
  const overage = cost - remaining;
  if (!policy || !balance || overage > ledger.overageRoom(ledger.countersOf(balance), policy.capTokens)) {
    return { allowed: false, cost, remaining, reason: "insufficient_tokens" };
  }
  // Priced in the account's billed currency when mirrored (`account.currency`), else the policy's.
  const { overageAmount, overageCurrency } = overageEstimate(overage, account.currency ?? policy.currency);
  return { allowed: true, cost, remaining, reason: "ok", overage, overageAmount, currency: overageCurrency };
}

/**
 * Debits one use of `feature` from the account, idempotently by the client's
 * `idempotencyKey` (ledger sourceKey `consume:<key>`). A repeated key returns
 * `duplicate: true` with the cost originally debited and debits nothing, even
 * if the tier or the price changed since.
 * Throws `INVALID_ARGUMENT` (key not 1–200 characters, bad feature),
 * `ACCOUNT_SUSPENDED` / `ACCOUNT_RESTRICTED` (tokens frozen by dunning,
 * `model/dunningPolicy.ts`), `TIER_REQUIRED` (`tier`: the tier needed), `INSUFFICIENT_TOKENS`
 * (`required`, `available`), `MEMBER_CAP_REACHED` (with `memberKey`: the
 * member's per-period cap, `model/memberUsage.ts`).
 */
export async function consumeForAccount(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  args: { feature: string; complexity?: Complexity; idempotencyKey: string; memberKey?: string },
): Promise<ConsumeResult> {
  requireFeature(args.feature);
  requireIdempotencyKey(args.idempotencyKey);
  requireTokensNotFrozen(account);
  const sourceKey = `consume:${args.idempotencyKey}`;
  if (!tierAllows(account, args.feature)) {
    // A key debited before a downgrade is still a duplicate, not a refusal.
    const previous = await ledger.findEntry(ctx, account._id, sourceKey);
    if (previous) {
      const balance = await ledger.getBalance(ctx, account._id);
      const overage = previous.overage ?? 0;
      return { cost: overage - previous.amount, remaining: balance?.balance ?? 0, overage, duplicate: true };
    }
    failTierRequired(args.feature);
  }
  // `ledger.consume` owns idempotency: a repeated key debits nothing and
  // returns the cost first debited.
  const result = await ledger.consume(ctx, account._id, {
    sourceKey,
    cost: featureCost(args.feature, args.complexity),
    feature: args.feature,
    complexity: args.complexity,
    overageCap: overageCapFor(account, args.feature),
    memberKey: args.memberKey,
  });
  return { cost: result.cost, remaining: result.remaining, overage: result.overage, duplicate: !result.applied };
}

function requireIdempotencyKey(key: string) {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    fail("INVALID_ARGUMENT", `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
  }
}

function tierAllows(account: Doc<"billingAccounts">, feature: string): boolean {
  return tierRank(effectiveTier(account)) >= tierRank(featureMinTier(feature));
}

function failTierRequired(feature: string): never {
  const requiredTier = featureMinTier(feature);
  fail("TIER_REQUIRED", `${PLANS[requiredTier].name} or higher is needed for this feature.`, { tier: requiredTier });
}

export const vHoldView = v.object({
  holdId: v.id("tokenHolds"),
  status: vHoldStatus,
  amount: v.number(),
  expiresAt: v.number(),
  remaining: v.number(),
  duplicate: v.boolean(),
});

export const vSettleResult = v.object({
  charged: v.number(),
  returned: v.number(),
  /** Of `charged`, tokens beyond the balance recorded as overage. */
  overage: v.number(),
  shortfall: v.number(),
  remaining: v.number(),
  duplicate: v.boolean(),
});

export const vReleaseResult = v.object({ returned: v.number(), remaining: v.number(), duplicate: v.boolean() });

/**
 * Reserves tokens for one run of `feature` (`model/holds.ts`), atomically
 * with the tier check. `estimate` defaults to the feature's price at
 * `complexity`; only server code passes its own. `ttlMs` defaults to 10
 * minutes (10 s to 24 h). The same `idempotencyKey` (1–200 characters)
 * returns the same hold.
 * Throws `TIER_REQUIRED` (`tier`), `INSUFFICIENT_TOKENS` (`required`,
 * `available`), `INVALID_ARGUMENT`, `ACCOUNT_SUSPENDED` / `ACCOUNT_RESTRICTED`
 * (tokens frozen by dunning).
 */
export async function reserveForAccount(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  args: { feature: string; complexity?: Complexity; estimate?: number; idempotencyKey: string; ttlMs?: number; memberKey?: string },
): Promise<HoldView> {
  requireFeature(args.feature);
  requireIdempotencyKey(args.idempotencyKey);
  requireTokensNotFrozen(account);
  if (!tierAllows(account, args.feature)) failTierRequired(args.feature);
  return await holds.reserve(ctx, account._id, {
    feature: args.feature,
    complexity: args.complexity,
    amount: args.estimate ?? featureCost(args.feature, args.complexity),
    idempotencyKey: args.idempotencyKey,
    ttlMs: args.ttlMs,
    overageCap: overageCapFor(account, args.feature),
    memberKey: args.memberKey,
  });
}

/**
 * The overage policy a debit of `feature` runs under: the plan's
 * (`plans.overagePolicy`), and only while Stripe can bill it
 * (`account.overageBillable`: an active subscription carrying the metered
 * overage item). `null` = block.
 */
export function accountOveragePolicy(account: Doc<"billingAccounts">, feature: string): OveragePolicy | null {
  return account.overageBillable ? overagePolicy(effectiveTier(account), feature) : null;
}

/** The overage room a debit of `feature` may use on the account (0 = block; see `accountOveragePolicy`). */
export function overageCapFor(account: Doc<"billingAccounts">, feature: string): number {
  return accountOveragePolicy(account, feature)?.capTokens ?? 0;
}

/**
 * An operator's grant (positive) or correction (negative) from the dashboard,
 * recorded as `admin_grant` with `reason` as the note, or, with `category:
 * "promotional"`, a `promotional_grant` (positive only). A positive grant may
 * carry `expiresAt` (ms, in the future) and a draw `priority` (lower first;
 * default `DEFAULT_GRANT_PRIORITY`). With `idempotencyKey` the ledger key is
 * `admin:<key>` and a repeat is a no-op; without one, every call is a new
 * grant.
 * Throws `NOT_FOUND` (no such account), `INVALID_ARGUMENT` (empty reason,
 * amount not a non-zero integer, a negative promotional grant, a past
 * expiry), `INSUFFICIENT_TOKENS` (a correction larger than the balance).
 */
export async function operatorGrant(
  ctx: MutationCtx,
  args: {
    accountId: Id<"billingAccounts">;
    amount: number;
    reason: string;
    idempotencyKey?: string;
    category?: "admin" | "promotional";
    expiresAt?: number;
    priority?: number;
  },
): Promise<{ applied: boolean; balance: number; sourceKey: string }> {
  const reason = args.reason.trim();
  if (reason.length === 0) fail("INVALID_ARGUMENT", "A reason is required for a grant.");
  if (args.idempotencyKey !== undefined && args.idempotencyKey.length === 0) {
    fail("INVALID_ARGUMENT", "idempotencyKey must not be empty.");
  }
  const account = await ctx.db.get("billingAccounts", args.accountId);
  if (!account) fail("NOT_FOUND", "No such billing account.");
  // Without a key every call must be a new grant. Convex seeds Math.random per
  // function execution (https://docs.convex.dev/functions/runtimes), so time
  // plus a random suffix does not collide with an earlier call's key.
  const sourceKey =
    args.idempotencyKey !== undefined
      ? `admin:${args.idempotencyKey}`
      : `admin:auto:${Date.now()}:${Math.random().toString(36).slice(2, 12)}`;
  if (args.amount < 0 && (args.category === "promotional" || args.expiresAt !== undefined || args.priority !== undefined)) {
    fail("INVALID_ARGUMENT", "A correction (negative amount) takes no category, expiry or priority.");
  }
  const result = await ledger.grant(ctx, account._id, {
    sourceKey,
    amount: args.amount,
    reason: args.category === "promotional" ? "promotional_grant" : "admin_grant",
    note: reason,
    expiresAt: args.expiresAt,
    priority: args.priority,
  });
  return { ...result, sourceKey };
}

// ---------------------------------------------------------------------------
// Free tier
// ---------------------------------------------------------------------------

/**
 * Grants `tier`'s allowance for the UTC month containing `now` (sourceKey
 * `period:<tier>:YYYY-MM`, e.g. `period:free:2026-11`), expiring the unused
 * allowance of the previous period. A second call in the same month is a
 * no-op. `now` is Convex ms.
 */
export async function startMonthlyPeriod(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  tier: Tier,
  now: number,
): Promise<{ applied: boolean }> {
  const period = monthlyPeriod(tier, now);
  return await ledger.startPeriod(ctx, accountId, {
    sourceKey: freePeriodSourceKey(period),
    tokens: PLANS[tier].tokensPerPeriod,
    ...period,
  });
}

/** The free tier's `startMonthlyPeriod`. */
export async function startFreePeriod(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  now: number,
): Promise<{ applied: boolean }> {
  return await startMonthlyPeriod(ctx, accountId, "free", now);
}

/**
 * The tier whose monthly allowance the reset grants the account, or null
 * when its periods start with Stripe invoices (`invoice.paid`) instead:
 * `free` accounts get the free allowance; an account on a staff
 * `tierOverride` whose Stripe subscription grants no paid tier (staff,
 * comped accounts) gets the override tier's allowance; a subscriber is
 * skipped.
 */
async function monthlyTierOf(ctx: MutationCtx, account: Doc<"billingAccounts">, now: number): Promise<Tier | null> {
  const tier = effectiveTier(account);
  if (tier === "free") return "free";
  if (account.tierOverride === undefined) return null;
  const subscription = await currentSubscriptionOf(ctx, account);
  return tierFromSubscription(subscription, now) === "free" ? tier : null;
}

export type FreeResetBatch = {
  /** Balances whose period had ended, read in this batch. */
  processed: number;
  /** Free accounts that got the new month's allowance. */
  granted: number;
  /** Subscribers whose next paid window opened here (a yearly plan's monthly allowance). */
  windowsOpened: number;
  /** Subscribers left alone: their next window is not paid for yet (an unpaid renewal). */
  skippedPaid: number;
  /** True when this was the last batch. */
  isDone: boolean;
  /** Cursor for the next batch, when not done. */
  continueCursor: string | null;
};

/**
 * One batch of the monthly free-tier reset: reads up to `batchSize` balances
 * whose `periodEnd` ≤ `now` (index `by_periodEnd`) from `cursor` and starts
 * the current UTC month's period for those on the free tier, and for
 * override accounts without a paying subscription at their override tier
 * (see `monthlyTierOf`). For subscribers it opens the next monthly window
 * when it is paid for (`model/allowance.ts`): the monthly allowance of a
 * yearly plan, or a renewal whose `invoice.paid` came before its window;
 * unpaid ones are left alone (`skippedPaid`).
 *
 * Safe to re-run and to overlap with another run: the grant is idempotent by
 * its sourceKey, and a reset account's `periodEnd` moves past `now`, out of
 * the range being paged.
 */
export async function resetFreeTierBatch(
  ctx: MutationCtx,
  args: { now: number; cursor: string | null; batchSize: number },
): Promise<FreeResetBatch> {
  // No lower bound: a balance without a period (`periodEnd` undefined sorts
  // before every number in Convex's index order) is due too.
  const page = await paginator(ctx.db, schema)
    .query("tokenBalances")
    .withIndex("by_periodEnd", (q) => q.lte("periodEnd", args.now))
    .paginate({ cursor: args.cursor, numItems: args.batchSize });
  let granted = 0;
  let windowsOpened = 0;
  let skippedPaid = 0;
  for (const balance of page.page) {
    const account = await ctx.db.get("billingAccounts", balance.accountId);
    if (!account) continue;
    const tier = await monthlyTierOf(ctx, account, args.now);
    if (tier === null) {
      const synced = await syncAllowance(ctx, account._id, args.now, `cron:${args.now}`);
      if (synced.outcome === "opened") windowsOpened += 1;
      else skippedPaid += 1;
      continue;
    }
    const { applied } = await startMonthlyPeriod(ctx, account._id, tier, args.now);
    if (applied) granted += 1;
  }
  return {
    processed: page.page.length,
    granted,
    windowsOpened,
    skippedPaid,
    isDone: page.isDone,
    continueCursor: page.isDone ? null : page.continueCursor,
  };
}
