/** Test clocks, webhook endpoints and events. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";
import { API_VERSION } from "./common.ts";

export function buildTestClock(input: { created: number; frozenTime: number; name: string | null }): Stripe.TestHelpers.TestClock {
  return {
    id: newId("clock"),
    object: "test_helpers.test_clock",
    created: input.created,
    deletes_after: input.created + 30 * 24 * 3600,
    frozen_time: input.frozenTime,
    livemode: false,
    name: input.name,
    status: "ready",
    status_details: {},
  };
}

export function buildWebhookEndpoint(input: {
  id?: string;
  created: number;
  url: string;
  enabledEvents: string[];
  secret: string;
  description: string | null;
  metadata: Record<string, string>;
}): Stripe.WebhookEndpoint & { secret: string } {
  return {
    id: input.id ?? newId("we"),
    object: "webhook_endpoint",
    api_version: API_VERSION,
    application: null,
    created: input.created,
    description: input.description,
    enabled_events: input.enabledEvents,
    livemode: false,
    metadata: input.metadata,
    secret: input.secret,
    status: "enabled",
    url: input.url,
  };
}

/** Event types the simulator emits, each tied to its payload object type. */
export type EventType = Stripe.Event["type"];

export type EventObject<T extends EventType> = Extract<Stripe.Event, { type: T }>["data"]["object"];

export function buildEvent<T extends EventType>(input: {
  type: T;
  object: EventObject<T>;
  previousAttributes?: Record<string, unknown>;
  created: number;
  pendingWebhooks: number;
  request: { id: string | null; idempotency_key: string | null } | null;
}): Stripe.Event {
  const event = {
    id: newId("evt"),
    object: "event" as const,
    api_version: API_VERSION,
    created: input.created,
    data: {
      object: input.object,
      ...(input.previousAttributes ? { previous_attributes: input.previousAttributes } : {}),
    },
    livemode: false,
    pending_webhooks: input.pendingWebhooks,
    request: input.request,
    type: input.type,
  };
  // The discriminated union cannot follow a generic `T`; the pairing of
  // `type` and `object` is already enforced by `EventObject<T>` above.
  return event as unknown as Stripe.Event;
}
