/**
 * The access policy: which tier a billing account has right now.
 *
 * | subscription status | tier |
 * |---|---|
 * | `active`, `trialing` | the plan's tier |
 * | `past_due` | the plan's tier (the dunning timeline decides when it stops) |
 * | `canceled`, `unpaid`, `incomplete_expired`, `paused`, `incomplete` | `free` |
 * | no subscription | `free` |
 *
 * Money before entitlement: the tier is never higher than what the
 * customer's paid invoices cover (`model/coverage.ts` `paidTierCap`), so a
 * plan change whose invoice is unpaid (a Portal switch that failed to
 * charge) keeps the tier that was paid for, and a subscription whose first
 * invoice is not paid grants nothing.
 *
 * Dunning (`model/dunning.ts`, docs/DUNNING.md): while the account is
 * `suspended` or `restricted` for an overdue invoice its tier is `free`,
 * whatever the subscription says; paying ends that at once.
 *
 * A staff `tierOverride` wins over all of it. Statuses follow
 * https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses.
 * Times are Convex milliseconds.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { appendAudit, SYSTEM_ACTOR, type AuditActor } from "./audit";
import { paidTierCap } from "./coverage";
import { dunningGraceEnd, paidFeaturesSuspended } from "./dunningPolicy";
import { accountSubscriptions, currentSubscriptionOf, pickCurrentSubscription } from "./currentSubscription";
import { notifyPlanChanged } from "./planNotices";
import { tierRank, type Tier } from "./plans";
import type { SubscriptionStatus } from "./validators";

/** Statuses nothing can revive (Stripe never moves a subscription out of them). */
export const TERMINAL_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ["canceled", "incomplete_expired"];

export function isTerminalStatus(status: SubscriptionStatus): boolean {
  return TERMINAL_SUBSCRIPTION_STATUSES.includes(status);
}

/** The tier a subscription grants at `nowMs` (no override applied). */
export function tierFromSubscription(
  subscription: Pick<Doc<"subscriptions">, "status" | "tier" | "pastDueSince"> | null,
  _nowMs: number,
): Tier {
  if (!subscription) return "free";
  switch (subscription.status) {
    case "active":
    case "trialing":
      return subscription.tier;
    case "past_due":
      // The plan stays while the renewal is overdue; the dunning timeline
      // (`dunningStage`, applied in `settleAccount`) suspends it on its day.
      return subscription.tier;
    default:
      return "free";
  }
}

/** Fields of the account the event handlers may change besides the pointer and the tier. */
export type AccountChanges = Partial<
  Pick<
    Doc<"billingAccounts">,
    "stripeCustomerId" | "stripeCustomerDeleted" | "customerBalance" | "balanceCurrency" | "tierOverride" | "tierOverrideUntil"
  >
>;

/**
 * The staff override in force at `nowMs` (ms): `tierOverride` until its
 * `tierOverrideUntil`, none after it (the scheduled `console.lapseComp`
 * clears it; readers must not wait for that).
 */
export function activeOverride(
  account: Pick<Doc<"billingAccounts">, "tierOverride" | "tierOverrideUntil">,
  nowMs: number,
): Tier | undefined {
  if (account.tierOverride === undefined) return undefined;
  if (account.tierOverrideUntil !== undefined && nowMs >= account.tierOverrideUntil) return undefined;
  return account.tierOverride;
}

/**
 * The one place the billing account row is written after a Stripe event or a
 * grace-period expiry: applies `changes`, re-points the account at its
 * current subscription (`model/currentSubscription.ts`) when `repoint` is
 * set, and recomputes `tier` and `graceEndsAt` at `nowMs` (ms) from that
 * subscription, what was paid (`paidTierCap`) and `tierOverride`. Patches
 * only the fields that differ, in one write, or writes nothing.
 *
 * `graceEndsAt` is the dunning suspension day while an overdue account still
 * has its plan (`model/dunningPolicy.ts` `dunningGraceEnd`), else absent.
 *
 * @param options.awaitingSubscriptionId a subscription Checkout just created
 *   whose own events have not arrived: the account points at it when it has
 *   no live one (the tier moves when its invoice is paid).
 * @param options.actor who caused the settle (a Stripe event, a cron); a
 *   tier change is written to the audit log under it (default: the system).
 * @returns the stored tier and grace end.
 */
export async function settleAccount(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  nowMs: number,
  options: { changes?: AccountChanges; repoint?: boolean; awaitingSubscriptionId?: string; actor?: AuditActor } = {},
): Promise<{ tier: Tier; graceEndsAt: number | undefined }> {
  const next = { ...account, ...options.changes };
  let subscription: Doc<"subscriptions"> | null;
  if (options.repoint || options.awaitingSubscriptionId !== undefined) {
    const best = pickCurrentSubscription(await accountSubscriptions(ctx, account._id));
    subscription = best ?? null;
    if (best) next.stripeSubscriptionId = best.stripeSubscriptionId;
    if (options.awaitingSubscriptionId !== undefined && (!best || isTerminalStatus(best.status))) {
      next.stripeSubscriptionId = options.awaitingSubscriptionId;
      subscription = null;
    }
  } else {
    subscription = await currentSubscriptionOf(ctx, next);
  }
  const fromSubscription = tierFromSubscription(subscription, nowMs);
  const cap = fromSubscription === "free" ? "free" : ((await paidTierCap(ctx, account._id, nowMs)) ?? "free");
  // Suspended or restricted for an overdue invoice: nothing paid-for is granted.
  const suspended = paidFeaturesSuspended(next);
  // The plan: what the subscription and the money grant, before suspension and override.
  const plan = tierRank(cap) < tierRank(fromSubscription) ? cap : fromSubscription;
  const paid = suspended ? "free" : plan;
  const planBefore = storedPlanTier(account);
  next.planTier = plan === "free" ? undefined : plan;
  const override = activeOverride(next, nowMs);
  next.tier = override ?? paid;
  next.tierWithoutOverride = next.tierOverride !== undefined ? paid : undefined;
  next.graceEndsAt = dunningGraceEnd(next);
  next.overageBillable = suspended ? undefined : overageBillable(subscription, override);

  const patch: Partial<Doc<"billingAccounts">> = {};
  let changed = false;
  for (const key of [
    ...Object.keys(options.changes ?? {}),
    "stripeSubscriptionId",
    "tier",
    "graceEndsAt",
    "overageBillable",
    "tierWithoutOverride",
    "planTier",
  ] as const) {
    const field = key as
      | keyof AccountChanges
      | "stripeSubscriptionId"
      | "tier"
      | "graceEndsAt"
      | "overageBillable"
      | "tierWithoutOverride"
      | "planTier";
    if (next[field] !== account[field]) {
      (patch as Record<string, unknown>)[field] = next[field];
      changed = true;
    }
  }
  if (changed) await ctx.db.patch("billingAccounts", account._id, patch);
  if (next.tier !== account.tier) {
    await appendAudit(ctx, {
      ...(options.actor ?? SYSTEM_ACTOR),
      accountId: account._id,
      action: "access.tier",
      before: { tier: account.tier, stripeSubscriptionId: account.stripeSubscriptionId ?? null },
      after: { tier: next.tier, stripeSubscriptionId: next.stripeSubscriptionId ?? null },
    });
  }
  // A plan change (not a suspension or an override): told once (`model/planNotices.ts`).
  if (planBefore !== null && plan !== planBefore) await notifyPlanChanged(ctx, account._id, subscription, planBefore, plan, nowMs);
  return { tier: next.tier, graceEndsAt: next.graceEndsAt };
}

/**
 * The plan `settleAccount` last stored (`planTier`, absent = free). An
 * account last settled before `planTier` existed falls back to its stored
 * tier (the one without an override), so the first settle after the upgrade
 * does not announce the plan it already had (null, not announced, while
 * it is suspended).
 */
function storedPlanTier(account: Doc<"billingAccounts">): Tier | null {
  if (account.planTier !== undefined) return account.planTier;
  // Suspended: the stored tier says nothing of the plan (unknown: stored, not announced).
  if (paidFeaturesSuspended(account)) return null;
  return account.tierOverride !== undefined ? (account.tierWithoutOverride ?? "free") : account.tier;
}

/**
 * Whether overage can be billed on the account now: its current
 * subscription is `active` (not trialing, past due or ending unpaid) and
 * carries the metered overage item, and no staff override decides the tier
 * (a comped tier has no subscription to bill). `undefined` = no.
 */
function overageBillable(subscription: Doc<"subscriptions"> | null, tierOverride: Tier | undefined): true | undefined {
  return subscription?.status === "active" && subscription.overageItemId !== undefined && tierOverride === undefined
    ? true
    : undefined;
}

/**
 * Recomputes and stores the account's tier and grace end at `nowMs` (see
 * `settleAccount`); writes only when something changed.
 */
export async function recomputeAccountTier(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
  actor?: AuditActor,
): Promise<{ tier: Tier; graceEndsAt: number | undefined }> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) throw new Error(`billing account ${accountId} not found`);
  return await settleAccount(ctx, account, nowMs, { actor });
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
