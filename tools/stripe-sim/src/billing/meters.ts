/**
 * Billing Meters and meter events (https://docs.stripe.com/billing/subscriptions/usage-based):
 * meters, the validation Stripe applies to a meter event, the 24-hour
 * `identifier` dedupe, and aggregation of a customer's events over a time
 * range — what event summaries list and what a metered subscription item
 * bills at the period end.
 *
 * Times are Stripe seconds. A meter event's `timestamp` is checked against
 * the customer's now (their test clock's `frozen_time`, or real time plus
 * offsets): at most 35 days in the past, at most 5 minutes in the future.
 */
import type Stripe from "stripe";
import { buildMeter, buildMeterEvent, buildMeterEventSummary } from "../builders.ts";
import { DAY } from "../calendar.ts";
import type { SimContext } from "../context.ts";
import { found, invalid, StripeApiError } from "../errors.ts";
import { emit } from "../events.ts";
import { randomToken } from "../ids.ts";
import { usageLine } from "../lines.ts";
import type { MeterEventRecord } from "../store.ts";

export const METER_FORMULAS = ["sum", "count", "last"] as const;
/** How far back a meter event's `timestamp` may be (35 calendar days), seconds. */
export const METER_EVENT_MAX_AGE = 35 * DAY;
/** How far ahead a meter event's `timestamp` may be (5 minutes), seconds. */
export const METER_EVENT_MAX_FUTURE = 5 * 60;
/** Stripe enforces `identifier` uniqueness over (at least) a rolling 24 hours, seconds. */
export const METER_EVENT_DEDUPE_WINDOW = DAY;

export function getMeter(ctx: SimContext, id: string, param = "id"): Stripe.Billing.Meter {
  return found(ctx.store.state.meters[id], "billing.meter", id, param);
}

/** The active meter listening for `eventName`, if any (event names are unique among active meters). */
export function activeMeterFor(ctx: SimContext, eventName: string): Stripe.Billing.Meter | undefined {
  return Object.values(ctx.store.state.meters).find((m) => m.status === "active" && m.event_name === eventName);
}

function refuseTakenEventName(ctx: SimContext, eventName: string, exceptId?: string): void {
  const holder = activeMeterFor(ctx, eventName);
  if (holder && holder.id !== exceptId) {
    throw invalid(`An active meter (\`${holder.id}\`) already uses the event name \`${eventName}\`.`, "event_name");
  }
}

export type NewMeter = {
  displayName: string;
  eventName: string;
  formula: string;
  customerKey: string;
  customerMappingType: string;
  valueKey: string;
  eventTimeWindow: string | null;
};

/** `POST /v1/billing/meters`: emits `billing.meter.created`. */
export function createMeter(ctx: SimContext, input: NewMeter): Stripe.Billing.Meter {
  if (!(METER_FORMULAS as readonly string[]).includes(input.formula)) {
    throw invalid("Invalid default_aggregation[formula]: must be one of sum, count, or last", "default_aggregation[formula]");
  }
  if (input.customerMappingType !== "by_id") {
    throw invalid("Invalid customer_mapping[type]: must be by_id", "customer_mapping[type]");
  }
  if (input.eventTimeWindow !== null && input.eventTimeWindow !== "day" && input.eventTimeWindow !== "hour") {
    throw invalid("Invalid event_time_window: must be one of day or hour", "event_time_window");
  }
  if (input.eventName.length > 100) throw invalid("event_name must be at most 100 characters.", "event_name");
  refuseTakenEventName(ctx, input.eventName);
  const meter = buildMeter({
    created: ctx.store.now(),
    displayName: input.displayName,
    eventName: input.eventName,
    formula: input.formula,
    customerKey: input.customerKey,
    valueKey: input.valueKey,
    eventTimeWindow: input.eventTimeWindow,
  });
  ctx.store.state.meters[meter.id] = meter;
  emit(ctx, "billing.meter.created", meter);
  return meter;
}

/** `deactivate` / `reactivate`: events of an inactive meter are refused; reactivating needs its event name free. */
export function setMeterActive(ctx: SimContext, meter: Stripe.Billing.Meter, active: boolean): Stripe.Billing.Meter {
  if ((meter.status === "active") === active) {
    throw invalid(`This meter is already ${meter.status}.`, undefined, "billing_meter_invalid_status");
  }
  const now = ctx.store.now();
  if (active) refuseTakenEventName(ctx, meter.event_name, meter.id);
  meter.status = active ? "active" : "inactive";
  meter.status_transitions = { deactivated_at: active ? null : now };
  meter.updated = now;
  emit(ctx, active ? "billing.meter.reactivated" : "billing.meter.deactivated", meter);
  return meter;
}

export type NewMeterEvent = {
  eventName: string;
  payload: Record<string, string>;
  identifier: string | null;
  /** Seconds; null = the customer's now. */
  timestamp: number | null;
};

/** A 400 `invalid_request_error` about the meter event. */
function refused(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", message, ...(param ? { param } : {}), ...(code ? { code } : {}) });
}

/** The numeric value of an event for `meter` (`count` ignores the payload value). */
function eventValue(meter: Stripe.Billing.Meter, payload: Record<string, string>): number {
  if (meter.default_aggregation.formula === "count") return 1;
  const key = meter.value_settings.event_payload_key;
  const raw = payload[key];
  if (raw === undefined || raw === "") throw refused(`Missing required payload key \`${key}\` (the meter's value_settings[event_payload_key]).`, `payload[${key}]`);
  if (!/^\d+$/.test(raw)) throw refused(`The payload value \`${key}\` must be a whole number, but got \`${raw}\`.`, `payload[${key}]`);
  return Number(raw);
}

/**
 * `POST /v1/billing/meter_events`. Stripe checks some of this only after
 * accepting an event (and reports it through meter error reports); the
 * simulator refuses at once with a 400, so a caller's mistakes show up in
 * tests. A duplicate `identifier` within 24 hours is refused with Stripe's
 * own message. Emits no webhook event (Stripe sends none per meter event).
 */
export function recordMeterEvent(ctx: SimContext, input: NewMeterEvent): Stripe.Billing.MeterEvent {
  const state = ctx.store.state;
  const meter = activeMeterFor(ctx, input.eventName);
  if (!meter) throw refused(`No active meter was found for event_name \`${input.eventName}\`.`, "event_name");
  const customerKey = meter.customer_mapping.event_payload_key;
  const customerId = input.payload[customerKey];
  if (!customerId) throw refused(`Missing required payload key \`${customerKey}\` (the meter's customer_mapping[event_payload_key]).`, `payload[${customerKey}]`);
  if (!state.customers[customerId]) throw refused(`No such customer: '${customerId}'`, `payload[${customerKey}]`, "resource_missing");
  const value = eventValue(meter, input.payload);

  const now = ctx.store.now(customerId);
  const timestamp = input.timestamp ?? now;
  if (timestamp < now - METER_EVENT_MAX_AGE) {
    throw refused("The timestamp must be within the past 35 calendar days.", "timestamp");
  }
  if (timestamp > now + METER_EVENT_MAX_FUTURE) {
    throw refused("The timestamp must be no more than 5 minutes in the future.", "timestamp");
  }
  const receivedAt = ctx.store.realNow();
  const identifier = input.identifier ?? `sim_${randomToken(24)}`;
  if (identifier.length > 100) throw refused("identifier must be at most 100 characters.", "identifier");
  const duplicate = state.meterEvents.some(
    (r) => r.event.identifier === identifier && receivedAt - r.receivedAt < METER_EVENT_DEDUPE_WINDOW,
  );
  if (duplicate) throw refused(`An event already exists with identifier ${identifier}.`, "identifier");

  const event = buildMeterEvent({ created: now, eventName: input.eventName, identifier, payload: input.payload, timestamp });
  const record: MeterEventRecord = { event, meter: meter.id, customer: customerId, value, receivedAt };
  state.meterEvents.push(record);
  return event;
}

/**
 * The meter's aggregated value for `customerId` over [start, end) (seconds,
 * by event `timestamp`): `sum` of values, `count` of events, or the `last`
 * value (latest timestamp, later arrival on ties; 0 without events).
 */
export function meterUsage(ctx: SimContext, meterId: string, customerId: string, start: number, end: number): number {
  const meter = ctx.store.state.meters[meterId];
  const events = ctx.store.state.meterEvents.filter(
    (r) => r.meter === meterId && r.customer === customerId && r.event.timestamp >= start && r.event.timestamp < end,
  );
  switch (meter?.default_aggregation.formula) {
    case "count":
      return events.length;
    case "last": {
      let last: MeterEventRecord | undefined;
      for (const r of events) if (!last || r.event.timestamp >= last.event.timestamp) last = r;
      return last?.value ?? 0;
    }
    default:
      return events.reduce((s, r) => s + r.value, 0);
  }
}

const WINDOW_SECONDS: Record<string, number> = { hour: 3600, day: DAY };

/**
 * `GET /v1/billing/meters/:id/event_summaries`: one summary over
 * [start, end), or one per hour / UTC day with `value_grouping_window`
 * (newest first, as Stripe lists them). Times must sit on minute boundaries,
 * and on hour / day boundaries for those windows.
 */
export function meterEventSummaries(
  ctx: SimContext,
  meter: Stripe.Billing.Meter,
  customerId: string,
  range: { start: number; end: number; window: string | null },
): Stripe.Billing.MeterEventSummary[] {
  const { start, end, window } = range;
  for (const [value, param] of [[start, "start_time"], [end, "end_time"]] as const) {
    if (value % 60 !== 0) throw invalid(`${param} must be aligned with minute boundaries.`, param);
  }
  if (start >= end) throw invalid("start_time must be before end_time.", "start_time");
  let step = end - start;
  if (window !== null) {
    const size = WINDOW_SECONDS[window];
    if (!size) throw invalid("Invalid value_grouping_window: must be one of day or hour", "value_grouping_window");
    for (const [value, param] of [[start, "start_time"], [end, "end_time"]] as const) {
      if (value % size !== 0) throw invalid(`${param} must be aligned with ${window} boundaries when value_grouping_window is ${window}.`, param);
    }
    step = size;
  }
  const out: Stripe.Billing.MeterEventSummary[] = [];
  for (let t = start; t < end; t += step) {
    const windowEnd = Math.min(t + step, end);
    out.push(
      buildMeterEventSummary({
        meter: meter.id,
        customer: customerId,
        startTime: t,
        endTime: windowEnd,
        aggregatedValue: meterUsage(ctx, meter.id, customerId, t, windowEnd),
      }),
    );
  }
  return out.reverse();
}

/**
 * The invoice line billing a metered subscription item's usage over
 * `period` ([start, end), seconds): quantity = the meter's aggregated value
 * for the subscription's customer, amount = quantity × unit_amount (0 when
 * the period was a trial).
 */
export function meteredUsageLine(
  ctx: SimContext,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  period: { start: number; end: number },
  trial = false,
): Stripe.InvoiceLineItem {
  const meterId = item.price.recurring?.meter ?? "";
  const customerId = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  const quantity = meterUsage(ctx, meterId, customerId, period.start, period.end);
  return usageLine(ctx, sub, item, period, quantity, trial);
}
