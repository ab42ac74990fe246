/**
 * `/v1/payment_intents`: create (with `confirm`), retrieve, confirm, cancel,
 * list; and `/v1/invoice_payments`, the payments of invoices. The engine is
 * `paymentIntents.ts`.
 */
import type { SimContext } from "../../context.ts";
import { newestFirst } from "../../expand.ts";
import { bool, metadataOf, obj, str, strs, type FormObject, type FormValue } from "../../form.ts";
import { parseOffSession, parseSetupFutureUsage } from "../../paymentIntentParams.ts";
import { cancelPaymentIntent, confirmPaymentIntent, createPaymentIntent, getPaymentIntent, type ConfirmInput } from "../../paymentIntents.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";

/** The confirm-time parameters, shared by create (`confirm=true`) and confirm. */
function confirmParams(p: FormObject): ConfirmInput {
  return {
    paymentMethod: str(p.payment_method) || null,
    offSession: parseOffSession(str(p.off_session)) ?? false,
    returnUrl: str(p.return_url) || null,
    errorOnRequiresAction: bool(p.error_on_requires_action) ?? false,
    ...(p.setup_future_usage !== undefined ? { setupFutureUsage: parseSetupFutureUsage(str(p.setup_future_usage)) ?? null } : {}),
    ...(p.receipt_email !== undefined ? { receiptEmail: str(p.receipt_email) || null } : {}),
  };
}

function typesOf(v: FormValue | undefined): string[] | null {
  return v === undefined ? null : strs(v);
}

export function registerPaymentIntentRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("GET", "/v1/invoice_payments", (req) => {
    const invoice = str(req.query.invoice);
    const items = newestFirst(Object.values(state().invoicePayments ?? {})).filter((p) => !invoice || p.invoice === invoice);
    return list(req, items, "/v1/invoice_payments");
  });
  router.on("POST", "/v1/payment_intents", (req) => {
    const p = req.body;
    const confirm = confirmParams(p);
    const apm = obj(p.automatic_payment_methods);
    const allowRedirects = str(apm?.allow_redirects);
    const pi = createPaymentIntent(ctx, {
      amount: str(p.amount),
      currency: str(p.currency),
      customer: str(p.customer) || null,
      paymentMethod: confirm.paymentMethod,
      confirm: bool(p.confirm) ?? false,
      offSession: parseOffSession(str(p.off_session)),
      description: str(p.description) || null,
      metadata: metadataOf(p.metadata) ?? {},
      // `allowed_payment_method_types` in this API version; `payment_method_types` in older ones.
      paymentMethodTypes: typesOf(p.allowed_payment_method_types ?? p.payment_method_types),
      automaticPaymentMethods: apm
        ? { enabled: bool(apm.enabled) ?? true, allowRedirects: allowRedirects === "always" || allowRedirects === "never" ? allowRedirects : null }
        : null,
      receiptEmail: str(p.receipt_email) || null,
      statementDescriptorSuffix: str(p.statement_descriptor_suffix) || null,
      setupFutureUsage: parseSetupFutureUsage(str(p.setup_future_usage)) ?? null,
      returnUrl: confirm.returnUrl,
      errorOnRequiresAction: confirm.errorOnRequiresAction,
      captureMethod: str(p.capture_method) || null,
    });
    return one(req, pi);
  });
  router.on("GET", "/v1/payment_intents/:id", (req) => one(req, getPaymentIntent(ctx, req.params.id ?? "")));
  router.on("POST", "/v1/payment_intents/:id/confirm", (req) =>
    one(req, confirmPaymentIntent(ctx, getPaymentIntent(ctx, req.params.id ?? ""), confirmParams(req.body))),
  );
  router.on("POST", "/v1/payment_intents/:id/cancel", (req) =>
    one(req, cancelPaymentIntent(ctx, getPaymentIntent(ctx, req.params.id ?? ""), str(req.body.cancellation_reason) || null)),
  );
  router.on("GET", "/v1/payment_intents", (req) => {
    const customer = str(req.query.customer);
    const when = createdFilter(req.query);
    const items = newestFirst(Object.values(state().paymentIntents)).filter(
      (pi) => (!customer || pi.customer === customer) && when(pi.created),
    );
    return list(req, items, "/v1/payment_intents");
  });
}
