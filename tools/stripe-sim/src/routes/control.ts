/**
 * `/_sim/*`: the control API for tests and the demo runner (no auth; loopback
 * only). Bodies may be JSON or form-encoded. See docs/STRIPE_SIMULATOR.md.
 */
import { getSubscription, idOf, periodOf } from "../billing.ts";
import { advanceClock, advanceCustomer, advanceGlobal } from "../clock.ts";
import { mergeConfig, type SimConfigPatch } from "../config.ts";
import type { SimContext } from "../context.ts";
import { invalid, missing } from "../errors.ts";
import { chargeOf, closeDispute, createDispute, getDispute } from "../payments.ts";
import { json, type Router, type SimRequest } from "../router.ts";

export type ControlHooks = {
  reset: (opts: { seed: boolean }) => Promise<void>;
  applyConfig: () => void;
};

function input(req: SimRequest): Record<string, unknown> {
  if (req.json && typeof req.json === "object" && !Array.isArray(req.json)) return req.json as Record<string, unknown>;
  return req.body;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && v !== "" && Number.isFinite(Number(v))) return Math.trunc(Number(v));
  return undefined;
}

export function registerControlRoutes(router: Router, ctx: SimContext, hooks: ControlHooks): void {
  router.on("GET", "/_sim/health", () => json(200, { ok: true, url: ctx.baseUrl, now: ctx.store.now() }));

  router.on("POST", "/_sim/reset", async (req) => {
    const body = input(req);
    await hooks.reset({ seed: body.seed === true || body.seed === "true" });
    return json(200, { ok: true });
  });

  router.on("GET", "/_sim/config", () => json(200, ctx.config));
  router.on("POST", "/_sim/config", (req) => {
    const patch = input(req) as SimConfigPatch;
    ctx.config = mergeConfig(ctx.config, patch);
    hooks.applyConfig();
    return json(200, ctx.config);
  });

  router.on("GET", "/_sim/state", () => json(200, ctx.store.state));

  router.on("GET", "/_sim/deliveries", (req) => {
    const event = typeof req.query.event === "string" ? req.query.event : undefined;
    const type = typeof req.query.type === "string" ? req.query.type : undefined;
    const outcome = typeof req.query.outcome === "string" ? req.query.outcome : undefined;
    const data = ctx.store.state.deliveries.filter(
      (d) => (!event || d.eventId === event) && (!type || d.eventType === type) && (!outcome || d.outcome === outcome),
    );
    return json(200, { object: "list", data });
  });

  router.on("GET", "/_sim/idle", async (req) => {
    const timeout = num(req.query.timeoutMs) ?? 10_000;
    const idle = await ctx.delivery.waitForIdle(timeout);
    return json(idle ? 200 : 408, { idle });
  });

  router.on("POST", "/_sim/redeliver", (req) => {
    const raw = input(req).event;
    const eventId = typeof raw === "string" ? raw : "";
    if (!ctx.store.state.events[eventId]) throw missing("event", eventId, "event");
    ctx.delivery.resend(eventId);
    return json(200, { ok: true });
  });

  /**
   * Opens a dispute on a charge, as Stripe's dispute test cards do:
   * `{ payment_intent }` or `{ charge }`, optional `reason` (default
   * `fraudulent`). Answers the Dispute (`needs_response`).
   */
  router.on("POST", "/_sim/disputes", (req) => {
    const body = input(req);
    const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
    const charge = chargeOf(ctx, { charge: text(body.charge), paymentIntent: text(body.payment_intent) }, "dispute");
    return json(200, createDispute(ctx, { charge, reason: text(body.reason) }));
  });

  /** Decides a dispute: `{ outcome: "won" | "lost" }`. Answers the Dispute. */
  router.on("POST", "/_sim/disputes/:id/close", (req) => {
    const outcome = input(req).outcome;
    if (outcome !== "won" && outcome !== "lost") throw invalid("`outcome` must be `won` or `lost`.", "outcome");
    return json(200, closeDispute(ctx, getDispute(ctx, req.params.id ?? ""), outcome));
  });

  /**
   * Moves time forward. Body: `{ seconds }` or `{ to }` (unix seconds) or
   * `{ to: "period_end" }` (one second past the subscription's period end),
   * scoped by `clock`, `customer` or `subscription`:
   * - a customer on a test clock advances that clock (and its customers);
   * - a customer without one advances only that customer's own time;
   * - no scope moves the time of everything without a test clock.
   */
  router.on("POST", "/_sim/advance", (req) => {
    const body = input(req);
    const state = ctx.store.state;
    let customerId = typeof body.customer === "string" ? body.customer : undefined;
    const subId = typeof body.subscription === "string" ? body.subscription : undefined;
    const sub = subId ? getSubscription(ctx, subId) : undefined;
    if (sub) customerId = idOf(sub.customer) ?? undefined;
    if (customerId && !state.customers[customerId]) throw missing("customer", customerId, "customer");
    const clockId = typeof body.clock === "string" ? body.clock : customerId ? ctx.store.clockOf(customerId) : null;
    const now = ctx.store.now(customerId ?? null);
    let target: number | undefined;
    if (body.to === "period_end") {
      if (!sub) throw invalid("`to: \"period_end\"` needs `subscription`.", "to");
      target = periodOf(sub).end + 1;
    } else if (num(body.to) !== undefined) {
      target = num(body.to);
    } else if (num(body.seconds) !== undefined) {
      target = now + (num(body.seconds) ?? 0);
    }
    if (target === undefined) throw invalid("Give `seconds` or `to`.", "seconds");
    if (target <= now) throw invalid("Time only moves forward.", "to");
    if (clockId) {
      const clock = advanceClock(ctx, clockId, target);
      return json(200, { clock: clock.id, now: clock.frozen_time });
    }
    if (customerId) {
      const ran = advanceCustomer(ctx, customerId, target - now);
      return json(200, { clock: null, customer: customerId, now: ctx.store.now(customerId), actions: ran });
    }
    const ran = advanceGlobal(ctx, target - now);
    return json(200, { clock: null, now: ctx.store.now(), actions: ran });
  });
}
