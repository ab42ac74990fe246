/**
 * Scheduled plan changes and test clocks, from Stripe events.
 *
 * - `subscription_schedule.*` (https://docs.stripe.com/api/subscription_schedules/object):
 *   a downgrade or a shorter interval waits for the period end in a
 *   Subscription Schedule, created by the app's `planChanges.changePlan` or by
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
import { advanceDunning } from "./dunning";
import { subscriptionRow } from "./currentSubscription";
import { IGNORED, applied, dependency, waitFor, type EventOutcome } from "./eventOutcome";
import { stripeActor } from "./audit";
import { notifyPlanScheduled } from "./planNotices";
import { isTier, type Interval, type Tier } from "./plans";
import { planForPrice } from "./prices";
import { priceIdOf, scheduleSubscriptionId, stripeIdOf } from "./stripeShapes";

const ENDED_SCHEDULE_STATUSES: readonly string[] = ["released", "canceled", "completed"];

/** Subscriptions on one test clock (Stripe allows three customers per clock). */
const SUBSCRIPTIONS_PER_CLOCK = 20;

/**
 * Mirrors a schedule's next phase onto its subscription as `scheduledChange`.
 * Outcomes, decided before the write: `wait` for `subscription:<id>` while
 * the subscription is not mirrored and for `price:<id>` while the next
 * phase's price is unknown; `ignored` for a schedule with no subscription;
 * otherwise `applied` (an older schedule event changes nothing).
 */
export async function applyScheduleEvent(
  ctx: MutationCtx,
  schedule: Stripe.SubscriptionSchedule,
  eventCreated: number,
): Promise<EventOutcome> {
  const subscriptionId = scheduleSubscriptionId(schedule);
  if (!subscriptionId) return IGNORED;
  const mirror = await subscriptionRow(ctx, subscriptionId);
  if (!mirror) {
    return waitFor(dependency.subscription(subscriptionId), `subscription ${subscriptionId} of schedule ${schedule.id} is not known yet`);
  }
  if (mirror.scheduleEventCreated !== undefined && eventCreated < mirror.scheduleEventCreated) return applied();

  const ended = ENDED_SCHEDULE_STATUSES.includes(schedule.status) || stripeIdOf(schedule.subscription) === undefined;
  const change = ended ? { kind: "none" as const } : await nextPhaseChange(schedule, mirror.stripePriceId, ctx);
  if (change.kind === "unknown_price") {
    return waitFor(dependency.price(change.priceId), `price ${change.priceId} of schedule ${schedule.id} is not known yet`);
  }
  await ctx.db.patch("subscriptions", mirror._id, {
    scheduleId: ended ? undefined : schedule.id,
    scheduledChange: change.kind === "change" ? change.change : undefined,
    scheduleEventCreated: eventCreated,
  });
  // A change newly waiting for the period end: told once (`model/planNotices.ts`).
  if (change.kind === "change" && !sameChange(mirror.scheduledChange, change.change)) {
    await notifyPlanScheduled(ctx, mirror, change.change);
  }
  return applied();
}

function sameChange(
  a: { tier: Tier; interval: Interval; effectiveAt: number } | undefined,
  b: { tier: Tier; interval: Interval; effectiveAt: number },
): boolean {
  return a !== undefined && a.tier === b.tier && a.interval === b.interval && a.effectiveAt === b.effectiveAt;
}

type PhaseChange =
  | { kind: "none" }
  | { kind: "change"; change: { tier: Tier; interval: Interval; effectiveAt: number } }
  | { kind: "unknown_price"; priceId: string };

/** The plan of the phase after the current one, when it changes the price. */
async function nextPhaseChange(
  schedule: Stripe.SubscriptionSchedule,
  currentPriceId: string | undefined,
  ctx: MutationCtx,
): Promise<PhaseChange> {
  const currentEnd = schedule.current_phase?.end_date;
  const next = schedule.phases.find((phase) => (currentEnd === undefined ? false : phase.start_date >= currentEnd));
  const price = next?.items[0]?.price;
  if (!next || !price) return { kind: "none" };
  const priceId = priceIdOf(price);
  if (priceId === currentPriceId) return { kind: "none" };
  const meta = next.metadata ?? {};
  if (meta.tier && isTier(meta.tier) && (meta.interval === "month" || meta.interval === "year")) {
    return { kind: "change", change: { tier: meta.tier, interval: meta.interval, effectiveAt: next.start_date * 1000 } };
  }
  const plan = await planForPrice(ctx, typeof price === "string" ? { id: price } : price);
  if (!plan) return { kind: "unknown_price", priceId };
  if (!plan.interval || plan.tier === "free") return { kind: "none" };
  return { kind: "change", change: { tier: plan.tier, interval: plan.interval, effectiveAt: next.start_date * 1000 } };
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
): Promise<EventOutcome> {
  const frozenTime = clock.frozen_time * 1000;
  const existing = await ctx.db
    .query("stripeTestClocks")
    .withIndex("by_clockId", (q) => q.eq("clockId", clock.id))
    .unique();
  if (existing && existing.frozenTime >= frozenTime) return applied();
  if (existing) await ctx.db.patch("stripeTestClocks", existing._id, { frozenTime });
  else await ctx.db.insert("stripeTestClocks", { clockId: clock.id, frozenTime });
  const subscriptions = await ctx.db
    .query("subscriptions")
    .withIndex("by_testClockId", (q) => q.eq("testClockId", clock.id))
    .take(SUBSCRIPTIONS_PER_CLOCK);
  const at = Math.max(nowMs, frozenTime);
  for (const accountId of new Set(subscriptions.map((s) => s.accountId))) {
    await syncAllowance(ctx, accountId, at, eventId);
    await recomputeAccountTier(ctx, accountId, at, stripeActor(eventId));
    // The dunning steps due at the clock's time: the hourly sweep reads the
    // wall clock, which never reaches a clock moved days ahead.
    await advanceDunning(ctx, accountId, at, stripeActor(eventId));
  }
  return subscriptions.length > 0 ? applied() : IGNORED;
}
