/**
 * Auto-recharge: when a debit leaves the balance below the customer's
 * threshold, buy their chosen token pack off-session with the saved card
 * (https://docs.stripe.com/payments/save-and-reuse, "charge the saved
 * payment method later").
 *
 * Money before entitlement: the tokens are granted only once Stripe says the
 * PaymentIntent `succeeded` — by the charging action's result or by the
 * `payment_intent.succeeded` webhook, whichever lands first (ledger key
 * `auto_recharge:<attempt id>`, so never twice).
 *
 * - **Trigger.** `ledger.commit` calls `maybeStartAutoRecharge` when a
 *   movement lowers the balance below `tokenBalances.autoRechargeBelow` (a
 *   copy of the threshold, so other debits read nothing more). It inserts
 *   one `autoRechargeAttempts` row in the debit's own transaction — one
 *   attempt per trigger, since a repeated debit key commits nothing — and
 *   schedules the internal action `autoRecharge.charge`. While an attempt is
 *   in flight no other starts.
 * - **Cap.** Succeeded and in-flight attempts count against `monthlyCap`
 *   (minor units, per UTC month); a purchase that would pass it is not
 *   started and the customer is told once that month.
 * - **Outcomes** (`recordResult`): `succeeded` grants the pack (a
 *   `purchased` grant carrying the PaymentIntent, so refunds and disputes
 *   claw it back like a Checkout pack); `failed` (declined, no saved card)
 *   and `requires_action` (the bank wants 3-D Secure, which an off-session
 *   payment cannot do: the customer gets a Checkout link for the same pack)
 *   count as failures. After `maxConsecutiveFailures` in a row it turns
 *   itself off. Each outcome is a notice in `tokenAlerts`.
 * - **Stuck attempts.** The cron `autoRecharge.redriveStale` charges a
 *   pending attempt again after `staleAfterMs` with the same Stripe
 *   idempotency key (so at most one payment), up to `maxTries` runs.
 *
 * Amounts of money are integer minor units; tokens integers; times ms.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internal } from "../_generated/api";
import { recordNotice } from "./alerts";
import { fail } from "./errors";
import * as ledger from "./ledger";
import { utcMonthId } from "./periods";
import { billedCurrency } from "./currency";
import { amountIn, BILLING_CONFIG, DEFAULT_CURRENCY, tokenPack, type TokenPack } from "./plans";
import { vAutoRechargeStatus } from "./validators";

type AccountId = Id<"billingAccounts">;


/** One auto-recharge purchase as the customer sees it (money in minor units, `createdAt` ms). */
export const vAutoRechargeAttemptView = v.object({
  status: vAutoRechargeStatus,
  tokens: v.number(),
  amount: v.number(),
  currency: v.string(),
  failureMessage: v.union(v.string(), v.null()),
  actionUrl: v.union(v.string(), v.null()),
  createdAt: v.number(),
});

export const vAutoRechargeView = v.object({
  enabled: v.boolean(),
  thresholdTokens: v.number(),
  packId: v.string(),
  /** Minor units of `currency`. */
  monthlyCap: v.number(),
  currency: v.string(),
  /** Charged or being charged this UTC month, minor units. */
  spentThisMonth: v.number(),
  consecutiveFailures: v.number(),
  /** `failures` when it turned itself off. */
  disabledReason: v.union(v.literal("failures"), v.null()),
  lastAttempt: v.union(v.null(), vAutoRechargeAttemptView),
  /** The latest purchases, newest first (at most `RECENT_ATTEMPTS`): what the card statement shows. */
  recent: v.array(vAutoRechargeAttemptView),
});
export type AutoRechargeView = Infer<typeof vAutoRechargeView>;

type Attempt = Doc<"autoRechargeAttempts">;
type Settings = Doc<"autoRechargeSettings">;
const CONFIG = BILLING_CONFIG.autoRecharge;

/** Purchases `autoRecharge.get` lists. */
export const RECENT_ATTEMPTS = 5;

export function toAttemptView(attempt: Attempt): Infer<typeof vAutoRechargeAttemptView> {
  return {
    status: attempt.status,
    tokens: attempt.tokens,
    amount: attempt.amount,
    currency: attempt.currency,
    failureMessage: attempt.failureMessage ?? null,
    actionUrl: attempt.actionUrl ?? null,
    createdAt: attempt._creationTime,
  };
}

/** Formats minor units for a notice, e.g. `$10.00` (https://developer.mozilla.org/docs/Web/JavaScript/Reference/Global_Objects/Intl/NumberFormat). */
export function formatMoney(amount: number, currency: string): string {
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

export async function settingsOf(ctx: QueryCtx, accountId: AccountId): Promise<Settings | null> {
  return await ctx.db
    .query("autoRechargeSettings")
    .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
    .unique();
}

export type AutoRechargeChoice = { enabled: boolean; thresholdTokens: number; packId: string; monthlyCap: number };

/**
 * The pack's price in `currency` (minor units): its own amount, or its
 * `currencyOptions` entry. Throws `INVALID_ARGUMENT` for a currency the
 * pack is not sold in.
 */
export function packAmount(pack: TokenPack, currency: string): number {
  const amount = amountIn(pack, currency);
  if (amount === null) fail("INVALID_ARGUMENT", `Token pack "${pack.id}" is not sold in ${currency.toUpperCase()}.`);
  return amount;
}

/**
 * The currency auto-recharge charges the account in (lower case): the one
 * Stripe bills it in (a customer is billed in one currency), else
 * `DEFAULT_CURRENCY`.
 */
export async function rechargeCurrency(ctx: QueryCtx, accountId: AccountId): Promise<string> {
  const account = await ctx.db.get("billingAccounts", accountId);
  return (account && (await billedCurrency(ctx, account))) ?? DEFAULT_CURRENCY;
}

/**
 * Validates a customer's choice. Throws `INVALID_ARGUMENT` for a threshold
 * outside `minThresholdTokens`–`maxThresholdTokens`, an unknown pack, or
 * (when `currency` is given) a pack not sold in it or a cap below one pack
 * or above `maxMonthlyCap`, both in minor units of `currency`.
 */
export function requireValidChoice(choice: AutoRechargeChoice, currency?: string): TokenPack {
  const pack = tokenPack(choice.packId);
  if (!pack) fail("INVALID_ARGUMENT", `Unknown token pack "${choice.packId}".`);
  const { minThresholdTokens, maxThresholdTokens, maxMonthlyCap } = CONFIG;
  if (!Number.isSafeInteger(choice.thresholdTokens) || choice.thresholdTokens < minThresholdTokens || choice.thresholdTokens > maxThresholdTokens) {
    fail("INVALID_ARGUMENT", `The threshold must be a whole number of tokens from ${minThresholdTokens} to ${maxThresholdTokens}.`);
  }
  if (currency === undefined) return pack;
  const price = packAmount(pack, currency);
  if (!Number.isSafeInteger(choice.monthlyCap) || choice.monthlyCap < price || choice.monthlyCap > maxMonthlyCap) {
    fail(
      "INVALID_ARGUMENT",
      `The monthly limit must be from ${formatMoney(price, currency)} (one pack) to ${formatMoney(maxMonthlyCap, currency)}.`,
    );
  }
  return pack;
}

/**
 * Saves the account's choice. Turning it on (again) clears the failure count
 * and a turned-off state; the balance row gets the threshold so debits see
 * it. Turned on while the balance is already below the threshold, it starts
 * a purchase at once (trigger key `enable:<ms>`).
 */
export async function saveChoice(ctx: MutationCtx, accountId: AccountId, choice: AutoRechargeChoice): Promise<void> {
  const currency = await rechargeCurrency(ctx, accountId);
  const pack = requireValidChoice(choice, currency);
  const existing = await settingsOf(ctx, accountId);
  const fields = {
    enabled: choice.enabled,
    thresholdTokens: choice.thresholdTokens,
    packId: pack.id,
    monthlyCap: choice.monthlyCap,
    currency,
    ...(choice.enabled ? { consecutiveFailures: 0, disabledReason: undefined } : {}),
  };
  if (existing) await ctx.db.patch("autoRechargeSettings", existing._id, fields);
  else {
    await ctx.db.insert("autoRechargeSettings", {
      accountId,
      consecutiveFailures: 0,
      monthKey: utcMonthId(Date.now()),
      monthSpent: 0,
      ...fields,
    });
  }
  const balance = await setTrigger(ctx, accountId, choice.enabled ? choice.thresholdTokens : undefined);
  // Already below the threshold: the customer just agreed to buy, so buy now
  // rather than wait for a debit that may never come (at 0 none can).
  if (choice.enabled && balance < choice.thresholdTokens) {
    await maybeStartAutoRecharge(ctx, accountId, { after: balance, triggerKey: `enable:${Date.now()}` });
  }
}

/** Copies the threshold onto the balance row (`undefined`: off). Returns the spendable balance. */
async function setTrigger(ctx: MutationCtx, accountId: AccountId, below: number | undefined): Promise<number> {
  const balance = await ledger.ensureBalance(ctx, accountId);
  if (balance.autoRechargeBelow !== below) await ctx.db.patch("tokenBalances", balance._id, { autoRechargeBelow: below });
  return balance.balance;
}

/**
 * Called by `ledger.commit` when a movement took the balance from
 * `before` to `after` below the account's threshold. Starts one attempt
 * for the trigger `triggerKey` (the debit's ledger key) unless one is in
 * flight, it is off, or the month's cap would be passed. Returns the new
 * attempt's id, or null.
 */
export async function maybeStartAutoRecharge(
  ctx: MutationCtx,
  accountId: AccountId,
  args: { after: number; triggerKey: string },
): Promise<Id<"autoRechargeAttempts"> | null> {
  const settings = await settingsOf(ctx, accountId);
  if (!settings?.enabled || settings.inFlightAttemptId !== undefined) return null;
  const pack = tokenPack(settings.packId);
  if (!pack) return null;
  const now = Date.now();
  const monthKey = utcMonthId(now);
  const spent = settings.monthKey === monthKey ? settings.monthSpent : 0;
  // The cap and the spend are in the settings' currency; a pack no longer
  // sold in it is not bought.
  const amount = amountIn(pack, settings.currency);
  if (amount === null) return null;
  if (spent + amount > settings.monthlyCap) {
    await recordNotice(ctx, accountId, {
      periodKey: `month:${monthKey}`,
      alertId: "auto_recharge_cap",
      message: `Auto-recharge paused: this month's ${formatMoney(settings.monthlyCap, settings.currency)} limit is reached. It resumes next month, or raise the limit.`,
      balance: args.after,
    });
    if (settings.monthKey !== monthKey) await ctx.db.patch("autoRechargeSettings", settings._id, { monthKey, monthSpent: 0 });
    return null;
  }
  const attemptId = await ctx.db.insert("autoRechargeAttempts", {
    accountId,
    triggerKey: args.triggerKey,
    packId: pack.id,
    tokens: pack.tokens,
    amount,
    currency: settings.currency,
    status: "pending",
    tries: 1,
  });
  await ctx.db.patch("autoRechargeSettings", settings._id, {
    inFlightAttemptId: attemptId,
    monthKey,
    monthSpent: spent + amount,
  });
  await ctx.scheduler.runAfter(0, internal.autoRecharge.charge, { attemptId });
  return attemptId;
}

/** What the charging action reports back. Amounts in minor units. */
export type ChargeOutcome =
  | { status: "succeeded"; stripePaymentIntentId: string; amount: number; currency: string }
  | {
      status: "failed" | "requires_action";
      code: string;
      message: string;
      stripePaymentIntentId?: string;
      actionUrl?: string;
    };

/**
 * Finishes a pending attempt with the charging action's outcome (a finished
 * attempt is left as it is, except that a payment that succeeded is always
 * granted: see `grantSucceededPayment`). Returns whether it changed anything.
 */
export async function recordResult(ctx: MutationCtx, attemptId: Id<"autoRechargeAttempts">, outcome: ChargeOutcome): Promise<boolean> {
  const attempt = await ctx.db.get("autoRechargeAttempts", attemptId);
  if (!attempt) return false;
  if (outcome.status === "succeeded") return await grantSucceededPayment(ctx, attempt, outcome);
  if (attempt.status !== "pending") return false;
  const now = Date.now();
  await ctx.db.patch("autoRechargeAttempts", attempt._id, {
    status: outcome.status,
    failureCode: outcome.code,
    failureMessage: outcome.message,
    stripePaymentIntentId: outcome.stripePaymentIntentId,
    actionUrl: outcome.actionUrl,
    settledAt: now,
  });
  const settings = await settingsOf(ctx, attempt.accountId);
  const balance = (await ledger.getBalance(ctx, attempt.accountId))?.balance ?? 0;
  const failures = (settings?.consecutiveFailures ?? 0) + 1;
  const turnOff = failures >= CONFIG.maxConsecutiveFailures && settings?.enabled === true;
  if (settings) {
    await ctx.db.patch("autoRechargeSettings", settings._id, {
      inFlightAttemptId: settings.inFlightAttemptId === attempt._id ? undefined : settings.inFlightAttemptId,
      consecutiveFailures: failures,
      // Money not taken does not count against the month.
      monthSpent: Math.max(0, settings.monthSpent - attempt.amount),
      ...(turnOff ? { enabled: false, disabledReason: "failures" as const } : {}),
    });
  }
  if (turnOff) await setTrigger(ctx, attempt.accountId, undefined);
  const price = formatMoney(attempt.amount, attempt.currency);
  const message =
    outcome.status === "requires_action"
      ? `Your bank asks you to confirm the ${price} auto-recharge of ${attempt.tokens} tokens. Complete the purchase to get them.`
      : `Auto-recharge couldn't charge ${price} for ${attempt.tokens} tokens: ${outcome.message}`;
  await recordNotice(ctx, attempt.accountId, {
    periodKey: `attempt:${attempt._id}`,
    alertId: outcome.status === "requires_action" ? "auto_recharge_action_required" : "auto_recharge_failed",
    message,
    balance,
    actionUrl: outcome.actionUrl,
  });
  if (turnOff) {
    await recordNotice(ctx, attempt.accountId, {
      periodKey: `attempt:${attempt._id}`,
      alertId: "auto_recharge_disabled",
      message: `Auto-recharge is off after ${failures} failed payments in a row. Update your card in the billing portal, then turn it back on.`,
      balance,
    });
  }
  return true;
}

/**
 * A PaymentIntent of the attempt succeeded: grants the pack once (ledger key
 * `auto_recharge:<attempt id>`, a `purchased` grant with the PaymentIntent),
 * marks the attempt `succeeded`, resets the failure count and tells the
 * customer. Whatever the attempt's recorded status — money taken is never
 * left ungranted. Returns false when it was already granted.
 */
export async function grantSucceededPayment(
  ctx: MutationCtx,
  attempt: Attempt,
  payment: { stripePaymentIntentId: string; amount: number; currency: string },
): Promise<boolean> {
  const { applied, balance } = await ledger.grant(ctx, attempt.accountId, {
    sourceKey: `auto_recharge:${attempt._id}`,
    amount: attempt.tokens,
    reason: "top_up",
    note: `Auto-recharge: ${attempt.tokens} tokens`,
    stripePaymentIntentId: payment.stripePaymentIntentId,
  });
  if (!applied) return false;
  const wasPending = attempt.status === "pending";
  await ctx.db.patch("autoRechargeAttempts", attempt._id, {
    status: "succeeded",
    stripePaymentIntentId: payment.stripePaymentIntentId,
    amount: payment.amount,
    currency: payment.currency,
    failureCode: undefined,
    failureMessage: undefined,
    settledAt: Date.now(),
  });
  const settings = await settingsOf(ctx, attempt.accountId);
  if (settings) {
    // A pending attempt's estimate was counted when it started; a late
    // success of one already written off is counted again.
    const counted = wasPending && settings.monthKey === utcMonthId(attempt._creationTime) ? attempt.amount : 0;
    await ctx.db.patch("autoRechargeSettings", settings._id, {
      inFlightAttemptId: settings.inFlightAttemptId === attempt._id ? undefined : settings.inFlightAttemptId,
      consecutiveFailures: 0,
      monthSpent: settings.monthSpent - counted + payment.amount,
    });
  }
  await recordNotice(ctx, attempt.accountId, {
    periodKey: `attempt:${attempt._id}`,
    alertId: "auto_recharge_succeeded",
    message: `Auto-recharge added ${attempt.tokens} tokens for ${formatMoney(payment.amount, payment.currency)}.`,
    balance,
  });
  return true;
}

/** Pending attempts the cron looks at per run. */
export const REDRIVE_BATCH_SIZE = 100;

/**
 * Pending attempts older than `staleAfterMs`: charged again (the same
 * idempotency key, so Stripe returns the first result rather than charging
 * twice), or, after `maxTries` runs, recorded as failed. Returns how many of
 * each.
 */
export async function redriveStale(ctx: MutationCtx, now: number): Promise<{ redriven: number; gaveUp: number }> {
  const stale = await ctx.db
    .query("autoRechargeAttempts")
    .withIndex("by_status", (q) => q.eq("status", "pending").lt("_creationTime", now - CONFIG.staleAfterMs))
    .take(REDRIVE_BATCH_SIZE);
  let redriven = 0;
  let gaveUp = 0;
  for (const attempt of stale) {
    if (attempt.tries >= CONFIG.maxTries) {
      await recordResult(ctx, attempt._id, {
        status: "failed",
        code: "stripe_unavailable",
        message: "we could not get an answer from the payment provider. If the payment went through, the tokens arrive by themselves.",
      });
      gaveUp += 1;
      continue;
    }
    await ctx.db.patch("autoRechargeAttempts", attempt._id, { tries: attempt.tries + 1 });
    await ctx.scheduler.runAfter(0, internal.autoRecharge.charge, { attemptId: attempt._id });
    redriven += 1;
  }
  return { redriven, gaveUp };
}
