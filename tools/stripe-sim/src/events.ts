/**
 * Event creation. Each state change calls `emit` with the object as it is
 * now; the event stores a snapshot (`data.object`), the caller's
 * `previous_attributes`, and is handed to delivery for every endpoint that
 * subscribes to its type. Events of one operation share their `created`
 * second, as Stripe's do.
 */
import type Stripe from "stripe";
import { buildEvent, type EventObject, type EventType } from "./builders.ts";
import type { SimContext } from "./context.ts";

/** A JSON round trip: the wire form of an object (Decimals become strings). */
export function snapshot<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function endpointsFor(ctx: SimContext, type: string): string[] {
  return Object.values(ctx.store.state.webhookEndpoints)
    .filter((ep) => ep.status === "enabled")
    .filter((ep) => ep.enabled_events.includes("*") || ep.enabled_events.includes(type))
    .map((ep) => ep.id);
}

export function emit<T extends EventType>(
  ctx: SimContext,
  type: T,
  object: EventObject<T>,
  opts: { customer?: string | null; previous?: Record<string, unknown> } = {},
): Stripe.Event {
  const endpoints = endpointsFor(ctx, type);
  const event = buildEvent({
    type,
    object: snapshot(object),
    previousAttributes: opts.previous ? snapshot(opts.previous) : undefined,
    created: ctx.store.now(opts.customer ?? null),
    pendingWebhooks: endpoints.length,
    request: ctx.currentRequest ?? { id: null, idempotency_key: null },
  });
  const state = ctx.store.state;
  state.events[event.id] = event;
  state.eventOrder.push(event.id);
  state.eventDelivery[event.id] = Object.fromEntries(endpoints.map((id) => [id, "pending" as const]));
  ctx.log(`event ${event.id} ${type}`);
  if (endpoints.length > 0) ctx.delivery.enqueue(event.id);
  return event;
}

/**
 * Stripe's `delivery_success` filter: `true` when every endpoint got it,
 * `false` while any endpoint is pending, failed, or (chaos) dropped. Events
 * with no endpoint count as delivered.
 */
export function deliverySucceeded(ctx: SimContext, eventId: string): boolean {
  const status = ctx.store.state.eventDelivery[eventId] ?? {};
  return Object.values(status).every((s) => s === "succeeded");
}
