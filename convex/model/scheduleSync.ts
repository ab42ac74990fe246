/**
 * Scheduled plan changes and test clocks, from Stripe events.
 *
 * - `subscription_schedule.*` (https://docs.stripe.com/api/subscription_schedules/object):
 *   a downgrade or a shorter interval waits for the period end in a
 *   Subscription Schedule, created by the app's `billing.changePlan` or by
 *   the Portal (`schedule_at_period_end`). The subscription mirror keeps the
 *   phase after the current one as `scheduledChange` ({tier, interval,
 *   effectiveAt ms}) for the billing page; nothing about access or tokens
 *   changes until the renewal invoice for the new price is paid.
 *   Schedule events are ordered by their `created` second
 *   (`scheduleEventCreated`); a released, canceled or completed schedule
 *   clears the change.
 * - `test_helpers.test_clock.ready` (test mode): a subscription on a test
 *   clock lives at the clock's `frozen_time`, so a clock that moved on
 *   rolls the allowance windows of its subscribers (a yearly plan's monthly
 *   allowance) at that time.
 */
import type Stripe from "stripe";
import type { MutationCtx } from "../_generated/server";
import { recomputeAccountTier } from "./access";
import { syncAllowance } from "./allowance";
import { isTier, type Interval, type Tier } from "./plans";
import { planForPrice } from "./prices";
import { stripeIdOf } from "./subscriptionSync";
import { RetryableEventError } from "./webhookQueue";

type ApplyOutcome = "succeeded" | "ignored";

const ENDED_SCHEDULE_STATUSES: readonly string[] = ["released", "canceled", "completed"];

/** Subscriptions on one test clock (Stripe allows three customers per clock). */
const SUBSCRIPTIONS_PER_CLOCK = 20;

/**
 * Mirrors a schedule's next phase onto its subscription as `scheduledChange`.
 * Throws `RetryableEventError` while the subscription mirror or the phase's
 * price is unknown.
 */
export async function applyScheduleEvent(
  ctx: MutationCtx,
  schedule: Stripe.SubscriptionSchedule,
  eventCreated: number,
): Promise<ApplyOutcome> {
  const subscriptionId = stripeIdOf(schedule.subscription) ?? schedule.released_subscription ?? undefined;
  if (!subscriptionId) return "ignored";
  const mirror = await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", subscriptionId))
    .unique();
  if (!mirror) {
    throw new RetryableEventError(`subscription ${subscriptionId} of schedule ${schedule.id} is not known yet`, `subscription:${subscriptionId}`);
  }
  if (mirror.scheduleEventCreated !== undefined && eventCreated < mirror.scheduleEventCreated) return "succeeded";

  const ended = ENDED_SCHEDULE_STATUSES.includes(schedule.status) || stripeIdOf(schedule.subscription) === undefined;
  const change = ended ? undefined : await nextPhaseChange(schedule, mirror.stripePriceId, ctx);
  await ctx.db.patch("subscriptions", mirror._id, {
    scheduleId: ended ? undefined : schedule.id,
    scheduledChange: change,
    scheduleEventCreated: eventCreated,
  });
  return "succeeded";
}

/** The plan of the phase after the current one, when it changes the price; else undefined. */
async function nextPhaseChange(
  schedule: Stripe.SubscriptionSchedule,
  currentPriceId: string | undefined,
  ctx: MutationCtx,
): Promise<{ tier: Tier; interval: Interval; effectiveAt: number } | undefined> {
  const currentEnd = schedule.current_phase?.end_date;
  const next = schedule.phases.find((phase) => (currentEnd === undefined ? false : phase.start_date >= currentEnd));
  const price = next?.items[0]?.price;
  if (!next || !price) return undefined;
  const priceId = typeof price === "string" ? price : price.id;
  if (priceId === currentPriceId) return undefined;
  const meta = next.metadata ?? {};
  if (meta.tier && isTier(meta.tier) && (meta.interval === "month" || meta.interval === "year")) {
    return { tier: meta.tier, interval: meta.interval, effectiveAt: next.start_date * 1000 };
  }
  const plan = await planForPrice(ctx, typeof price === "string" ? { id: price } : price);
  if (!plan) throw new RetryableEventError(`price ${priceId} of schedule ${schedule.id} is not known yet`, `price:${priceId}`);
  if (!plan.interval || plan.tier === "free") return undefined;
  return { tier: plan.tier, interval: plan.interval, effectiveAt: next.start_date * 1000 };
}

/**
 * Records a test clock's time and rolls the allowance windows and tiers of
 * the subscriptions on it at that time (ms, never earlier than `nowMs`).
 */
export async function applyTestClockReady(
  ctx: MutationCtx,
  clock: Stripe.TestHelpers.TestClock,
  eventId: string,
  nowMs: number,
): Promise<ApplyOutcome> {
  const frozenTime = clock.frozen_time * 1000;
  const existing = await ctx.db
    .query("stripeTestClocks")
    .withIndex("by_clockId", (q) => q.eq("clockId", clock.id))
    .unique();
  if (existing && existing.frozenTime >= frozenTime) return "succeeded";
  if (existing) await ctx.db.patch("stripeTestClocks", existing._id, { frozenTime });
  else await ctx.db.insert("stripeTestClocks", { clockId: clock.id, frozenTime });
  const subscriptions = await ctx.db
    .query("subscriptions")
    .withIndex("by_testClockId", (q) => q.eq("testClockId", clock.id))
    .take(SUBSCRIPTIONS_PER_CLOCK);
  const at = Math.max(nowMs, frozenTime);
  for (const accountId of new Set(subscriptions.map((s) => s.accountId))) {
    await syncAllowance(ctx, accountId, at, eventId);
    await recomputeAccountTier(ctx, accountId, at);
  }
  return subscriptions.length > 0 ? "succeeded" : "ignored";
}
