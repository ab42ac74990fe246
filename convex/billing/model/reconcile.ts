/**
 * Reconciliation of Stripe events whose webhook delivery was lost.
 *
 * Stripe retries a failed delivery for a limited time (up to 3 days in live
 * mode, a few hours in test mode) and never resends events generated while an
 * endpoint was disabled. `GET /v1/events` keeps events for 30 days, and
 * `delivery_success=false` lists the ones not delivered to every endpoint
 * (https://docs.stripe.com/api/events/list,
 * https://docs.stripe.com/webhooks#retries). `reconcile.reconcileEvents`
 * lists them and records the missing ones in the same queue the webhook
 * endpoint writes to, so they are processed exactly like a delivery.
 *
 * Pure helpers here; the Stripe calls and queue writes live in
 * `convex/reconcile.ts`. Times are Stripe seconds.
 */
import type Stripe from "stripe";
import { internal } from "../_generated/api";
import type { ActionCtx } from "../_generated/server";
import { RECONCILED_EVENT_TYPES } from "./stripeEventHandlers";
import { deliveryOf, modeMismatch } from "./stripeShapes";
import { WEBHOOK_MAX_BODY_BYTES, byteLength, type StripeMode } from "./stripeWebhook";
import type { EventInput } from "./webhookQueue";

const DAY_SECONDS = 24 * 60 * 60;

/**
 * The event types listed: the handler table's reconciled types
 * (`model/stripeEventHandlers.ts`); anything else would be recorded
 * `ignored`, so listing it is wasted work. Stripe's `types[]` filter takes at
 * most 20 (checked in `tests/convex/reconcile.test.ts`).
 */
export const RECONCILE_EVENT_TYPES: readonly string[] = RECONCILED_EVENT_TYPES;

/** Stripe's limit on `types[]` in one `GET /v1/events`. */
export const STRIPE_MAX_TYPES_FILTER = 20;

/** Default look-back: Stripe's live-mode retry window. */
export const DEFAULT_WINDOW_SECONDS = 3 * DAY_SECONDS;
/** Stripe keeps events for 30 days; older ones cannot be listed. */
export const MAX_WINDOW_SECONDS = 30 * DAY_SECONDS;
/**
 * Events younger than this are left to the normal delivery, which is usually
 * in flight: it carries the endpoint's pinned API version, while the API
 * renders events at the account's default version.
 */
export const SETTLE_SECONDS = 2 * 60;
/** Most events listed per run (both passes together); the next run continues. */
export const MAX_EVENTS_PER_RUN = 1_000;
/** The per-run bound: `maxEvents` clamped to 1–`MAX_EVENTS_PER_RUN`, default `MAX_EVENTS_PER_RUN`. */
export function eventsPerRun(maxEvents?: number): number {
  if (maxEvents === undefined || !Number.isFinite(maxEvents)) return MAX_EVENTS_PER_RUN;
  return Math.min(MAX_EVENTS_PER_RUN, Math.max(1, Math.floor(maxEvents)));
}

/** Stripe's largest page. */
export const PAGE_SIZE = 100;
/** Most events per `reconcile.enqueueBatch` mutation (and per `knownEventIds` query). */
export const ENQUEUE_BATCH = 100;
/** Most payload bytes per `reconcile.enqueueBatch` call, well inside Convex's argument limit. */
export const ENQUEUE_BATCH_BYTES = 4 * 1024 * 1024;

/** `created` bounds for `GET /v1/events`, seconds: `gte` ≤ created < `lt`. */
export type ReconcileWindow = { gte: number; lt: number };

/**
 * The window to list: the last `sinceSeconds` (default 3 days, clamped to
 * [`SETTLE_SECONDS`, 30 days]) up to `SETTLE_SECONDS` ago.
 */
export function reconcileWindow(nowSeconds: number, sinceSeconds?: number): ReconcileWindow {
  const requested = sinceSeconds === undefined || !Number.isFinite(sinceSeconds) ? DEFAULT_WINDOW_SECONDS : sinceSeconds;
  const span = Math.min(MAX_WINDOW_SECONDS, Math.max(SETTLE_SECONDS, Math.floor(requested)));
  return { gte: nowSeconds - span, lt: nowSeconds - SETTLE_SECONDS };
}

/**
 * What the webhook endpoint would record for this event: same fields, same
 * livemode rule (an event of the other mode is recorded `ignored`), the
 * customer from `customerIdOfEvent`. The payload is the event as the API
 * returned it, which is the account's default API version rendering.
 */
export function enqueueInputOf(event: Stripe.Event, mode: StripeMode): EventInput {
  return { ...deliveryOf(event, JSON.stringify(event)), ignoreReason: modeMismatch(event.livemode, mode) };
}

/** Whether the endpoint would have refused this payload as too large (413). */
export function isOversized(input: EventInput): boolean {
  return byteLength(input.payload) > WEBHOOK_MAX_BODY_BYTES;
}

/** Oldest first (then by id), so a sequence is queued in the order it happened. */
export function sortOldestFirst(events: Stripe.Event[]): Stripe.Event[] {
  return [...events].sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Splits inputs into batches of at most `maxCount` items and `maxBytes` payload bytes (one oversized item goes alone). */
export function batchInputs(
  inputs: EventInput[],
  maxCount: number = ENQUEUE_BATCH,
  maxBytes: number = ENQUEUE_BATCH_BYTES,
): EventInput[][] {
  const batches: EventInput[][] = [];
  let current: EventInput[] = [];
  let bytes = 0;
  for (const input of inputs) {
    const size = byteLength(input.payload);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(input);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The two listings of a run: `undelivered` (`delivery_success=false`) first,
 * so the events Stripe knows it failed to deliver get the budget; then `all`
 * events of the window, because a lost delivery is not always flagged failed.
 */
export type ReconcilePass = "undelivered" | "all";
export const RECONCILE_PASSES: readonly ReconcilePass[] = ["undelivered", "all"];

/**
 * Lists events of `RECONCILE_EVENT_TYPES` created in `window`, newest first
 * as Stripe returns them, following `starting_after` until the list ends or
 * `budget` events were read. Ids in `seen` are not returned again (they still
 * count as read) and new ones are added to it.
 *
 * @returns `exhausted` when the list ended; otherwise `oldestCreated` is the
 *   `created` of the last event read, where a continuation picks up.
 */
export async function listEvents(
  stripe: Stripe,
  window: ReconcileWindow,
  pass: ReconcilePass,
  budget: number,
  seen: Set<string>,
): Promise<{ events: Stripe.Event[]; read: number; exhausted: boolean; oldestCreated?: number }> {
  const events: Stripe.Event[] = [];
  let read = 0;
  let startingAfter: string | undefined;
  let oldestCreated: number | undefined;
  while (read < budget) {
    const page = await stripe.events.list({
      types: [...RECONCILE_EVENT_TYPES],
      created: { gte: window.gte, lt: window.lt },
      ...(pass === "undelivered" ? { delivery_success: false } : {}),
      limit: Math.min(PAGE_SIZE, budget - read),
      ...(startingAfter ? { starting_after: startingAfter } : {}),
    });
    for (const event of page.data) {
      read++;
      oldestCreated = event.created;
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      events.push(event);
    }
    const last = page.data.at(-1);
    if (!page.has_more || !last) return { events, read, exhausted: true };
    startingAfter = last.id;
  }
  return { events, read, exhausted: false, oldestCreated };
}

/**
 * Where the next run continues a listing cut by the budget: the same pass,
 * events created up to and including `oldestCreated` (events of that second
 * already recorded are found known and cost no write). Listing by time rather
 * than by a `starting_after` cursor keeps working when the cursor event has
 * since been delivered and left the `delivery_success=false` list. If a whole
 * budget fell in one second (no progress possible by time), the rest of that
 * second is skipped with a warning rather than looping.
 */
export function continuationEnd(window: ReconcileWindow, oldestCreated: number, perRun: number): number {
  if (oldestCreated + 1 < window.lt) return oldestCreated + 1;
  console.warn(`reconcile: more than ${perRun} events created at ${oldestCreated}; the rest of that second is skipped`);
  return oldestCreated;
}

/** Counts of one reconciliation run (or of one part of it). */
export type EnqueueTotals = {
  /** Newly recorded in `webhookEvents` (including `ignored` ones). */
  enqueued: number;
  /** Of `enqueued`, recorded `ignored` (livemode of the other mode). */
  ignored: number;
  /** Already in `webhookEvents`: delivered by the webhook or an earlier run. */
  alreadyKnown: number;
  /** Skipped: payload larger than the webhook endpoint accepts. */
  oversized: number;
  /** Of `alreadyKnown`, requeued because they were parked waiting for another event. */
  revived: number;
};

export function emptyTotals(): EnqueueTotals {
  return { enqueued: 0, ignored: 0, alreadyKnown: 0, oversized: 0, revived: 0 };
}

/**
 * Records the events not yet in `webhookEvents`, oldest first: for each
 * `ENQUEUE_BATCH` ids one query finds the known ones, then one
 * `reconcile.enqueueBatch` mutation per `batchInputs` batch records the rest.
 * A run where everything is known makes no mutation at all.
 */
export async function enqueueMissingEvents(
  ctx: Pick<ActionCtx, "runQuery" | "runMutation">,
  events: Stripe.Event[],
  mode: StripeMode,
): Promise<EnqueueTotals> {
  const totals = emptyTotals();
  const sorted = sortOldestFirst(events);
  for (let i = 0; i < sorted.length; i += ENQUEUE_BATCH) {
    const chunk = sorted.slice(i, i + ENQUEUE_BATCH);
    const lookup = await ctx.runQuery(internal.reconcile.knownEventIds, { eventIds: chunk.map((e) => e.id) });
    const known = new Set(lookup.known);
    if (lookup.waiting.length > 0) {
      totals.revived += await ctx.runMutation(internal.reconcile.reviveEvents, { eventIds: lookup.waiting });
    }
    const inputs: EventInput[] = [];
    for (const event of chunk) {
      if (known.has(event.id)) {
        totals.alreadyKnown++;
        continue;
      }
      const input = enqueueInputOf(event, mode);
      if (isOversized(input)) {
        console.error(
          `reconcile: Stripe event ${event.id} (${event.type}) is larger than ${WEBHOOK_MAX_BODY_BYTES} bytes; not recorded`,
        );
        totals.oversized++;
        continue;
      }
      inputs.push(input);
    }
    for (const batch of batchInputs(inputs)) {
      const result = await ctx.runMutation(internal.reconcile.enqueueBatch, { events: batch });
      totals.enqueued += result.enqueued;
      totals.ignored += result.ignored;
      totals.alreadyKnown += result.alreadyKnown;
    }
  }
  return totals;
}
