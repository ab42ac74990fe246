/**
 * The Stripe event pipeline: verify → record → apply → outcome.
 *
 * The endpoint (`client.ts` `registerRoutes`, mounted by the app) verifies a delivery, then calls ONE
 * mutation, `webhooks.receive` → `receiveEvent`, which looks the event up by
 * id (a redelivery stops here: one indexed read, nothing written), applies
 * it with its handler (`model/stripeEventHandlers.ts`) and records the row
 * with the outcome, all in one transaction. If applying throws, that
 * transaction rolls back and the endpoint calls `webhooks.recordForRetry`
 * (`recordEventForRetry`), which records the event `failed_retrying` with
 * its payload and schedules the retry; if that fails too the endpoint
 * answers 500 and Stripe redelivers. Nothing is lost, and the happy path is
 * one mutation with no sub-transaction.
 *
 * The retry path (`webhooks.process`, scheduled, swept, woken, replayed)
 * applies a queued event in a sub-transaction (`webhooks.applyQueued` →
 * `applyQueuedEvent`), so a throw leaves no writes and the outer mutation
 * records the failure. Only events that were not applied on receipt take it.
 *
 * Acting on outcomes (`model/eventOutcome.ts`): `applied` → `succeeded`,
 * then the events waiting for what it `landed` are woken; `ignored` →
 * `ignored`; `wait` → `waiting` (no attempt counted; a newly awaited price is
 * fetched from Stripe by `stripePrices.learn`); `refused` → `dead` at once.
 *
 * Payloads: an event applied or ignored on receipt stores none (the row is
 * ids, type, status and times); any other stores its raw JSON in
 * `webhookPayloads`, kept until compacted after
 * `BILLING_CONFIG.webhookPayloadRetentionDays` once settled.
 */
import type Stripe from "stripe";
import { internal } from "../_generated/api";
import type { MutationCtx } from "../_generated/server";
import { priceOfKey, type EventOutcome } from "./eventOutcome";
import { applyStripeEvent } from "./stripeEventHandlers";
import {
  getEventRow,
  getPayload,
  insertReceived,
  killRow,
  parkRow,
  settleRow,
  wakeWaitingEvents,
  type EventInput,
} from "./webhookQueue";
import type { WebhookEventStatus } from "./validators";

export type ReceiveResult = { duplicate: boolean; status: WebhookEventStatus };

/**
 * Records a verified event and applies it, in the caller's transaction. A
 * known id changes nothing. Throws whatever the handler throws (the caller's
 * transaction then rolls back; see `recordEventForRetry`).
 */
export async function receiveEvent(ctx: MutationCtx, input: EventInput, nowMs: number): Promise<ReceiveResult> {
  const existing = await getEventRow(ctx, input.eventId);
  if (existing) return { duplicate: true, status: existing.status };
  if (input.ignoreReason !== undefined) {
    return { duplicate: false, status: await insertReceived(ctx, input, { status: "ignored", note: input.ignoreReason }, nowMs) };
  }
  const event = JSON.parse(input.payload) as Stripe.Event;
  const outcome = await applyStripeEvent(ctx, event, nowMs);
  let status: WebhookEventStatus;
  switch (outcome.kind) {
    case "applied":
      status = await insertReceived(ctx, input, { status: "succeeded" }, nowMs);
      break;
    case "ignored":
      status = await insertReceived(ctx, input, { status: "ignored" }, nowMs);
      break;
    case "wait":
      status = await insertReceived(ctx, input, { status: "waiting", waitingFor: outcome.waitingFor, reason: outcome.reason }, nowMs);
      break;
    case "refused":
      status = await insertReceived(ctx, input, { status: "dead", reason: outcome.reason }, nowMs);
      break;
  }
  await afterOutcome(ctx, outcome, input.stripeCustomerId, true, nowMs);
  return { duplicate: false, status };
}

/**
 * Records an event whose application threw in `receiveEvent` (that
 * transaction rolled back): `failed_retrying` after one attempt, with its
 * payload and the retry scheduled. A known id changes nothing.
 */
export async function recordEventForRetry(
  ctx: MutationCtx,
  input: EventInput,
  error: string,
  nowMs: number,
): Promise<ReceiveResult> {
  const existing = await getEventRow(ctx, input.eventId);
  if (existing) return { duplicate: true, status: existing.status };
  const status = await insertReceived(
    ctx,
    input,
    input.ignoreReason !== undefined ? { status: "ignored", note: input.ignoreReason } : { status: "failed_retrying", error },
    nowMs,
  );
  return { duplicate: false, status };
}

/**
 * Applies a queued event from its stored payload and records the outcome,
 * in the caller's transaction (the retry path's sub-transaction). An event
 * already settled is left alone (`skipped`). Throws whatever the handler
 * throws, and when the event's payload is gone.
 */
export async function applyQueuedEvent(
  ctx: MutationCtx,
  eventId: string,
  nowMs: number,
): Promise<WebhookEventStatus | "skipped"> {
  const row = await getEventRow(ctx, eventId);
  if (!row) throw new Error(`webhook event ${eventId} not found`);
  if (row.status === "succeeded" || row.status === "ignored") return "skipped";
  const payload = await getPayload(ctx, row);
  if (payload === null) throw new Error(`webhook event ${eventId} has no stored payload`);
  const outcome = await applyStripeEvent(ctx, JSON.parse(payload) as Stripe.Event, nowMs);
  let newlyWaiting = false;
  switch (outcome.kind) {
    case "applied":
    case "ignored":
      await settleRow(ctx, row, outcome.kind === "applied" ? "succeeded" : "ignored", nowMs);
      break;
    case "wait":
      newlyWaiting = await parkRow(ctx, row, outcome.waitingFor, outcome.reason, nowMs);
      break;
    case "refused":
      await killRow(ctx, row, outcome.reason);
      break;
  }
  await afterOutcome(ctx, outcome, row.stripeCustomerId, newlyWaiting, nowMs);
  return outcome.kind === "applied"
    ? "succeeded"
    : outcome.kind === "ignored"
      ? "ignored"
      : outcome.kind === "wait"
        ? "waiting"
        : "dead";
}

/**
 * What follows an outcome: an applied event wakes the events waiting for
 * what it landed; an event newly waiting for a price has that price fetched
 * from Stripe (`stripePrices.learn`), which wakes it once recorded.
 */
async function afterOutcome(
  ctx: MutationCtx,
  outcome: EventOutcome,
  stripeCustomerId: string | undefined,
  newlyWaiting: boolean,
  nowMs: number,
): Promise<void> {
  if (outcome.kind === "applied" && outcome.landed.length > 0) {
    await wakeWaitingEvents(ctx, outcome.landed, nowMs);
  }
  const priceId = outcome.kind === "wait" ? priceOfKey(outcome.waitingFor) : undefined;
  if (priceId !== undefined && newlyWaiting) {
    await ctx.scheduler.runAfter(0, internal.stripePrices.learn, { stripePriceId: priceId, stripeCustomerId });
  }
}
