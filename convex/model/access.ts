/**
 * The access policy: which tier a billing account has right now.
 *
 * | subscription status | tier |
 * |---|---|
 * | `active`, `trialing` | the plan's tier |
 * | `past_due` | the plan's tier until `graceEndsAt`, then `free` |
 * | `canceled`, `unpaid`, `incomplete_expired`, `paused`, `incomplete` | `free` |
 * | no subscription | `free` |
 *
 * Money before entitlement: the tier is never higher than what the
 * customer's paid invoices cover (`model/coverage.ts` `paidTierCap`), so a
 * plan change whose invoice is unpaid (a Portal switch that failed to
 * charge) keeps the tier that was paid for, and a subscription whose first
 * invoice is not paid grants nothing.
 *
 * A staff `tierOverride` wins over all of it. Statuses follow
 * https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses.
 * Times are Convex milliseconds.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { paidTierCap } from "./coverage";
import { BILLING_CONFIG, tierRank, type Tier } from "./plans";
import type { SubscriptionStatus } from "./validators";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Statuses nothing can revive (Stripe never moves a subscription out of them). */
export const TERMINAL_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ["canceled", "incomplete_expired"];

export function isTerminalStatus(status: SubscriptionStatus): boolean {
  return TERMINAL_SUBSCRIPTION_STATUSES.includes(status);
}

/**
 * When a `past_due` subscription stops granting its tier (ms), or undefined
 * when it is not past due. Counted from `pastDueSince`, the time of the event
 * that first reported `past_due` in this spell.
 */
export function graceEndsAtFor(
  subscription: Pick<Doc<"subscriptions">, "status" | "pastDueSince"> | null,
): number | undefined {
  if (!subscription || subscription.status !== "past_due" || subscription.pastDueSince === undefined) {
    return undefined;
  }
  return subscription.pastDueSince + BILLING_CONFIG.pastDueGraceDays * DAY_MS;
}

/** The tier a subscription grants at `nowMs` (no override applied). */
export function tierFromSubscription(
  subscription: Pick<Doc<"subscriptions">, "status" | "tier" | "pastDueSince"> | null,
  nowMs: number,
): Tier {
  if (!subscription) return "free";
  switch (subscription.status) {
    case "active":
    case "trialing":
      return subscription.tier;
    case "past_due": {
      const graceEndsAt = graceEndsAtFor(subscription);
      // A past_due mirror without pastDueSince cannot happen through the
      // handlers; treat it as still inside the grace period rather than
      // cutting access on missing data.
      return graceEndsAt === undefined || nowMs < graceEndsAt ? subscription.tier : "free";
    }
    default:
      return "free";
  }
}

/**
 * Recomputes and stores `billingAccounts.tier` and `graceEndsAt` from the
 * account's current subscription (`stripeSubscriptionId`) and `tierOverride`.
 *
 * `graceEndsAt` is kept only while the grace period is running, so the
 * dunning cron (`billing.expireGracePeriods`, which reads `by_graceEndsAt`
 * and calls this for accounts whose grace has passed) finds each account
 * once. Writes only when something changed. Returns the stored values.
 *
 * @param nowMs Convex time (ms) the policy is evaluated at.
 */
export async function recomputeAccountTier(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
): Promise<{ tier: Tier; graceEndsAt: number | undefined }> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) throw new Error(`billing account ${accountId} not found`);
  const subscription = await currentSubscriptionOf(ctx, account);
  const fromSubscription = tierFromSubscription(subscription, nowMs);
  const cap = fromSubscription === "free" ? "free" : ((await paidTierCap(ctx, accountId, nowMs)) ?? "free");
  const paid = tierRank(cap) < tierRank(fromSubscription) ? cap : fromSubscription;
  const tier = account.tierOverride ?? paid;
  const graceEnd = graceEndsAtFor(subscription);
  const graceEndsAt = graceEnd !== undefined && nowMs < graceEnd ? graceEnd : undefined;
  if (account.tier !== tier || account.graceEndsAt !== graceEndsAt) {
    await ctx.db.patch("billingAccounts", accountId, { tier, graceEndsAt });
  }
  return { tier, graceEndsAt };
}

/**
 * The mirror row of the subscription that currently decides the account's
 * tier (`billingAccounts.stripeSubscriptionId`), or null when it has none.
 */
export async function currentSubscriptionOf(
  ctx: QueryCtx,
  account: Pick<Doc<"billingAccounts">, "stripeSubscriptionId">,
): Promise<Doc<"subscriptions"> | null> {
  const subscriptionId = account.stripeSubscriptionId;
  if (subscriptionId === undefined) return null;
  return await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", subscriptionId))
    .unique();
}

/**
 * The billing account linked to a Stripe customer (`cus_…`), or null when no
 * account has that customer yet.
 */
export async function accountForStripeCustomer(
  ctx: QueryCtx,
  stripeCustomerId: string,
): Promise<Doc<"billingAccounts"> | null> {
  return await ctx.db
    .query("billingAccounts")
    .withIndex("by_stripeCustomerId", (q) => q.eq("stripeCustomerId", stripeCustomerId))
    .first();
}
