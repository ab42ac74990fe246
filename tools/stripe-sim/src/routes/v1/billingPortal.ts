/**
 * Billing Portal API: configurations (`/v1/billing_portal/configurations`)
 * and sessions. Like a fresh Stripe account, a fresh simulator has no
 * configuration: a session without `configuration` is refused until one
 * exists (the first one created is the default).
 */
import type Stripe from "stripe";
import { getCustomer } from "../../billing.ts";
import { buildPortalConfiguration, buildPortalSession, defaultPortalFeatures, type PortalFeatures } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { found, invalid, paramMissing } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { arr, bool, mergeMetadata, metadataOf, obj, str, strs, type FormObject } from "../../form.ts";
import { newId } from "../../ids.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

const NO_DEFAULT_CONFIGURATION =
  "You can't create a portal session in test mode until you save your customer portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal.";

type Features = PortalFeatures;

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], param: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw invalid(`Invalid ${param}: must be one of ${allowed.join(", ")}`, param);
  return value as T;
}

function subscriptionUpdate(
  current: Features["subscription_update"],
  p: FormObject,
): Features["subscription_update"] {
  const param = "features[subscription_update]";
  const products = p.products === undefined ? current.products : arr(p.products).map((raw, i) => {
    const o = obj(raw) ?? {};
    const product = str(o.product);
    if (!product) throw paramMissing(`${param}[products][${i}][product]`);
    return { product, prices: strs(o.prices), adjustable_quantity: { enabled: false, maximum: null, minimum: 1 } };
  });
  const schedule = obj(p.schedule_at_period_end);
  const conditions = schedule === undefined ? current.schedule_at_period_end.conditions : arr(schedule.conditions).map((raw, i) => ({
    type: oneOf(str(obj(raw)?.type), ["decreasing_item_amount", "shortening_interval"] as const, `${param}[schedule_at_period_end][conditions][${i}][type]`, "decreasing_item_amount"),
  }));
  return {
    ...current,
    enabled: bool(p.enabled) ?? current.enabled,
    default_allowed_updates: p.default_allowed_updates === undefined ? current.default_allowed_updates : strs(p.default_allowed_updates),
    products,
    proration_behavior: oneOf(str(p.proration_behavior), ["create_prorations", "always_invoice", "none"] as const, `${param}[proration_behavior]`, current.proration_behavior as "none"),
    schedule_at_period_end: { conditions },
  };
}

function subscriptionCancel(current: Features["subscription_cancel"], p: FormObject): Features["subscription_cancel"] {
  const reason = obj(p.cancellation_reason);
  return {
    ...current,
    enabled: bool(p.enabled) ?? current.enabled,
    mode: oneOf(str(p.mode), ["at_period_end", "immediately"] as const, "features[subscription_cancel][mode]", current.mode as "at_period_end"),
    proration_behavior: oneOf(str(p.proration_behavior), ["create_prorations", "always_invoice", "none"] as const, "features[subscription_cancel][proration_behavior]", current.proration_behavior as "none"),
    cancellation_reason: reason
      ? { enabled: bool(reason.enabled) ?? false, feedback_options: null, options: strs(reason.options) }
      : current.cancellation_reason,
  };
}

/** Merges `features[...]` params into `current` (create starts from Stripe's all-off defaults). */
function featuresFrom(current: Features, p: FormObject | undefined): Features {
  if (!p) return current;
  const toggle = <K extends "invoice_history" | "payment_method_update">(key: K): Features[K] => {
    const o = obj(p[key]);
    return o ? { ...current[key], enabled: bool(o.enabled) ?? current[key].enabled } : current[key];
  };
  const customerUpdate = obj(p.customer_update);
  return {
    ...current,
    customer_update: customerUpdate
      ? { enabled: bool(customerUpdate.enabled) ?? false, allowed_updates: strs(customerUpdate.allowed_updates) }
      : current.customer_update,
    invoice_history: toggle("invoice_history"),
    payment_method_update: toggle("payment_method_update"),
    subscription_cancel: obj(p.subscription_cancel) ? subscriptionCancel(current.subscription_cancel, obj(p.subscription_cancel) ?? {}) : current.subscription_cancel,
    subscription_update: obj(p.subscription_update) ? subscriptionUpdate(current.subscription_update, obj(p.subscription_update) ?? {}) : current.subscription_update,
  };
}

function businessProfileFrom(current: Stripe.BillingPortal.Configuration.BusinessProfile, p: FormObject | undefined) {
  if (!p) return current;
  return {
    headline: p.headline === undefined ? current.headline : str(p.headline) || null,
    privacy_policy_url: p.privacy_policy_url === undefined ? current.privacy_policy_url : str(p.privacy_policy_url) || null,
    terms_of_service_url: p.terms_of_service_url === undefined ? current.terms_of_service_url : str(p.terms_of_service_url) || null,
  };
}

/** The session's configuration: the one named, else the default one (400 when there is none). */
export function portalConfigurationFor(ctx: SimContext, id: string | undefined): Stripe.BillingPortal.Configuration {
  const configs = ctx.store.state.portalConfigurations;
  if (id) {
    const config = found(configs[id], "billing_portal.configuration", id, "configuration");
    if (!config.active) throw invalid(`The configuration ${id} is not active.`, "configuration");
    return config;
  }
  const fallback = Object.values(configs).find((c) => c.is_default && c.active);
  if (!fallback) throw invalid(NO_DEFAULT_CONFIGURATION, undefined, "parameter_invalid");
  return fallback;
}

export function registerBillingPortalRoutes(router: Router, ctx: SimContext): void {
  const { one, list } = responders(ctx);
  const configs = () => ctx.store.state.portalConfigurations;
  const getConfig = (id: string) => found(configs()[id], "billing_portal.configuration", id, "configuration");

  router.on("POST", "/v1/billing_portal/configurations", (req) => {
    const p = req.body;
    if (!obj(p.features)) throw paramMissing("features");
    const config = buildPortalConfiguration({
      created: ctx.store.now(),
      features: featuresFrom(defaultPortalFeatures(), obj(p.features)),
      businessProfile: businessProfileFrom({ headline: null, privacy_policy_url: null, terms_of_service_url: null }, obj(p.business_profile)),
      defaultReturnUrl: str(p.default_return_url) || null,
      isDefault: !Object.values(configs()).some((c) => c.is_default),
      metadata: metadataOf(p.metadata) ?? {},
      name: str(p.name) || null,
    });
    configs()[config.id] = config;
    emit(ctx, "billing_portal.configuration.created", config);
    return one(req, config);
  });
  router.on("GET", "/v1/billing_portal/configurations/:id", (req) => one(req, getConfig(req.params.id ?? "")));
  router.on("POST", "/v1/billing_portal/configurations/:id", (req) => {
    const config = getConfig(req.params.id ?? "");
    const p = req.body;
    config.features = featuresFrom(config.features, obj(p.features));
    config.business_profile = businessProfileFrom(config.business_profile, obj(p.business_profile));
    if (p.default_return_url !== undefined) config.default_return_url = str(p.default_return_url) || null;
    if (p.name !== undefined) config.name = str(p.name) || null;
    const active = bool(p.active);
    if (active !== undefined) {
      if (!active && config.is_default) throw invalid("The default configuration cannot be deactivated.", "active");
      config.active = active;
    }
    config.metadata = mergeMetadata(config.metadata ?? {}, metadataOf(p.metadata), p.metadata);
    config.updated = ctx.store.now();
    emit(ctx, "billing_portal.configuration.updated", config);
    return one(req, config);
  });
  router.on("GET", "/v1/billing_portal/configurations", (req) => {
    const active = bool(req.query.active);
    const isDefault = bool(req.query.is_default);
    const items = newestFirst(Object.values(configs())).filter(
      (c) => (active === undefined || c.active === active) && (isDefault === undefined || c.is_default === isDefault),
    );
    return list(req, items, "/v1/billing_portal/configurations");
  });

  router.on("POST", "/v1/billing_portal/sessions", (req) => {
    const p = req.body;
    const customer = getCustomer(ctx, requireStr(p, "customer"));
    const config = portalConfigurationFor(ctx, str(p.configuration));
    const id = newId("bps");
    const session = buildPortalSession({
      id,
      created: ctx.store.now(customer.id),
      customer: customer.id,
      configuration: config.id,
      returnUrl: str(p.return_url) ?? config.default_return_url,
      url: `${ctx.baseUrl}/portal/${id}`,
    });
    ctx.store.state.portalSessions[id] = session;
    return one(req, session);
  });
}
