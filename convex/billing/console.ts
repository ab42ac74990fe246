/**
 * The operator console's component functions (docs/OPERATOR_CONSOLE.md).
 * Only the app calls them, from its staff-only wrappers in `convex/admin.ts`,
 * which decide who is staff and pass the staff member's id as `actor`; the
 * component never reads `ctx.auth`.
 *
 * Every action takes a required `reason` (`INVALID_ARGUMENT` when blank) and
 * writes an audit entry (`appendAudit`, actor kind `staff`) in the same
 * transaction as its change. Every read is indexed and bounded
 * (`model/console.ts`).
 *
 * Units: Convex times in ms; Stripe's in seconds where named; money in
 * integer minor units; tokens integers.
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import type Stripe from "stripe";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { action, internalMutation, internalQuery, mutation, query, type MutationCtx } from "./_generated/server";
import schema from "./schema";
import { tierFromSubscription } from "./model/access";
import { appendAudit } from "./model/audit";
import {
  accountDetail as accountDetailModel,
  clampPage,
  clearComp as clearCompModel,
  compTier as compTierModel,
  listAccountRows,
  MAX_REPLAY,
  queueHealth as queueHealthModel,
  requireAccount,
  requireReason,
  vAccountDetail,
  vAccountRow,
  vQueueHealth,
} from "./model/console";
import { currentSubscriptionOf } from "./model/currentSubscription";
import { fail } from "./model/errors";
import * as ledger from "./model/ledger";
import { monthlyPeriod } from "./model/periods";
import { PLANS, type Tier } from "./model/plans";
import { getStripe, stripeRead } from "./model/stripeClient";
import { syncInvoice } from "./model/invoiceSync";
import { syncSubscription } from "./model/subscriptionSync";
import { effectiveTier, operatorGrant, toHistoryEntry, grantCategories, vHistoryEntry } from "./model/tokens";
import { replayEvent } from "./model/webhookQueue";
import { vSubscriptionStatus, vTier } from "./model/validators";

const vActor = { actor: v.string(), reason: v.string() };

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

/**
 * One page of accounts (`AccountRow`: tier, override, subscription status,
 * balance in tokens, overdue days, last invoice in minor units, customer id).
 * `search`: a `cus_…` id or an email (exact), else a name prefix; `tier`,
 * `status` (the current subscription's), `overdue` filter. Reads ONE index
 * range of at most `numItems` (≤ 100) rows whatever the number of accounts;
 * see `listAccountRows` for which index and what the other filters do.
 */
export const listAccounts = query({
  args: {
    paginationOpts: paginationOptsValidator,
    search: v.optional(v.string()),
    tier: v.optional(vTier),
    status: v.optional(vSubscriptionStatus),
    overdue: v.optional(v.boolean()),
  },
  returns: paginationResultValidator(vAccountRow),
  handler: async (ctx, { paginationOpts, ...filters }) => await listAccountRows(ctx, filters, paginationOpts, Date.now()),
});

/** The console's account page (`AccountDetail`), each list bounded; null when no such account. */
export const accountDetail = query({
  args: { accountId: v.id("billingAccounts") },
  returns: v.union(vAccountDetail, v.null()),
  handler: async (ctx, { accountId }) => await accountDetailModel(ctx, accountId, Date.now()),
});

/** The account's token ledger, newest first, as `tokens.history` shows it (≤ 100 a page); an empty page for no account. */
export const ledgerPage = query({
  args: { accountId: v.id("billingAccounts"), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vHistoryEntry),
  handler: async (ctx, { accountId, paginationOpts }) => {
    const result = await paginator(ctx.db, schema)
      .query("tokenLedger")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .order("desc")
      .paginate({ ...paginationOpts, numItems: clampPage(paginationOpts.numItems) });
    const categories = await grantCategories(ctx, result.page);
    return { ...result, page: result.page.map((row) => toHistoryEntry(row, categories)) };
  },
});

/**
 * The webhook queue's health: events per status (each counted up to
 * `QUEUE_COUNT_CAP`), the age of the oldest due pending or retrying event
 * (ms), the newest 20 dead events with their errors, and the last
 * reconciliation run.
 */
export const queueHealth = query({
  args: {},
  returns: vQueueHealth,
  handler: async (ctx) => await queueHealthModel(ctx, Date.now()),
});

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

const vGrantResult = v.object({ applied: v.boolean(), balance: v.number(), sourceKey: v.string() });

async function staffGrant(
  ctx: MutationCtx,
  args: { accountId: Id<"billingAccounts">; amount: number; reason: string; actor: string; idempotencyKey?: string },
  action: "tokens.staff_grant" | "tokens.staff_debit",
) {
  const reason = requireReason(args.reason);
  const account = await requireAccount(ctx, args.accountId);
  const before = (await ledger.getBalance(ctx, account._id))?.balance ?? 0;
  const result = await operatorGrant(ctx, {
    accountId: account._id,
    amount: args.amount,
    reason,
    idempotencyKey: args.idempotencyKey,
  });
  if (result.applied) {
    await appendAudit(ctx, {
      accountId: account._id,
      actorKind: "staff",
      actor: args.actor,
      action,
      before: { balance: before },
      after: { balance: result.balance, amount: args.amount, sourceKey: result.sourceKey },
      reason,
    });
  }
  return result;
}

function requirePositive(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) fail("INVALID_ARGUMENT", "The amount must be a positive whole number of tokens.");
}

/**
 * Grants `amount` (> 0) tokens (an `admin` grant that never expires) through
 * the ledger. With `idempotencyKey` a repeat is a no-op (`applied: false`,
 * no second audit entry). Audit `tokens.staff_grant`. Throws `NOT_FOUND`,
 * `INVALID_ARGUMENT` (blank reason, amount not a positive integer).
 */
export const grantTokens = mutation({
  args: { accountId: v.id("billingAccounts"), amount: v.number(), idempotencyKey: v.optional(v.string()), ...vActor },
  returns: vGrantResult,
  handler: async (ctx, args) => {
    requirePositive(args.amount);
    return await staffGrant(ctx, args, "tokens.staff_grant");
  },
});

/**
 * Takes `amount` (> 0) tokens off the balance (a correction, never below
 * zero; plan allowance last). Idempotent by `idempotencyKey` as
 * `grantTokens`. Audit `tokens.staff_debit`. Throws `NOT_FOUND`,
 * `INVALID_ARGUMENT`, `INSUFFICIENT_TOKENS` (more than the balance).
 */
export const debitTokens = mutation({
  args: { accountId: v.id("billingAccounts"), amount: v.number(), idempotencyKey: v.optional(v.string()), ...vActor },
  returns: vGrantResult,
  handler: async (ctx, args) => {
    requirePositive(args.amount);
    return await staffGrant(ctx, { ...args, amount: -args.amount }, "tokens.staff_debit");
  },
});

/**
 * Comps `tier` until `expiresAt` (ms): applied at once, lapses by itself
 * (`lapseComp` scheduled at `expiresAt`). Returns the account's tier now.
 * Audit `tier.override`. Throws `NOT_FOUND`, `INVALID_ARGUMENT`.
 */
export const compTier = mutation({
  args: { accountId: v.id("billingAccounts"), tier: vTier, expiresAt: v.number(), ...vActor },
  returns: v.object({ tier: vTier }),
  handler: async (ctx, args) =>
    await compTierModel(ctx, args, Date.now(), async (at) => {
      await ctx.scheduler.runAt(at, internal.console.lapseComp, { accountId: args.accountId, until: at });
    }),
});

/** Ends the account's comp now. Audit `tier.override_cleared`. Returns whether there was one. Throws `NOT_FOUND`, `INVALID_ARGUMENT`. */
export const clearComp = mutation({
  args: { accountId: v.id("billingAccounts"), ...vActor },
  returns: v.object({ cleared: v.boolean(), tier: vTier }),
  handler: async (ctx, args) => {
    const reason = requireReason(args.reason);
    const account = await requireAccount(ctx, args.accountId);
    return await clearCompModel(ctx, account, Date.now(), {
      actorKind: "staff",
      actor: args.actor,
      reason,
      action: "tier.override_cleared",
    });
  },
});

/**
 * Scheduled at a comp's `expiresAt`: clears the override if it is still the
 * one that ends at `until` (a newer comp or a clear leaves it alone).
 * Audit `tier.override_lapsed` (actor: cron `console.lapseComp`).
 */
export const lapseComp = internalMutation({
  args: { accountId: v.id("billingAccounts"), until: v.number() },
  returns: v.boolean(),
  handler: async (ctx, { accountId, until }) => {
    const account = await ctx.db.get("billingAccounts", accountId);
    if (!account || account.tierOverride === undefined || account.tierOverrideUntil !== until) return false;
    const { cleared } = await clearCompModel(ctx, account, Math.max(Date.now(), until), {
      actorKind: "cron",
      actor: "console.lapseComp",
      reason: "The comp's end date passed.",
      action: "tier.override_lapsed",
    });
    return cleared;
  },
});

/**
 * Re-queues dead webhook events with a fresh set of attempts (the retry
 * path, `webhookQueue.replayEvent`): those named by `eventIds` (≤ 100),
 * else the account's dead events (its customer's, ≤ 100), else every dead
 * event (≤ 100, oldest due first). Events not dead are left alone.
 * Audit `webhooks.replay`. Returns the ids re-queued. Throws
 * `INVALID_ARGUMENT` (blank reason, more than 100 ids), `NOT_FOUND`.
 */
export const replayDeadEvents = mutation({
  args: { accountId: v.optional(v.id("billingAccounts")), eventIds: v.optional(v.array(v.string())), ...vActor },
  returns: v.object({ requeued: v.array(v.string()), skipped: v.array(v.string()) }),
  handler: async (ctx, args) => {
    const reason = requireReason(args.reason);
    if (args.eventIds && args.eventIds.length > MAX_REPLAY) fail("INVALID_ARGUMENT", `At most ${MAX_REPLAY} events at once.`);
    let candidates: string[];
    if (args.eventIds) {
      candidates = args.eventIds;
    } else if (args.accountId) {
      const account = await requireAccount(ctx, args.accountId);
      const customerId = account.stripeCustomerId;
      candidates = customerId
        ? (
            await ctx.db
              .query("webhookEvents")
              .withIndex("by_stripeCustomerId_and_status", (q) => q.eq("stripeCustomerId", customerId).eq("status", "dead"))
              .take(MAX_REPLAY)
          ).map((row) => row.eventId)
        : [];
    } else {
      candidates = (
        await ctx.db
          .query("webhookEvents")
          .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", "dead"))
          .take(MAX_REPLAY)
      ).map((row) => row.eventId);
    }
    const requeued: string[] = [];
    const skipped: string[] = [];
    const now = Date.now();
    for (const eventId of candidates) {
      const row = await ctx.db
        .query("webhookEvents")
        .withIndex("by_eventId", (q) => q.eq("eventId", eventId))
        .unique();
      if (row?.status !== "dead") {
        skipped.push(eventId);
        continue;
      }
      const result = await replayEvent(ctx, eventId, now);
      (result.requeued ? requeued : skipped).push(eventId);
    }
    if (requeued.length > 0) {
      await appendAudit(ctx, {
        ...(args.accountId ? { accountId: args.accountId } : {}),
        actorKind: "staff",
        actor: args.actor,
        action: "webhooks.replay",
        before: { status: "dead", eventIds: requeued },
        after: { status: "pending", eventIds: requeued },
        reason,
      });
    }
    return { requeued, skipped };
  },
});

/**
 * Restarts the account's monthly allowance now: the unused allowance
 * expires and a full one is granted for the rest of the UTC month
 * (`ledger.startPeriod`, key `period:<tier>:YYYY-MM:forced:<ms>`). For
 * accounts whose allowance is not paid through Stripe: free accounts, and
 * comped accounts without a paying subscription. Audit `tokens.free_reset`.
 * Throws `NOT_FOUND`, `INVALID_ARGUMENT` (blank reason, or a subscriber,
 * whose allowance follows its paid invoices).
 */
export const forceFreeReset = mutation({
  args: { accountId: v.id("billingAccounts"), ...vActor },
  returns: v.object({ tier: vTier, balance: v.number() }),
  handler: async (ctx, args) => {
    const reason = requireReason(args.reason);
    const account = await requireAccount(ctx, args.accountId);
    const now = Date.now();
    const tier: Tier = effectiveTier(account);
    if (tier !== "free") {
      const subscription = await currentSubscriptionOf(ctx, account);
      if (account.tierOverride === undefined || tierFromSubscription(subscription, now) !== "free") {
        fail("INVALID_ARGUMENT", "This account's allowance follows its paid Stripe invoices; only free and comped accounts reset here.");
      }
    }
    const before = (await ledger.getBalance(ctx, account._id))?.balance ?? 0;
    const period = monthlyPeriod(tier, now);
    const sourceKey = `period:${period.periodKey}:forced:${now}`;
    await ledger.startPeriod(ctx, account._id, { sourceKey, tokens: PLANS[tier].tokensPerPeriod, ...period });
    const balance = (await ledger.getBalance(ctx, account._id))?.balance ?? 0;
    await appendAudit(ctx, {
      accountId: account._id,
      actorKind: "staff",
      actor: args.actor,
      action: "tokens.free_reset",
      before: { balance: before },
      after: { balance, sourceKey, tier },
      reason,
    });
    return { tier, balance };
  },
});

// ---------------------------------------------------------------------------
// Resync from Stripe
// ---------------------------------------------------------------------------

/** Most subscriptions and invoices one resync fetches (Stripe's newest first). */
export const RESYNC_LIMIT = 20;

/** The account's Stripe customer, for `resyncCustomer`. */
export const resyncTarget = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: v.union(v.object({ stripeCustomerId: v.union(v.string(), v.null()) }), v.null()),
  handler: async (ctx, { accountId }) => {
    const account = await ctx.db.get("billingAccounts", accountId);
    return account ? { stripeCustomerId: account.stripeCustomerId ?? null } : null;
  },
});

const vResyncResult = v.object({
  subscriptions: v.number(),
  invoices: v.number(),
  /** Objects not applied yet, and why (e.g. a price not learned yet); the normal events will bring them. */
  waiting: v.array(v.string()),
  tier: vTier,
});

/**
 * Applies what `resyncCustomer` fetched, in one transaction, with the
 * webhook handlers (`syncSubscription`, `syncInvoice`) as if Stripe had sent
 * `customer.subscription.updated` and `invoice.*` events created at
 * `fetchedAt` (Stripe seconds): the normal ordering rules keep a newer
 * mirror row, a paid invoice grants its allowance once (by invoice id).
 * Audit `stripe.resync`.
 */
export const applyResync = internalMutation({
  args: {
    accountId: v.id("billingAccounts"),
    /** JSON arrays of Stripe objects, as fetched. */
    subscriptions: v.string(),
    invoices: v.string(),
    fetchedAt: v.number(),
    ...vActor,
  },
  returns: vResyncResult,
  handler: async (ctx, args) => {
    const reason = requireReason(args.reason);
    const account = await requireAccount(ctx, args.accountId);
    const before = { tier: account.tier, stripeSubscriptionId: account.stripeSubscriptionId ?? null };
    const subscriptions = JSON.parse(args.subscriptions) as Stripe.Subscription[];
    const invoices = (JSON.parse(args.invoices) as Stripe.Invoice[]).sort((a, b) => a.created - b.created);
    const now = Math.max(Date.now(), args.fetchedAt * 1000);
    const waiting: string[] = [];
    for (const subscription of subscriptions) {
      const clock = { eventId: `resync:${subscription.id}:${args.fetchedAt}`, eventCreated: args.fetchedAt };
      const outcome = await syncSubscription(ctx, subscription, clock, now);
      if (outcome.kind === "wait" || outcome.kind === "refused") waiting.push(`${subscription.id}: ${outcome.reason}`);
    }
    for (const invoice of invoices) {
      const clock = { eventId: `resync:${invoice.id}:${args.fetchedAt}`, eventCreated: args.fetchedAt };
      const type = invoice.status === "paid" ? "invoice.paid" : "invoice.updated";
      const outcome = await syncInvoice(ctx, invoice, type, clock, now);
      if (outcome.kind === "wait" || outcome.kind === "refused") waiting.push(`${invoice.id}: ${outcome.reason}`);
    }
    const after = await ctx.db.get("billingAccounts", account._id);
    await appendAudit(ctx, {
      accountId: account._id,
      actorKind: "staff",
      actor: args.actor,
      action: "stripe.resync",
      before,
      after: {
        tier: after?.tier ?? account.tier,
        stripeSubscriptionId: after?.stripeSubscriptionId ?? null,
        subscriptions: subscriptions.length,
        invoices: invoices.length,
        waiting: waiting.length,
      },
      reason,
    });
    return { subscriptions: subscriptions.length, invoices: invoices.length, waiting, tier: after?.tier ?? account.tier };
  },
});

/**
 * Fetches the account's customer's subscriptions (all statuses) and
 * invoices from Stripe (newest `RESYNC_LIMIT` of each) and applies them
 * (`applyResync`). Throws `NOT_FOUND`, `NO_CUSTOMER`, `INVALID_ARGUMENT`,
 * `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
export const resyncCustomer = action({
  args: { accountId: v.id("billingAccounts"), ...vActor },
  returns: vResyncResult,
  handler: async (ctx, args): Promise<{ subscriptions: number; invoices: number; waiting: string[]; tier: Tier }> => {
    requireReason(args.reason);
    const target: { stripeCustomerId: string | null } | null = await ctx.runQuery(internal.console.resyncTarget, {
      accountId: args.accountId,
    });
    if (!target) fail("NOT_FOUND", "No such billing account.");
    const customer = target.stripeCustomerId;
    if (!customer) fail("NO_CUSTOMER", "This account has no Stripe customer yet.");
    const stripe = getStripe();
    const fetchedAt = Math.floor(Date.now() / 1000);
    const subscriptions = await stripeRead("subscriptions.list", () =>
      stripe.subscriptions.list({ customer, status: "all", limit: RESYNC_LIMIT }),
    );
    const invoices = await stripeRead("invoices.list", () => stripe.invoices.list({ customer, limit: RESYNC_LIMIT }));
    return await ctx.runMutation(internal.console.applyResync, {
      accountId: args.accountId,
      subscriptions: JSON.stringify(subscriptions.data),
      invoices: JSON.stringify(invoices.data),
      fetchedAt,
      actor: args.actor,
      reason: args.reason,
    });
  },
});

// ---------------------------------------------------------------------------
// Reconciliation runs
// ---------------------------------------------------------------------------

/** Records one reconciliation run's result for queue health (`reconcile.reconcileEvents` calls it). */
export const recordReconcileRun = internalMutation({
  args: {
    result: v.union(v.literal("ok"), v.literal("error")),
    error: v.optional(v.string()),
    enqueued: v.number(),
    ignored: v.number(),
    alreadyKnown: v.number(),
    revived: v.number(),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await ctx.db.insert("reconcileRuns", args);
    return null;
  },
});
