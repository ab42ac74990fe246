/**
 * Billing Meters: `/v1/billing/meters` (create, retrieve, update, list,
 * deactivate, reactivate, `event_summaries`) and `/v1/billing/meter_events`.
 */
import {
  createMeter,
  getCustomer,
  getMeter,
  meterEventSummaries,
  recordMeterEvent,
  setMeterActive,
} from "../../billing.ts";
import type { SimContext } from "../../context.ts";
import { invalid, paramMissing } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { type FormValue, obj, str } from "../../form.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

/** A whole number of seconds, or a 400 naming `param`; `undefined` when absent. */
function seconds(v: FormValue | undefined, param: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string" || !/^-?\d+$/.test(v)) throw invalid(`Invalid integer: ${typeof v === "string" ? v : "object"}`, param);
  return Number(v);
}

function requireSeconds(v: FormValue | undefined, param: string): number {
  const n = seconds(v, param);
  if (n === undefined) throw paramMissing(param);
  return n;
}

/** `payload[...]` as string pairs. */
function payloadOf(v: FormValue | undefined): Record<string, string> {
  const o = obj(v);
  if (!o) throw paramMissing("payload");
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== "string") throw invalid(`Invalid payload[${k}]: payload values must be strings.`, `payload[${k}]`);
    out[k] = val;
  }
  return out;
}

export function registerMeterRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("POST", "/v1/billing/meters", (req) => {
    const p = req.body;
    const aggregation = obj(p.default_aggregation);
    if (!aggregation) throw paramMissing("default_aggregation");
    const mapping = obj(p.customer_mapping);
    const valueSettings = obj(p.value_settings);
    const meter = createMeter(ctx, {
      displayName: requireStr(p, "display_name"),
      eventName: requireStr(p, "event_name"),
      formula: requireStr(aggregation, "formula"),
      customerKey: str(mapping?.event_payload_key) || "stripe_customer_id",
      customerMappingType: str(mapping?.type) || "by_id",
      valueKey: str(valueSettings?.event_payload_key) || "value",
      eventTimeWindow: str(p.event_time_window) || null,
    });
    return one(req, meter);
  });
  router.on("GET", "/v1/billing/meters/:id", (req) => one(req, getMeter(ctx, req.params.id ?? "")));
  router.on("POST", "/v1/billing/meters/:id", (req) => {
    const meter = getMeter(ctx, req.params.id ?? "");
    const name = str(req.body.display_name);
    if (name) {
      const previous = { display_name: meter.display_name, updated: meter.updated };
      meter.display_name = name;
      meter.updated = ctx.store.now();
      emit(ctx, "billing.meter.updated", meter, { previous });
    }
    return one(req, meter);
  });
  router.on("GET", "/v1/billing/meters", (req) => {
    const status = str(req.query.status);
    const items = newestFirst(Object.values(state().meters)).filter((m) => !status || m.status === status);
    return list(req, items, "/v1/billing/meters");
  });
  router.on("POST", "/v1/billing/meters/:id/deactivate", (req) => one(req, setMeterActive(ctx, getMeter(ctx, req.params.id ?? ""), false)));
  router.on("POST", "/v1/billing/meters/:id/reactivate", (req) => one(req, setMeterActive(ctx, getMeter(ctx, req.params.id ?? ""), true)));
  router.on("GET", "/v1/billing/meters/:id/event_summaries", (req) => {
    const meter = getMeter(ctx, req.params.id ?? "");
    const q = req.query;
    const customer = getCustomer(ctx, requireStr(q, "customer"));
    const summaries = meterEventSummaries(ctx, meter, customer.id, {
      start: requireSeconds(q.start_time, "start_time"),
      end: requireSeconds(q.end_time, "end_time"),
      window: str(q.value_grouping_window) || null,
    });
    return list(req, summaries, `/v1/billing/meters/${meter.id}/event_summaries`);
  });

  router.on("POST", "/v1/billing/meter_events", (req) => {
    const p = req.body;
    const event = recordMeterEvent(ctx, {
      eventName: requireStr(p, "event_name"),
      payload: payloadOf(p.payload),
      identifier: str(p.identifier) || null,
      timestamp: seconds(p.timestamp, "timestamp") ?? null,
    });
    return one(req, event);
  });
}
