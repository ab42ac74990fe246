/**
 * The Stripe event pipeline's functions (`model/webhookPipeline.ts` explains
 * the flow). The webhook route the app mounts with `registerRoutes`
 * (`client.ts`) calls `receive` and `recordForRetry` after verifying the
 * signature; the scheduler and the component's crons call the internal
 * ones; operators call `replay` and `list`
 * (`npx convex run --component billing webhooks:list '{}'`).
 *
 * - `receive`: records a verified event and applies it, in one transaction.
 *   An event of the other livemode than the configured key's is recorded
 *   `ignored`, never applied.
 * - `recordForRetry`: records an event whose `receive` threw, for retry.
 * - `process` (retry path): one queued event per run; applies it in the
 *   `applyQueued` sub-transaction and records a throw with backoff, or
 *   `dead` after `BILLING_CONFIG.maxWebhookAttempts`.
 * - `sweepRetries` (cron), `compactPayloads` (cron), `replay`, `list`:
 *   operations.
 *
 * Times are Convex ms; `eventCreated` is Stripe seconds.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation, mutation, query } from "./_generated/server";
import { BILLING_CONFIG } from "./model/plans";
import { configuredMode } from "./model/stripeClient";
import { modeMismatch } from "./model/stripeShapes";
import { vWebhookEventStatus } from "./model/validators";
import { applyQueuedEvent, receiveEvent, recordEventForRetry } from "./model/webhookPipeline";
import {
  compactSettledPayloads,
  getEventRow,
  isRunnable,
  recordFailure,
  replayEvent,
  sweepDueEvents,
  toEventSummary,
  vEventInput,
  vEventSummary,
  type EventInput,
} from "./model/webhookQueue";

const vReceiveResult = v.object({ duplicate: v.boolean(), status: vWebhookEventStatus });
const { ignoreReason: _ignoreReason, ...vDeliveryFields } = vEventInput.fields;

/** The input with `ignoreReason` set when the event's livemode is not the configured key's. */
function withMode(input: Omit<EventInput, "ignoreReason">): EventInput {
  return { ...input, ignoreReason: modeMismatch(input.livemode, configuredMode()) };
}

/**
 * Records one event, whose signature the caller has verified, by id and
 * applies it (see `model/webhookPipeline.receiveEvent`). Args: `{ eventId,
 * type, livemode, eventCreated (Stripe seconds), payload (the raw JSON),
 * apiVersion?, stripeCustomerId? }`. Returns `{ duplicate, status }`. A
 * redelivery reads one row and writes nothing. Throws when applying throws;
 * nothing is then written.
 */
export const receive = mutation({
  args: vDeliveryFields,
  returns: vReceiveResult,
  handler: async (ctx, args) => await receiveEvent(ctx, withMode(args), Date.now()),
});

/** Records an event whose `receive` threw, `failed_retrying` with its payload (`recordEventForRetry`). */
export const recordForRetry = mutation({
  args: { ...vDeliveryFields, error: v.string() },
  returns: vReceiveResult,
  handler: async (ctx, { error, ...input }) => await recordEventForRetry(ctx, withMode(input), error, Date.now()),
});

/**
 * Runs one queued event. `attempt` is the attempt count the run was
 * scheduled for; a run that no longer matches the row is stale and does
 * nothing. A throw inside `applyQueued` rolls back only its own writes
 * (https://docs.convex.dev/functions/mutation-functions), and is recorded
 * here.
 */
export const process = internalMutation({
  args: { eventId: v.string(), attempt: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, { eventId, attempt }) => {
    const row = await getEventRow(ctx, eventId);
    if (!row || !isRunnable(row, attempt)) return null;
    try {
      await ctx.runMutation(internal.webhooks.applyQueued, { eventId });
    } catch (error) {
      await recordFailure(ctx, row, error, Date.now());
    }
    return null;
  },
});

/** Applies a queued event and records its outcome in one transaction (`applyQueuedEvent`). */
export const applyQueued = internalMutation({
  args: { eventId: v.string() },
  returns: v.union(vWebhookEventStatus, v.literal("skipped")),
  handler: async (ctx, { eventId }) => await applyQueuedEvent(ctx, eventId, Date.now()),
});

/** Cron: schedules due retries, lost pending events and waiting rechecks, a bounded batch per run. */
export const sweepRetries = internalMutation({
  args: {},
  returns: v.object({ scheduled: v.number() }),
  handler: async (ctx) => ({ scheduled: await sweepDueEvents(ctx, Date.now()) }),
});

/**
 * Cron (daily): deletes the payloads of events settled more than
 * `olderThanDays` (default `BILLING_CONFIG.webhookPayloadRetentionDays`)
 * ago, keeping their `webhookEvents` rows; a bounded batch per run, and a
 * full batch schedules the next one at once.
 */
export const compactPayloads = internalMutation({
  args: { olderThanDays: v.optional(v.number()) },
  returns: v.object({ deleted: v.number(), more: v.boolean() }),
  handler: async (ctx, { olderThanDays }) => {
    const days = olderThanDays ?? BILLING_CONFIG.webhookPayloadRetentionDays;
    const result = await compactSettledPayloads(ctx, Date.now() - days * 24 * 60 * 60 * 1000);
    if (result.more) await ctx.scheduler.runAfter(0, internal.webhooks.compactPayloads, { olderThanDays: days });
    return result;
  },
});

/**
 * Operator: re-queues a `dead`, waiting or failing event with a fresh set of
 * attempts, e.g. `npx convex run --component billing webhooks:replay
 * '{"eventId":"evt_…"}'`. An
 * applied event is left unchanged.
 */
export const replay = mutation({
  args: { eventId: v.string() },
  returns: v.object({
    requeued: v.boolean(),
    status: v.union(vWebhookEventStatus, v.literal("not_found")),
  }),
  handler: async (ctx, { eventId }) => await replayEvent(ctx, eventId, Date.now()),
});

/**
 * Operator: newest events first (default 50, max 200), optionally of one
 * status; with a status, ordered by `nextAttemptAt` descending. Reads only
 * `webhookEvents` rows; payloads are never read.
 */
export const list = query({
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
    return rows.map(toEventSummary);
  },
});
