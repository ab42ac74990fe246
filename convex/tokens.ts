/**
 * The client's token API: thin wrappers that resolve the signed-in caller
 * (`functions.ts`) and call the billing component's `tokens` module with
 * the caller's owner key, which documents the rules. The caller's account is
 * their active organisation's or their personal one (`functions.ts`).
 * Members of an organisation spend its tokens and read its balance, ledger
 * and usage; auto-recharge (settings and payments) is admin-only, and
 * members' alerts come without payment links. Operator grants and
 * the invariant audit are the component's (`npx convex run --component
 * billing tokens:grant '{…}'`). Amounts are integer tokens, times Convex ms.
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { components } from "./_generated/api";
import { adminAction, adminQuery, callerMutation, callerQuery } from "./functions";
import { vAutoRechargeView } from "./billing/model/autoRecharge";
import {
  EMPTY_PAGE,
  vBalanceView,
  vCheckResult,
  vConsumeResult,
  vGrantView,
  vHistoryEntry,
  vReleaseResult,
  vSettleResult,
} from "./billing/model/tokens";
import { vUsageView } from "./billing/model/usage";
import { vHoldStatus } from "./billing/model/validators";
import { vComplexity } from "./billing/model/validators";
import { memberKeyOf } from "./model/memberKey";

/** A ledger row as the client sees it: its id is the component's, a string here. */
const vLedgerRow = v.object({ ...vHistoryEntry.fields, _id: v.string() });

/**
 * The caller's tokens: `{ allowance, purchased, used, held, remaining,
 * periodEnd }` (`periodEnd` in ms, `null` before any period; `held` reserved
 * by running jobs), or `null` when signed out.
 */
export const balance = callerQuery({
  args: {},
  returns: v.union(v.null(), vBalanceView),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.tokens.balance, { ownerKey: ctx.caller.ownerKey }) : null,
});

/**
 * Whether the caller may use `feature` at `complexity` (default `medium`) now:
 * `{ allowed, cost, remaining, reason, requiredTier? }`, `reason` one of
 * `ok`, `insufficient_tokens`, `tier_required` (with `requiredTier`),
 * `signed_out`. Throws `INVALID_ARGUMENT` for an empty or over-long feature.
 */
export const check = callerQuery({
  args: { feature: v.string(), complexity: v.optional(vComplexity) },
  returns: vCheckResult,
  handler: async (ctx, args) =>
    await ctx.runQuery(components.billing.tokens.check, { ownerKey: ctx.caller?.ownerKey ?? null, ...args }),
});

/**
 * Debits one use of `feature` at `complexity` from the caller's tokens,
 * atomically with the tier check. Returns `{ cost, remaining, duplicate }`;
 * the same `idempotencyKey` (1–200 characters) debits once, and a repeat
 * returns `duplicate: true` and the original cost.
 * In an organisation the debit counts in the caller's per-member usage
 * (`memberUsage.list`) and is refused past their cap.
 * Throws `UNAUTHENTICATED`, `TIER_REQUIRED` (`tier`), `INSUFFICIENT_TOKENS`
 * (`required`, `available`), `MEMBER_CAP_REACHED` (`required`, `available`,
 * `cap`), `INVALID_ARGUMENT`.
 */
export const consume = callerMutation({
  args: { feature: v.string(), complexity: v.optional(vComplexity), idempotencyKey: v.string() },
  returns: vConsumeResult,
  handler: async (ctx, args) =>
    await ctx.runMutation(components.billing.tokens.consume, {
      ownerKey: ctx.caller.ownerKey,
      // In an organisation, the member spending: counted per member and held to their cap.
      memberKey: memberKeyOf(ctx.caller),
      ...args,
    }),
});

/**
 * The caller's ledger, newest first, paginated (at most 100 rows a page):
 * `{ _id, _creationTime, amount, reason, sourceKey, balanceAfter, feature?,
 * note?, drawnFrom? }` (`drawnFrom`: the grants a debit drew on).
 * Signed out: an empty, finished page.
 */
export const history = callerQuery({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vLedgerRow),
  handler: async (ctx, args) =>
    ctx.caller
      ? await ctx.runQuery(components.billing.tokens.history, { ownerKey: ctx.caller.ownerKey, ...args })
      : EMPTY_PAGE,
});

/**
 * The caller's active grants in draw order (what their balance is made of,
 * with expiries): `{ grantId, category, amount, remaining, startsAt,
 * expiresAt, priority, note? }[]`, times in ms. Signed out: empty.
 */
export const grants = callerQuery({
  args: {},
  returns: v.array(vGrantView),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.tokens.grants, { ownerKey: ctx.caller.ownerKey }) : [],
});

/** A hold as the client sees it: its id is the component's, a string here. */
const vClientHold = v.object({
  holdId: v.string(),
  status: vHoldStatus,
  amount: v.number(),
  expiresAt: v.number(),
  remaining: v.number(),
  duplicate: v.boolean(),
});

/**
 * Reserves one run of `feature` at `complexity` for the caller, at the
 * feature's catalogue price (the client cannot name its own estimate), for
 * `ttlMs` (10 s – 24 h, default 10 min). The same `idempotencyKey` returns
 * the same hold. Returns `{ holdId, status, amount, expiresAt, remaining,
 * duplicate }`. In an organisation the reservation counts against the
 * caller's per-member cap. Throws `UNAUTHENTICATED`, `TIER_REQUIRED` (`tier`),
 * `INSUFFICIENT_TOKENS` (`required`, `available`), `MEMBER_CAP_REACHED`,
 * `INVALID_ARGUMENT`.
 */
export const reserve = callerMutation({
  args: {
    feature: v.string(),
    complexity: v.optional(vComplexity),
    idempotencyKey: v.string(),
    ttlMs: v.optional(v.number()),
  },
  returns: vClientHold,
  handler: async (ctx, args) =>
    await ctx.runMutation(components.billing.tokens.reserve, {
      ownerKey: ctx.caller.ownerKey,
      memberKey: memberKeyOf(ctx.caller),
      ...args,
    }),
});

/**
 * Settles the caller's hold at what was reserved (the client cannot name a
 * smaller amount; server code settles actual usage through the component).
 * A repeat returns the first result with `duplicate: true`. Returns
 * `{ charged, returned, shortfall, remaining, duplicate }`. Throws
 * `UNAUTHENTICATED`, `NOT_FOUND` (not the caller's hold), `HOLD_CLOSED`.
 */
export const settle = callerMutation({
  args: { holdId: v.string() },
  returns: vSettleResult,
  handler: async (ctx, { holdId }) =>
    await ctx.runMutation(components.billing.tokens.settle, { ownerKey: ctx.caller.ownerKey, holdId }),
});

/**
 * Releases the caller's hold (the run failed): everything reserved goes
 * back. Returns `{ returned, remaining, duplicate }`. Throws
 * `UNAUTHENTICATED`, `NOT_FOUND` (not the caller's hold), `HOLD_CLOSED`
 * (already settled).
 */
export const release = callerMutation({
  args: { holdId: v.string() },
  returns: vReleaseResult,
  handler: async (ctx, { holdId }) =>
    await ctx.runMutation(components.billing.tokens.release, { ownerKey: ctx.caller.ownerKey, holdId }),
});

/**
 * The caller's usage per UTC day and feature, this period and the one
 * before: `{ current, previous }`, each `{ start, end, days: { day, feature,
 * tokens, runs }[] }` (ms). Signed out: `null`.
 */
export const usage = callerQuery({
  args: {},
  returns: v.union(v.null(), vUsageView),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.tokens.usage, { ownerKey: ctx.caller.ownerKey }) : null,
});

/**
 * The caller's unread token alerts (80% / 100% of the allowance used, low
 * balance) and auto-recharge notices, newest first: `{ alertId, message,
 * balance, firedAt, actionUrl? }[]` (ms; `actionUrl` where the customer must
 * confirm a payment).
 * Each fires once per allowance period. Signed out: empty. Members of an
 * organisation get them without `actionUrl`.
 */
export const alerts = callerQuery({
  args: {},
  returns: v.array(
    v.object({ alertId: v.string(), message: v.string(), balance: v.number(), firedAt: v.number(), actionUrl: v.optional(v.string()) }),
  ),
  handler: async (ctx) => {
    if (!ctx.caller) return [];
    const alerts = await ctx.runQuery(components.billing.tokens.alerts, { ownerKey: ctx.caller.ownerKey });
    // A payment link is the admins' to follow.
    if (ctx.caller.role === "admin") return alerts;
    return alerts.map((alert): (typeof alerts)[number] => {
      const { actionUrl: _paymentLink, ...rest } = alert;
      return rest;
    });
  },
});

/** Dismisses the caller's unread token alerts. Returns how many. Throws `UNAUTHENTICATED`. */
export const dismissAlerts = callerMutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => await ctx.runMutation(components.billing.tokens.markAlertsRead, { ownerKey: ctx.caller.ownerKey }),
});

/**
 * The caller's auto-recharge settings and latest attempt (see
 * `autoRecharge.get`): `{ enabled, thresholdTokens, packId, monthlyCap,
 * currency, spentThisMonth, consecutiveFailures, disabledReason,
 * lastAttempt }` (money in minor units), or `null` when never set, signed
 * out, or for an organisation member who is not an admin (`adminQuery`).
 */
export const autoRecharge = adminQuery({
  args: {},
  returns: v.union(v.null(), vAutoRechargeView),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.autoRecharge.get, { ownerKey: ctx.caller.ownerKey }) : null,
});

/**
 * Turns auto-recharge on or off for the caller: buy `packId` with the saved
 * card when a debit leaves fewer than `thresholdTokens`, at most
 * `monthlyCap` (minor units) a month. Throws `UNAUTHENTICATED`,
 * `INVALID_ARGUMENT`, `NO_PAYMENT_METHOD` (no saved card), `STRIPE_ERROR`
 * (see `autoRecharge.configure`), `FORBIDDEN` for a member who is not an
 * admin.
 */
export const setAutoRecharge = adminAction({
  args: { enabled: v.boolean(), thresholdTokens: v.number(), packId: v.string(), monthlyCap: v.number() },
  returns: v.null(),
  handler: async (ctx, args): Promise<null> =>
    await ctx.runAction(components.billing.autoRecharge.configure, { ownerKey: ctx.ownerKey, ...args }),
});
