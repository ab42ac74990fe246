/**
 * Subscription Schedules attached to an existing subscription
 * (`from_subscription`): phases of items, each starting where the previous
 * one ends. When the clock reaches a phase's start the subscription takes
 * its items — at the period end this happens inside the renewal with no
 * proration, so the renewal invoice bills the new price; mid-period it is a
 * plan change with the phase's `proration_behavior`. After the last phase
 * `end_behavior` applies: `release` (the schedule is `released`, the
 * subscription goes on) or `cancel` (the subscription is canceled, the
 * schedule `completed`).
 */
import type Stripe from "stripe";
import {
  cancelSubscriptionNow,
  cycleSubscription,
  emitSubscriptionUpdated,
  freshPrice,
  getPrice,
  idOf,
  itemQuantity,
  periodOf,
  requireSameInterval,
  subCustomer,
} from "./billing.ts";
import { buildSchedulePhase, buildSubscriptionSchedule, planFromPrice } from "./builders.ts";
import { boundary, recurringOf, type Interval } from "./calendar.ts";
import type { SimContext } from "./context.ts";
import { invalid, paramMissing } from "./errors.ts";
import { emit, snapshot } from "./events.ts";
import { changePrice, type ProrationBehavior } from "./planChange.ts";

export type PhaseInput = {
  items: { price: string; quantity?: number }[];
  startDate?: number | "now";
  endDate?: number | "now";
  /** Legacy `iterations` (periods of the phase's price) or `duration` (API ≥ 2025). */
  iterations?: number;
  duration?: Interval;
  prorationBehavior?: ProrationBehavior;
  metadata?: Record<string, string>;
};

type Phase = Stripe.SubscriptionSchedule.Phase;

function scheduleCustomer(schedule: Stripe.SubscriptionSchedule): string {
  return idOf(schedule.customer) ?? "";
}

function previous(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  for (const [k, v] of Object.entries(after as Record<string, unknown>)) {
    if (JSON.stringify(b[k]) !== JSON.stringify(v)) prev[k] = b[k] ?? null;
  }
  return prev;
}

function emitScheduleUpdated(ctx: SimContext, schedule: Stripe.SubscriptionSchedule, before: Stripe.SubscriptionSchedule): void {
  const prev = previous(before, schedule);
  if (Object.keys(prev).length > 0) {
    emit(ctx, "subscription_schedule.updated", schedule, { customer: scheduleCustomer(schedule), previous: prev });
  }
}

/** `subscriptionSchedules.create({ from_subscription })`: one phase mirroring the current period. */
export function createScheduleFromSubscription(
  ctx: SimContext,
  sub: Stripe.Subscription,
  metadata: Record<string, string> = {},
): Stripe.SubscriptionSchedule {
  if (sub.schedule) {
    throw invalid(`You cannot migrate a subscription that is already attached to a schedule: \`${idOf(sub.schedule)}\`.`, "from_subscription");
  }
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalid("You cannot create a subscription schedule from a canceled subscription.", "from_subscription");
  }
  const { start, end } = periodOf(sub);
  const phase = buildSchedulePhase({
    start,
    end,
    items: sub.items.data.map((i) => ({ price: i.price.id, quantity: i.quantity })),
    currency: sub.currency,
    prorationBehavior: "create_prorations",
    metadata: {},
  });
  const schedule = buildSubscriptionSchedule({
    created: ctx.store.now(subCustomer(sub)),
    customer: subCustomer(sub),
    subscription: sub.id,
    phases: [phase],
    endBehavior: "release",
    metadata,
    testClock: idOf(sub.test_clock),
    defaultPaymentMethod: null,
  });
  ctx.store.state.subscriptionSchedules[schedule.id] = schedule;
  emit(ctx, "subscription_schedule.created", schedule, { customer: subCustomer(sub) });
  const before = snapshot(sub);
  sub.schedule = schedule.id;
  emitSubscriptionUpdated(ctx, sub, before);
  return schedule;
}

function assertEditable(schedule: Stripe.SubscriptionSchedule): void {
  if (schedule.status !== "active" && schedule.status !== "not_started") {
    throw invalid(`You cannot update a subscription schedule that is currently in the \`${schedule.status}\` status.`, undefined, "subscription_schedule_invalid_status");
  }
}

function buildPhases(ctx: SimContext, schedule: Stripe.SubscriptionSchedule, inputs: PhaseInput[], currency: string): Phase[] {
  const now = ctx.store.now(scheduleCustomer(schedule));
  const currentStart = schedule.phases[0]?.start_date ?? now;
  let cursor: number | null = null;
  return inputs.map((p, i) => {
    if (p.items.length === 0) throw paramMissing(`phases[${i}][items]`);
    const prices = p.items.map((it, j) => getPrice(ctx, it.price, `phases[${i}][items][${j}][price]`));
    prices.forEach((price, j) => {
      recurringOf(price);
      if (price.currency !== currency) throw invalid("The price's currency does not match the subscription's.", `phases[${i}][items][${j}][price]`);
    });
    requireSameInterval(prices, `phases[${i}][items]`);
    const start = p.startDate === "now" ? now : (p.startDate ?? cursor ?? currentStart);
    if (i === 0 && currentStart <= now && start !== currentStart) {
      throw invalid("You can not modify the start date of the current phase.", "phases[0][start_date]");
    }
    if (cursor !== null && start !== cursor) {
      throw invalid(`The start_date of phase ${i} must be the end_date of the previous phase.`, `phases[${i}][start_date]`);
    }
    const length = p.duration ?? recurringOf(prices[0] as Stripe.Price);
    const end = p.endDate === "now" ? now : (p.endDate ?? boundary(start, length, p.duration ? 1 : (p.iterations ?? 1)));
    if (end <= start) throw invalid("The phase's end_date must be after its start_date.", `phases[${i}][end_date]`);
    cursor = end;
    return buildSchedulePhase({
      start,
      end,
      items: p.items.map((it, j) => ({
        price: it.price,
        quantity: itemQuantity(prices[j] as Stripe.Price, it.quantity, `phases[${i}][items][${j}][quantity]`) ?? undefined,
      })),
      currency,
      prorationBehavior: p.prorationBehavior ?? "create_prorations",
      metadata: p.metadata ?? {},
    });
  });
}

/** The phase in force at `at`. */
function phaseAt(schedule: Stripe.SubscriptionSchedule, at: number): Phase | undefined {
  return schedule.phases.find((p) => p.start_date <= at && at < p.end_date);
}

/** `subscriptionSchedules.update`: new phases (the first is the current one), `end_behavior`, `metadata`. */
export function updateSchedule(
  ctx: SimContext,
  schedule: Stripe.SubscriptionSchedule,
  input: { phases?: PhaseInput[]; endBehavior?: Stripe.SubscriptionSchedule.EndBehavior; metadata?: Record<string, string>; prorationBehavior?: ProrationBehavior },
): Stripe.SubscriptionSchedule {
  assertEditable(schedule);
  const sub = scheduledSubscription(ctx, schedule);
  const before = snapshot(schedule);
  if (input.phases) {
    if (input.phases.length === 0) throw paramMissing("phases");
    schedule.phases = buildPhases(ctx, schedule, input.phases, sub?.currency ?? "usd");
  }
  if (input.endBehavior) schedule.end_behavior = input.endBehavior;
  if (input.metadata) schedule.metadata = { ...(schedule.metadata ?? {}), ...input.metadata };
  const now = ctx.store.now(scheduleCustomer(schedule));
  const current = phaseAt(schedule, now);
  schedule.current_phase = current ? { start_date: current.start_date, end_date: current.end_date } : schedule.current_phase;
  emitScheduleUpdated(ctx, schedule, before);
  // Items of the current phase that differ from the subscription's apply now.
  const item = current?.items[0];
  if (sub && item) {
    const priceId = idOf(item.price) ?? "";
    changePrice(ctx, sub, { price: priceId, quantity: item.quantity }, {
      prorationBehavior: input.prorationBehavior ?? current.proration_behavior as ProrationBehavior,
    });
  }
  return schedule;
}

function scheduledSubscription(ctx: SimContext, schedule: Stripe.SubscriptionSchedule): Stripe.Subscription | undefined {
  const id = idOf(schedule.subscription);
  return id ? ctx.store.state.subscriptions[id] : undefined;
}

/** `release`: the schedule stops; the subscription keeps its current items. */
export function releaseSchedule(ctx: SimContext, schedule: Stripe.SubscriptionSchedule): Stripe.SubscriptionSchedule {
  assertEditable(schedule);
  const sub = scheduledSubscription(ctx, schedule);
  const now = ctx.store.now(scheduleCustomer(schedule));
  schedule.status = "released";
  schedule.released_at = now;
  schedule.released_subscription = sub?.id ?? null;
  schedule.subscription = null;
  schedule.current_phase = null;
  emit(ctx, "subscription_schedule.released", schedule, { customer: scheduleCustomer(schedule) });
  if (sub) {
    const before = snapshot(sub);
    sub.schedule = null;
    emitSubscriptionUpdated(ctx, sub, before);
  }
  return schedule;
}

/** `cancel`: the schedule and its subscription end now. */
export function cancelSchedule(ctx: SimContext, schedule: Stripe.SubscriptionSchedule): Stripe.SubscriptionSchedule {
  assertEditable(schedule);
  const sub = scheduledSubscription(ctx, schedule);
  schedule.status = "canceled";
  schedule.canceled_at = ctx.store.now(scheduleCustomer(schedule));
  schedule.current_phase = null;
  if (sub) cancelSubscriptionNow(ctx, sub, "cancellation_requested");
  emit(ctx, "subscription_schedule.canceled", schedule, { customer: scheduleCustomer(schedule) });
  return schedule;
}

/** The active schedule driving `sub`, if any. */
export function activeScheduleOf(ctx: SimContext, sub: Stripe.Subscription): Stripe.SubscriptionSchedule | null {
  const id = idOf(sub.schedule);
  const schedule = id ? ctx.store.state.subscriptionSchedules[id] : undefined;
  return schedule && schedule.status === "active" ? schedule : null;
}

/** The next thing the schedule does: enter `phase` at `at`, or (phase null) end at `at`. */
function nextStep(schedule: Stripe.SubscriptionSchedule): { at: number; phase: Phase | null } | null {
  const start = schedule.current_phase?.start_date;
  const index = schedule.phases.findIndex((p) => p.start_date === start);
  const next = schedule.phases[index + 1];
  if (next) return { at: next.start_date, phase: next };
  const last = schedule.phases.at(-1);
  return last ? { at: last.end_date, phase: null } : null;
}

/** The phase a subscription enters at `at` (its period end), for previews of the renewal. */
export function phaseStartingAt(ctx: SimContext, sub: Stripe.Subscription, at: number): Phase | null {
  const schedule = activeScheduleOf(ctx, sub);
  const step = schedule ? nextStep(schedule) : null;
  return step && step.at === at ? step.phase : null;
}

function enteredPhase(ctx: SimContext, schedule: Stripe.SubscriptionSchedule, phase: Phase, before: Stripe.SubscriptionSchedule): void {
  schedule.current_phase = { start_date: phase.start_date, end_date: phase.end_date };
  emitScheduleUpdated(ctx, schedule, before);
}

function phaseItem(phase: Phase): { price: string; quantity: number } {
  const item = phase.items[0];
  return { price: idOf(item?.price) ?? "", quantity: item?.quantity ?? 1 };
}

/** Switches the subscription's item to the phase's price inside a renewal (no proration). */
function switchItemsAtRenewal(ctx: SimContext, sub: Stripe.Subscription, phase: Phase, at: number): void {
  const item = sub.items.data[0];
  const { price: priceId, quantity } = phaseItem(phase);
  const price = ctx.store.state.prices[priceId];
  if (item && price) {
    const oldRecurring = recurringOf(item.price);
    const newRecurring = recurringOf(price);
    item.price = freshPrice(ctx, price);
    item.plan = planFromPrice(price);
    item.quantity = quantity;
    if (oldRecurring.interval !== newRecurring.interval || oldRecurring.interval_count !== newRecurring.interval_count) {
      sub.billing_cycle_anchor = at;
    }
  }
  if (phase.metadata && Object.keys(phase.metadata).length > 0) sub.metadata = { ...sub.metadata, ...phase.metadata };
}

function endSchedule(ctx: SimContext, schedule: Stripe.SubscriptionSchedule, sub: Stripe.Subscription): void {
  if (schedule.end_behavior === "cancel") {
    schedule.status = "completed";
    schedule.completed_at = ctx.store.now(subCustomer(sub));
    schedule.current_phase = null;
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    emit(ctx, "subscription_schedule.completed", schedule, { customer: subCustomer(sub) });
    return;
  }
  releaseSchedule(ctx, schedule);
}

/**
 * The renewal at the period end, following the schedule: a phase starting
 * now switches the items inside the renewal; a schedule ending now is
 * released (or cancels the subscription) first.
 */
export function renewSubscription(ctx: SimContext, sub: Stripe.Subscription): void {
  const schedule = activeScheduleOf(ctx, sub);
  const end = periodOf(sub).end;
  const step = schedule ? nextStep(schedule) : null;
  if (!schedule || !step || step.at !== end) {
    cycleSubscription(ctx, sub);
    return;
  }
  if (step.phase === null) {
    endSchedule(ctx, schedule, sub);
    if (sub.status !== "canceled") cycleSubscription(ctx, sub);
    return;
  }
  const phase = step.phase;
  const before = snapshot(schedule);
  cycleSubscription(ctx, sub, { beforeCycle: (s, at) => switchItemsAtRenewal(ctx, s, phase, at) });
  enteredPhase(ctx, schedule, phase, before);
}

/** A schedule step that falls inside the current period (before its end), for the clock. */
export function scheduleStepBefore(ctx: SimContext, sub: Stripe.Subscription, periodEnd: number): { at: number; run: () => void } | null {
  const schedule = activeScheduleOf(ctx, sub);
  const step = schedule ? nextStep(schedule) : null;
  if (!schedule || !step || step.at >= periodEnd) return null;
  return {
    at: step.at,
    run: () => {
      if (step.phase === null) {
        endSchedule(ctx, schedule, sub);
        return;
      }
      const before = snapshot(schedule);
      const { price, quantity } = phaseItem(step.phase);
      changePrice(ctx, sub, { price, quantity }, { prorationBehavior: step.phase.proration_behavior as ProrationBehavior });
      const metadata = step.phase.metadata ?? {};
      if (Object.keys(metadata).length > 0) {
        const subBefore = snapshot(sub);
        sub.metadata = { ...sub.metadata, ...metadata };
        emitSubscriptionUpdated(ctx, sub, subBefore);
      }
      enteredPhase(ctx, schedule, step.phase, before);
    },
  };
}

/**
 * What the Portal does for a change that waits for the period end: a
 * schedule (created from the subscription if needed) whose next phase has
 * the new price for one period, then released.
 */
export function scheduleChangeAtPeriodEnd(ctx: SimContext, sub: Stripe.Subscription, price: string, quantity: number): Stripe.SubscriptionSchedule {
  const schedule = activeScheduleOf(ctx, sub) ?? createScheduleFromSubscription(ctx, sub);
  const { start, end } = periodOf(sub);
  const current = sub.items.data.map((i) => ({ price: i.price.id, quantity: i.quantity }));
  return updateSchedule(ctx, schedule, {
    phases: [
      { items: current, startDate: start, endDate: end },
      // Only the plan (first) item changes; a metered item stays on.
      { items: [{ price, quantity }, ...current.slice(1)], iterations: 1 },
    ],
    endBehavior: "release",
  });
}

/** The change a schedule has lined up after the current phase, for display. */
export function upcomingPhase(ctx: SimContext, sub: Stripe.Subscription): { schedule: Stripe.SubscriptionSchedule; at: number; price: string } | null {
  const schedule = activeScheduleOf(ctx, sub);
  const step = schedule ? nextStep(schedule) : null;
  if (!schedule || !step?.phase) return null;
  return { schedule, at: step.at, price: phaseItem(step.phase).price };
}
