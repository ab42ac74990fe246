/**
 * The durable queue of verified Stripe events (`webhookEvents`).
 *
 * Life of an event: `pending` (enqueued, processing scheduled) →
 * `succeeded` / `ignored` (applied, in the same transaction as its writes) or
 * `failed_retrying` (the handler threw; retried at `nextAttemptAt` with
 * exponential backoff and jitter) → `dead` after
 * `BILLING_CONFIG.maxWebhookAttempts` failed attempts. Nothing is dropped: a
 * dead event stays until an operator replays it (`webhooks.replay`).
 *
 * Every scheduled `webhooks.process` run carries the `attempts` count it was
 * scheduled for. A run whose count no longer matches the row is stale (the
 * event was already attempted by the retry sweep, a wake-up or a replay) and
 * does nothing, so duplicate runs never double-count attempts.
 *
 * Times are Convex milliseconds; `eventCreated` is Stripe seconds.
 */
import { v, type Infer } from "convex/values";
import { internal } from "../_generated/api";
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { BILLING_CONFIG } from "./plans";

/**
 * What `webhooks.enqueue` (one delivery) and `reconcile.enqueueBatch` (events
 * re-listed from the API) store per verified event:
 * - `eventCreated`: Stripe `created`, seconds;
 * - `payload`: the raw, verified JSON body (or the API's rendering);
 * - `ignoreReason`: when set, the event is recorded `ignored` with this
 *   reason and never processed (e.g. the other livemode).
 */
export const vEnqueueInput = v.object({
  eventId: v.string(),
  type: v.string(),
  apiVersion: v.optional(v.string()),
  livemode: v.boolean(),
  eventCreated: v.number(),
  payload: v.string(),
  stripeCustomerId: v.optional(v.string()),
  ignoreReason: v.optional(v.string()),
});
export type EnqueueInput = Infer<typeof vEnqueueInput>;

/** Events the retry sweep re-schedules per run; the cron runs every minute. */
export const SWEEP_BATCH = 100;
/** Waiting events woken per linked customer in one transaction. */
export const WAKE_BATCH = 100;
/** Longest `lastError` kept, so an error message cannot bloat the row. */
const MAX_ERROR_LENGTH = 2_000;

export async function getEventRow(ctx: QueryCtx, eventId: string): Promise<Doc<"webhookEvents"> | null> {
  return await ctx.db
    .query("webhookEvents")
    .withIndex("by_eventId", (q) => q.eq("eventId", eventId))
    .unique();
}

/**
 * Inserts the event once by Stripe event id and schedules its processing in
 * the same transaction. A redelivery of a known id changes nothing.
 */
export async function enqueueEvent(
  ctx: MutationCtx,
  input: EnqueueInput,
  nowMs: number,
): Promise<{ duplicate: boolean; status: Doc<"webhookEvents">["status"] }> {
  const existing = await getEventRow(ctx, input.eventId);
  if (existing) return { duplicate: true, status: existing.status };
  const { ignoreReason, ...fields } = input;
  if (ignoreReason !== undefined) {
    await ctx.db.insert("webhookEvents", {
      ...fields,
      status: "ignored",
      attempts: 0,
      lastError: ignoreReason,
      receivedAt: nowMs,
      processedAt: nowMs,
    });
    return { duplicate: false, status: "ignored" };
  }
  await ctx.db.insert("webhookEvents", {
    ...fields,
    status: "pending",
    attempts: 0,
    // Lets the sweep find a pending event whose scheduled run was lost.
    nextAttemptAt: nowMs,
    receivedAt: nowMs,
  });
  await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: input.eventId, attempt: 0 });
  return { duplicate: false, status: "pending" };
}

/**
 * Delay before retry number `attempts` (1 = first retry), in ms:
 * `webhookRetryBaseMs · 2^(attempts−1)`, capped at `webhookRetryMaxMs`, then
 * ±20 % jitter so events that failed together do not retry together.
 * `random` is injectable for tests; Convex seeds `Math.random` per mutation.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempts - 1);
  const raw = Math.min(BILLING_CONFIG.webhookRetryMaxMs, BILLING_CONFIG.webhookRetryBaseMs * 2 ** exponent);
  const jitter = 0.8 + 0.4 * random();
  return Math.max(1, Math.round(raw * jitter));
}

/** Whether a scheduled run for `attempt` should still act on this row. */
export function isRunnable(row: Doc<"webhookEvents">, attempt: number | undefined): boolean {
  if (row.status !== "pending" && row.status !== "failed_retrying") return false;
  return attempt === undefined || attempt === row.attempts;
}

/**
 * Records a failed attempt: `failed_retrying` with the next attempt scheduled
 * after backoff, or `dead` once `maxWebhookAttempts` attempts have failed.
 */
export async function recordFailure(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  error: unknown,
  nowMs: number,
): Promise<{ status: "failed_retrying" | "dead"; attempts: number; nextAttemptAt?: number }> {
  const attempts = row.attempts + 1;
  const lastError = errorMessage(error).slice(0, MAX_ERROR_LENGTH);
  if (attempts >= BILLING_CONFIG.maxWebhookAttempts) {
    console.error(`stripe event ${row.eventId} (${row.type}) is dead after ${attempts} attempts: ${lastError}`);
    await ctx.db.patch("webhookEvents", row._id, {
      status: "dead",
      attempts,
      lastError,
      nextAttemptAt: undefined,
    });
    return { status: "dead", attempts };
  }
  const nextAttemptAt = nowMs + retryDelayMs(attempts);
  console.warn(`stripe event ${row.eventId} (${row.type}) attempt ${attempts} failed, retrying: ${lastError}`);
  await ctx.db.patch("webhookEvents", row._id, {
    status: "failed_retrying",
    attempts,
    lastError,
    nextAttemptAt,
  });
  await ctx.scheduler.runAt(nextAttemptAt, internal.webhooks.process, { eventId: row.eventId, attempt: attempts });
  return { status: "failed_retrying", attempts, nextAttemptAt };
}

/** Marks an event applied; called inside `webhooks.applyEvent` with the handler's writes. */
export async function markApplied(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  status: "succeeded" | "ignored",
  nowMs: number,
): Promise<void> {
  await ctx.db.patch("webhookEvents", row._id, {
    status,
    attempts: row.attempts + 1,
    processedAt: nowMs,
    nextAttemptAt: undefined,
  });
}

/**
 * Reschedules, to run now, the events of `stripeCustomerId` that are waiting
 * in `failed_retrying` (typically because the customer had no account yet).
 * Call it whenever a customer gets linked to an account, e.g. from
 * `billing.linkCustomer`. At most `WAKE_BATCH` events per call; the rest keep
 * their backoff schedule. Returns the number of events woken.
 *
 * @param options.exceptEventId an event to leave alone (the one being applied).
 */
export async function wakeEventsForCustomer(
  ctx: MutationCtx,
  stripeCustomerId: string,
  options: { exceptEventId?: string } = {},
): Promise<number> {
  const waiting = await ctx.db
    .query("webhookEvents")
    .withIndex("by_stripeCustomerId_and_status", (q) =>
      q.eq("stripeCustomerId", stripeCustomerId).eq("status", "failed_retrying"),
    )
    .take(WAKE_BATCH);
  const now = Date.now();
  let woken = 0;
  for (const row of waiting) {
    if (row.eventId === options.exceptEventId) continue;
    await ctx.db.patch("webhookEvents", row._id, { nextAttemptAt: now });
    await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: row.eventId, attempt: row.attempts });
    woken++;
  }
  return woken;
}

/**
 * Schedules processing of events that are due (`pending` or
 * `failed_retrying` with `nextAttemptAt <= nowMs`), at most `SWEEP_BATCH`.
 * A safety net: normally each event's own scheduled run handles it.
 */
export async function sweepDueEvents(ctx: MutationCtx, nowMs: number): Promise<number> {
  let scheduled = 0;
  for (const status of ["failed_retrying", "pending"] as const) {
    const due = await ctx.db
      .query("webhookEvents")
      .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status).lte("nextAttemptAt", nowMs))
      .take(SWEEP_BATCH - scheduled);
    for (const row of due) {
      await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: row.eventId, attempt: row.attempts });
      scheduled++;
    }
    if (scheduled >= SWEEP_BATCH) break;
  }
  return scheduled;
}

/**
 * Re-queues a `dead`, `failed_retrying` or `pending` event with a fresh set
 * of attempts. An applied (`succeeded` / `ignored`) event is left unchanged.
 */
export async function replayEvent(
  ctx: MutationCtx,
  eventId: string,
  nowMs: number,
): Promise<{ requeued: boolean; status: Doc<"webhookEvents">["status"] | "not_found" }> {
  const row = await getEventRow(ctx, eventId);
  if (!row) return { requeued: false, status: "not_found" };
  if (row.status === "succeeded" || row.status === "ignored") return { requeued: false, status: row.status };
  await ctx.db.patch("webhookEvents", row._id, { status: "pending", attempts: 0, nextAttemptAt: nowMs });
  await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId, attempt: 0 });
  return { requeued: true, status: "pending" };
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

/**
 * Thrown by a handler when the event cannot be applied yet (customer not
 * linked to an account, subscription mirror missing, price unknown). The
 * event's writes roll back and it is retried with backoff; linking the
 * customer wakes it early.
 */
export class RetryableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryableEventError";
  }
}
