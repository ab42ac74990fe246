/**
 * `/v1/charges` (retrieve, list), `/v1/refunds` (create, retrieve, list) and
 * `/v1/disputes` (retrieve, list, close = accept). Disputes are opened and
 * decided through `/_sim/disputes` (routes/control.ts).
 */
import type Stripe from "stripe";
import type { SimContext } from "../../context.ts";
import { found, invalid } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { metadataOf, str } from "../../form.ts";
import { chargeOf, closeDispute, createRefund, getCharge, getDispute } from "../../payments.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";

/** `amount` as Stripe reads it: absent, or a whole number (anything else is `parameter_invalid_integer`). */
function amountParam(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^-?\d+$/.test(v)) {
    throw invalid(`Invalid integer: ${typeof v === "string" ? v : "object"}`, "amount", "parameter_invalid_integer");
  }
  return Number(v);
}

export function registerChargeRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);

  router.on("GET", "/v1/charges/:id", (req) => one(req, getCharge(ctx, req.params.id ?? "", "charge")));
  router.on("GET", "/v1/charges", (req) => {
    const q = req.query;
    const customer = str(q.customer), paymentIntent = str(q.payment_intent);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().charges)).filter(
      (c) => (!customer || c.customer === customer) && (!paymentIntent || c.payment_intent === paymentIntent) && when(c.created),
    );
    return list(req, items, "/v1/charges");
  });

  router.on("POST", "/v1/refunds", (req) => {
    const p = req.body;
    const charge = chargeOf(ctx, { charge: str(p.charge), paymentIntent: str(p.payment_intent) });
    const refund = createRefund(ctx, {
      charge,
      amount: amountParam(p.amount),
      reason: str(p.reason),
      metadata: metadataOf(p.metadata) ?? {},
    });
    return one(req, refund);
  });
  router.on("GET", "/v1/refunds/:id", (req) => one(req, found(state().refunds[req.params.id ?? ""], "refund", req.params.id ?? "", "refund")));
  router.on("GET", "/v1/refunds", (req) => {
    const q = req.query;
    const charge = str(q.charge), paymentIntent = str(q.payment_intent);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().refunds)).filter(
      (r) => (!charge || r.charge === charge) && (!paymentIntent || r.payment_intent === paymentIntent) && when(r.created),
    );
    return list(req, items, "/v1/refunds");
  });

  router.on("GET", "/v1/disputes/:id", (req) => one(req, getDispute(ctx, req.params.id ?? "")));
  router.on("GET", "/v1/disputes", (req) => {
    const q = req.query;
    const charge = str(q.charge), paymentIntent = str(q.payment_intent);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().disputes)).filter(
      (d: Stripe.Dispute) => (!charge || d.charge === charge) && (!paymentIntent || d.payment_intent === paymentIntent) && when(d.created),
    );
    return list(req, items, "/v1/disputes");
  });
  // Closing through the API accepts the dispute: it is lost (https://docs.stripe.com/api/disputes/close).
  router.on("POST", "/v1/disputes/:id/close", (req) => one(req, closeDispute(ctx, getDispute(ctx, req.params.id ?? ""), "lost")));
}
