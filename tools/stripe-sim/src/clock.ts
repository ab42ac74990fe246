/**
 * Time: test clocks and the simulator's own offset. Advancing replays every
 * action that falls due in between, in time order, each at its own moment
 * (so invoices, periods and event `created` carry the simulated time):
 *
 * - `customer.subscription.trial_will_end`, `trialWillEndSeconds` before a trial ends;
 * - the end of a period or trial (renewal, or the scheduled cancel);
 * - a `cancel_at` inside the period;
 * - a subscription schedule's next phase or end (at the period end it is
 *   part of the renewal, see schedules.ts);
 * - the expiry of a `pending_update` (its invoice is voided);
 * - Smart-Retries-like retries of failed invoices (`dunning.retryDays`),
 *   ending in `canceled` or `unpaid`.
 *
 * Scope: a test clock covers the customers created on it; everything else
 * lives on the global time (real time + `/_sim/advance` offset).
 */
import type Stripe from "stripe";
import { idOf, attemptInvoicePayment, cancelSubscriptionNow, subscriptionOfInvoice, trialWillEnd } from "./billing.ts";
import { expirePendingChange } from "./planChange.ts";
import { renewSubscription, scheduleStepBefore } from "./schedules.ts";
import type { SimContext } from "./context.ts";
import { emit } from "./events.ts";
import { invalid, missing } from "./errors.ts";

type Action = { at: number; customer: string; run: () => void };

function inScope(ctx: SimContext, customerId: string, clockId: string | null): boolean {
  return ctx.store.clockOf(customerId) === clockId;
}

function dueActions(ctx: SimContext, clockId: string | null): Action[] {
  const state = ctx.store.state;
  const actions: Action[] = [];
  for (const sub of Object.values(state.subscriptions)) {
    const customerId = idOf(sub.customer) ?? "";
    if (!inScope(ctx, customerId, clockId)) continue;
    if (!["active", "trialing", "past_due"].includes(sub.status)) continue;
    const end = sub.items.data[0]?.current_period_end ?? Infinity;
    const internal = state.subscriptionInternal[sub.id];
    if (sub.status === "trialing" && sub.trial_end !== null && internal && !internal.trialWillEndSent) {
      const at = Math.max(sub.created, sub.trial_end - ctx.config.trialWillEndSeconds);
      actions.push({ at, customer: customerId, run: () => trialWillEnd(ctx, sub) });
    }
    if (sub.pending_update) {
      actions.push({ at: sub.pending_update.expires_at, customer: customerId, run: () => expirePendingChange(ctx, sub) });
    }
    const step = scheduleStepBefore(ctx, sub, end);
    if (step) actions.push({ at: step.at, customer: customerId, run: step.run });
    if (sub.cancel_at !== null && sub.cancel_at < end) {
      actions.push({ at: sub.cancel_at, customer: customerId, run: () => cancelSubscriptionNow(ctx, sub, "cancellation_requested") });
    } else {
      actions.push({ at: end, customer: customerId, run: () => renewSubscription(ctx, sub) });
    }
  }
  for (const invoice of Object.values(state.invoices)) {
    if (invoice.status !== "open" || invoice.next_payment_attempt === null || invoice.auto_advance === false) continue;
    const customerId = idOf(invoice.customer) ?? "";
    if (!inScope(ctx, customerId, clockId)) continue;
    const sub = subscriptionOfInvoice(ctx, invoice);
    if (sub && sub.status === "canceled") continue;
    actions.push({ at: invoice.next_payment_attempt, customer: customerId, run: () => retryInvoice(ctx, invoice) });
  }
  return actions;
}

function retryInvoice(ctx: SimContext, invoice: Stripe.Invoice): void {
  attemptInvoicePayment(ctx, invoice, { automatic: true });
}

/**
 * Runs every action due for one scope, in time order. `until` is the time
 * (seconds) up to which to run, per customer: a clock's target, or each
 * clock-less customer's own now. Returns how many ran.
 */
export function processDue(ctx: SimContext, clockId: string | null, until: (customerId: string) => number): number {
  let ran = 0;
  // A generous bound: years of daily periods, but never an endless loop.
  for (let guard = 0; guard < 10_000; guard++) {
    const actions = dueActions(ctx, clockId).filter((a) => a.at <= until(a.customer));
    if (actions.length === 0) break;
    actions.sort((a, b) => a.at - b.at);
    const next = actions[0] as Action;
    ctx.store.withTime(next.at, next.run);
    ran++;
  }
  return ran;
}

/** Advances a test clock to `frozenTime` (seconds), running what falls due. */
export function advanceClock(ctx: SimContext, clockId: string, frozenTime: number): Stripe.TestHelpers.TestClock {
  const clock = ctx.store.state.testClocks[clockId];
  if (!clock) throw missing("test_helpers.test_clock", clockId, "test_clock");
  if (frozenTime <= clock.frozen_time) {
    throw invalid("The test clock's frozen_time must be later than its current frozen_time.", "frozen_time");
  }
  clock.status = "advancing";
  clock.status_details = { advancing: { target_frozen_time: frozenTime } };
  emit(ctx, "test_helpers.test_clock.advancing", clock);
  processDue(ctx, clockId, () => frozenTime);
  clock.frozen_time = frozenTime;
  clock.status = "ready";
  clock.status_details = {};
  emit(ctx, "test_helpers.test_clock.ready", clock);
  return clock;
}

/** Moves the time of everything without a test clock forward by `seconds` and runs what falls due. */
export function advanceGlobal(ctx: SimContext, seconds: number): number {
  ctx.store.state.timeOffsetSeconds += seconds;
  return tick(ctx);
}

/**
 * Moves one clock-less customer's time forward by `seconds` (an implicit
 * test clock), leaving every other customer where they are.
 */
export function advanceCustomer(ctx: SimContext, customerId: string, seconds: number): number {
  const offsets = ctx.store.state.customerOffsets;
  offsets[customerId] = (offsets[customerId] ?? 0) + seconds;
  return tick(ctx);
}

/** Catches clock-less customers up with their own now (called on every request). */
export function tick(ctx: SimContext): number {
  return processDue(ctx, null, (customerId) => ctx.store.now(customerId));
}
