/**
 * Reconciliation of lost Stripe webhook deliveries (cron and operators).
 *
 * - `reconcileEvents` (internal action, cron every 15 minutes): lists recent
 *   events of the handled types from `GET /v1/events`
 *   (https://docs.stripe.com/api/events/list) — first the ones Stripe marks
 *   `delivery_success=false`, then every event of the window — and records
 *   the ones missing from `webhookEvents` through `model/webhookQueue`'s
 *   `enqueueEvent`; each is then applied by the same pipeline as a delivery. Recording is
 *   idempotent by event id, so listing an event twice, or an event the
 *   webhook delivers meanwhile, changes nothing. At most 1,000 events are
 *   listed per run; a longer listing continues in a run it schedules.
 *   Operators: `npx convex run --component billing reconcile:reconcileEvents '{}'`, or
 *   `'{"sinceSeconds": 2592000}'` for the whole 30 days Stripe keeps.
 * - `knownEventIds`, `enqueueBatch`: its reads and writes, batched.
 *
 * Events fetched from the API are rendered at the account's default API
 * version, not the webhook endpoint's; the handlers read both shapes.
 *
 * Environment: `STRIPE_SECRET_KEY` (unset: the run is skipped, it does not
 * throw), `STRIPE_API_HOST` / `_PORT` / `_PROTOCOL` (optional, see `model/stripeClient`).
 */
import { v } from "convex/values";
import { internalAction, internalMutation, internalQuery } from "./_generated/server";
import { internal } from "./_generated/api";
import {
  ENQUEUE_BATCH,
  RECONCILE_PASSES,
  continuationEnd,
  emptyTotals,
  enqueueMissingEvents,
  eventsPerRun,
  listEvents,
  reconcileWindow,
} from "./model/reconcile";
import { getStripe, readEnv, stripeModeFromKey, stripeRead } from "./model/stripeClient";
import { enqueueEvent, getEventRow, needsRevival, vEventInput, wakeRow } from "./model/webhookQueue";

/** Which of these event ids (at most `ENQUEUE_BATCH`) are already in `webhookEvents`. */
export const knownEventIds = internalQuery({
  args: { eventIds: v.array(v.string()) },
  returns: v.object({ known: v.array(v.string()), waiting: v.array(v.string()) }),
  handler: async (ctx, { eventIds }) => {
    if (eventIds.length > ENQUEUE_BATCH) throw new Error(`at most ${ENQUEUE_BATCH} event ids per call`);
    const known: string[] = [];
    const waiting: string[] = [];
    for (const eventId of eventIds) {
      const row = await getEventRow(ctx, eventId);
      if (!row) continue;
      known.push(eventId);
      if (needsRevival(row)) waiting.push(eventId);
    }
    return { known, waiting };
  },
});

/**
 * Requeues known events that are parked waiting for another event, or died
 * waiting (see `model/webhookQueue.needsRevival`), so a run that finds the
 * dependency delivered revives them. Other rows are left alone.
 */
export const reviveEvents = internalMutation({
  args: { eventIds: v.array(v.string()) },
  returns: v.number(),
  handler: async (ctx, { eventIds }) => {
    if (eventIds.length > ENQUEUE_BATCH) throw new Error(`at most ${ENQUEUE_BATCH} event ids per call`);
    const now = Date.now();
    let revived = 0;
    for (const eventId of eventIds) {
      const row = await getEventRow(ctx, eventId);
      if (!row || !needsRevival(row)) continue;
      await wakeRow(ctx, row, now);
      revived++;
    }
    return revived;
  },
});

/**
 * Records up to `ENQUEUE_BATCH` events with `enqueueEvent`: `pending` with
 * their payloads, each scheduling its own run of the retry path
 * (`webhooks.process`), which applies it exactly as a delivery.
 */
export const enqueueBatch = internalMutation({
  args: { events: v.array(vEventInput) },
  returns: v.object({ enqueued: v.number(), ignored: v.number(), alreadyKnown: v.number() }),
  handler: async (ctx, { events }) => {
    if (events.length > ENQUEUE_BATCH) throw new Error(`at most ${ENQUEUE_BATCH} events per call`);
    const now = Date.now();
    let enqueued = 0;
    let ignored = 0;
    let alreadyKnown = 0;
    for (const event of events) {
      const result = await enqueueEvent(ctx, event, now);
      if (result.duplicate) {
        alreadyKnown++;
      } else {
        enqueued++;
        if (result.status === "ignored") ignored++;
      }
    }
    return { enqueued, ignored, alreadyKnown };
  },
});

const vPass = v.union(v.literal("undelivered"), v.literal("all"));

const vReconcileResult = v.union(
  v.object({ skipped: v.literal("not_configured") }),
  v.object({
    /** Distinct events listed by this run. */
    listed: v.number(),
    enqueued: v.number(),
    ignored: v.number(),
    alreadyKnown: v.number(),
    oversized: v.number(),
    /** Known events requeued because they were parked waiting for another event. */
    revived: v.number(),
    /** True when `MAX_EVENTS_PER_RUN` cut the listing and a continuation run was scheduled. */
    continued: v.boolean(),
    /** The listed `created` window, Stripe seconds: windowStart ≤ created < windowEnd. */
    windowStart: v.number(),
    windowEnd: v.number(),
  }),
);

/**
 * Lists recent events of the handled types and records the missing ones.
 *
 * @param sinceSeconds look-back in seconds (default 3 days = Stripe's
 *   live-mode retry window; clamped to 30 days, what Stripe keeps). Events of
 *   the last 2 minutes are left to the normal delivery.
 * @param maxEvents events listed per run, 1–1,000 (default 1,000); a
 *   continuation keeps the same bound.
 * @param continuation set only by this function when it schedules itself to
 *   go on past `MAX_EVENTS_PER_RUN`: the run's window (Stripe seconds), the
 *   pass to resume and that pass's upper bound.
 * @returns `{ skipped: "not_configured" }` without `STRIPE_SECRET_KEY`;
 *   otherwise counts: `listed` distinct events, `enqueued` newly recorded
 *   (`ignored` of them for the other livemode), `alreadyKnown` (`revived` of
 *   them: parked waiting for another event, requeued), `oversized` (not recorded), `continued` when the budget ran out and the next batch
 *   was scheduled.
 * @throws ConvexError `STRIPE_ERROR` when listing fails (events recorded by
 *   an earlier pass of the run stay recorded); `STRIPE_NOT_CONFIGURED` for an
 *   invalid `STRIPE_API_HOST` / `_PORT` / `_PROTOCOL` (or any of them with a live key).
 */
export const reconcileEvents = internalAction({
  args: {
    sinceSeconds: v.optional(v.number()),
    maxEvents: v.optional(v.number()),
    continuation: v.optional(
      v.object({ windowStart: v.number(), windowEnd: v.number(), pass: vPass, passEnd: v.number() }),
    ),
  },
  returns: vReconcileResult,
  handler: async (ctx, { sinceSeconds, maxEvents, continuation }) => {
    const key = readEnv("STRIPE_SECRET_KEY");
    if (!key) {
      console.log("reconcile: STRIPE_SECRET_KEY is not set; skipped");
      return { skipped: "not_configured" as const };
    }
    const stripe = getStripe();
    const mode = stripeModeFromKey(key);
    const window = continuation
      ? { gte: continuation.windowStart, lt: continuation.windowEnd }
      : reconcileWindow(Math.floor(Date.now() / 1000), sinceSeconds);
    const seen = new Set<string>();
    const totals = emptyTotals();
    const perRun = eventsPerRun(maxEvents);
    let budget = perRun;
    let continued = false;
    const passes = continuation ? RECONCILE_PASSES.slice(RECONCILE_PASSES.indexOf(continuation.pass)) : RECONCILE_PASSES;
    try {
    for (const pass of passes) {
      const passWindow = continuation?.pass === pass ? { gte: window.gte, lt: continuation.passEnd } : window;
      const listing = await stripeRead("events.list", () => listEvents(stripe, passWindow, pass, budget, seen));
      budget -= listing.read;
      const result = await enqueueMissingEvents(ctx, listing.events, mode);
      totals.enqueued += result.enqueued;
      totals.ignored += result.ignored;
      totals.alreadyKnown += result.alreadyKnown;
      totals.oversized += result.oversized;
      totals.revived += result.revived;
      if (!listing.exhausted && listing.oldestCreated !== undefined) {
        await ctx.scheduler.runAfter(0, internal.reconcile.reconcileEvents, {
          maxEvents: perRun,
          continuation: {
            windowStart: window.gte,
            windowEnd: window.lt,
            pass,
            passEnd: continuationEnd(passWindow, listing.oldestCreated, perRun),
          },
        });
        continued = true;
        break;
      }
    }
    } catch (error) {
      // Queue health shows the last run's result (console.recordReconcileRun).
      await ctx.runMutation(internal.console.recordReconcileRun, {
        result: "error",
        error: error instanceof Error ? error.message : String(error),
        enqueued: totals.enqueued,
        ignored: totals.ignored,
        alreadyKnown: totals.alreadyKnown,
        revived: totals.revived,
      });
      throw error;
    }
    await ctx.runMutation(internal.console.recordReconcileRun, {
      result: "ok",
      enqueued: totals.enqueued,
      ignored: totals.ignored,
      alreadyKnown: totals.alreadyKnown,
      revived: totals.revived,
    });
    const summary = { listed: seen.size, ...totals, continued, windowStart: window.gte, windowEnd: window.lt };
    const line =
      `reconcile: listed ${summary.listed}, enqueued ${summary.enqueued} (ignored ${summary.ignored}), ` +
      `already known ${summary.alreadyKnown} (revived ${summary.revived}), oversized ${summary.oversized}${continued ? ", continuing" : ""}`;
    if (summary.enqueued > 0 || summary.oversized > 0 || summary.revived > 0) console.warn(line);
    else console.log(line);
    return summary;
  },
});
