/**
 * The rows of the Stripe event queue (`webhookEvents`, `webhookPayloads`)
 * and what moves them: recording, settling, parking, waking, retrying,
 * dead-lettering, the sweep, replay and payload compaction. It knows nothing
 * of the handlers; the pipeline (`model/webhookPipeline.ts`) decides, from a
 * handler's outcome, which of these to call.
 *
 * Statuses (docs/BILLING_COMPONENT.md draws them):
 * - `succeeded` / `ignored`: applied (or nothing to apply), in the same
 *   transaction as the handler's writes;
 * - `waiting`: parked until `waitingFor` lands; never dead for that, costs
 *   no attempts; woken when the key lands (`wakeWaitingEvents`), rechecked
 *   hourly by the sweep, revived by reconciliation;
 * - `failed_retrying`: applying threw; retried at `nextAttemptAt` with
 *   exponential backoff and jitter;
 * - `pending`: queued to run now (reconciliation, a wake-up, a replay);
 * - `dead`: refused by its handler, or `BILLING_CONFIG.maxWebhookAttempts`
 *   runs threw. Nothing is dropped: an operator replays it.
 *
 * Every scheduled `webhooks.process` run carries the `attempts` count it was
 * scheduled for. A run whose count no longer matches the row is stale and
 * does nothing, so duplicate runs never double-count attempts.
 *
 * Times are Convex milliseconds; `eventCreated` is Stripe seconds.
 */
import { v, type Infer } from "convex/values";
import { omit, pick } from "convex-helpers";
import { internal } from "../_generated/api";
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import schema from "../schema";
import { errorMessage } from "./errors";
import { BILLING_CONFIG } from "./plans";
import type { WebhookEventStatus } from "./validators";

const eventFields = schema.tables.webhookEvents.validator.fields;

/**
 * One verified event as the webhook endpoint and reconciliation hand it
 * over: the `webhookEvents` fields known on receipt, plus
 * - `payload`: the raw, verified JSON body (or the API's rendering);
 * - `ignoreReason`: when set, the event is recorded `ignored` with this
 *   reason and never applied (e.g. the other livemode).
 */
export const vEventInput = v.object({
  ...pick(eventFields, ["eventId", "type", "livemode", "eventCreated", "stripeCustomerId"]),
  ...pick(schema.tables.webhookPayloads.validator.fields, ["apiVersion"]),
  payload: v.string(),
  ignoreReason: v.optional(v.string()),
});
export type EventInput = Infer<typeof vEventInput>;

/**
 * A `webhookEvents` row as operators list it: every field but the legacy
 * payload and API version, with what a row settled on receipt leaves out
 * filled in (`toEventSummary`): `livemode`, `attempts`, `receivedAt`,
 * `processedAt`.
 */
export const vEventSummary = v.object({
  _id: v.id("webhookEvents"),
  _creationTime: v.number(),
  ...omit(eventFields, ["payload", "apiVersion"]),
  livemode: v.boolean(),
  attempts: v.number(),
  receivedAt: v.number(),
});
export type EventSummary = Infer<typeof vEventSummary>;

/** Runs counted on a row (see the schema's `attempts`): stored, or what a row settled on receipt implies. */
export function attemptsOf(row: Doc<"webhookEvents">): number {
  return row.attempts ?? (row.lastError === undefined ? 1 : 0);
}

/** A row as operators see it (`vEventSummary`): defaults filled in, legacy payload left out. */
export function toEventSummary(row: Doc<"webhookEvents">): EventSummary {
  const { payload: _legacyPayload, apiVersion: _legacyApiVersion, ...fields } = row;
  const settled = row.status === "succeeded" || row.status === "ignored";
  // A row settled on receipt was inserted in the mutation that received it.
  const receivedAt = row.receivedAt ?? Math.floor(row._creationTime);
  return {
    ...fields,
    livemode: row.livemode ?? false,
    attempts: attemptsOf(row),
    receivedAt,
    processedAt: row.processedAt ?? (settled ? receivedAt : undefined),
  };
}

/** Events the retry sweep re-schedules per run; the cron runs every minute. */
export const SWEEP_BATCH = 100;
/** Waiting events woken per landed key in one transaction; the rest wait for the hourly recheck. */
export const WAKE_BATCH = 100;
/** How often the sweep rechecks a parked `waiting` event (ms), in case its wake-up was missed. */
export const WAITING_RECHECK_MS = 60 * 60 * 1000;
/** Payloads deleted per compaction run (a quarter of Convex's 16,000 written documents, rounded down). */
export const COMPACT_BATCH = 1_000;
/**
 * Payload bytes read per compaction run before it stops: a quarter of
 * Convex's 16 MiB read limit, less one largest payload (the endpoint's
 * 512 KiB cap), since the run only learns a row's size by reading it.
 */
export const COMPACT_BYTES = 4 * 1024 * 1024 - 512 * 1024;
/** Longest `lastError` kept, so an error message cannot bloat the row. */
const MAX_ERROR_LENGTH = 2_000;

export async function getEventRow(ctx: QueryCtx, eventId: string): Promise<Doc<"webhookEvents"> | null> {
  return await ctx.db
    .query("webhookEvents")
    .withIndex("by_eventId", (q) => q.eq("eventId", eventId))
    .unique();
}

async function getPayloadRow(ctx: QueryCtx, eventId: string): Promise<Doc<"webhookPayloads"> | null> {
  return await ctx.db
    .query("webhookPayloads")
    .withIndex("by_eventId", (q) => q.eq("eventId", eventId))
    .unique();
}

/** The raw JSON of a queued event, or null when it has none (applied on receipt, or compacted). */
export async function getPayload(ctx: QueryCtx, row: Doc<"webhookEvents">): Promise<string | null> {
  return (await getPayloadRow(ctx, row.eventId))?.payload ?? row.payload ?? null;
}

/** The row fields of an event that may still run or wait: `livemode` only when true. */
function rowFields(input: EventInput) {
  const { payload: _payload, ignoreReason: _ignoreReason, apiVersion: _apiVersion, livemode, ...fields } = input;
  return livemode ? { ...fields, livemode } : fields;
}

/** What a freshly received event became, as `insertReceived` records it. */
export type Receipt =
  | { status: "succeeded" | "ignored"; note?: string }
  | { status: "waiting"; waitingFor: string; reason: string }
  | { status: "dead"; reason: string }
  | { status: "failed_retrying"; error: string }
  | { status: "pending" };

/**
 * Inserts the row of an event received now, in the state `receipt` says.
 * The payload and its API version are stored (in `webhookPayloads`) only
 * when the event may still run or an operator may want it: waiting, dead,
 * retrying or pending. An event applied or ignored on receipt stores none,
 * and its row only what operators and the redelivery check read: id, type,
 * status, `eventCreated`, the ignore reason (`lastError`, and then
 * `attempts: 0`) and `livemode` when true; `_creationTime` is its receipt
 * time. A retrying or pending event
 * gets its run scheduled.
 */
export async function insertReceived(
  ctx: MutationCtx,
  input: EventInput,
  receipt: Receipt,
  nowMs: number,
): Promise<WebhookEventStatus> {
  const base = { ...rowFields(input), receivedAt: nowMs };
  switch (receipt.status) {
    case "succeeded":
    case "ignored": {
      // Nothing reads its customer (no wake-up, no retry): not stored; its
      // receipt time is the row's `_creationTime`.
      const { stripeCustomerId: _customer, receivedAt: _receivedAt, ...settled } = base;
      await ctx.db.insert("webhookEvents", { ...settled, status: receipt.status, lastError: receipt.note });
      return receipt.status;
    }
    case "waiting":
      console.warn(`stripe event ${input.eventId} (${input.type}) is waiting: ${receipt.reason}`);
      await ctx.db.insert("webhookEvents", {
        ...base,
        status: "waiting",
        attempts: 0,
        lastError: truncate(receipt.reason),
        waitingFor: receipt.waitingFor,
        nextAttemptAt: nowMs + WAITING_RECHECK_MS,
      });
      break;
    case "dead":
      console.error(`stripe event ${input.eventId} (${input.type}) is dead: ${receipt.reason}`);
      await ctx.db.insert("webhookEvents", { ...base, status: "dead", attempts: 1, lastError: truncate(receipt.reason) });
      break;
    case "failed_retrying": {
      const nextAttemptAt = nowMs + retryDelayMs(1);
      console.warn(`stripe event ${input.eventId} (${input.type}) attempt 1 failed, retrying: ${receipt.error}`);
      await ctx.db.insert("webhookEvents", {
        ...base,
        status: "failed_retrying",
        attempts: 1,
        lastError: truncate(receipt.error),
        nextAttemptAt,
      });
      await ctx.scheduler.runAt(nextAttemptAt, internal.webhooks.process, { eventId: input.eventId, attempt: 1 });
      break;
    }
    case "pending":
      // `nextAttemptAt` lets the sweep find it if its scheduled run is lost.
      await ctx.db.insert("webhookEvents", { ...base, status: "pending", attempts: 0, nextAttemptAt: nowMs });
      await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: input.eventId, attempt: 0 });
      break;
  }
  await ctx.db.insert("webhookPayloads", { eventId: input.eventId, payload: input.payload, apiVersion: input.apiVersion });
  return receipt.status;
}

/**
 * Records one event to be applied by its scheduled run, as reconciliation
 * does: `pending` with its payload, or `ignored` with `ignoreReason`. A
 * known id changes nothing.
 */
export async function enqueueEvent(
  ctx: MutationCtx,
  input: EventInput,
  nowMs: number,
): Promise<{ duplicate: boolean; status: WebhookEventStatus }> {
  const existing = await getEventRow(ctx, input.eventId);
  if (existing) return { duplicate: true, status: existing.status };
  const receipt: Receipt =
    input.ignoreReason !== undefined ? { status: "ignored", note: input.ignoreReason } : { status: "pending" };
  return { duplicate: false, status: await insertReceived(ctx, input, receipt, nowMs) };
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
  return attempt === undefined || attempt === attemptsOf(row);
}

/** Marks a queued event applied (`succeeded`) or `ignored`, counting the run; its payload is kept until compaction. */
export async function settleRow(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  status: "succeeded" | "ignored",
  nowMs: number,
): Promise<void> {
  await ctx.db.patch("webhookEvents", row._id, {
    status,
    attempts: attemptsOf(row) + 1,
    processedAt: nowMs,
    nextAttemptAt: undefined,
    waitingFor: undefined,
  });
  const payload = await getPayloadRow(ctx, row.eventId);
  if (payload) await ctx.db.patch("webhookPayloads", payload._id, { settledAt: nowMs });
}

/**
 * Parks a queued event as `waiting` for `waitingFor`, without counting an
 * attempt; the sweep rechecks it after `WAITING_RECHECK_MS`. Returns whether
 * it was not already waiting for that key.
 */
export async function parkRow(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  waitingFor: string,
  reason: string,
  nowMs: number,
): Promise<boolean> {
  const newly = row.waitingFor !== waitingFor;
  if (newly) console.warn(`stripe event ${row.eventId} (${row.type}) is waiting: ${reason}`);
  await ctx.db.patch("webhookEvents", row._id, {
    status: "waiting",
    lastError: truncate(reason),
    waitingFor,
    nextAttemptAt: nowMs + WAITING_RECHECK_MS,
  });
  return newly;
}

/** Sends a queued event its handler refused to `dead` at once, counting the run. */
export async function killRow(ctx: MutationCtx, row: Doc<"webhookEvents">, reason: string): Promise<void> {
  console.error(`stripe event ${row.eventId} (${row.type}) is dead: ${reason}`);
  await ctx.db.patch("webhookEvents", row._id, {
    status: "dead",
    attempts: attemptsOf(row) + 1,
    lastError: truncate(reason),
    nextAttemptAt: undefined,
    waitingFor: undefined,
  });
}

/**
 * Records a run that threw (its writes rolled back): `failed_retrying` with
 * the next run scheduled after backoff, or `dead` once
 * `maxWebhookAttempts` runs have thrown.
 */
export async function recordFailure(
  ctx: MutationCtx,
  row: Doc<"webhookEvents">,
  error: unknown,
  nowMs: number,
): Promise<{ status: "failed_retrying" | "dead"; attempts: number; nextAttemptAt?: number }> {
  const attempts = attemptsOf(row) + 1;
  const lastError = truncate(errorMessage(error));
  if (attempts >= BILLING_CONFIG.maxWebhookAttempts) {
    console.error(`stripe event ${row.eventId} (${row.type}) is dead after ${attempts} attempts: ${lastError}`);
    await ctx.db.patch("webhookEvents", row._id, {
      status: "dead",
      attempts,
      lastError,
      nextAttemptAt: undefined,
      waitingFor: undefined,
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
    waitingFor: undefined,
  });
  await ctx.scheduler.runAt(nextAttemptAt, internal.webhooks.process, { eventId: row.eventId, attempt: attempts });
  return { status: "failed_retrying", attempts, nextAttemptAt };
}

/** Queues one row to run now, keeping its attempts (waking costs none). */
export async function wakeRow(ctx: MutationCtx, row: Doc<"webhookEvents">, nowMs: number): Promise<void> {
  await ctx.db.patch("webhookEvents", row._id, { status: "pending", nextAttemptAt: nowMs, waitingFor: undefined });
  await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: row.eventId, attempt: attemptsOf(row) });
}

/**
 * A `dead` row that died waiting before waiting events were parked (such
 * rows name what they waited for only in `lastError`).
 */
function diedWaiting(row: Doc<"webhookEvents">): boolean {
  return row.status === "dead" && /not linked to an account yet|is not known yet/.test(row.lastError ?? "");
}

/** Whether reconciliation should revive a known event: parked waiting, or died waiting. */
export function needsRevival(row: Doc<"webhookEvents">): boolean {
  return row.status === "waiting" || diedWaiting(row);
}

/**
 * Wakes the events waiting for any of `keys` (`customer:…`,
 * `subscription:…`, `price:…`): each is queued to run now with its attempts
 * kept. For a `customer:` key, the customer's events that died waiting
 * (`diedWaiting`) are woken too. At most `WAKE_BATCH` per key; the rest keep
 * their hourly recheck. Returns the number woken.
 */
export async function wakeWaitingEvents(ctx: MutationCtx, keys: readonly string[], nowMs: number): Promise<number> {
  let woken = 0;
  for (const key of keys) {
    const rows = await ctx.db
      .query("webhookEvents")
      .withIndex("by_waitingFor", (q) => q.eq("waitingFor", key))
      .take(WAKE_BATCH);
    if (key.startsWith("customer:")) {
      const dead = await ctx.db
        .query("webhookEvents")
        .withIndex("by_stripeCustomerId_and_status", (q) =>
          q.eq("stripeCustomerId", key.slice("customer:".length)).eq("status", "dead"),
        )
        .take(WAKE_BATCH);
      rows.push(...dead.filter(diedWaiting));
    }
    for (const row of rows) {
      await wakeRow(ctx, row, nowMs);
      woken++;
    }
  }
  return woken;
}

/**
 * Schedules the runs that are due (`failed_retrying`, `pending` and
 * `waiting` rows with `nextAttemptAt <= nowMs`), at most `SWEEP_BATCH`. A
 * safety net: normally each event's own scheduled run or wake-up handles it.
 * Reads only `webhookEvents` rows, never payloads.
 */
export async function sweepDueEvents(ctx: MutationCtx, nowMs: number): Promise<number> {
  let scheduled = 0;
  for (const status of ["failed_retrying", "pending", "waiting"] as const) {
    const due = await ctx.db
      .query("webhookEvents")
      .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status).lte("nextAttemptAt", nowMs))
      .take(SWEEP_BATCH - scheduled);
    for (const row of due) {
      await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId: row.eventId, attempt: attemptsOf(row) });
      scheduled++;
    }
    if (scheduled >= SWEEP_BATCH) break;
  }
  return scheduled;
}

/**
 * Re-queues a `dead`, `waiting`, `failed_retrying` or `pending` event with a
 * fresh set of attempts. An applied (`succeeded` / `ignored`) event is left
 * unchanged, and so is one whose payload is gone.
 */
export async function replayEvent(
  ctx: MutationCtx,
  eventId: string,
  nowMs: number,
): Promise<{ requeued: boolean; status: WebhookEventStatus | "not_found" }> {
  const row = await getEventRow(ctx, eventId);
  if (!row) return { requeued: false, status: "not_found" };
  if (row.status === "succeeded" || row.status === "ignored") return { requeued: false, status: row.status };
  await ctx.db.patch("webhookEvents", row._id, { status: "pending", attempts: 0, nextAttemptAt: nowMs, waitingFor: undefined });
  await ctx.scheduler.runAfter(0, internal.webhooks.process, { eventId, attempt: 0 });
  return { requeued: true, status: "pending" };
}

/**
 * Deletes the payloads of events settled before `cutoffMs`, oldest first,
 * at most `COMPACT_BATCH` rows and about `COMPACT_BYTES` read per call. The
 * `webhookEvents` rows stay. Returns how many were deleted and whether more
 * may remain.
 */
export async function compactSettledPayloads(
  ctx: MutationCtx,
  cutoffMs: number,
): Promise<{ deleted: number; more: boolean }> {
  let deleted = 0;
  let bytes = 0;
  const rows = ctx.db
    .query("webhookPayloads")
    .withIndex("by_settledAt", (q) => q.gte("settledAt", 0).lt("settledAt", cutoffMs));
  for await (const row of rows) {
    await ctx.db.delete("webhookPayloads", row._id);
    deleted++;
    bytes += row.payload.length;
    if (deleted >= COMPACT_BATCH || bytes >= COMPACT_BYTES) return { deleted, more: true };
  }
  return { deleted, more: false };
}

function truncate(message: string): string {
  return message.slice(0, MAX_ERROR_LENGTH);
}
