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
import { failAccountNotSetUp } from "./model/errors";
import * as ledger from "./model/ledger";
import schema from "./schema";
import {
  checkFeature,
  consumeForAccount,
  EMPTY_PAGE,
  FREE_RESET_BATCH_SIZE,
  MAX_HISTORY_PAGE,
  operatorGrant,
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
    return toBalanceView(await ledger.getBalance(ctx, account._id));
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
 * returns `duplicate: true` and the original cost.
 * Throws `NOT_FOUND` (no account for `ownerKey`), `TIER_REQUIRED` (`tier`),
 * `INSUFFICIENT_TOKENS` (`required`, `available`), `INVALID_ARGUMENT`.
 */
export const consume = mutation({
  args: { ownerKey: v.string(), feature: v.string(), complexity: v.optional(vComplexity), idempotencyKey: v.string() },
  returns: vConsumeResult,
  handler: async (ctx, { ownerKey, ...args }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) failAccountNotSetUp();
    return await consumeForAccount(ctx, account, args);
  },
});

/**
 * The account's ledger, newest first, paginated (at most 100 rows a page):
 * `{ _id, _creationTime, amount, reason, sourceKey, balanceAfter, feature?, note? }`.
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
    return { ...result, page: result.page.map(toHistoryEntry) };
  },
});

/**
 * Operator grant or correction (`npx convex run --component billing
 * tokens:grant '{…}'`, or an app's staff function): `amount` is a
 * non-zero integer (negative removes tokens but never below zero), `reason`
 * is required and stored as the ledger note, `idempotencyKey` makes a repeat
 * a no-op. Returns `{ applied, balance, sourceKey }`.
 */
export const grant = mutation({
  args: {
    accountId: v.id("billingAccounts"),
    amount: v.number(),
    reason: v.string(),
    idempotencyKey: v.optional(v.string()),
  },
  returns: v.object({ applied: v.boolean(), balance: v.number(), sourceKey: v.string() }),
  handler: async (ctx, args) => await operatorGrant(ctx, args),
});

/**
 * Audits one account: balance equals the ledger's sum, every row's
 * `balanceAfter` matches the running sum, allowance/purchased/used agree.
 */
export const checkInvariant = query({
  args: { accountId: v.id("billingAccounts") },
  returns: v.object({
    ok: v.boolean(),
    balance: v.number(),
    ledgerSum: v.number(),
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
