/**
 * Auto-recharge (`model/autoRecharge.ts`): the customer's choice, the
 * off-session charge and its outcome, and the cron for stuck attempts.
 * Public functions take the `ownerKey` the app resolved from its verified
 * caller. Money in integer minor units, tokens integers, times ms.
 */
import { v } from "convex/values";
import { action, internalAction, internalMutation, internalQuery, query } from "./_generated/server";
import { internal } from "./_generated/api";
import { accountByOwnerKey } from "./model/accounts";
import * as model from "./model/autoRecharge";
import { vAutoRechargeView, type AutoRechargeView } from "./model/autoRecharge";
import { vAutoRechargeStatus } from "./model/validators";
import { requireAccount } from "./model/billingActions";
import { chargeAttempt, savedCardOf } from "./model/autoRechargeCharge";
import { fail } from "./model/errors";
import { utcMonthId } from "./model/periods";
import { getStripe } from "./model/stripeClient";


/**
 * The account's auto-recharge settings, its latest attempt and its last 5
 * purchases (newest first), or `null` when it never set them (or `ownerKey`
 * has no account). Reads 3 index ranges.
 */
export const get = query({
  args: { ownerKey: v.string() },
  returns: v.union(v.null(), vAutoRechargeView),
  handler: async (ctx, { ownerKey }): Promise<AutoRechargeView | null> => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    const settings = await model.settingsOf(ctx, account._id);
    if (!settings) return null;
    const recent = await ctx.db
      .query("autoRechargeAttempts")
      .withIndex("by_accountId", (q) => q.eq("accountId", account._id))
      .order("desc")
      .take(model.RECENT_ATTEMPTS);
    const monthKey = utcMonthId(Date.now());
    return {
      enabled: settings.enabled,
      thresholdTokens: settings.thresholdTokens,
      packId: settings.packId,
      monthlyCap: settings.monthlyCap,
      currency: settings.currency,
      spentThisMonth: settings.monthKey === monthKey ? settings.monthSpent : 0,
      consecutiveFailures: settings.consecutiveFailures,
      disabledReason: settings.disabledReason ?? null,
      lastAttempt: recent[0] ? model.toAttemptView(recent[0]) : null,
      recent: recent.map(model.toAttemptView),
    };
  },
});

const vChoice = {
  enabled: v.boolean(),
  /** Buy when a debit leaves fewer than this many tokens. */
  thresholdTokens: v.number(),
  /** One of `TOKEN_PACKS`' ids. */
  packId: v.string(),
  /** Most charged per UTC month, minor units (at least one pack). */
  monthlyCap: v.number(),
};

/**
 * Saves the account's auto-recharge choice. Turning it on needs a card
 * saved on the account's Stripe customer (checked with Stripe here) and
 * clears an earlier turn-off; turning it off needs nothing.
 * Throws `NOT_FOUND` (no account), `INVALID_ARGUMENT` (threshold, pack or
 * cap out of range), `NO_PAYMENT_METHOD` (no customer or no saved card),
 * `STRIPE_ERROR`.
 */
export const configure = action({
  args: { ownerKey: v.string(), ...vChoice },
  returns: v.null(),
  handler: async (ctx, { ownerKey, ...choice }): Promise<null> => {
    model.requireValidChoice(choice);
    const account = await requireAccount(ctx, ownerKey);
    if (choice.enabled) {
      const card = account.stripeCustomerId ? await savedCardOf(getStripe(), account.stripeCustomerId) : null;
      if (!card) {
        fail(
          "NO_PAYMENT_METHOD",
          "Auto-recharge needs a saved card. Buy a token pack and tick “Save my payment details” at checkout, or subscribe to a plan, then turn it on.",
        );
      }
    }
    await ctx.runMutation(internal.autoRecharge.save, { accountId: account.accountId, ...choice });
    return null;
  },
});

/** Stores a validated choice (`configure`). */
export const save = internalMutation({
  args: { accountId: v.id("billingAccounts"), ...vChoice },
  returns: v.null(),
  handler: async (ctx, { accountId, ...choice }) => {
    await model.saveChoice(ctx, accountId, choice);
    return null;
  },
});

/** What the charging action needs about a pending attempt, or null. */
export const attemptContext = internalQuery({
  args: { attemptId: v.id("autoRechargeAttempts") },
  returns: v.union(
    v.null(),
    v.object({
      status: vAutoRechargeStatus,
      accountId: v.id("billingAccounts"),
      ownerKey: v.string(),
      stripeCustomerId: v.union(v.string(), v.null()),
      packId: v.string(),
      /** The currency the attempt charges in (lower case): the account's, fixed when it started. */
      currency: v.string(),
    }),
  ),
  handler: async (ctx, { attemptId }) => {
    const attempt = await ctx.db.get("autoRechargeAttempts", attemptId);
    const account = attempt ? await ctx.db.get("billingAccounts", attempt.accountId) : null;
    if (!attempt || !account) return null;
    return {
      status: attempt.status,
      accountId: account._id,
      ownerKey: account.ownerKey,
      stripeCustomerId: account.stripeCustomerDeleted ? null : (account.stripeCustomerId ?? null),
      packId: attempt.packId,
      currency: attempt.currency,
    };
  },
});

/** Scheduled by the trigger and the cron: charges one attempt off-session (`model/autoRechargeCharge.ts`). */
export const charge = internalAction({
  args: { attemptId: v.id("autoRechargeAttempts") },
  returns: v.null(),
  handler: async (ctx, { attemptId }) => {
    await chargeAttempt(ctx, attemptId);
    return null;
  },
});

const vOutcome = v.union(
  v.object({ status: v.literal("succeeded"), stripePaymentIntentId: v.string(), amount: v.number(), currency: v.string() }),
  v.object({
    status: v.union(v.literal("failed"), v.literal("requires_action")),
    code: v.string(),
    message: v.string(),
    stripePaymentIntentId: v.optional(v.string()),
    actionUrl: v.optional(v.string()),
  }),
);

/** The charging action's outcome (`model/autoRecharge.recordResult`). Returns whether it changed anything. */
export const recordResult = internalMutation({
  args: { attemptId: v.id("autoRechargeAttempts"), outcome: vOutcome },
  returns: v.boolean(),
  handler: async (ctx, { attemptId, outcome }) => await model.recordResult(ctx, attemptId, outcome),
});

/** Cron: drives pending attempts that went quiet again, or gives up on them (`model/autoRecharge.redriveStale`). */
export const redriveStale = internalMutation({
  args: {},
  returns: v.object({ redriven: v.number(), gaveUp: v.number() }),
  handler: async (ctx) => await model.redriveStale(ctx, Date.now()),
});
