/**
 * Accounts: creation by owner key, the plan and invoice views the app shows,
 * and the internal functions behind the Stripe actions.
 * Logic lives in `model/accounts.ts` and `model/billingModel.ts`.
 *
 * Every public function takes the `ownerKey` the app resolved from its
 * verified caller; the component never reads `ctx.auth`. Public here means
 * callable by the app that installs the component, never by its clients.
 *
 * Units: Convex times in ms; money in integer minor units of `currency`.
 */
import { v } from "convex/values";
import { internalMutation, internalQuery, mutation, query } from "./_generated/server";
import { accountByOwnerKey, ensureAccount } from "./model/accounts";
import {
  accountForActions,
  clampInvoiceLimit,
  invoiceViews,
  linkCustomer as linkCustomerModel,
  subscriptionView,
  vCallerAccount,
  vInvoiceView,
  vSubscriptionView,
} from "./model/billingModel";
import { planChangeState as planChangeStateModel, vPlanChangeState } from "./model/planChanges";
import { upsertPrice as upsertPriceModel, vPriceRecord } from "./model/prices";
import { personHadTrial } from "./model/trials";
import { vTier } from "./model/validators";

/**
 * Creates the account for `ownerKey` (free tier, this UTC month's free
 * allowance) or refreshes its `email` / `name`, which prefill Checkout.
 * Idempotent. Returns the account id. Throws `INVALID_ARGUMENT` for an empty
 * owner key or one over 200 characters.
 */
export const ensure = mutation({
  args: {
    ownerKey: v.string(),
    kind: v.union(v.literal("personal"), v.literal("organization")),
    email: v.optional(v.string()),
    name: v.optional(v.string()),
  },
  returns: v.id("billingAccounts"),
  handler: async (ctx, { ownerKey, kind, email, name }) =>
    await ensureAccount(ctx, { ownerKey, kind, profile: { email, name } }, Date.now()),
});

/**
 * The account for `ownerKey` as operators see it: `{ _id, tier, tierOverride,
 * stripeCustomerId, graceEndsAt }`, or null when there is none.
 */
export const get = query({
  args: { ownerKey: v.string() },
  returns: v.union(
    v.null(),
    v.object({
      _id: v.id("billingAccounts"),
      tier: vTier,
      tierOverride: v.union(vTier, v.null()),
      stripeCustomerId: v.union(v.string(), v.null()),
      graceEndsAt: v.union(v.number(), v.null()),
    }),
  ),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    return {
      _id: account._id,
      tier: account.tier,
      tierOverride: account.tierOverride ?? null,
      stripeCustomerId: account.stripeCustomerId ?? null,
      graceEndsAt: account.graceEndsAt ?? null,
    };
  },
});

/**
 * The account's plan and subscription state (`SubscriptionView`: `{ tier,
 * status: SubscriptionStatus | "none", interval, currentPeriodEnd,
 * cancelAtPeriodEnd, cancelAt, cancelScheduled, trialEnd, graceEndsAt,
 * hasCustomer, … }`, times in ms or null), or null when the owner has no
 * account yet. With `personKey` (the app's stable id of the caller, never
 * client-sent), `trialUsed` is also true when that person started a trial
 * on any account (one per person, docs/TRIALS.md); nothing else about other
 * accounts is told. Throws nothing.
 */
export const subscription = query({
  args: { ownerKey: v.string(), personKey: v.optional(v.string()) },
  returns: v.union(vSubscriptionView, v.null()),
  handler: async (ctx, { ownerKey, personKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    const view = await subscriptionView(ctx, account);
    if (view.trialUsed || personKey === undefined) return view;
    return { ...view, trialUsed: await personHadTrial(ctx, personKey) };
  },
});

/**
 * The account's invoices, newest first; `limit` defaults to 6 and is clamped
 * to 1…24 (`InvoiceView`: `{ id: "in_…", number, status, amountDue,
 * amountPaid, amountRemaining, currency, createdAt, …, lines? }`, minor
 * units, ms; `lines`: `{ description, quantity?, amount, usage? }[]`, the
 * first 20 as Stripe lists them, absent when none are stored). Only the
 * owner's own invoices. `[]` when the owner has no account. Throws nothing.
 */
export const invoices = query({
  args: { ownerKey: v.string(), limit: v.optional(v.number()) },
  returns: v.array(vInvoiceView),
  handler: async (ctx, { ownerKey, limit }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    return account ? await invoiceViews(ctx, account._id, clampInvoiceLimit(limit)) : [];
  },
});

// ---------------------------------------------------------------------------
// Internal
// ---------------------------------------------------------------------------

/** The account in the shape the Stripe actions use, or null when `ownerKey` has none. */
export const forActions = internalQuery({
  args: { ownerKey: v.string() },
  returns: v.union(vCallerAccount, v.null()),
  handler: (ctx, { ownerKey }) => accountForActions(ctx, ownerKey),
});

/**
 * What the plan-change actions need about an account's subscription: the
 * live mirror row (null when none or ended), the newest open invoice's
 * hosted URL and the customer balance.
 */
export const planChangeState = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: vPlanChangeState,
  handler: (ctx, args) => planChangeStateModel(ctx, args.accountId),
});

/**
 * Saves the account's Stripe customer (first one wins) and wakes webhook
 * events waiting for it. Returns the customer id the account now uses.
 */
export const linkCustomer = internalMutation({
  args: { accountId: v.id("billingAccounts"), stripeCustomerId: v.string() },
  returns: v.string(),
  handler: (ctx, args) => linkCustomerModel(ctx, args.accountId, args.stripeCustomerId),
});

/**
 * Records that the account has had its trial (`trialUsedAt`, ms), found by
 * Checkout in the Stripe customer's history; an earlier record is kept.
 */
export const markTrialUsed = internalMutation({
  args: { accountId: v.id("billingAccounts"), trialUsedAt: v.number() },
  returns: v.null(),
  handler: async (ctx, args) => {
    const account = await ctx.db.get("billingAccounts", args.accountId);
    if (account && account.trialUsedAt === undefined) {
      await ctx.db.patch("billingAccounts", args.accountId, { trialUsedAt: args.trialUsedAt });
    }
    return null;
  },
});

/** Caches a subscription price (price id → lookup key, tier, interval) for the event handlers. */
export const upsertPrice = internalMutation({
  args: vPriceRecord.fields,
  returns: v.null(),
  handler: async (ctx, args) => {
    await upsertPriceModel(ctx, args);
    return null;
  },
});
