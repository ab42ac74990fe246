/**
 * `/v1/events`: retrieve and list (with `delivery_success`, `types[]`,
 * `created` filters).
 */
import type Stripe from "stripe";
import type { SimContext } from "../../context.ts";
import { found } from "../../errors.ts";
import { deliverySucceeded } from "../../events.ts";
import { bool, str, strs } from "../../form.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";

export function registerEventRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("GET", "/v1/events/:id", (req) => {
    const ev = found(state().events[req.params.id ?? ""], "event", req.params.id ?? "", "id");
    return one(req, ev);
  });
  router.on("GET", "/v1/events", (req) => {
    const q = req.query;
    const type = str(q.type);
    const types = strs(q.types);
    const delivery = bool(q.delivery_success);
    const when = createdFilter(q);
    const matchType = (t: string) => {
      if (types.length > 0) return types.includes(t);
      if (!type) return true;
      // Stripe allows one `*` wildcard, e.g. `invoice.*`.
      if (type.includes("*")) return new RegExp(`^${type.split("*").map((s) => s.replace(/[.]/g, "\\.")).join(".*")}$`).test(t);
      return t === type;
    };
    const ids = [...state().eventOrder].reverse();
    const items = ids
      .map((id) => state().events[id])
      .filter((e): e is Stripe.Event => e !== undefined)
      .sort((a, b) => b.created - a.created)
      .filter(
        (e) =>
          matchType(e.type) &&
          when(e.created) &&
          (delivery === undefined ||
            (Object.keys(state().eventDelivery[e.id] ?? {}).length > 0 && deliverySucceeded(ctx, e.id) === delivery)),
      );
    return list(req, items, "/v1/events");
  });
}
