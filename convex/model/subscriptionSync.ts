/**
 * Mirrors Stripe subscriptions into `subscriptions` from
 * `customer.subscription.*` events, in event order.
 *
 * Ordering ("event time plus status rank", docs/ARCHITECTURE.md): the mirror
 * keeps `eventCreated` (Stripe seconds) of the last applied event. An older
 * event is skipped; nothing revives `canceled` / `incomplete_expired`. Stripe
 * stamps events in whole seconds, so several can share one; at an equal
 * second (see `sameSecondOrder`) the event's `previous_attributes.status`
 * tells a transition from the stored state, and status rank decides only
 * when that is silent.
 *
 * Field shapes follow API version 2026-10-28.endive, where
 * `current_period_start` / `current_period_end` live on subscription items
 * (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end);
 * the top-level fields of older versions are read too. Stripe times are
 * seconds and are stored as ms.
 */
import type Stripe from "stripe";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer, isTerminalStatus, recomputeAccountTier } from "./access";
import { planForLookupKey, type Interval, type Tier } from "./plans";
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from "./validators";
import { planForPrice, recordCataloguePrice } from "./prices";
import { RetryableEventError } from "./webhookQueue";

/** Where an event sits in time, for ordering. */
export type EventClock = {
  eventId: string;
  /** Stripe `created`, seconds. */
  eventCreated: number;
  /** `data.previous_attributes.status` when the event changed the status. */
  previousStatus?: string;
};

/**
 * Rank of a status along the subscription lifecycle; at an equal event
 * second the higher rank wins (e.g. `active` over `incomplete` when both are
 * stamped with the same second at checkout).
 */
const STATUS_RANK: Record<SubscriptionStatus, number> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  paused: 3,
  unpaid: 4,
  canceled: 5,
  incomplete_expired: 5,
};

export function subscriptionStatusRank(status: SubscriptionStatus): number {
  return STATUS_RANK[status];
}

function isSubscriptionStatus(value: string | undefined): value is SubscriptionStatus {
  return value !== undefined && (SUBSCRIPTION_STATUSES as readonly string[]).includes(value);
}

/**
 * Orders an event stamped with the same second as the stored state; returns
 * why it is stale, or null to apply it.
 * 1. The event moved *from* the stored status (`previous_attributes.status`):
 *    it continues from our state, so it is newer (e.g. `past_due` → `active`
 *    right after a card update left the status `past_due`).
 * 2. The event moved *into* the stored status from another one: our state
 *    is already past that transition (a later update that kept the status,
 *    e.g. a cancel scheduled right after the renewal failed), so it is older.
 * 3. The event's status is the one the stored state moved from: it is that
 *    state's predecessor.
 * 4. Otherwise the higher status rank wins (e.g. `active` over `incomplete`
 *    at checkout, where `created` carries no previous attributes); an equal
 *    rank applies (delivery order).
 *
 * Limit: within one second, a status that goes A → B → A leaves two events
 * that each continue from the other (rule 1 both ways); the one delivered
 * last wins. Stripe stamps no finer time, and its delivery is usually in order.
 */
export function sameSecondOrder(
  existing: Pick<Doc<"subscriptions">, "status" | "statusBefore">,
  status: SubscriptionStatus,
  previousStatus: string | undefined,
): string | null {
  if (previousStatus !== undefined && previousStatus === existing.status) return null;
  if (previousStatus !== undefined && status === existing.status) {
    return `same second, moved into ${status} from ${previousStatus}, which the stored state is already past`;
  }
  if (existing.statusBefore !== undefined && status === existing.statusBefore && status !== existing.status) {
    return `same second, the stored ${existing.status} state moved on from ${status}`;
  }
  if (STATUS_RANK[status] < STATUS_RANK[existing.status]) {
    return `same second, lower status rank than ${existing.status}`;
  }
  return null;
}

/** Stripe id of an expandable field (`"cus_…"` or `{ id: "cus_…" }`). */
export function stripeIdOf(value: string | { id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

export function secondsToMs(seconds: number | null | undefined): number | undefined {
  return seconds === null || seconds === undefined ? undefined : seconds * 1000;
}

function toStatus(status: string): SubscriptionStatus {
  if (isSubscriptionStatus(status)) return status;
  throw new Error(`unknown subscription status "${status}"`);
}

/** Pre-2025-03-31 API versions carry the period on the subscription itself. */
type LegacySubscriptionPeriod = { current_period_start?: number | null; current_period_end?: number | null };

/** The item that decides the plan: the first whose price is in the catalogue, else the first. */
function planItem(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  const items = subscription.items?.data ?? [];
  return items.find((item) => planForLookupKey(item.price?.lookup_key) !== null) ?? items[0];
}

export type SubscriptionSyncResult =
  | { outcome: "stale"; reason: string; learnedPrice: boolean }
  | { outcome: "applied"; accountId: Id<"billingAccounts">; stripeCustomerId: string; tier: Tier };

/**
 * Upserts the mirror of `subscription` from an event, in order, then points
 * the account at its most relevant subscription and recomputes its tier.
 * Tokens never move here: allowances follow paid invoices
 * (`model/allowance.ts`), and the tier is capped by what was paid
 * (`model/access.ts`).
 *
 * Throws `RetryableEventError` when the customer is not linked to an account.
 */
export async function syncSubscription(
  ctx: MutationCtx,
  subscription: Stripe.Subscription,
  clock: EventClock,
  nowMs: number,
): Promise<SubscriptionSyncResult> {
  const status = toStatus(subscription.status);
  const existing = await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", subscription.id))
    .unique();
  // What a price sells is a fact whatever the event's age: learn it even
  // from a stale event, so invoices naming it need not wait.
  let learnedPrice = false;
  for (const item of subscription.items?.data ?? []) {
    if (item.price && (await recordCataloguePrice(ctx, item.price))) learnedPrice = true;
  }

  if (existing) {
    if (clock.eventCreated < existing.eventCreated) {
      return { outcome: "stale", reason: "older than the applied state", learnedPrice };
    }
    if (isTerminalStatus(existing.status) && !isTerminalStatus(status)) {
      return { outcome: "stale", reason: `subscription is already ${existing.status}`, learnedPrice };
    }
    if (clock.eventCreated === existing.eventCreated) {
      const stale = sameSecondOrder(existing, status, clock.previousStatus);
      if (stale) return { outcome: "stale", reason: stale, learnedPrice };
    }
  }

  const stripeCustomerId = stripeIdOf(subscription.customer);
  if (!stripeCustomerId) throw new Error(`subscription ${subscription.id} has no customer`);
  let accountId = existing?.accountId;
  if (!accountId) {
    const account = await accountForStripeCustomer(ctx, stripeCustomerId);
    if (!account) throw new RetryableEventError(`customer ${stripeCustomerId} is not linked to an account yet`, `customer:${stripeCustomerId}`);
    accountId = account._id;
  }

  const item = planItem(subscription);
  const price = item?.price;
  const plan = price ? await planForPrice(ctx, price) : null;
  const tier: Tier = plan?.tier ?? "free";
  const recurring: string | undefined = price?.recurring?.interval;
  const interval: Interval | undefined =
    plan?.interval ?? (recurring === "month" ? "month" : recurring === "year" ? "year" : undefined);

  const legacy = subscription as Stripe.Subscription & LegacySubscriptionPeriod;
  const currentPeriodStart = secondsToMs(item?.current_period_start ?? legacy.current_period_start);
  const currentPeriodEnd = secondsToMs(item?.current_period_end ?? legacy.current_period_end);

  const pendingUpdate = await pendingUpdateOf(ctx, subscription);

  const pastDueSince =
    status !== "past_due"
      ? undefined
      : existing?.status === "past_due" && existing.pastDueSince !== undefined
        ? existing.pastDueSince
        : clock.eventCreated * 1000;

  const row: Omit<Doc<"subscriptions">, "_id" | "_creationTime"> = {
    stripeSubscriptionId: subscription.id,
    stripeCustomerId,
    accountId,
    status,
    stripePriceId: price?.id,
    stripeSubscriptionItemId: item?.id,
    lookupKey: price?.lookup_key ?? undefined,
    tier,
    interval,
    quantity: item?.quantity ?? 1,
    currentPeriodStart,
    currentPeriodEnd,
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
    cancelAt: secondsToMs(subscription.cancel_at),
    canceledAt: secondsToMs(subscription.canceled_at),
    endedAt: secondsToMs(subscription.ended_at),
    trialStart: secondsToMs(subscription.trial_start),
    trialEnd: secondsToMs(subscription.trial_end),
    startDate: secondsToMs(subscription.start_date),
    eventCreated: clock.eventCreated,
    statusBefore: isSubscriptionStatus(clock.previousStatus) ? clock.previousStatus : undefined,
    pastDueSince,
    pendingUpdate,
    scheduleId: stripeIdOf(subscription.schedule),
    // A schedule's own events fill this in; a subscription without a
    // schedule has nothing scheduled.
    scheduledChange: subscription.schedule ? existing?.scheduledChange : undefined,
    scheduleEventCreated: existing?.scheduleEventCreated,
    testClockId: stripeIdOf(subscription.test_clock),
  };

  if (existing) {
    await ctx.db.replace("subscriptions", existing._id, row);
  } else {
    await ctx.db.insert("subscriptions", row);
  }

  await pointAccountAtCurrentSubscription(ctx, accountId);
  const { tier: accountTier } = await recomputeAccountTier(ctx, accountId, nowMs);
  return { outcome: "applied", accountId, stripeCustomerId, tier: accountTier };
}

/**
 * The change Stripe holds until its invoice is paid (`pending_update`,
 * https://docs.stripe.com/billing/subscriptions/pending-updates), as the
 * plan it would switch to; undefined when there is none or its price is not
 * in the catalogue.
 */
async function pendingUpdateOf(
  ctx: MutationCtx,
  subscription: Stripe.Subscription,
): Promise<Doc<"subscriptions">["pendingUpdate"]> {
  const pending = subscription.pending_update;
  const price = pending?.subscription_items?.[0]?.price;
  if (!pending || !price) return undefined;
  await recordCataloguePrice(ctx, price);
  const plan = await planForPrice(ctx, price);
  if (!plan?.interval) return undefined;
  return { tier: plan.tier, interval: plan.interval, expiresAt: pending.expires_at * 1000 };
}

/** How strongly a subscription claims to be the account's current one. */
function relevance(subscription: Doc<"subscriptions">): number {
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

/** Subscriptions considered per account; an account has a handful at most. */
const MAX_SUBSCRIPTIONS_PER_ACCOUNT = 50;

/**
 * Sets `billingAccounts.stripeSubscriptionId` to the account's most relevant
 * subscription: a granting one over a past-due one over the rest, terminal
 * ones last; ties go to the most recently updated (event time, then the
 * later period end).
 */
export async function pointAccountAtCurrentSubscription(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
): Promise<Doc<"subscriptions"> | undefined> {
  const subscriptions = await ctx.db
    .query("subscriptions")
    .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
    .take(MAX_SUBSCRIPTIONS_PER_ACCOUNT);
  let best: Doc<"subscriptions"> | undefined;
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
  const account = await ctx.db.get("billingAccounts", accountId);
  if (account && best && account.stripeSubscriptionId !== best.stripeSubscriptionId) {
    await ctx.db.patch("billingAccounts", accountId, { stripeSubscriptionId: best.stripeSubscriptionId });
  }
  return best;
}
