/**
 * `/v1/invoices`: retrieve, lines, pay, void, list, and `create_preview`
 * (proration previews of a subscription change).
 */
import { getInvoice, getSubscription, payInvoiceFromApi, voidInvoice } from "../../billing.ts";
import type { SimContext } from "../../context.ts";
import { invalid } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { int, obj, str } from "../../form.ts";
import { trialEndParam } from "../../endTrial.ts";
import { previewInvoice } from "../../preview.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";
import { billingCycleAnchorNow, itemChanges, prorationBehaviorOf } from "./subscriptionParams.ts";

export function registerInvoiceRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("GET", "/v1/invoices/:id", (req) => one(req, getInvoice(ctx, req.params.id ?? "", "invoice")));
  router.on("GET", "/v1/invoices/:id/lines", (req) => {
    const inv = getInvoice(ctx, req.params.id ?? "", "invoice");
    return list(req, inv.lines.data, `/v1/invoices/${inv.id}/lines`);
  });
  router.on("POST", "/v1/invoices/:id/pay", (req) => {
    const inv = getInvoice(ctx, req.params.id ?? "", "invoice");
    return one(req, payInvoiceFromApi(ctx, inv, str(req.body.payment_method) ?? null));
  });
  router.on("POST", "/v1/invoices/:id/void", (req) => one(req, voidInvoice(ctx, getInvoice(ctx, req.params.id ?? "", "invoice"))));
  router.on("GET", "/v1/invoices", (req) => {
    const q = req.query;
    const customer = str(q.customer), subscription = str(q.subscription), status = str(q.status);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().invoices)).filter(
      (i) =>
        (!customer || i.customer === customer) &&
        (!subscription || i.parent?.subscription_details?.subscription === subscription) &&
        (!status || i.status === status) &&
        when(i.created),
    );
    return list(req, items, "/v1/invoices");
  });

  router.on("POST", "/v1/invoices/create_preview", (req) => {
    const p = req.body;
    const details = obj(p.subscription_details) ?? {};
    const subId = str(p.subscription) ?? null;
    const sub = subId ? getSubscription(ctx, subId, "subscription") : null;
    if (str(p.schedule)) {
      throw invalid("The simulator previews `subscription` (with `subscription_details`), not `schedule`.", "schedule");
    }
    const invoice = previewInvoice(ctx, {
      customer: str(p.customer) ?? null,
      subscription: subId,
      items: sub ? itemChanges(sub, details.items, "subscription_details[items]") : [],
      prorationBehavior: prorationBehaviorOf(details.proration_behavior, "subscription_details[proration_behavior]", "create_prorations"),
      prorationDate: int(details.proration_date),
      resetAnchor: billingCycleAnchorNow(details.billing_cycle_anchor, "subscription_details[billing_cycle_anchor]"),
      trialEnd: trialEndParam(str(details.trial_end), "subscription_details[trial_end]"),
    });
    return one(req, invoice);
  });
}
