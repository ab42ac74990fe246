/** Subscriptions, their items, and Subscription Schedules with their phases. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";
import { listOf } from "./common.ts";
import { planFromPrice } from "./catalog.ts";

export function buildSubscriptionItem(input: {
  subscription: string;
  price: Stripe.Price;
  /** null for a metered price: its items carry no `quantity`. */
  quantity: number | null;
  created: number;
  periodStart: number;
  periodEnd: number;
  metadata?: Record<string, string>;
}): Stripe.SubscriptionItem {
  return {
    id: newId("si"),
    object: "subscription_item",
    billing_thresholds: null,
    created: input.created,
    current_period_end: input.periodEnd,
    current_period_start: input.periodStart,
    current_trial: null,
    discounts: [],
    metadata: input.metadata ?? {},
    plan: planFromPrice(input.price),
    price: input.price,
    ...(input.quantity === null ? {} : { quantity: input.quantity }),
    subscription: input.subscription,
    tax_rates: [],
  };
}

export function buildSubscription(input: {
  id: string;
  customer: string;
  created: number;
  currency: string;
  items: Stripe.SubscriptionItem[];
  status: Stripe.Subscription.Status;
  metadata: Record<string, string>;
  defaultPaymentMethod: string | null;
  trialStart: number | null;
  trialEnd: number | null;
  testClock: string | null;
  description: string | null;
}): Stripe.Subscription {
  return {
    id: input.id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: input.items[0]?.current_period_start ?? input.created,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: "charge_automatically",
    created: input.created,
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: input.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: input.description,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: "self" } },
    items: listOf(input.items, `/v1/subscription_items?subscription=${input.id}`),
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: input.created,
    status: input.status,
    test_clock: input.testClock,
    transfer_data: null,
    trial_end: input.trialEnd,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: "create_invoice" } },
    trial_start: input.trialStart,
  };
}

export type SchedulePhaseInput = {
  start: number;
  end: number;
  /** `quantity` undefined for a metered price (its phase item carries none). */
  items: { price: string; quantity?: number }[];
  currency: string;
  prorationBehavior: Stripe.SubscriptionSchedule.Phase.ProrationBehavior;
  metadata: Record<string, string>;
};

export function buildSchedulePhase(input: SchedulePhaseInput): Stripe.SubscriptionSchedule.Phase {
  return {
    add_invoice_items: [],
    application_fee_percent: null,
    billing_cycle_anchor: null,
    billing_thresholds: null,
    collection_method: null,
    currency: input.currency,
    default_payment_method: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    end_date: input.end,
    invoice_settings: null,
    items: input.items.map((it) => ({
      billing_thresholds: null,
      discounts: [],
      metadata: {},
      plan: it.price,
      price: it.price,
      ...(it.quantity === undefined ? {} : { quantity: it.quantity }),
      tax_rates: [],
    })),
    metadata: input.metadata,
    on_behalf_of: null,
    proration_behavior: input.prorationBehavior,
    start_date: input.start,
    transfer_data: null,
    trial_end: null,
  };
}

export function buildSubscriptionSchedule(input: {
  created: number;
  customer: string;
  subscription: string;
  phases: Stripe.SubscriptionSchedule.Phase[];
  endBehavior: Stripe.SubscriptionSchedule.EndBehavior;
  metadata: Record<string, string>;
  testClock: string | null;
  defaultPaymentMethod: string | null;
}): Stripe.SubscriptionSchedule {
  const first = input.phases[0];
  return {
    id: newId("sub_sched"),
    object: "subscription_schedule",
    application: null,
    billing_mode: { flexible: null, type: "classic" },
    canceled_at: null,
    completed_at: null,
    created: input.created,
    current_phase: first ? { start_date: first.start_date, end_date: first.end_date } : null,
    customer: input.customer,
    customer_account: null,
    default_settings: {
      application_fee_percent: null,
      billing_cycle_anchor: "automatic",
      billing_thresholds: null,
      collection_method: "charge_automatically",
      default_payment_method: input.defaultPaymentMethod,
      description: null,
      invoice_settings: { account_tax_ids: null, custom_fields: null, days_until_due: null, description: null, footer: null, issuer: { type: "self" } },
      on_behalf_of: null,
      transfer_data: null,
    },
    end_behavior: input.endBehavior,
    livemode: false,
    metadata: input.metadata,
    pause_schedules: [],
    phases: input.phases,
    released_at: null,
    released_subscription: null,
    status: "active",
    subscription: input.subscription,
    test_clock: input.testClock,
  };
}
