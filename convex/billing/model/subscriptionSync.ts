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
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer, isTerminalStatus, settleAccount } from "./access";
import { subscriptionRow } from "./currentSubscription";
import { applied, dependency, waitFor, type DependencyKey, type EventClock, type EventOutcome } from "./eventOutcome";
import { stripeActor } from "./audit";
import { notifyCancelScheduled, scheduledCancelAt } from "./planNotices";
import { OVERAGE_METER, planForLookupKey, type Interval, type Tier } from "./plans";
import { planForPrice, recordCataloguePrice } from "./prices";
import { secondsToMs, stripeIdOf, subscriptionPeriod } from "./stripeShapes";
import { recordTrialUse } from "./trials";
import { markPendingUpdateInvoice } from "./dunning";
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from "./validators";

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

function toStatus(status: string): SubscriptionStatus {
  if (isSubscriptionStatus(status)) return status;
  throw new Error(`unknown subscription status "${status}"`);
}

/** The metered overage item: its price is `OVERAGE_METER.price` (by lookup key) or any metered price. */
function overageItem(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return (subscription.items?.data ?? []).find(
    (item) => item.price?.lookup_key === OVERAGE_METER.price.lookupKey || item.price?.recurring?.usage_type === "metered",
  );
}

/** The item that decides the plan: the first whose price is in the catalogue, else the first that isn't metered. */
function planItem(subscription: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  const items = subscription.items?.data ?? [];
  return (
    items.find((item) => planForLookupKey(item.price?.lookup_key) !== null) ??
    items.find((item) => item.price?.recurring?.usage_type !== "metered")
  );
}

/**
 * Upserts the mirror of `subscription` from an event, in order, then points
 * the account at its current subscription and recomputes its tier, writing
 * the account only when something on it changed. Tokens never move here:
 * allowances follow paid invoices (`model/allowance.ts`), and the tier is
 * capped by what was paid (`model/access.ts`).
 *
 * Outcomes: `wait` for `customer:<id>` while the customer is linked to no
 * account (decided before any write); otherwise `applied`, also for a stale
 * event (nothing written but the prices it taught), landing the subscription
 * and any price it taught.
 */
export async function syncSubscription(
  ctx: MutationCtx,
  subscription: Stripe.Subscription,
  clock: EventClock,
  nowMs: number,
): Promise<EventOutcome> {
  const status = toStatus(subscription.status);
  const stripeCustomerId = stripeIdOf(subscription.customer);
  if (!stripeCustomerId) throw new Error(`subscription ${subscription.id} has no customer`);
  const existing = await subscriptionRow(ctx, subscription.id);
  // A mirrored subscription knows its account; a new one needs its customer linked first.
  const account = existing
    ? await ctx.db.get("billingAccounts", existing.accountId)
    : await accountForStripeCustomer(ctx, stripeCustomerId);
  if (!account) {
    if (existing) throw new Error(`billing account ${existing.accountId} of subscription ${subscription.id} not found`);
    return waitFor(dependency.customer(stripeCustomerId), `customer ${stripeCustomerId} is not linked to an account yet`);
  }

  // What a price sells is a fact whatever the event's age: learn it even
  // from a stale event, so invoices naming it need not wait.
  const learned: DependencyKey[] = [];
  for (const item of subscription.items?.data ?? []) {
    if (item.price && (await recordCataloguePrice(ctx, item.price))) learned.push(dependency.price(item.price.id));
  }

  // The invoice of a pending update is a declined plan change, not an unpaid
  // renewal: a fact whatever the event's age, marked on the invoice row
  // (dunning takes back what it already sent for it, `model/dunning.ts`).
  const pendingUpdateInvoiceId = subscription.pending_update ? stripeIdOf(subscription.latest_invoice) : undefined;
  if (pendingUpdateInvoiceId !== undefined) {
    await markPendingUpdateInvoice(ctx, account._id, pendingUpdateInvoiceId, clock, nowMs);
  }

  if (existing) {
    const stale =
      clock.eventCreated < existing.eventCreated
        ? "older than the applied state"
        : isTerminalStatus(existing.status) && !isTerminalStatus(status)
          ? `subscription is already ${existing.status}`
          : clock.eventCreated === existing.eventCreated
            ? sameSecondOrder(existing, status, clock.previousStatus)
            : null;
    if (stale) return applied(learned);
  }

  const item = planItem(subscription);
  const metered = overageItem(subscription);
  const price = item?.price;
  const plan = price ? await planForPrice(ctx, price) : null;
  const tier: Tier = plan?.tier ?? "free";
  const recurring: string | undefined = price?.recurring?.interval;
  const interval: Interval | undefined =
    plan?.interval ?? (recurring === "month" ? "month" : recurring === "year" ? "year" : undefined);
  const period = subscriptionPeriod(subscription, item);
  const pending = await pendingUpdateOf(ctx, subscription);
  if (pending.learned) learned.push(pending.learned);

  const pastDueSince =
    status !== "past_due"
      ? undefined
      : existing?.status === "past_due" && existing.pastDueSince !== undefined
        ? existing.pastDueSince
        : clock.eventCreated * 1000;

  const row: Omit<Doc<"subscriptions">, "_id" | "_creationTime"> = {
    stripeSubscriptionId: subscription.id,
    stripeCustomerId,
    accountId: account._id,
    status,
    stripePriceId: price?.id,
    stripeSubscriptionItemId: item?.id,
    overageItemId: metered?.id,
    overagePriceId: metered?.price?.id,
    tier,
    interval,
    quantity: item?.quantity ?? 1,
    currentPeriodStart: secondsToMs(period.start),
    currentPeriodEnd: secondsToMs(period.end),
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
    pendingUpdate: pending.update,
    pendingUpdateInvoiceId,
    scheduleId: stripeIdOf(subscription.schedule),
    // A schedule's own events fill this in; a subscription without a
    // schedule has nothing scheduled.
    scheduledChange: subscription.schedule ? existing?.scheduledChange : undefined,
    scheduleEventCreated: existing?.scheduleEventCreated,
    testClockId: stripeIdOf(subscription.test_clock),
    hasPaymentMethod: subscription.default_payment_method != null || subscription.default_source != null,
  };

  if (existing) {
    await ctx.db.replace("subscriptions", existing._id, row);
  } else {
    await ctx.db.insert("subscriptions", row);
  }
  // A cancellation now scheduled for the period end: told once (`model/planNotices.ts`).
  const endsAt = scheduledCancelAt(row);
  if (endsAt !== undefined && (existing === null || scheduledCancelAt(existing) === undefined)) {
    await notifyCancelScheduled(ctx, row, endsAt);
  }
  // One trial per account and per person: remembered the first time one is
  // seen; an earlier trial takes later ones back (`model/trials.ts`).
  await recordTrialUse(ctx, account, subscription, nowMs, stripeActor(clock.eventId));
  await settleAccount(ctx, account, nowMs, { repoint: true, actor: stripeActor(clock.eventId) });
  return applied([dependency.subscription(subscription.id), ...learned]);
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
): Promise<{ update: Doc<"subscriptions">["pendingUpdate"]; learned?: DependencyKey }> {
  const pending = subscription.pending_update;
  const price = pending?.subscription_items?.[0]?.price;
  if (!pending || !price) return { update: undefined };
  const learned = (await recordCataloguePrice(ctx, price)) ? dependency.price(price.id) : undefined;
  const plan = await planForPrice(ctx, price);
  if (!plan?.interval) return { update: undefined, learned };
  return { update: { tier: plan.tier, interval: plan.interval, expiresAt: pending.expires_at * 1000 }, learned };
}
