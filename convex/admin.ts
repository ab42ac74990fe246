/**
 * The operator console's API (`/admin`, docs/OPERATOR_CONSOLE.md): staff-only
 * wrappers over the billing component's `console` functions. Staff are
 * decided in `functions.ts` / `model/staff.ts` (the `STAFF_USER_IDS`
 * allowlist or the token's `staff: true` claim); every function here but
 * `me` throws `UNAUTHENTICATED` when signed out and `FORBIDDEN` for anyone
 * else, queries included. The staff member's Clerk user id is the audit
 * log's actor (`actorKind: "staff"`).
 *
 * Every action requires a non-blank `reason` (`INVALID_ARGUMENT`) and writes
 * one audit entry in the same transaction as its change.
 * Units: Convex times in ms; money in integer minor units; tokens integers.
 */
import { paginationOptsValidator, paginationResultValidator, type PaginationResult } from "convex/server";
import type { Infer } from "convex/values";
import { v } from "convex/values";
import { components } from "./_generated/api";
import { query } from "./_generated/server";
import { vAuditRow } from "./billing/audit";
import { fail } from "./billing/model/errors";
import { vAccountDetail, vAccountRow, vQueueHealth, type AccountDetail, type AccountRow, type QueueHealth } from "./billing/model/console";
import { vHistoryEntry } from "./billing/model/tokens";
import type { Tier } from "./billing/model/plans";
import { vSubscriptionStatus, vTier } from "./billing/model/validators";
import { callerIsStaff, staffAction, staffMutation, staffQuery } from "./functions";

const vAccountId = v.string();
/** An audit row as the app returns it: ids as strings. */
const vAppAuditRow = v.object({ ...vAuditRow.fields, _id: v.string(), accountId: v.optional(v.string()) });
type AuditRow = Infer<typeof vAppAuditRow>;
/** A ledger row as `tokens.history` returns it, with its id as a string. */
const vLedgerRow = v.object({ ...vHistoryEntry.fields, _id: v.string() });
type LedgerRow = Infer<typeof vLedgerRow>;
const vReason = v.string();

/**
 * `{ isStaff }` for the signed-in caller: false for everyone else and when
 * signed out. Never throws; the client shows `/admin` only when true.
 */
export const me = query({
  args: {},
  returns: v.object({ isStaff: v.boolean() }),
  handler: async (ctx) => ({ isStaff: await callerIsStaff(ctx) }),
});

/**
 * One page of accounts (`AccountRow`s, see `billing/model/console.ts`):
 * `search` by `cus_…` id or email (exact) or name prefix; filter by `tier`,
 * the current subscription's `status`, `overdue`. Reads one page whatever
 * the number of accounts.
 */
export const listAccounts = staffQuery({
  args: {
    paginationOpts: paginationOptsValidator,
    search: v.optional(v.string()),
    tier: v.optional(vTier),
    status: v.optional(vSubscriptionStatus),
    overdue: v.optional(v.boolean()),
  },
  returns: paginationResultValidator(vAccountRow),
  handler: async (ctx, args): Promise<PaginationResult<AccountRow>> => await ctx.runQuery(components.billing.console.listAccounts, args),
});

/**
 * An account's page: `{ account, subscription, scheduledChange, invoices
 * (≤20), grants (≤50), holds (open, ≤50), events (≤50), notifications
 * (≤20) }`. Throws `NOT_FOUND` for an unknown account id.
 */
export const accountDetail = staffQuery({
  args: { accountId: vAccountId },
  returns: vAccountDetail,
  handler: async (ctx, { accountId }): Promise<AccountDetail> => {
    const detail: AccountDetail | null = await ctx.runQuery(components.billing.console.accountDetail, { accountId });
    if (!detail) fail("NOT_FOUND", "No such billing account.");
    return detail;
  },
});

/** The account's token ledger, newest first (`tokens.history` rows, ≤100 a page). */
export const ledger = staffQuery({
  args: { accountId: vAccountId, paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vLedgerRow),
  handler: async (ctx, args): Promise<PaginationResult<LedgerRow>> => await ctx.runQuery(components.billing.console.ledgerPage, args),
});

/** The audit log newest first: one account's with `accountId`, else everyone's (≤100 a page). */
export const auditLog = staffQuery({
  args: { accountId: v.optional(vAccountId), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAppAuditRow),
  handler: async (ctx, { accountId, paginationOpts }): Promise<PaginationResult<AuditRow>> =>
    accountId
      ? await ctx.runQuery(components.billing.audit.listForAccount, { accountId, paginationOpts })
      : await ctx.runQuery(components.billing.audit.listAll, { paginationOpts }),
});

/** `{ counts, cappedStatuses, oldestPendingAgeMs, dead, lastReconciliation }` of the webhook queue. */
export const queueHealth = staffQuery({
  args: {},
  returns: vQueueHealth,
  handler: async (ctx): Promise<QueueHealth> => await ctx.runQuery(components.billing.console.queueHealth, {}),
});

const vGrantResult = v.object({ applied: v.boolean(), balance: v.number(), sourceKey: v.string() });
type GrantResult = Infer<typeof vGrantResult>;

/**
 * Grants `amount` (> 0) tokens through the ledger; `idempotencyKey` makes a
 * repeat a no-op. Throws `NOT_FOUND`, `INVALID_ARGUMENT`.
 */
export const grantTokens = staffMutation({
  args: { accountId: vAccountId, amount: v.number(), reason: vReason, idempotencyKey: v.optional(v.string()) },
  returns: vGrantResult,
  handler: async (ctx, args): Promise<GrantResult> =>
    await ctx.runMutation(components.billing.console.grantTokens, { ...args, actor: ctx.staff.userId }),
});

/**
 * Takes `amount` (> 0) tokens off the balance, never below zero.
 * Throws `NOT_FOUND`, `INVALID_ARGUMENT`, `INSUFFICIENT_TOKENS`.
 */
export const debitTokens = staffMutation({
  args: { accountId: vAccountId, amount: v.number(), reason: vReason, idempotencyKey: v.optional(v.string()) },
  returns: vGrantResult,
  handler: async (ctx, args): Promise<GrantResult> =>
    await ctx.runMutation(components.billing.console.debitTokens, { ...args, actor: ctx.staff.userId }),
});

/**
 * Comps `tier` until `expiresAt` (ms): applied at once, lapses by itself.
 * Returns `{ tier }` now. Throws `NOT_FOUND`, `INVALID_ARGUMENT`.
 */
export const compTier = staffMutation({
  args: { accountId: vAccountId, tier: vTier, expiresAt: v.number(), reason: vReason },
  returns: v.object({ tier: vTier }),
  handler: async (ctx, args): Promise<{ tier: Tier }> => await ctx.runMutation(components.billing.console.compTier, { ...args, actor: ctx.staff.userId }),
});

/** Ends the comp now. Returns `{ cleared, tier }`. Throws `NOT_FOUND`, `INVALID_ARGUMENT`. */
export const clearComp = staffMutation({
  args: { accountId: vAccountId, reason: vReason },
  returns: v.object({ cleared: v.boolean(), tier: vTier }),
  handler: async (ctx, args): Promise<{ cleared: boolean; tier: Tier }> => await ctx.runMutation(components.billing.console.clearComp, { ...args, actor: ctx.staff.userId }),
});

/**
 * Re-queues dead webhook events: `eventIds` (≤100), else the account's,
 * else all (≤100). Returns `{ requeued, skipped }` event ids.
 */
export const replayDeadEvents = staffMutation({
  args: { accountId: v.optional(vAccountId), eventIds: v.optional(v.array(v.string())), reason: vReason },
  returns: v.object({ requeued: v.array(v.string()), skipped: v.array(v.string()) }),
  handler: async (ctx, args): Promise<{ requeued: string[]; skipped: string[] }> =>
    await ctx.runMutation(components.billing.console.replayDeadEvents, { ...args, actor: ctx.staff.userId }),
});

/**
 * Runs the account's dunning timeline now (`dunning.runForAccount` in the
 * billing component): fires every step already due, once each, audited
 * under the staff member with `reason`. Returns `{ overdueDays, stage,
 * fired }` (step ids fired now; null days and stage when nothing is
 * overdue). Throws `NOT_FOUND`, `INVALID_ARGUMENT` (blank reason).
 */
export const runDunningNow = staffMutation({
  args: { accountId: vAccountId, reason: vReason },
  returns: v.object({
    overdueDays: v.union(v.number(), v.null()),
    stage: v.union(v.string(), v.null()),
    fired: v.array(v.string()),
  }),
  handler: async (ctx, args): Promise<{ overdueDays: number | null; stage: string | null; fired: string[] }> => {
    if (args.reason.trim().length === 0) fail("INVALID_ARGUMENT", "A reason is required.");
    return await ctx.runMutation(components.billing.dunning.runForAccount, {
      accountId: args.accountId,
      actor: ctx.staff.userId,
      reason: args.reason.trim(),
    });
  },
});

/**
 * Restarts the monthly allowance now, for free and comped accounts. Returns
 * `{ tier, balance }`. Throws `NOT_FOUND`, `INVALID_ARGUMENT` (also for a
 * subscriber, whose allowance follows its paid invoices).
 */
export const forceFreeReset = staffMutation({
  args: { accountId: vAccountId, reason: vReason },
  returns: v.object({ tier: vTier, balance: v.number() }),
  handler: async (ctx, args): Promise<{ tier: Tier; balance: number }> =>
    await ctx.runMutation(components.billing.console.forceFreeReset, { ...args, actor: ctx.staff.userId }),
});

/**
 * Fetches the customer's subscriptions and invoices from Stripe and applies
 * them under the webhook handlers' ordering rules. Returns `{ subscriptions,
 * invoices, waiting, tier }`. Throws `NOT_FOUND`, `NO_CUSTOMER`,
 * `INVALID_ARGUMENT`, `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
/**
 * Attaches Stripe coupon `couponId` to the account's live subscription once
 * (`coupons.attachToAccount`: idempotency key by account, coupon and
 * subscription), audited `coupon.attach` under the staff member with
 * `reason`. Returns `{ status: "attached" | "already_attached", couponId,
 * couponName, percentOff, amountOff (minor units), currency }`. Throws
 * `NOT_FOUND`, `NO_CUSTOMER`, `NO_SUBSCRIPTION`, `INVALID_ARGUMENT` (unknown
 * coupon, blank reason), `STRIPE_ERROR`.
 */
export const attachCoupon = staffAction({
  args: { accountId: vAccountId, couponId: v.string(), reason: vReason },
  returns: v.object({
    status: v.union(v.literal("attached"), v.literal("already_attached")),
    couponId: v.string(),
    couponName: v.union(v.string(), v.null()),
    percentOff: v.union(v.number(), v.null()),
    amountOff: v.union(v.number(), v.null()),
    currency: v.union(v.string(), v.null()),
  }),
  handler: async (ctx, args) => {
    const attached = await ctx.runAction(components.billing.coupons.attachToAccount, {
      accountId: args.accountId,
      couponId: args.couponId,
      reason: args.reason,
      operator: ctx.staff.userId,
    });
    const { status, couponId, couponName, percentOff, amountOff, currency } = attached;
    return { status, couponId, couponName, percentOff, amountOff, currency };
  },
});

export const resyncCustomer = staffAction({
  args: { accountId: vAccountId, reason: vReason },
  returns: v.object({ subscriptions: v.number(), invoices: v.number(), waiting: v.array(v.string()), tier: vTier }),
  handler: async (ctx, args): Promise<{ subscriptions: number; invoices: number; waiting: string[]; tier: Tier }> =>
    await ctx.runAction(components.billing.console.resyncCustomer, { ...args, actor: ctx.staff.userId }),
});
