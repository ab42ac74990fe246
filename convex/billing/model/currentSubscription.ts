/**
 * Which subscription is an account's current one: decided here and nowhere
 * else.
 *
 * The current subscription is the one that decides the account's tier and
 * that the billing page shows. Among the account's subscriptions: a granting
 * one (`active`, `trialing`) over a past-due one, over `unpaid` / `paused`,
 * over `incomplete`, ended ones last; ties go to the most recently updated
 * (event time, then the later period end).
 *
 * Writers (the event handlers, through `access.settleAccount`) store the
 * choice on `billingAccounts.stripeSubscriptionId`; readers follow that
 * pointer (one indexed read) and fall back to choosing again when it names
 * no subscription of this account (e.g. right after Checkout, before the new
 * subscription's own events arrived).
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";

/** Subscriptions considered per account; an account has a handful at most. */
export const MAX_SUBSCRIPTIONS_PER_ACCOUNT = 50;

/** How strongly a subscription claims to be the account's current one. */
function relevance(subscription: Pick<Doc<"subscriptions">, "status">): number {
  switch (subscription.status) {
    case "active":
    case "trialing":
      return 4;
    case "past_due":
      return 3;
    case "unpaid":
    case "paused":
      return 2;
    case "incomplete":
      return 1;
    default:
      return 0;
  }
}

/** The current one of an account's subscriptions (see the module doc), or undefined for none. */
export function pickCurrentSubscription<S extends Pick<Doc<"subscriptions">, "status" | "eventCreated" | "currentPeriodEnd">>(
  subscriptions: readonly S[],
): S | undefined {
  let best: S | undefined;
  for (const candidate of subscriptions) {
    if (!best) {
      best = candidate;
      continue;
    }
    const byRelevance = relevance(candidate) - relevance(best);
    const byEvent = candidate.eventCreated - best.eventCreated;
    const byPeriod = (candidate.currentPeriodEnd ?? 0) - (best.currentPeriodEnd ?? 0);
    if (byRelevance > 0 || (byRelevance === 0 && (byEvent > 0 || (byEvent === 0 && byPeriod > 0)))) {
      best = candidate;
    }
  }
  return best;
}

/** The account's subscriptions (at most `MAX_SUBSCRIPTIONS_PER_ACCOUNT`). */
export async function accountSubscriptions(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
): Promise<Doc<"subscriptions">[]> {
  return await ctx.db
    .query("subscriptions")
    .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
    .take(MAX_SUBSCRIPTIONS_PER_ACCOUNT);
}

/** The mirror row of a subscription id, or null. */
export async function subscriptionRow(ctx: QueryCtx, stripeSubscriptionId: string): Promise<Doc<"subscriptions"> | null> {
  return await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", stripeSubscriptionId))
    .unique();
}

/**
 * The account's current subscription: the one its pointer names when that is
 * the account's own, else the one `pickCurrentSubscription` chooses; null
 * when it has none.
 */
export async function currentSubscriptionOf(
  ctx: QueryCtx,
  account: Pick<Doc<"billingAccounts">, "_id" | "stripeSubscriptionId">,
): Promise<Doc<"subscriptions"> | null> {
  if (account.stripeSubscriptionId !== undefined) {
    const pointed = await subscriptionRow(ctx, account.stripeSubscriptionId);
    if (pointed && pointed.accountId === account._id) return pointed;
  }
  return pickCurrentSubscription(await accountSubscriptions(ctx, account._id)) ?? null;
}
