/**
 * Free trials (docs/TRIALS.md).
 *
 * - **Config.** A plan's `trial` (`model/plans.ts`): length in days, the
 *   trial allowance (tokens, may be smaller than the paid one), whether a
 *   card is required, and what Stripe does at the end without one
 *   (`trial_settings.end_behavior.missing_payment_method`).
 * - **One per account and per Stripe customer.** `billingAccounts.trialUsedAt`
 *   is set the first time a subscription with a trial is mirrored
 *   (`recordTrialUse`); Checkout also reads the customer's subscription
 *   history at Stripe before offering one (`billingActions`), and refuses a
 *   second with `TRIAL_ALREADY_USED`.
 * - **Allowance follows the money.** Stripe's first invoice of a trial is a
 *   paid $0 invoice whose plan line has amount 0 over the trial. Its coverage
 *   rows are marked `trial` (`coverage.isTrialLine`): they grant the plan's tier during
 *   the trial, and the trial allowance once (`grantTrialAllowance`, ledger
 *   key `trial:<sub id>`), never the paid allowance. The first paid invoice
 *   opens the first paid window (`model/allowance.ts`), anchored at the trial
 *   end, once; trial coverage never opens or extends a paid window, and gives
 *   no grace after the trial.
 * - **Reminder.** `customer.subscription.trial_will_end` (3 days before the
 *   end) notifies once per subscription (`notifyTrialEnding`).
 *
 * Times: Convex ms (Stripe seconds × 1000).
 */
import type Stripe from "stripe";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { startPeriod } from "./ledger";
import { notify } from "./notifications";
import { PLANS, type Tier } from "./plans";
import { secondsToMs } from "./stripeShapes";

/** Ledger source key and balance period key of a subscription's trial allowance. */
export function trialKey(stripeSubscriptionId: string): string {
  return `trial:${stripeSubscriptionId}`;
}

/** Whether a balance's period is a trial (not a paid window or a free month). */
export function isTrialKey(periodKey: string | undefined): boolean {
  return periodKey?.startsWith("trial:") ?? false;
}

/**
 * Records that the account used its trial (`trialUsedAt`, ms = the
 * subscription's `trial_start`): the earliest trial start seen, so whichever
 * order two trials' events arrive in, the first trial is the one that
 * counts. Later trials never move it. Writes nothing otherwise.
 */
export async function recordTrialUse(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  subscription: Pick<Stripe.Subscription, "trial_start">,
): Promise<void> {
  const start = secondsToMs(subscription.trial_start);
  if (start === undefined || (account.trialUsedAt !== undefined && account.trialUsedAt <= start)) return;
  await ctx.db.patch("billingAccounts", account._id, { trialUsedAt: start });
}

/**
 * Whether the mirrored subscription's trial started after the account's
 * first one (`trialUsedAt`): a second trial that slipped past Checkout's
 * refusal (a stale session completed later). It gets neither the trial
 * allowance nor the plan's tier: one free trial per account.
 */
export async function isLaterTrial(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "trialStart">,
): Promise<boolean> {
  if (mirror.trialStart === undefined) return false;
  const account = await ctx.db.get("billingAccounts", accountId);
  return account?.trialUsedAt !== undefined && mirror.trialStart > account.trialUsedAt;
}

/**
 * Grants the trial allowance of the mirrored subscription's plan once
 * (ledger key `trial:<sub id>`), as the balance's period
 * `[trialStart, trialEnd)`: it replaces a free month's allowance and is
 * replaced by the first paid window. Nothing for a plan without a trial
 * allowance, a trial already over when its invoice arrives late (a paid
 * window started since: the ledger's stale-period rule), or a trial that
 * started after the account's first one (`trialUsedAt`: one per account).
 */
export async function grantTrialAllowance(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "stripeSubscriptionId" | "trialStart" | "trialEnd">,
  tier: Tier,
): Promise<{ applied: boolean }> {
  const trial = PLANS[tier].trial;
  if (!trial || mirror.trialStart === undefined || mirror.trialEnd === undefined || !(mirror.trialEnd > mirror.trialStart)) {
    return { applied: false };
  }
  const key = trialKey(mirror.stripeSubscriptionId);
  // One trial per account: a later subscription's trial (a stale Checkout
  // session completed after the first trial) gets no second allowance.
  if (await isLaterTrial(ctx, accountId, mirror)) {
    console.warn(`billing: ${key} is a second trial for account ${accountId}; no trial allowance`);
    return { applied: false };
  }
  return await startPeriod(ctx, accountId, {
    sourceKey: key,
    tokens: trial.tokens,
    periodKey: key,
    periodStart: mirror.trialStart,
    periodEnd: mirror.trialEnd,
  });
}

/**
 * `customer.subscription.trial_will_end`: one `trial_ending` notification
 * per subscription (dedupe key `trial_ending:<sub id>`), saying when the
 * trial ends and whether a card is on file. Not critical: the customer may
 * turn these emails off.
 */
export async function notifyTrialEnding(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "stripeSubscriptionId" | "tier" | "trialEnd" | "hasPaymentMethod">,
): Promise<{ created: boolean }> {
  const plan = PLANS[mirror.tier].name;
  const ends = mirror.trialEnd === undefined ? "soon" : `on ${formatDay(mirror.trialEnd)}`;
  const body = mirror.hasPaymentMethod
    ? `Your ${plan} trial ends ${ends}. Your card on file will then be charged and ${plan} continues.`
    : `Your ${plan} trial ends ${ends}. Add a card before then to keep ${plan}.`;
  const { created } = await notify(ctx, {
    accountId,
    kind: "trial_ending",
    dedupeKey: `trial_ending:${mirror.stripeSubscriptionId}`,
    title: `Your ${plan} trial ends ${ends}`,
    body,
    link: "/billing",
    critical: false,
  });
  return { created };
}

/** "12 Dec 2026" (UTC). */
function formatDay(ms: number): string {
  return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }).format(ms);
}
