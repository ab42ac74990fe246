/** `/v1/charges`: retrieve, list. */
import type { SimContext } from "../../context.ts";
import { newestFirst } from "../../expand.ts";
import { str } from "../../form.ts";
import { getCharge } from "../../payments.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";

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
}
