/** Billing Portal sessions and configurations. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";

export function buildPortalSession(input: {
  id: string;
  created: number;
  customer: string;
  configuration: string;
  returnUrl: string | null;
  url: string;
}): Stripe.BillingPortal.Session {
  return {
    id: input.id,
    object: "billing_portal.session",
    configuration: input.configuration,
    created: input.created,
    customer: input.customer,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: input.returnUrl,
    url: input.url,
  };
}

export type PortalFeatures = Stripe.BillingPortal.Configuration.Features;

/** Stripe's defaults for a configuration's features (everything off unless given). */
export function defaultPortalFeatures(): PortalFeatures {
  return {
    customer_update: { allowed_updates: [], enabled: false },
    invoice_history: { enabled: false },
    payment_method_update: { enabled: false, payment_method_configuration: null },
    subscription_cancel: {
      cancellation_reason: { enabled: false, feedback_options: null, options: [] },
      enabled: false,
      mode: "at_period_end",
      proration_behavior: "none",
    },
    subscription_pause: { duration: { interval_options: [], type: "indefinite" }, enabled: false },
    subscription_update: {
      billing_cycle_anchor: null,
      default_allowed_updates: [],
      enabled: false,
      products: [],
      proration_behavior: "none",
      schedule_at_period_end: { conditions: [] },
      trial_update_behavior: "end_trial",
    },
  };
}

export function buildPortalConfiguration(input: {
  created: number;
  features: PortalFeatures;
  businessProfile: Stripe.BillingPortal.Configuration.BusinessProfile;
  defaultReturnUrl: string | null;
  isDefault: boolean;
  metadata: Record<string, string>;
  name: string | null;
}): Stripe.BillingPortal.Configuration {
  return {
    id: newId("bpc"),
    object: "billing_portal.configuration",
    active: true,
    application: null,
    business_profile: input.businessProfile,
    created: input.created,
    default_return_url: input.defaultReturnUrl,
    features: input.features,
    is_default: input.isDefault,
    livemode: false,
    login_page: { enabled: false, url: null },
    metadata: input.metadata,
    name: input.name,
    updated: input.created,
  };
}
