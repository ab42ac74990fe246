/**
 * `/v1/subscription_schedules`: create `from_subscription`, retrieve, update
 * phases, release, cancel, list.
 */
import { getSubscription } from "../../billing.ts";
import type { SimContext } from "../../context.ts";
import { found, invalid, paramMissing } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { arr, type FormValue, int, metadataOf, obj, str } from "../../form.ts";
import type { Router, SimRequest } from "../../router.ts";
import { cancelSchedule, createScheduleFromSubscription, type PhaseInput, releaseSchedule, updateSchedule } from "../../schedules.ts";
import { responders } from "../common.ts";
import { prorationBehaviorOf } from "./subscriptionParams.ts";

function durationOf(v: FormValue | undefined, param: string): PhaseInput["duration"] {
  const o = obj(v);
  if (!o) return undefined;
  const interval = str(o.interval);
  if (!interval || !["day", "week", "month", "year"].includes(interval)) {
    throw invalid(`Invalid ${param}[interval]: must be one of day, week, month, or year`, `${param}[interval]`);
  }
  return { interval: interval, interval_count: int(o.interval_count) ?? 1 };
}

function phaseInputs(v: FormValue | undefined): PhaseInput[] {
  return arr(v).map((raw, i) => {
    const p = obj(raw) ?? {};
    const items = arr(p.items).map((it, j) => {
      const o = obj(it) ?? {};
      const price = str(o.price) ?? str(o.plan);
      if (!price) throw paramMissing(`phases[${i}][items][${j}][price]`);
      return { price, quantity: int(o.quantity) };
    });
    const date = (x: FormValue | undefined) => (str(x) === "now" ? ("now" as const) : int(x));
    return {
      items,
      startDate: date(p.start_date),
      endDate: date(p.end_date),
      iterations: int(p.iterations),
      duration: durationOf(p.duration, `phases[${i}][duration]`),
      prorationBehavior: p.proration_behavior === undefined ? undefined : prorationBehaviorOf(p.proration_behavior, `phases[${i}][proration_behavior]`, "create_prorations"),
      metadata: metadataOf(p.metadata),
    };
  });
}

export function registerSubscriptionScheduleRoutes(router: Router, ctx: SimContext): void {
  const { one, list } = responders(ctx);
  const schedules = () => ctx.store.state.subscriptionSchedules;
  const getSchedule = (req: SimRequest) =>
    found(schedules()[req.params.id ?? ""], "subscription_schedule", req.params.id ?? "", "schedule");

  router.on("POST", "/v1/subscription_schedules", (req) => {
    const p = req.body;
    const from = str(p.from_subscription);
    if (!from) {
      throw invalid("The simulator creates schedules `from_subscription` only; add phases with an update.", "from_subscription");
    }
    const schedule = createScheduleFromSubscription(ctx, getSubscription(ctx, from, "from_subscription"), metadataOf(p.metadata) ?? {});
    return one(req, schedule);
  });
  router.on("GET", "/v1/subscription_schedules/:id", (req) => one(req, getSchedule(req)));
  router.on("POST", "/v1/subscription_schedules/:id", (req) => {
    const p = req.body;
    const endBehavior = str(p.end_behavior);
    if (endBehavior !== undefined && !["release", "cancel"].includes(endBehavior)) {
      throw invalid("The simulator supports end_behavior release or cancel.", "end_behavior");
    }
    const schedule = updateSchedule(ctx, getSchedule(req), {
      phases: p.phases === undefined ? undefined : phaseInputs(p.phases),
      endBehavior,
      metadata: metadataOf(p.metadata),
      prorationBehavior: p.proration_behavior === undefined ? undefined : prorationBehaviorOf(p.proration_behavior, "proration_behavior", "create_prorations"),
    });
    return one(req, schedule);
  });
  router.on("POST", "/v1/subscription_schedules/:id/release", (req) => one(req, releaseSchedule(ctx, getSchedule(req))));
  router.on("POST", "/v1/subscription_schedules/:id/cancel", (req) => one(req, cancelSchedule(ctx, getSchedule(req))));
  router.on("GET", "/v1/subscription_schedules", (req) => {
    const customer = str(req.query.customer);
    const items = newestFirst(Object.values(schedules())).filter((s) => !customer || s.customer === customer);
    return list(req, items, "/v1/subscription_schedules");
  });
}
