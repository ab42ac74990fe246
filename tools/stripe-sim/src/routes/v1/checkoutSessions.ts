/**
 * `/v1/checkout/sessions`: create, retrieve, expire, line items, list.
 */
import { getCheckoutSession } from "../../billing.ts";
import { createCheckoutSession, expireCheckoutSession } from "../../checkout.ts";
import type { SimContext } from "../../context.ts";
import { invalid, paramMissing } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import type Stripe from "stripe";
import { arr, bool, int, metadataOf, obj, str, strs, type FormObject } from "../../form.ts";
import type { Router } from "../../router.ts";
import { parseSetupFutureUsage } from "../../paymentIntentParams.ts";
import { responders } from "../common.ts";
import type { TrialMissingPaymentMethod } from "../../store.ts";

/** `saved_payment_method_options` as the session shows it (Stripe fills `allow_redisplay_filters` with `["always"]`). */
function savedOptions(o: FormObject | undefined): Stripe.Checkout.Session.SavedPaymentMethodOptions | null {
  if (!o) return null;
  const save = str(o.payment_method_save);
  const remove = str(o.payment_method_remove);
  const filters = strs(o.allow_redisplay_filters) as Stripe.Checkout.Session.SavedPaymentMethodOptions.AllowRedisplayFilter[];
  return {
    allow_redisplay_filters: filters.length > 0 ? filters : ["always"],
    payment_method_remove: remove === "enabled" || remove === "disabled" ? remove : null,
    payment_method_save: save === "enabled" || save === "disabled" ? save : null,
  };
}

function addressCollection(v: string | undefined): "auto" | "required" | null {
  if (v === undefined) return null;
  if (v !== "auto" && v !== "required") throw invalid("Invalid billing_address_collection: must be one of auto or required.", "billing_address_collection");
  return v;
}

/** `trial_settings[end_behavior][missing_payment_method]`: one of cancel, pause, create_invoice. */
export function missingPaymentMethod(v: string | undefined, param: string): TrialMissingPaymentMethod | null {
  if (v === undefined) return null;
  if (v !== "cancel" && v !== "pause" && v !== "create_invoice") throw invalid(`Invalid ${param}: must be one of cancel, pause, or create_invoice`, param);
  return v;
}

function paymentMethodCollection(v: string | undefined): "always" | "if_required" | null {
  if (v === undefined) return null;
  if (v !== "always" && v !== "if_required") throw invalid("Invalid payment_method_collection: must be one of always or if_required", "payment_method_collection");
  return v;
}

export function registerCheckoutSessionRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("POST", "/v1/checkout/sessions", (req) => {
    const p = req.body;
    const subData = obj(p.subscription_data);
    const piData = obj(p.payment_intent_data);
    const session = createCheckoutSession(ctx, {
      mode: (str(p.mode) ?? ""),
      lineItems: arr(p.line_items).map((li, i) => {
        const o = obj(li) ?? {};
        const price = str(o.price);
        if (!price) throw paramMissing(`line_items[${i}][price]`);
        return { price, quantity: int(o.quantity) };
      }),
      customer: str(p.customer) ?? null,
      customerEmail: str(p.customer_email) ?? null,
      clientReferenceId: str(p.client_reference_id) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
      successUrl: str(p.success_url) ?? null,
      cancelUrl: str(p.cancel_url) ?? null,
      allowPromotionCodes: bool(p.allow_promotion_codes) ?? null,
      subscriptionMetadata: metadataOf(subData?.metadata) ?? {},
      subscriptionDescription: str(subData?.description) ?? null,
      trialPeriodDays: int(subData?.trial_period_days) ?? null,
      trialMissingPaymentMethod: missingPaymentMethod(str(obj(obj(obj(subData?.trial_settings)?.end_behavior))?.missing_payment_method), "subscription_data[trial_settings][end_behavior][missing_payment_method]"),
      paymentMethodCollection: paymentMethodCollection(str(p.payment_method_collection)),
      paymentIntentMetadata: metadataOf(piData?.metadata) ?? {},
      setupFutureUsage: parseSetupFutureUsage(str(piData?.setup_future_usage), "payment_intent_data[setup_future_usage]") ?? null,
      savedPaymentMethodOptions: savedOptions(obj(p.saved_payment_method_options)),
      invoiceCreation: bool(obj(p.invoice_creation)?.enabled)
        ? {
            description: str(obj(obj(p.invoice_creation)?.invoice_data)?.description) ?? null,
            metadata: metadataOf(obj(obj(p.invoice_creation)?.invoice_data)?.metadata) ?? {},
          }
        : null,
      discounts: arr(p.discounts).map((d) => ({ coupon: str(obj(d)?.coupon), promotionCode: str(obj(d)?.promotion_code) })),
      automaticTax: bool(obj(p.automatic_tax)?.enabled) ?? false,
      billingAddressCollection: addressCollection(str(p.billing_address_collection)),
      taxIdCollection: bool(obj(p.tax_id_collection)?.enabled) ?? false,
      customerUpdateAddress: str(obj(p.customer_update)?.address) === "auto",
      currency: str(p.currency) ?? null,
    });
    return one(req, session);
  });
  router.on("GET", "/v1/checkout/sessions/:id", (req) => one(req, getCheckoutSession(ctx, req.params.id ?? "")));
  router.on("POST", "/v1/checkout/sessions/:id/expire", (req) =>
    one(req, expireCheckoutSession(ctx, getCheckoutSession(ctx, req.params.id ?? ""))),
  );
  router.on("GET", "/v1/checkout/sessions/:id/line_items", (req) => {
    const session = getCheckoutSession(ctx, req.params.id ?? "");
    return list(req, state().checkoutLineItems[session.id] ?? [], `/v1/checkout/sessions/${session.id}/line_items`);
  });
  router.on("GET", "/v1/checkout/sessions", (req) => {
    const q = req.query;
    const customer = str(q.customer), subscription = str(q.subscription), pi = str(q.payment_intent), status = str(q.status);
    const items = newestFirst(Object.values(state().checkoutSessions)).filter(
      (s) =>
        (!customer || s.customer === customer) &&
        (!subscription || s.subscription === subscription) &&
        (!pi || s.payment_intent === pi) &&
        (!status || s.status === status),
    );
    return list(req, items, "/v1/checkout/sessions");
  });
}
