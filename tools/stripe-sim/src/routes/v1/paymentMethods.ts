/**
 * `/v1/payment_methods`: retrieve, attach, detach, list.
 */
import { getCustomer, idOf, resolvePaymentMethod } from "../../billing.ts";
import type { SimContext } from "../../context.ts";
import { found } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { str } from "../../form.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

export function registerPaymentMethodRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("GET", "/v1/payment_methods/:id", (req) => {
    const pm = found(state().paymentMethods[req.params.id ?? ""], "payment_method", req.params.id ?? "", "id");
    return one(req, pm);
  });
  router.on("POST", "/v1/payment_methods/:id/attach", (req) => {
    const customer = getCustomer(ctx, requireStr(req.body, "customer"));
    return one(req, resolvePaymentMethod(ctx, req.params.id ?? "", customer.id, "payment_method"));
  });
  router.on("POST", "/v1/payment_methods/:id/detach", (req) => {
    const pm = found(state().paymentMethods[req.params.id ?? ""], "payment_method", req.params.id ?? "", "id");
    const customerId = idOf(pm.customer);
    pm.customer = null;
    emit(ctx, "payment_method.detached", pm, { customer: customerId, previous: { customer: customerId } });
    return one(req, pm);
  });
  router.on("GET", "/v1/payment_methods", (req) => {
    const customer = str(req.query.customer);
    const type = str(req.query.type);
    const items = newestFirst(Object.values(state().paymentMethods)).filter(
      (pm) => (!customer || pm.customer === customer) && (!type || pm.type === type),
    );
    return list(req, items, "/v1/payment_methods");
  });
}
