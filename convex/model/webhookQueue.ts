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
 * Waiting is not failing: an event that can't apply until another lands
 * (`RetryableEventError`: its customer is not linked, its price is unknown)
 * gets `WAIT_RETRIES` quick retries for ordinary races, then is parked as
 * `waiting` (`waitingFor` says on what) and is never dead-lettered for it.
 * It is woken when its dependency lands (`wakeEventsForCustomer`), rechecked
 * hourly by the sweep, and revived by reconciliation; an unknown price is
 * fetched from Stripe (`stripePrices.learn`). A permanent refusal
 * (`PermanentEventError`: a forged or conflicting link) goes to `dead` at
 * once, without backoff.
 *
 * Every scheduled `webhooks.process` run carries the `attempts` count it was
 * scheduled for. A run whose count no longer matches the row is stale (the
 * event was already attempted by the retry sweep, a wake-up or a replay) and
 * does nothing, so duplicate runs never double-count attempts.
 *
 * Times are Convex milliseconds; `eventCreated` is Stripe seconds.
 */
import { ConvexError, v, type Infer } from "convex/values";
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
/** Quick retries for an event that waits on another, before it is parked as `waiting`. */
export const WAIT_RETRIES = 3;
/** How often the sweep rechecks a parked `waiting` event (ms), in case its wake-up was missed. */
export const WAITING_RECHECK_MS = 60 * 60 * 1000;
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
  if (row.status !== "pending" && row.status !== "failed_retrying" && row.status !== "waiting") return false;
  return attempt === undefined || attempt === row.attempts;
}

/**
 * Records a failed attempt:
 * - a permanent refusal (`PermanentEventError`): `dead` at once;
 * - a wait on another event (`RetryableEventError`): `failed_retrying` for
 *   `WAIT_RETRIES` attempts, then `waiting` (never `dead`); an unknown price
 *   is fetched from Stripe;
 * - anything else: `failed_retrying` with the next attempt scheduled after
 *   backoff, or `dead` once `maxWebhookAttempts` attempts have failed.
 */
export async function recordFailure(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  error: unknown,
  nowMs: number,
): Promise<{ status: "failed_retrying" | "waiting" | "dead"; attempts: number; nextAttemptAt?: number }> {
  const attempts = row.attempts + 1;
  const lastError = errorMessage(error).slice(0, MAX_ERROR_LENGTH);
  const kind = eventErrorOf(error);
  if (kind?.kind === "wait") {
    if (kind.waitingFor?.startsWith("price:") && attempts === 1) {
      await ctx.scheduler.runAfter(0, internal.stripePrices.learn, {
        stripePriceId: kind.waitingFor.slice("price:".length),
        stripeCustomerId: row.stripeCustomerId,
      });
    }
    if (attempts >= WAIT_RETRIES) {
      const nextAttemptAt = nowMs + WAITING_RECHECK_MS;
      console.warn(`stripe event ${row.eventId} (${row.type}) is waiting: ${lastError}`);
      await ctx.db.patch("webhookEvents", row._id, {
        status: "waiting",
        attempts,
        lastError,
        waitingFor: kind.waitingFor,
        nextAttemptAt,
      });
      return { status: "waiting", attempts, nextAttemptAt };
    }
  }
  if (attempts >= BILLING_CONFIG.maxWebhookAttempts || kind?.kind === "refuse") {
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
    waitingFor: undefined,
  });
}

/** Statuses of events that wait for a dependency and are woken when it lands. */
const WAKEABLE_STATUSES = ["failed_retrying", "waiting", "dead"] as const;

/**
 * Whether a row should be woken: waiting or retrying events, and dead ones
 * that died waiting (before `waiting` existed, a wait ran out of attempts;
 * such rows say so in `lastError`).
 */
function isWaitingRow(row: Doc<"webhookEvents">): boolean {
  if (row.status !== "dead") return true;
  return row.waitingFor !== undefined || /not linked to an account yet|is not known yet/.test(row.lastError ?? "");
}

/**
 * Reschedules, to run now, the events of `stripeCustomerId` that wait for
 * another one (`failed_retrying`, `waiting`, or dead from a wait; see
 * `isWaitingRow`). A woken dead or waiting event is requeued as
 * `failed_retrying` with its attempts kept. Call it whenever a dependency
 * lands: a customer linked, a subscription or price recorded. At most
 * `WAKE_BATCH` events per status per call; the rest keep their schedule.
 * Returns the number of events woken.
 *
 * @param options.exceptEventId an event to leave alone (the one being applied).
 */
export async function wakeEventsForCustomer(
  ctx: MutationCtx,
  stripeCustomerId: string,
  options: { exceptEventId?: string } = {},
): Promise<number> {
  const now = Date.now();
  let woken = 0;
  for (const status of WAKEABLE_STATUSES) {
    const rows = await ctx.db
      .query("webhookEvents")
      .withIndex("by_stripeCustomerId_and_status", (q) => q.eq("stripeCustomerId", stripeCustomerId).eq("status", status))
      .take(WAKE_BATCH);
    for (const row of rows) {
      if (row.eventId === options.exceptEventId || !isWaitingRow(row)) continue;
      await wakeRow(ctx, row, now);
      woken++;
    }
  }
  return woken;
}

/** Requeues one waiting row to run now, keeping its attempts. */
export async function wakeRow(ctx: MutationCtx, row: Doc<"webhookEvents">, nowMs: number): Promise<void> {
  await ctx.db.patch("webhookEvents", row._id, { status: "failed_retrying", nextAttemptAt: nowMs });
  await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: row.eventId, attempt: row.attempts });
}

/** Whether reconciliation should revive a known event: it waits for another (see `isWaitingRow`). */
export function needsRevival(row: Doc<"webhookEvents">): boolean {
  return (row.status === "waiting" || row.status === "dead") && isWaitingRow(row);
}

/**
 * Schedules processing of events that are due (`pending` or
 * `failed_retrying` with `nextAttemptAt <= nowMs`), at most `SWEEP_BATCH`.
 * A safety net: normally each event's own scheduled run handles it.
 */
export async function sweepDueEvents(ctx: MutationCtx, nowMs: number): Promise<number> {
  let scheduled = 0;
  for (const status of ["failed_retrying", "pending", "waiting"] as const) {
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
  if (error instanceof ConvexError && typeof (error.data as { message?: unknown }).message === "string") {
    return (error.data as { message: string }).message;
  }
  if (error instanceof Error) return error.message || error.name;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

type EventErrorData = { eventError: "wait" | "refuse"; message: string; waitingFor?: string };

/**
 * Thrown by a handler when the event cannot be applied yet (customer not
 * linked to an account, price unknown). The event's writes roll back; it is
 * retried, then parked as `waiting` and woken when its dependency lands.
 * A `ConvexError`, so its kind survives the `ctx.runMutation` boundary.
 */
export class RetryableEventError extends ConvexError<EventErrorData> {
  /** What the event waits for, e.g. `customer:cus_…` or `price:price_…`. */
  readonly waitingFor: string | undefined;
  constructor(message: string, waitingFor?: string) {
    super({ eventError: "wait", message, waitingFor });
    this.message = message;
    this.name = "RetryableEventError";
    this.waitingFor = waitingFor;
  }
}

/**
 * Thrown by a handler for an event that can never apply as it stands (a
 * checkout session naming conflicting accounts, a customer owned by another
 * account). The event goes to `dead` at once for an operator.
 */
export class PermanentEventError extends ConvexError<EventErrorData> {
  constructor(message: string) {
    super({ eventError: "refuse", message });
    this.message = message;
    this.name = "PermanentEventError";
  }
}

/** How the queue treats a handler's error: a wait, a refusal, or (null) an unexpected failure. */
export function eventErrorOf(error: unknown): { kind: "wait" | "refuse"; waitingFor?: string } | null {
  if (!(error instanceof ConvexError)) return null;
  const data: unknown = error.data;
  if (typeof data !== "object" || data === null || !("eventError" in data)) return null;
  const { eventError, waitingFor } = data as EventErrorData;
  if (eventError !== "wait" && eventError !== "refuse") return null;
  return { kind: eventError, waitingFor: typeof waitingFor === "string" ? waitingFor : undefined };
}
