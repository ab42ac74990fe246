/**
 * Payments of invoices: `/v1/payment_intents/:id` and `/v1/invoice_payments`.
 */
import type { SimContext } from "../../context.ts";
import { found } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { str } from "../../form.ts";
import type { Router } from "../../router.ts";
import { responders } from "../common.ts";

export function registerPaymentIntentRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("GET", "/v1/invoice_payments", (req) => {
    const invoice = str(req.query.invoice);
    const items = newestFirst(Object.values(state().invoicePayments ?? {})).filter((p) => !invoice || p.invoice === invoice);
    return list(req, items, "/v1/invoice_payments");
  });
  router.on("GET", "/v1/payment_intents/:id", (req) => {
    const pi = found(state().paymentIntents[req.params.id ?? ""], "payment_intent", req.params.id ?? "", "intent");
    return one(req, pi);
  });
}
