/**
 * The Stripe event queue's internal functions. Only the webhook httpAction,
 * the scheduler, crons and operators (dashboard / CLI) call them.
 *
 * - `enqueue`: records a verified event once by id and schedules `process`.
 * - `process`: one event per run; runs `applyEvent` as a sub-transaction
 *   (https://docs.convex.dev/functions/mutation-functions — `ctx.runMutation`
 *   from a mutation rolls back its own writes when it throws) and records a
 *   failure with backoff, or `dead` after `BILLING_CONFIG.maxWebhookAttempts`.
 * - `applyEvent`: the handler's writes and the `succeeded`/`ignored` mark,
 *   committed together.
 * - `sweepRetries` (cron), `replay`, `list`: operations.
 *
 * Times are Convex ms; `eventCreated` is Stripe seconds.
 */
import { v } from "convex/values";
import type Stripe from "stripe";
import { internal } from "./_generated/api";
import { internalMutation, internalQuery } from "./_generated/server";
import { applyStripeEvent } from "./model/stripeEvents";
import {
  enqueueEvent,
  getEventRow,
  isRunnable,
  markApplied,
  recordFailure,
  replayEvent,
  sweepDueEvents,
  vEnqueueInput,
} from "./model/webhookQueue";
import { vWebhookEventStatus } from "./model/validators";

/** Records one verified event (see `model/webhookQueue.enqueueEvent`). */
export const enqueue = internalMutation({
  args: vEnqueueInput.fields,
  returns: v.object({ duplicate: v.boolean(), status: vWebhookEventStatus }),
  handler: async (ctx, args) => await enqueueEvent(ctx, args, Date.now()),
});

/**
 * Processes one event. `attempt` is the attempt count the run was scheduled
 * for; a run that no longer matches the row is stale and does nothing.
 */
export const process = internalMutation({
  args: { eventId: v.string(), attempt: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, { eventId, attempt }) => {
    const row = await getEventRow(ctx, eventId);
    if (!row || !isRunnable(row, attempt)) return null;
    try {
      await ctx.runMutation(internal.webhooks.applyEvent, { eventId });
    } catch (error) {
      await recordFailure(ctx, row, error, Date.now());
    }
    return null;
  },
});

/**
 * Applies the event's handler and marks it `succeeded` (or `ignored` for
 * types we do not handle) in one transaction. Throws when the event cannot
 * be applied yet; the caller (`process`) records the failure. Applying an
 * already applied event changes nothing.
 */
export const applyEvent = internalMutation({
  args: { eventId: v.string() },
  returns: v.union(v.literal("succeeded"), v.literal("ignored"), v.literal("skipped")),
  handler: async (ctx, { eventId }) => {
    const row = await getEventRow(ctx, eventId);
    if (!row) throw new Error(`webhook event ${eventId} not found`);
    if (row.status === "succeeded" || row.status === "ignored") return "skipped" as const;
    const event = JSON.parse(row.payload) as Stripe.Event;
    const now = Date.now();
    const outcome = await applyStripeEvent(ctx, event, now);
    await markApplied(ctx, row, outcome, now);
    return outcome;
  },
});

/** Cron: schedules due retries and lost pending events, a bounded batch per run. */
export const sweepRetries = internalMutation({
  args: {},
  returns: v.object({ scheduled: v.number() }),
  handler: async (ctx) => ({ scheduled: await sweepDueEvents(ctx, Date.now()) }),
});

/**
 * Operator: re-queues a `dead` or failed event with a fresh set of attempts,
 * e.g. `npx convex run webhooks:replay '{"eventId":"evt_…"}'`. An applied
 * event is left unchanged.
 */
export const replay = internalMutation({
  args: { eventId: v.string() },
  returns: v.object({
    requeued: v.boolean(),
    status: v.union(vWebhookEventStatus, v.literal("not_found")),
  }),
  handler: async (ctx, { eventId }) => await replayEvent(ctx, eventId, Date.now()),
});

const vEventSummary = v.object({
  eventId: v.string(),
  type: v.string(),
  status: vWebhookEventStatus,
  livemode: v.boolean(),
  eventCreated: v.number(),
  stripeCustomerId: v.optional(v.string()),
  attempts: v.number(),
  nextAttemptAt: v.optional(v.number()),
  lastError: v.optional(v.string()),
  receivedAt: v.number(),
  processedAt: v.optional(v.number()),
});

/**
 * Operator: newest events first (default 50, max 200), optionally of one
 * status; with a status, ordered by `nextAttemptAt` descending. Payloads are
 * left out.
 */
export const list = internalQuery({
  args: { status: v.optional(vWebhookEventStatus), limit: v.optional(v.number()) },
  returns: v.array(vEventSummary),
  handler: async (ctx, { status, limit }) => {
    const n = Math.max(1, Math.min(200, Math.floor(limit ?? 50)));
    const rows = status
      ? await ctx.db
          .query("webhookEvents")
          .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
          .order("desc")
          .take(n)
      : await ctx.db.query("webhookEvents").order("desc").take(n);
    return rows.map((row) => ({
      eventId: row.eventId,
      type: row.type,
      status: row.status,
      livemode: row.livemode,
      eventCreated: row.eventCreated,
      stripeCustomerId: row.stripeCustomerId,
      attempts: row.attempts,
      nextAttemptAt: row.nextAttemptAt,
      lastError: row.lastError,
      receivedAt: row.receivedAt,
      processedAt: row.processedAt,
    }));
  },
});
