/** Billing Meters, meter events and meter event summaries. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";

export type MeterInput = {
  created: number;
  displayName: string;
  eventName: string;
  formula: Stripe.Billing.Meter.DefaultAggregation.Formula;
  /** Payload key naming the customer (`stripe_customer_id` by default). */
  customerKey: string;
  /** Payload key holding the value (`value` by default). */
  valueKey: string;
  eventTimeWindow: Stripe.Billing.Meter.EventTimeWindow | null;
};

export function buildMeter(input: MeterInput): Stripe.Billing.Meter {
  return {
    id: newId("mtr_test"),
    object: "billing.meter",
    created: input.created,
    customer_mapping: { event_payload_key: input.customerKey, type: "by_id" },
    default_aggregation: { formula: input.formula },
    display_name: input.displayName,
    event_name: input.eventName,
    event_time_window: input.eventTimeWindow,
    livemode: false,
    status: "active",
    status_transitions: { deactivated_at: null },
    updated: input.created,
    value_settings: { event_payload_key: input.valueKey },
  };
}

/** The meter event as `POST /v1/billing/meter_events` returns it; `timestamp`/`created` in seconds. */
export function buildMeterEvent(input: {
  created: number;
  eventName: string;
  identifier: string;
  payload: Record<string, string>;
  timestamp: number;
}): Stripe.Billing.MeterEvent {
  return {
    object: "billing.meter_event",
    created: input.created,
    event_name: input.eventName,
    identifier: input.identifier,
    livemode: false,
    payload: input.payload,
    timestamp: input.timestamp,
  };
}

/**
 * One summary window [startTime, endTime) (seconds). The id is derived from
 * the meter, customer and window, so pagination cursors stay stable between calls.
 */
export function buildMeterEventSummary(input: {
  meter: string;
  customer: string;
  startTime: number;
  endTime: number;
  aggregatedValue: number;
}): Stripe.Billing.MeterEventSummary {
  const key = Buffer.from(`${input.meter}:${input.customer}:${input.startTime}:${input.endTime}`).toString("base64url");
  return {
    id: `mtrusg_test_${key}`,
    object: "billing.meter_event_summary",
    aggregated_value: input.aggregatedValue,
    end_time: input.endTime,
    livemode: false,
    meter: input.meter,
    start_time: input.startTime,
  };
}
