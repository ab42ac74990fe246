/**
 * Object builders typed against the stripe SDK (23.1.0 → API version
 * `2026-10-28.endive`). Every function returns the SDK's type, so a field the
 * pinned version adds, removes or moves (e.g. the subscription period living
 * on `items.data[i].current_period_*`, `invoice.parent.subscription_details`,
 * invoice lines priced through `pricing.price_details`) fails `npm run
 * typecheck` here instead of drifting silently.
 *
 * Builders only shape objects; the billing engine decides values.
 */
import Stripe from "stripe";
import { newId } from "./ids.ts";

export const API_VERSION = Stripe.API_VERSION;

const decimal = (n: number): Stripe.Decimal => Stripe.Decimal.from(String(n));

/** An empty list object as Stripe embeds it (`{object:"list", data, has_more, url}`). */
export function listOf<T>(data: T[], url: string, hasMore = false): Stripe.ApiList<T> {
  return { object: "list", data, has_more: hasMore, url };
}

export type CustomerInput = {
  id?: string;
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  testClock: string | null;
  invoicePrefix: string;
};

export function buildCustomer(input: CustomerInput): Stripe.Customer {
  return {
    id: input.id ?? newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: input.created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: input.description,
    discount: null,
    email: input.email,
    invoice_prefix: input.invoicePrefix,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: input.metadata,
    name: input.name,
    next_invoice_sequence: 1,
    phone: input.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: input.testClock,
  };
}

export type ProductInput = {
  id?: string;
  created: number;
  name: string;
  description: string | null;
  active: boolean;
  metadata: Record<string, string>;
};

export function buildProduct(input: ProductInput): Stripe.Product {
  return {
    id: input.id ?? newId("prod"),
    object: "product",
    active: input.active,
    created: input.created,
    default_price: null,
    description: input.description,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: input.metadata,
    name: input.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: input.created,
    url: null,
  };
}

export type PriceInput = {
  id?: string;
  created: number;
  product: string;
  currency: string;
  unitAmount: number;
  recurring: { interval: Stripe.Price.Recurring.Interval; intervalCount: number; trialPeriodDays: number | null } | null;
  lookupKey: string | null;
  nickname: string | null;
  active: boolean;
  metadata: Record<string, string>;
};

export function buildPrice(input: PriceInput): Stripe.Price {
  return {
    id: input.id ?? newId("price"),
    object: "price",
    active: input.active,
    billing_scheme: "per_unit",
    created: input.created,
    currency: input.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: input.lookupKey,
    metadata: input.metadata,
    nickname: input.nickname,
    product: input.product,
    recurring: input.recurring
      ? {
          interval: input.recurring.interval,
          interval_count: input.recurring.intervalCount,
          meter: null,
          trial_period_days: input.recurring.trialPeriodDays,
          usage_type: "licensed",
        }
      : null,
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: input.recurring ? "recurring" : "one_time",
    unit_amount: input.unitAmount,
    unit_amount_decimal: decimal(input.unitAmount),
  };
}

/** The legacy `plan` object Stripe still embeds on subscription items. */
export function planFromPrice(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring;
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: recurring?.interval ?? "month",
    interval_count: recurring?.interval_count ?? 1,
    livemode: false,
    metadata: price.metadata,
    meter: null,
    nickname: price.nickname,
    product: typeof price.product === "string" ? price.product : price.product.id,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: recurring?.trial_period_days ?? null,
    usage_type: "licensed",
  };
}

export type CardInput = {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  fingerprint: string;
};

export function buildPaymentMethod(input: {
  created: number;
  customer: string | null;
  card: CardInput;
  email: string | null;
  name: string | null;
}): Stripe.PaymentMethod {
  return {
    id: newId("pm"),
    object: "payment_method",
    billing_details: { address: null, email: input.email, name: input.name, phone: null, tax_id: null },
    card: {
      brand: input.card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: input.card.brand,
      exp_month: input.card.expMonth,
      exp_year: input.card.expYear,
      fingerprint: input.card.fingerprint,
      funding: "credit",
      generated_from: null,
      last4: input.card.last4,
      networks: { available: [input.card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: input.created,
    customer: input.customer,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
}

export function buildSubscriptionItem(input: {
  subscription: string;
  price: Stripe.Price;
  quantity: number;
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
    quantity: input.quantity,
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

/** One invoice line for a subscription item (or a proration of one). */
export function buildInvoiceLine(input: {
  invoice: string | null;
  subscription: string;
  subscriptionItem: string;
  price: Stripe.Price;
  quantity: number;
  amount: number;
  periodStart: number;
  periodEnd: number;
  description: string;
  proration: boolean;
  metadata?: Record<string, string>;
}): Stripe.InvoiceLineItem {
  const product = typeof input.price.product === "string" ? input.price.product : input.price.product.id;
  return {
    id: newId("il"),
    object: "line_item",
    amount: input.amount,
    currency: input.price.currency,
    description: input.description,
    discount_amounts: [],
    discountable: !input.proration,
    discounts: [],
    invoice: input.invoice,
    livemode: false,
    metadata: input.metadata ?? {},
    parent: {
      type: "subscription_item_details",
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: input.proration ? newId("ii") : null,
        proration: input.proration,
        proration_details: input.proration ? { credited_items: null } : null,
        subscription: input.subscription,
        subscription_item: input.subscriptionItem,
      },
    },
    period: { start: input.periodStart, end: input.periodEnd },
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: input.price.id, product },
      unit_amount_decimal: input.price.unit_amount_decimal,
    },
    quantity: input.quantity,
    quantity_decimal: decimal(input.quantity),
    subscription: input.subscription,
    subtotal: input.amount,
    taxes: [],
  };
}

export function buildInvoice(input: {
  id: string;
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  created: number;
  currency: string;
  billingReason: Stripe.Invoice.BillingReason;
  lines: Stripe.InvoiceLineItem[];
  periodStart: number;
  periodEnd: number;
  startingBalance: number;
  baseUrl: string;
  number: string | null;
}): Stripe.Invoice {
  const total = input.lines.reduce((s, l) => s + l.amount, 0);
  // A credit balance (negative) pays part of the invoice before the card does;
  // a debt (positive) is added. A negative total is never due.
  const amountDue = total < 0 ? 0 : Math.max(total + input.startingBalance, 0);
  const sub = input.subscription;
  return {
    id: input.id,
    object: "invoice",
    account_country: "US",
    account_name: "Stripe Simulator",
    account_tax_ids: null,
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: amountDue,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: input.billingReason,
    collection_method: "charge_automatically",
    created: input.created,
    currency: input.currency,
    custom_fields: null,
    customer: input.customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: input.customer.email,
    customer_name: input.customer.name ?? null,
    customer_phone: input.customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: `${input.baseUrl}/invoice/${input.id}`,
    invoice_pdf: `${input.baseUrl}/invoice/${input.id}/pdf`,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: listOf(input.lines, `/v1/invoices/${input.id}/lines`),
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: input.number,
    on_behalf_of: null,
    parent: sub
      ? {
          type: "subscription_details",
          quote_details: null,
          subscription_details: { metadata: sub.metadata, subscription: sub.id },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: input.periodEnd,
    period_start: input.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: input.startingBalance,
    statement_descriptor: null,
    status: "draft",
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: input.customer.test_clock ?? null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
}

export function buildCheckoutLineItem(price: Stripe.Price, quantity: number, productName: string): Stripe.LineItem {
  const amount = (price.unit_amount ?? 0) * quantity;
  return {
    id: newId("li"),
    object: "item",
    adjustable_quantity: null,
    amount_discount: 0,
    amount_subtotal: amount,
    amount_tax: 0,
    amount_total: amount,
    currency: price.currency,
    description: productName,
    metadata: {},
    price,
    quantity,
  };
}

export function buildCheckoutSession(input: {
  id: string;
  created: number;
  mode: Stripe.Checkout.Session.Mode;
  customer: string | null;
  customerEmail: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  successUrl: string | null;
  cancelUrl: string | null;
  currency: string | null;
  amountTotal: number;
  allowPromotionCodes: boolean | null;
  url: string;
}): Stripe.Checkout.Session {
  return {
    id: input.id,
    object: "checkout.session",
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: input.allowPromotionCodes,
    allowed_payment_method_types: null,
    amount_subtotal: input.amountTotal,
    amount_total: input.amountTotal,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: input.cancelUrl,
    client_reference_id: input.clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: input.created,
    currency: input.currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: input.customer,
    customer_account: null,
    customer_creation: input.customer ? null : "always",
    customer_details: null,
    customer_email: input.customerEmail,
    discounts: [],
    expires_at: input.created + 24 * 3600,
    integration_identifier: null,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata: input.metadata,
    mode: input.mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: input.mode === "subscription" ? "always" : null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: ["card"],
    payment_status: "unpaid",
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: "open",
    submit_type: null,
    subscription: null,
    success_url: input.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: "hosted_page",
    url: input.url,
    wallet_options: null,
  };
}

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

export function buildTestClock(input: { created: number; frozenTime: number; name: string | null }): Stripe.TestHelpers.TestClock {
  return {
    id: newId("clock"),
    object: "test_helpers.test_clock",
    created: input.created,
    deletes_after: input.created + 30 * 24 * 3600,
    frozen_time: input.frozenTime,
    livemode: false,
    name: input.name,
    status: "ready",
    status_details: {},
  };
}

export function buildPaymentIntent(input: {
  created: number;
  amount: number;
  currency: string;
  customer: string | null;
  paymentMethod: string | null;
  metadata: Record<string, string>;
  status: Stripe.PaymentIntent.Status;
  description: string | null;
}): Stripe.PaymentIntent {
  const id = newId("pi");
  return {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount: input.amount,
    amount_capturable: 0,
    amount_received: input.status === "succeeded" ? input.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: `${id}_secret_${newId("s").slice(2)}`,
    confirmation_method: "automatic",
    created: input.created,
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: input.status === "succeeded" ? newId("ch") : null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: input.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: input.status,
    transfer_group: null,
  };
}

export function buildWebhookEndpoint(input: {
  id?: string;
  created: number;
  url: string;
  enabledEvents: string[];
  secret: string;
  description: string | null;
  metadata: Record<string, string>;
}): Stripe.WebhookEndpoint & { secret: string } {
  return {
    id: input.id ?? newId("we"),
    object: "webhook_endpoint",
    api_version: API_VERSION,
    application: null,
    created: input.created,
    description: input.description,
    enabled_events: input.enabledEvents,
    livemode: false,
    metadata: input.metadata,
    secret: input.secret,
    status: "enabled",
    url: input.url,
  };
}

/** Event types the simulator emits, each tied to its payload object type. */
export type EventType = Stripe.Event["type"];
export type EventObject<T extends EventType> = Extract<Stripe.Event, { type: T }>["data"]["object"];

export function buildEvent<T extends EventType>(input: {
  type: T;
  object: EventObject<T>;
  previousAttributes?: Record<string, unknown>;
  created: number;
  pendingWebhooks: number;
  request: { id: string | null; idempotency_key: string | null } | null;
}): Stripe.Event {
  const event = {
    id: newId("evt"),
    object: "event" as const,
    api_version: API_VERSION,
    created: input.created,
    data: {
      object: input.object,
      ...(input.previousAttributes ? { previous_attributes: input.previousAttributes } : {}),
    },
    livemode: false,
    pending_webhooks: input.pendingWebhooks,
    request: input.request,
    type: input.type,
  };
  // The discriminated union cannot follow a generic `T`; the pairing of
  // `type` and `object` is already enforced by `EventObject<T>` above.
  return event as unknown as Stripe.Event;
}

/** An invoice line for a one-off price (Checkout `invoice_creation`), parented by an invoice item. */
export function buildInvoiceItemLine(input: {
  invoice: string;
  price: Stripe.Price;
  quantity: number;
  description: string;
  period: number;
}): Stripe.InvoiceLineItem {
  const product = typeof input.price.product === "string" ? input.price.product : input.price.product.id;
  const amount = (input.price.unit_amount ?? 0) * input.quantity;
  return {
    id: newId("il"),
    object: "line_item",
    amount,
    currency: input.price.currency,
    description: input.description,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: input.invoice,
    livemode: false,
    metadata: {},
    parent: {
      type: "invoice_item_details",
      invoice_item_details: { invoice_item: newId("ii"), proration: false, proration_details: null, subscription: null },
      subscription_item_details: null,
    },
    period: { start: input.period, end: input.period },
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: input.price.id, product },
      unit_amount_decimal: input.price.unit_amount_decimal,
    },
    quantity: input.quantity,
    quantity_decimal: decimal(input.quantity),
    subscription: null,
    subtotal: amount,
    taxes: [],
  };
}

export function buildBalanceTransaction(input: {
  created: number;
  customer: string;
  amount: number;
  endingBalance: number;
  currency: string;
  type: Stripe.CustomerBalanceTransaction.Type;
  invoice: string | null;
  description: string | null;
  metadata: Record<string, string>;
}): Stripe.CustomerBalanceTransaction {
  return {
    id: newId("cbtxn"),
    object: "customer_balance_transaction",
    amount: input.amount,
    checkout_session: null,
    created: input.created,
    credit_note: null,
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    ending_balance: input.endingBalance,
    invoice: input.invoice,
    livemode: false,
    metadata: input.metadata,
    type: input.type,
  };
}

export type SchedulePhaseInput = {
  start: number;
  end: number;
  items: { price: string; quantity: number }[];
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
      quantity: it.quantity,
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
