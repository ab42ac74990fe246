/**
 * Reconciliation of lost Stripe webhook deliveries (cron and operators).
 *
 * - `reconcileEvents` (internal action, cron every 15 minutes): lists recent
 *   events of the handled types from `GET /v1/events`
 *   (https://docs.stripe.com/api/events/list) — first the ones Stripe marks
 *   `delivery_success=false`, then every event of the window — and records
 *   the ones missing from `webhookEvents` through `model/webhookQueue`'s
 *   `enqueueEvent`, exactly as the webhook endpoint does. Recording is
 *   idempotent by event id, so listing an event twice, or an event the
 *   webhook delivers meanwhile, changes nothing.
 *   Operators: `npx convex run reconcile:reconcileEvents '{}'`, or
 *   `'{"sinceSeconds": 2592000}'` for the whole 30 days Stripe keeps.
 * - `knownEventIds`, `enqueueBatch`: its reads and writes, batched.
 *
 * Events fetched from the API are rendered at the account's default API
 * version, not the webhook endpoint's; the handlers read both shapes.
 *
 * Environment: `STRIPE_SECRET_KEY` (unset: the run is skipped, it does not
 * throw), `STRIPE_API_BASE` (optional, see `model/stripeClient`).
 */
import { v } from "convex/values";
import { internalAction, internalMutation, internalQuery } from "./_generated/server";
import {
  ENQUEUE_BATCH,
  MAX_EVENTS_PER_RUN,
  emptyTotals,
  enqueueMissingEvents,
  listEvents,
  reconcileWindow,
  type ListPass,
} from "./model/reconcile";
import { getStripe, readEnv, stripeRead } from "./model/stripeClient";
import { modeOfSecretKey } from "./model/stripeWebhook";
import { getEventRow, enqueueEvent } from "./model/webhookQueue";

const vEnqueueInput = v.object({
  eventId: v.string(),
  type: v.string(),
  apiVersion: v.optional(v.string()),
  livemode: v.boolean(),
  eventCreated: v.number(),
  payload: v.string(),
  stripeCustomerId: v.optional(v.string()),
  ignoreReason: v.optional(v.string()),
});

/** Which of these event ids (at most `ENQUEUE_BATCH`) are already in `webhookEvents`. */
export const knownEventIds = internalQuery({
  args: { eventIds: v.array(v.string()) },
  returns: v.array(v.string()),
  handler: async (ctx, { eventIds }) => {
    if (eventIds.length > ENQUEUE_BATCH) throw new Error(`at most ${ENQUEUE_BATCH} event ids per call`);
    const known: string[] = [];
    for (const eventId of eventIds) {
      if (await getEventRow(ctx, eventId)) known.push(eventId);
    }
    return known;
  },
});

/**
 * Records up to `ENQUEUE_BATCH` events with `enqueueEvent` (the same path as
 * `webhooks.enqueue`), each scheduling its own processing.
 */
export const enqueueBatch = internalMutation({
  args: { events: v.array(vEnqueueInput) },
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

const vReconcileResult = v.union(
  v.object({ skipped: v.literal("not_configured") }),
  v.object({
    /** Distinct events listed (both passes). */
    listed: v.number(),
    enqueued: v.number(),
    ignored: v.number(),
    alreadyKnown: v.number(),
    oversized: v.number(),
    /** True when `MAX_EVENTS_PER_RUN` stopped the listing; the next run continues. */
    truncated: v.boolean(),
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
 * @returns `{ skipped: "not_configured" }` without `STRIPE_SECRET_KEY`;
 *   otherwise counts: `listed` distinct events, `enqueued` newly recorded
 *   (`ignored` of them for the other livemode), `alreadyKnown`, `oversized`
 *   (not recorded), `truncated` when `MAX_EVENTS_PER_RUN` (1,000) was reached.
 * @throws ConvexError `STRIPE_ERROR` when listing fails (events recorded by
 *   an earlier pass of the run stay recorded); `STRIPE_NOT_CONFIGURED` for an
 *   invalid `STRIPE_API_BASE`.
 */
export const reconcileEvents = internalAction({
  args: { sinceSeconds: v.optional(v.number()) },
  returns: vReconcileResult,
  handler: async (ctx, { sinceSeconds }) => {
    const key = readEnv("STRIPE_SECRET_KEY");
    if (!key) {
      console.log("reconcile: STRIPE_SECRET_KEY is not set; skipped");
      return { skipped: "not_configured" as const };
    }
    const stripe = getStripe();
    const mode = modeOfSecretKey(key);
    const window = reconcileWindow(Math.floor(Date.now() / 1000), sinceSeconds);
    const seen = new Set<string>();
    const totals = emptyTotals();
    let budget = MAX_EVENTS_PER_RUN;
    let truncated = false;
    // Undelivered events first, so they get the budget; then everything in
    // the window, because a lost delivery is not always flagged as failed.
    const passes: ListPass[] = [{ deliveryFailedOnly: true }, { deliveryFailedOnly: false }];
    for (const pass of passes) {
      if (budget <= 0) {
        truncated = true;
        break;
      }
      const listing = await stripeRead("events.list", () => listEvents(stripe, window, pass, budget, seen));
      budget -= listing.read;
      if (!listing.exhausted) truncated = true;
      const result = await enqueueMissingEvents(ctx, listing.events, mode);
      totals.enqueued += result.enqueued;
      totals.ignored += result.ignored;
      totals.alreadyKnown += result.alreadyKnown;
      totals.oversized += result.oversized;
    }
    const summary = {
      listed: seen.size,
      ...totals,
      truncated,
      windowStart: window.gte,
      windowEnd: window.lt,
    };
    const line =
      `reconcile: listed ${summary.listed}, enqueued ${summary.enqueued} (ignored ${summary.ignored}), ` +
      `already known ${summary.alreadyKnown}, oversized ${summary.oversized}${truncated ? ", truncated" : ""}`;
    if (summary.enqueued > 0 || summary.oversized > 0) console.warn(line);
    else console.log(line);
    return summary;
  },
});
