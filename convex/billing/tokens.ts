/**
 * Tokens: an account's balance, cost checks, consumption and history, the
 * operator grant and invariant audit (public to the app, which resolves the
 * `ownerKey` from its verified caller), and the free-tier reset cron
 * (internal). Logic lives in `model/tokens.ts` and `model/ledger.ts`;
 * amounts are integer tokens, times Convex ms.
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import { internal } from "./_generated/api";
import { internalMutation, mutation, query } from "./_generated/server";
import { accountByOwnerKey } from "./model/accounts";
import { billedCurrency } from "./model/currency";
import { failAccountNotSetUp } from "./model/errors";
import { activeGrants } from "./model/grants";
import * as holds from "./model/holds";
import * as ledger from "./model/ledger";
import { currentAndPreviousUsage, vUsageView } from "./model/usage";
import schema from "./schema";
import {
  checkFeature,
  consumeForAccount,
  EMPTY_PAGE,
  FREE_RESET_BATCH_SIZE,
  grantCategories,
  MAX_GRANTS_LISTED,
  reserveForAccount,
  toGrantView,
  vGrantView,
  vHoldView,
  vReleaseResult,
  vSettleResult,
  MAX_HISTORY_PAGE,
  operatorGrant,
  overageCapFor,
  resetFreeTierBatch,
  toBalanceView,
  toHistoryEntry,
  vBalanceView,
  vCheckResult,
  vConsumeResult,
  vHistoryEntry,
} from "./model/tokens";
import { vComplexity } from "./model/validators";

/**
 * The account's tokens: `{ allowance, purchased, used, remaining, periodEnd }`
 * (`periodEnd` in ms, `null` before any period), or `null` when `ownerKey`
 * has no account.
 */
export const balance = query({
  args: { ownerKey: v.string() },
  returns: v.union(v.null(), vBalanceView),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    const tokens = await ledger.getBalance(ctx, account._id);
    // The overage estimate's currency; invoices are read only when there is overage to price.
    const currency = tokens?.overage ? await billedCurrency(ctx, account) : null;
    return toBalanceView(tokens, account, currency);
  },
});

/**
 * Whether the account may use `feature` at `complexity` (default `medium`)
 * now: `{ allowed, cost, remaining, reason, requiredTier? }`, `reason` one of
 * `ok`, `insufficient_tokens`, `tier_required` (with `requiredTier`),
 * `signed_out` (`ownerKey` null or without an account). Throws
 * `INVALID_ARGUMENT` for an empty or over-long feature.
 */
export const check = query({
  args: { ownerKey: v.union(v.string(), v.null()), feature: v.string(), complexity: v.optional(vComplexity) },
  returns: vCheckResult,
  handler: async (ctx, args) => {
    const account = args.ownerKey === null ? null : await accountByOwnerKey(ctx, args.ownerKey);
    const row = account ? await ledger.getBalance(ctx, account._id) : null;
    return checkFeature(account, row, args.feature, args.complexity);
  },
});

/**
 * Debits one use of `feature` at `complexity` from the account's tokens,
 * atomically with the tier check. Returns `{ cost, remaining, duplicate }`;
 * the same `idempotencyKey` (1–200 characters) debits once, and a repeat
 * returns `duplicate: true` and the original cost. With `memberKey` the
 * debit counts in that member's usage this period (`memberUsage.list`) and is
 * refused past their cap.
 * Throws `NOT_FOUND` (no account for `ownerKey`), `TIER_REQUIRED` (`tier`),
 * `INSUFFICIENT_TOKENS` (`required`, `available`), `MEMBER_CAP_REACHED`
 * (`required`, `available`, `cap`), `INVALID_ARGUMENT`.
 */
export const consume = mutation({
  args: {
    ownerKey: v.string(),
    feature: v.string(),
    complexity: v.optional(vComplexity),
    idempotencyKey: v.string(),
    /** The organisation member spending (`user:<id>`), resolved by the app from the verified caller. */
    memberKey: v.optional(v.string()),
  },
  returns: vConsumeResult,
  handler: async (ctx, { ownerKey, ...args }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) failAccountNotSetUp();
    return await consumeForAccount(ctx, account, args);
  },
});

/**
 * The account's ledger, newest first, paginated (at most 100 rows a page):
 * `{ _id, _creationTime, amount, reason, sourceKey, balanceAfter, feature?,
 * note?, drawnFrom? }`, `drawnFrom` naming the grants (id, tokens,
 * category) a debit drew on or a return credited.
 * No account for `ownerKey`: an empty, finished page. Paged with
 * convex-helpers `paginator` (components cannot use `.paginate()`); a page
 * ends where `paginationOpts.endCursor` says when given.
 */
export const history = query({
  args: { ownerKey: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vHistoryEntry),
  handler: async (ctx, args) => {
    const account = await accountByOwnerKey(ctx, args.ownerKey);
    if (!account) return EMPTY_PAGE;
    const accountId = account._id;
    const numItems = Math.min(Math.max(1, Math.floor(args.paginationOpts.numItems)), MAX_HISTORY_PAGE);
    const result = await paginator(ctx.db, schema)
      .query("tokenLedger")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .order("desc")
      .paginate({ ...args.paginationOpts, numItems });
    const categories = await grantCategories(ctx, result.page);
    return { ...result, page: result.page.map((row) => toHistoryEntry(row, categories)) };
  },
});

/**
 * Operator grant or correction (`npx convex run --component billing
 * tokens:grant '{…}'`, or an app's staff function): `amount` is a
 * non-zero integer (negative removes tokens but never below zero), `reason`
 * is required and stored as the ledger note, `idempotencyKey` makes a repeat
 * a no-op. A positive grant may be `promotional` and may carry `expiresAt`
 * (ms) and `priority`. Returns `{ applied, balance, sourceKey }`; errors as
 * `operatorGrant` in `model/tokens.ts`.
 */
export const grant = mutation({
  args: {
    accountId: v.id("billingAccounts"),
    amount: v.number(),
    reason: v.string(),
    idempotencyKey: v.optional(v.string()),
    /** `promotional` records a `promotional_grant` (drawn before paid tokens); default `admin`. */
    category: v.optional(v.union(v.literal("admin"), v.literal("promotional"))),
    /** ms; absent = never expires. */
    expiresAt: v.optional(v.number()),
    /** Draw priority, lower first (default 100). */
    priority: v.optional(v.number()),
  },
  returns: v.object({ applied: v.boolean(), balance: v.number(), sourceKey: v.string() }),
  handler: async (ctx, args) => await operatorGrant(ctx, args),
});

/**
 * Audits one account: balance equals the ledger's sum and its active
 * grants' remaining, every row's `balanceAfter` matches the running sum,
 * allowance/purchased/used/held agree.
 */
export const checkInvariant = query({
  args: { accountId: v.id("billingAccounts") },
  returns: v.object({
    ok: v.boolean(),
    balance: v.number(),
    ledgerSum: v.number(),
    grantsSum: v.number(),
    entries: v.number(),
    problems: v.array(v.string()),
  }),
  handler: async (ctx, args) => await ledger.checkInvariant(ctx, args.accountId),
});

/**
 * Cron (`crons.ts`, hourly): starts the current UTC month's allowance for
 * every account whose period has ended and whose periods are not paid
 * through Stripe (free accounts; staff/comped `tierOverride` accounts at
 * their override tier), and opens subscribers' next monthly window when it
 * is paid for (yearly plans get their allowance monthly), `FREE_RESET_BATCH_SIZE`
 * balances per run, scheduling itself with the cursor for the next batch.
 * `now` (ms) is fixed by the first batch so every batch pages the same range;
 * omit `cursor` and `now` to start a run.
 */
export const resetFreeTier = internalMutation({
  args: { cursor: v.optional(v.string()), now: v.optional(v.number()) },
  returns: v.object({
    processed: v.number(),
    granted: v.number(),
    windowsOpened: v.number(),
    skippedPaid: v.number(),
    isDone: v.boolean(),
  }),
  handler: async (ctx, args) => {
    const now = args.now ?? Date.now();
    const batch = await resetFreeTierBatch(ctx, {
      now,
      cursor: args.cursor ?? null,
      batchSize: FREE_RESET_BATCH_SIZE,
    });
    if (batch.continueCursor !== null) {
      await ctx.scheduler.runAfter(0, internal.tokens.resetFreeTier, { cursor: batch.continueCursor, now });
    }
    return {
      processed: batch.processed,
      granted: batch.granted,
      windowsOpened: batch.windowsOpened,
      skippedPaid: batch.skippedPaid,
      isDone: batch.isDone,
    };
  },
});

/**
 * The account's active grants in draw order (at most 100): `{ grantId,
 * category, amount, remaining, startsAt, expiresAt, priority, note? }`,
 * times in ms, `expiresAt` null when it never expires. Empty when
 * `ownerKey` has no account.
 */
export const grants = query({
  args: { ownerKey: v.string() },
  returns: v.array(vGrantView),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return [];
    return (await activeGrants(ctx, account._id, MAX_GRANTS_LISTED)).map(toGrantView);
  },
});

/**
 * Reserves tokens for a run of `feature` (see `model/holds.ts`): they leave
 * the spendable balance at once. `estimate` defaults to the feature's price
 * at `complexity`; an app passes its own only from server code it trusts.
 * `ttlMs` (10 s – 24 h, default 10 min) is how long until the hold cron
 * returns the tokens if the hold is neither settled nor released. The same
 * `idempotencyKey` returns the same hold (`duplicate: true`).
 * Returns `{ holdId, status, amount, expiresAt, remaining, duplicate }`.
 * Throws `NOT_FOUND` (no account), `TIER_REQUIRED` (`tier`),
 * `INSUFFICIENT_TOKENS` (`required`, `available`), `MEMBER_CAP_REACHED`
 * (with `memberKey`), `INVALID_ARGUMENT`.
 */
export const reserve = mutation({
  args: {
    ownerKey: v.string(),
    feature: v.string(),
    complexity: v.optional(vComplexity),
    estimate: v.optional(v.number()),
    idempotencyKey: v.string(),
    ttlMs: v.optional(v.number()),
    /** The organisation member reserving (`user:<id>`), resolved by the app: the hold counts against their cap. */
    memberKey: v.optional(v.string()),
  },
  returns: vHoldView,
  handler: async (ctx, { ownerKey, ...args }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) failAccountNotSetUp();
    return await reserveForAccount(ctx, account, args);
  },
});

/**
 * Settles a hold at `actual` tokens (default: what was reserved), exactly
 * once: less returns the rest, more draws the extra if the balance covers
 * it, then as overage within the plan's overage room; the rest is
 * `shortfall`, not charged. A repeat returns the first result with
 * `duplicate: true`. An expired hold is charged afresh.
 * Returns `{ charged, returned, overage, shortfall, remaining, duplicate }`.
 * Throws `NOT_FOUND` (no account, or not this account's hold),
 * `HOLD_CLOSED` (released), `INVALID_ARGUMENT`.
 */
export const settle = mutation({
  args: { ownerKey: v.string(), holdId: v.string(), actual: v.optional(v.number()) },
  returns: vSettleResult,
  handler: async (ctx, { ownerKey, holdId, actual }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) failAccountNotSetUp();
    const hold = await holds.requireHold(ctx, account._id, holdId);
    return await holds.settle(ctx, hold, actual, overageCapFor(account, hold.feature));
  },
});

/**
 * Releases a hold: everything reserved goes back (to grants that have not
 * expired since). A repeat, or a hold already expired, returns
 * `duplicate: true`. Returns `{ returned, remaining, duplicate }`.
 * Throws `NOT_FOUND`, `HOLD_CLOSED` (already settled).
 */
export const release = mutation({
  args: { ownerKey: v.string(), holdId: v.string() },
  returns: vReleaseResult,
  handler: async (ctx, { ownerKey, holdId }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) failAccountNotSetUp();
    return await holds.release(ctx, await holds.requireHold(ctx, account._id, holdId));
  },
});

/**
 * Grants the expiry sweep handles per mutation: measured 4 reads (a patch
 * counts as one), up to 5 writes and 3 index ranges each when the expiry
 * crosses the low-balance alert, which now also notifies (docs/BENCHMARKS.md).
 */
export const GRANT_EXPIRY_BATCH_SIZE = 250;
/** Holds the hold cron releases per mutation: a few reads and writes per drawn grant each. */
export const HOLD_EXPIRY_BATCH_SIZE = 200;
/** Balances the daily audit checks per mutation: 3 index ranges and a few reads each. */
export const AUDIT_BATCH_SIZE = 200;

/**
 * Cron: expires grants past their `lapsesAt` (`grant_expire` ledger rows),
 * `GRANT_EXPIRY_BATCH_SIZE` per run, scheduling itself while more are due.
 */
export const expireGrants = internalMutation({
  args: {},
  returns: v.object({ expired: v.number(), tokens: v.number(), more: v.boolean() }),
  handler: async (ctx) => {
    const now = Date.now();
    const due = await ctx.db
      .query("tokenGrants")
      .withIndex("by_lapsesAt", (q) => q.gte("lapsesAt", 0).lte("lapsesAt", now))
      .take(GRANT_EXPIRY_BATCH_SIZE);
    let tokens = 0;
    for (const grant of due) tokens += await ledger.expireLapsedGrant(ctx, grant);
    const more = due.length === GRANT_EXPIRY_BATCH_SIZE;
    if (more) await ctx.scheduler.runAfter(0, internal.tokens.expireGrants, {});
    return { expired: due.length, tokens, more };
  },
});

/**
 * Cron: releases holds still open after their TTL (status `expired`),
 * `HOLD_EXPIRY_BATCH_SIZE` per run, scheduling itself while more are due.
 */
export const expireHolds = internalMutation({
  args: {},
  returns: v.object({ released: v.number(), more: v.boolean() }),
  handler: async (ctx) => {
    const due = await ctx.db
      .query("tokenHolds")
      .withIndex("by_status_and_expiresAt", (q) => q.eq("status", "open").lte("expiresAt", Date.now()))
      .take(HOLD_EXPIRY_BATCH_SIZE);
    for (const hold of due) await holds.release(ctx, hold, "expired");
    const more = due.length === HOLD_EXPIRY_BATCH_SIZE;
    if (more) await ctx.scheduler.runAfter(0, internal.tokens.expireHolds, {});
    return { released: due.length, more };
  },
});

/**
 * Cron (daily): audits every balance in batches (`ledger.auditBalanceRow`:
 * counters agree, balance = active grants' remaining = the latest ledger
 * row's `balanceAfter`) and records each account that drifted in
 * `tokenDrift`, logged as an error. `now` (ms) is fixed by the first batch.
 */
export const auditBalances = internalMutation({
  args: { cursor: v.optional(v.string()), now: v.optional(v.number()) },
  returns: v.object({ checked: v.number(), drifted: v.number(), isDone: v.boolean() }),
  handler: async (ctx, args) => {
    const now = args.now ?? Date.now();
    const page = await paginator(ctx.db, schema)
      .query("tokenBalances")
      .paginate({ cursor: args.cursor ?? null, numItems: AUDIT_BATCH_SIZE });
    let drifted = 0;
    for (const row of page.page) {
      const { problems } = await ledger.auditBalanceRow(ctx, row, { latestEntry: true });
      if (problems.length === 0) continue;
      drifted += 1;
      console.error(`token balance drift on account ${row.accountId}: ${problems.join("; ")}`);
      await ctx.db.insert("tokenDrift", { accountId: row.accountId, detectedAt: now, problems });
    }
    if (!page.isDone) await ctx.scheduler.runAfter(0, internal.tokens.auditBalances, { cursor: page.continueCursor, now });
    return { checked: page.page.length, drifted, isDone: page.isDone };
  },
});

/**
 * Operators: accounts the daily audit found drifting, newest first (at
 * most `limit`, default 50, up to 200): `{ accountId, detectedAt, problems }`.
 */
export const drift = query({
  args: { limit: v.optional(v.number()) },
  returns: v.array(v.object({ accountId: v.id("billingAccounts"), detectedAt: v.number(), problems: v.array(v.string()) })),
  handler: async (ctx, args) => {
    const limit = Math.min(Math.max(1, Math.floor(args.limit ?? 50)), 200);
    const rows = await ctx.db.query("tokenDrift").withIndex("by_detectedAt").order("desc").take(limit);
    return rows.map((r) => ({ accountId: r.accountId, detectedAt: r.detectedAt, problems: r.problems }));
  },
});

/**
 * Tokens charged per UTC day and feature in the account's current
 * allowance period and the period of the same length before it: `{
 * current, previous }`, each `{ start, end, days: { day: "YYYY-MM-DD",
 * feature, tokens, runs }[] }` (ms; a day split across periods counts in
 * the later one). From the pre-aggregated `tokenUsageDaily` rows, never the
 * ledger. `null` when `ownerKey` has no account.
 */
export const usage = query({
  args: { ownerKey: v.string() },
  returns: v.union(v.null(), vUsageView),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    const row = await ledger.getBalance(ctx, account._id);
    return await currentAndPreviousUsage(ctx, account._id, row, Date.now());
  },
});

const vAlert = v.object({
  alertId: v.string(),
  message: v.string(),
  balance: v.number(),
  firedAt: v.number(),
  /** A link to follow (auto-recharge needing 3-D Secure). */
  actionUrl: v.optional(v.string()),
});
/** Most unread alerts listed or marked read at once. */
const MAX_ALERTS = 20;

/**
 * The account's unread token alerts and auto-recharge notices, newest first
 * (at most 20): `{ alertId, message, balance, firedAt, actionUrl? }` (ms). Empty when `ownerKey` has no account.
 * See `model/alerts.ts`.
 */
export const alerts = query({
  args: { ownerKey: v.string() },
  returns: v.array(vAlert),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return [];
    const rows = await ctx.db
      .query("tokenAlerts")
      .withIndex("by_accountId_and_readAt", (q) => q.eq("accountId", account._id).eq("readAt", undefined))
      .order("desc")
      .take(MAX_ALERTS);
    return rows.map((r) => ({
      alertId: r.alertId,
      message: r.message,
      balance: r.balance,
      firedAt: r._creationTime,
      actionUrl: r.actionUrl,
    }));
  },
});

/** Marks the account's unread token alerts read (up to 20 at a time). Returns how many. */
export const markAlertsRead = mutation({
  args: { ownerKey: v.string() },
  returns: v.number(),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return 0;
    const rows = await ctx.db
      .query("tokenAlerts")
      .withIndex("by_accountId_and_readAt", (q) => q.eq("accountId", account._id).eq("readAt", undefined))
      .take(MAX_ALERTS);
    const now = Date.now();
    for (const row of rows) await ctx.db.patch("tokenAlerts", row._id, { readAt: now });
    return rows.length;
  },
});
