// Copied from ../shared/bench/anchor-convex-stripe/bench/stream.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local change: two `!` for this repo's noUncheckedIndexedAccess; the stream's
// bytes and digest are unchanged.
// Deterministic, target-agnostic stream of Stripe webhook deliveries.
//
// - generateStream(): builds the event payloads (JSON bodies, byte-identical for a
//   given seed/options) plus the "Stripe-side truth" (object versions over time)
//   that the local Stripe API double serves.
// - signDelivery(): turns one delivery into a (path, RequestInit) for a target
//   route + webhook secret, signed with the stripe SDK's
//   generateTestHeaderStringAsync + SubtleCrypto provider (worker build safe).
//
// Payloads follow API version 2026-10-28 (stripe-node 23.x "endive") shapes:
// subscription items carry current_period_start/end, invoices carry
// parent.subscription_details.subscription, no top-level invoice.subscription.
import Stripe from "stripe";

export const STREAM_API_VERSION = "2026-10-28.endive";

export interface StreamOptions {
  /** number of customers (each gets 8 base events) */
  customers?: number;
  /** fraction of base events that are redelivered once more, later in the stream */
  duplicateRate?: number;
  /** PRNG seed; same seed + options => byte-identical bodies */
  seed?: number;
  /** unix seconds of the first checkout (fixed, so bodies do not depend on the clock) */
  startTime?: number;
}

export interface Delivery {
  /** 0-based position in the stream */
  seq: number;
  eventId: string;
  type: string;
  /** customer index 0..customers-1 */
  customer: number;
  /** lifecycle step label, e.g. "subscription.updated#2" */
  step: string;
  /** true for a redelivery of an event already delivered earlier in the stream */
  duplicate: boolean;
  /** 1 for first delivery, 2 for the redelivery */
  attempt: number;
  /** event.created (unix seconds) */
  created: number;
  /** raw JSON body, exactly what gets signed and POSTed */
  body: string;
}

export interface ObjectVersion {
  /** Stripe API path that returns this object, e.g. /v1/subscriptions/sub_x */
  path: string;
  /** unix seconds from which this version is the current one */
  validFrom: number;
  object: Record<string, unknown>;
}

export interface Stream {
  options: Required<StreamOptions>;
  deliveries: Delivery[];
  /** every version of every Stripe object the stream refers to, sorted by validFrom */
  objectVersions: ObjectVersion[];
  /** FNV-1a over all bodies: identifies the stream across machines/apps */
  digest: string;
}

export interface Target {
  /** route path on the Convex site, e.g. "/stripe/webhook" */
  path: string;
  /** webhook signing secret the app under test verifies with */
  secret: string;
}

// ---------------------------------------------------------------------------

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const DAY = 86400;

export function generateStream(opts: StreamOptions = {}): Stream {
  const options: Required<StreamOptions> = {
    customers: opts.customers ?? 100,
    duplicateRate: opts.duplicateRate ?? 0.1,
    seed: opts.seed ?? 20261028,
    startTime: opts.startTime ?? 1793577600, // 2026-11-02T00:00:00Z
  };
  const rand = mulberry32(options.seed);
  const rid = (prefix: string, len = 24) => {
    let s = prefix + "_test_";
    for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
    return s;
  };
  const jitter = (max: number) => Math.floor(rand() * max);

  const prices = {
    basic: {
      id: "price_test_BenchBasicMonthly0001",
      object: "price",
      active: true,
      billing_scheme: "per_unit",
      created: options.startTime - 90 * DAY,
      currency: "usd",
      livemode: false,
      lookup_key: "basic_monthly",
      metadata: {},
      nickname: "Basic",
      product: "prod_test_BenchBasic00001",
      recurring: { interval: "month", interval_count: 1, meter: null, usage_type: "licensed" },
      tax_behavior: "unspecified",
      type: "recurring",
      unit_amount: 1000,
      unit_amount_decimal: "1000",
    },
    pro: {
      id: "price_test_BenchProMonthly00001",
      object: "price",
      active: true,
      billing_scheme: "per_unit",
      created: options.startTime - 90 * DAY,
      currency: "usd",
      livemode: false,
      lookup_key: "pro_monthly",
      metadata: {},
      nickname: "Pro",
      product: "prod_test_BenchPro000001",
      recurring: { interval: "month", interval_count: 1, meter: null, usage_type: "licensed" },
      tax_behavior: "unspecified",
      type: "recurring",
      unit_amount: 2500,
      unit_amount_decimal: "2500",
    },
  } as const;

  interface BaseEvent {
    customer: number;
    step: string;
    type: string;
    created: number;
    object: Record<string, unknown>;
    previous?: Record<string, unknown>;
    requestId: string | null;
  }
  const base: BaseEvent[] = [];
  const versions: ObjectVersion[] = [];

  for (let c = 0; c < options.customers; c++) {
    const T = options.startTime + c * 36 + jitter(30);
    const userId = `user_bench_${String(c).padStart(4, "0")}`;
    const cus = rid("cus", 14);
    const sub = rid("sub", 24);
    const si = rid("si", 14);
    const cs = rid("cs", 58);
    const in1 = rid("in", 24);
    const in2 = rid("in", 24);
    const pi1 = rid("pi", 24);
    const pi2 = rid("pi", 24);
    const email = `bench+${c}@example.test`;
    const subMeta = { userId };
    const period1 = { start: T - 1, end: T - 1 + 30 * DAY };
    const period2 = { start: period1.end, end: period1.end + 30 * DAY };

    const customerObj = {
      id: cus,
      object: "customer",
      address: null,
      balance: 0,
      created: T - 2,
      currency: "usd",
      default_source: null,
      delinquent: false,
      description: null,
      email,
      invoice_prefix: cus.slice(-8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: { userId },
      name: `Bench Customer ${c}`,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: "none",
      test_clock: null,
    };
    versions.push({ path: `/v1/customers/${cus}`, validFrom: T - 2, object: customerObj });

    const subscription = (o: {
      status: string;
      price: (typeof prices)["basic" | "pro"];
      quantity: number;
      period: { start: number; end: number };
      latestInvoice: string;
      canceledAt?: number;
    }) => ({
      id: sub,
      object: "subscription",
      application: null,
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: period1.start,
      billing_cycle_anchor_config: null,
      billing_mode: { flexible: { proration_discounts: "included" }, type: "flexible", updated_at: T - 1 },
      billing_thresholds: null,
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: o.canceledAt ?? null,
      cancellation_details: o.canceledAt
        ? { comment: null, feedback: null, reason: "cancellation_requested" }
        : { comment: null, feedback: null, reason: null },
      collection_method: "charge_automatically",
      created: T - 1,
      currency: "usd",
      customer: cus,
      customer_account: null,
      days_until_due: null,
      default_payment_method: "pm_test_" + cus.slice(-14),
      default_source: null,
      default_tax_rates: [],
      description: null,
      discounts: [],
      ended_at: o.canceledAt ?? null,
      invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
      items: {
        object: "list",
        data: [
          {
            id: si,
            object: "subscription_item",
            billing_thresholds: null,
            created: T - 1,
            current_period_end: o.period.end,
            current_period_start: o.period.start,
            discounts: [],
            metadata: {},
            plan: null,
            price: o.price,
            quantity: o.quantity,
            subscription: sub,
            tax_rates: [],
          },
        ],
        has_more: false,
        total_count: 1,
        url: `/v1/subscription_items?subscription=${sub}`,
      },
      latest_invoice: o.latestInvoice,
      livemode: false,
      metadata: subMeta,
      next_pending_invoice_item_invoice: null,
      on_behalf_of: null,
      pause_collection: null,
      payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: "off" },
      pending_invoice_item_interval: null,
      pending_setup_intent: null,
      pending_update: null,
      schedule: null,
      start_date: T - 1,
      status: o.status,
      test_clock: null,
      transfer_data: null,
      trial_end: null,
      trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
      trial_start: null,
    });

    const invoice = (o: {
      id: string;
      pi: string;
      created: number;
      paidAt: number;
      reason: string;
      price: (typeof prices)["basic" | "pro"];
      quantity: number;
      period: { start: number; end: number };
    }) => {
      const amount = o.price.unit_amount * o.quantity;
      return {
        id: o.id,
        object: "invoice",
        account_country: "US",
        account_name: "Bench Inc.",
        amount_due: amount,
        amount_overpaid: 0,
        amount_paid: amount,
        amount_remaining: 0,
        amount_shipping: 0,
        attempt_count: 1,
        attempted: true,
        auto_advance: false,
        automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
        billing_reason: o.reason,
        collection_method: "charge_automatically",
        created: o.created,
        currency: "usd",
        customer: cus,
        customer_account: null,
        customer_email: email,
        customer_name: `Bench Customer ${c}`,
        description: null,
        discounts: [],
        due_date: null,
        ending_balance: 0,
        hosted_invoice_url: `https://invoice.stripe.test/i/${o.id}`,
        invoice_pdf: `https://pay.stripe.test/invoice/${o.id}/pdf`,
        issuer: { type: "self" },
        last_finalization_error: null,
        lines: {
          object: "list",
          data: [
            {
              id: "il_" + o.id.slice(3),
              object: "line_item",
              amount,
              currency: "usd",
              description: `${o.quantity} × ${o.price.nickname} (at $${(o.price.unit_amount / 100).toFixed(2)} / month)`,
              discount_amounts: [],
              discountable: true,
              discounts: [],
              invoice: o.id,
              livemode: false,
              metadata: {},
              parent: {
                invoice_item_details: null,
                subscription_item_details: { invoice_item: null, proration: false, proration_details: { credited_items: null }, subscription: sub, subscription_item: si },
                type: "subscription_item_details",
              },
              period: { end: o.period.end, start: o.period.start },
              pretax_credit_amounts: [],
              pricing: { price_details: { price: o.price.id, product: o.price.product }, type: "price_details", unit_amount_decimal: o.price.unit_amount_decimal },
              quantity: o.quantity,
              taxes: [],
            },
          ],
          has_more: false,
          total_count: 1,
          url: `/v1/invoices/${o.id}/lines`,
        },
        livemode: false,
        metadata: {},
        next_payment_attempt: null,
        number: `${cus.slice(-8).toUpperCase()}-000${o.reason === "subscription_create" ? 1 : 2}`,
        on_behalf_of: null,
        parent: {
          quote_details: null,
          subscription_details: { metadata: subMeta, subscription: sub },
          type: "subscription_details",
        },
        payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
        period_end: o.period.start,
        period_start: o.reason === "subscription_create" ? o.period.start : o.period.start - 30 * DAY,
        post_payment_credit_notes_amount: 0,
        pre_payment_credit_notes_amount: 0,
        receipt_number: null,
        rendering: null,
        shipping_cost: null,
        shipping_details: null,
        starting_balance: 0,
        statement_descriptor: null,
        status: "paid",
        status_transitions: { finalized_at: o.created, marked_uncollectible_at: null, paid_at: o.paidAt, voided_at: null },
        subtotal: amount,
        subtotal_excluding_tax: amount,
        test_clock: null,
        total: amount,
        total_discount_amounts: [],
        total_excluding_tax: amount,
        total_pretax_credit_amounts: [],
        total_taxes: [],
        webhooks_delivered_at: o.created,
      };
    };

    // Stripe-side object states ---------------------------------------------
    const s0 = subscription({ status: "active", price: prices.basic, quantity: 1, period: period1, latestInvoice: in1 });
    const s1 = subscription({ status: "active", price: prices.basic, quantity: 2, period: period1, latestInvoice: in1 });
    const s2 = subscription({ status: "active", price: prices.pro, quantity: 2, period: period1, latestInvoice: in1 });
    const s3 = subscription({ status: "active", price: prices.pro, quantity: 2, period: period2, latestInvoice: in2 });
    const tDel = T + 45 * DAY + jitter(DAY);
    const s4 = subscription({ status: "canceled", price: prices.pro, quantity: 2, period: period2, latestInvoice: in2, canceledAt: tDel });
    const inv1 = invoice({ id: in1, pi: pi1, created: T - 1, paidAt: T - 1, reason: "subscription_create", price: prices.basic, quantity: 1, period: period1 });
    const tRenew = period2.start;
    const inv2 = invoice({ id: in2, pi: pi2, created: tRenew, paidAt: tRenew + 3600, reason: "subscription_cycle", price: prices.pro, quantity: 2, period: period2 });
    const tU1 = T + 1 * DAY + jitter(DAY);
    const tU2 = T + 5 * DAY + jitter(DAY);

    const session = {
      id: cs,
      object: "checkout.session",
      adaptive_pricing: { enabled: false },
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: 1000,
      amount_total: 1000,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: "https://app.example.test/cancel",
      client_reference_id: userId,
      client_secret: null,
      collected_information: { business_name: null, individual_name: null, shipping_details: null },
      consent: null,
      consent_collection: null,
      created: T - 60,
      currency: "usd",
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: cus,
      customer_account: null,
      customer_creation: null,
      customer_details: { address: null, business_name: null, email, individual_name: null, name: `Bench Customer ${c}`, phone: null, tax_exempt: "none", tax_ids: [] },
      customer_email: null,
      discounts: [],
      expires_at: T - 60 + DAY,
      invoice: in1,
      invoice_creation: null,
      livemode: false,
      locale: null,
      metadata: { userId },
      mode: "subscription",
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: "always",
      payment_method_configuration_details: null,
      payment_method_options: { card: { request_three_d_secure: "automatic" } },
      payment_method_types: ["card"],
      payment_status: "paid",
      permissions: null,
      phone_number_collection: { enabled: false },
      recovered_from: null,
      saved_payment_method_options: { allow_redisplay_filters: ["always"], payment_method_remove: "disabled", payment_method_save: null },
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: "complete",
      submit_type: null,
      subscription: sub,
      success_url: "https://app.example.test/success?session_id={CHECKOUT_SESSION_ID}",
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: "hosted_page",
      url: null,
      wallet_options: null,
    };

    versions.push(
      { path: `/v1/subscriptions/${sub}`, validFrom: T - 1, object: s0 },
      { path: `/v1/subscriptions/${sub}`, validFrom: tU1, object: s1 },
      { path: `/v1/subscriptions/${sub}`, validFrom: tU2, object: s2 },
      { path: `/v1/subscriptions/${sub}`, validFrom: tRenew, object: s3 },
      { path: `/v1/subscriptions/${sub}`, validFrom: tDel, object: s4 },
      { path: `/v1/invoices/${in1}`, validFrom: T - 1, object: inv1 },
      { path: `/v1/invoices/${in2}`, validFrom: tRenew, object: inv2 },
      { path: `/v1/checkout/sessions/${cs}`, validFrom: T, object: session },
    );

    const itemsPrev = (s: ReturnType<typeof subscription>) => ({ items: s.items });
    const req = () => rid("req", 14);
    base.push(
      { customer: c, step: "checkout.session.completed", type: "checkout.session.completed", created: T, object: session, requestId: null },
      { customer: c, step: "customer.subscription.created", type: "customer.subscription.created", created: T + 1, object: s0, requestId: req() },
      { customer: c, step: "invoice.paid#1", type: "invoice.paid", created: T + 2, object: inv1, requestId: req() },
      { customer: c, step: "customer.subscription.updated#1", type: "customer.subscription.updated", created: tU1, object: s1, previous: itemsPrev(s0), requestId: req() },
      { customer: c, step: "customer.subscription.updated#2", type: "customer.subscription.updated", created: tU2, object: s2, previous: itemsPrev(s1), requestId: req() },
      { customer: c, step: "customer.subscription.updated#3", type: "customer.subscription.updated", created: tRenew, object: s3, previous: { ...itemsPrev(s2), latest_invoice: in1 }, requestId: null },
      { customer: c, step: "invoice.paid#2", type: "invoice.paid", created: tRenew + 3600, object: inv2, requestId: null },
      { customer: c, step: "customer.subscription.deleted", type: "customer.subscription.deleted", created: tDel, object: s4, requestId: req() },
    );
  }

  // Global order: by event time (customers interleave), stable on ties.
  const order = base.map((e, i) => ({ e, i })).sort((a, b) => a.e.created - b.e.created || a.i - b.i);

  const firstDeliveries = order.map(({ e }) => {
    const eventId = rid("evt", 24);
    const event = {
      id: eventId,
      object: "event",
      api_version: STREAM_API_VERSION,
      context: null,
      created: e.created,
      data: e.previous ? { object: e.object, previous_attributes: e.previous } : { object: e.object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: e.requestId, idempotency_key: e.requestId ? rid("idk", 16) : null },
      type: e.type,
    };
    return {
      eventId,
      type: e.type,
      customer: e.customer,
      step: e.step,
      created: e.created,
      body: JSON.stringify(event, null, 2),
    };
  });

  // Redeliveries: pick round(rate * N) distinct events; each is delivered again
  // 1..50 positions after its first delivery (same event id, same body).
  const nDup = Math.round(options.duplicateRate * firstDeliveries.length);
  const idx = firstDeliveries.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const dupAt = new Map<number, number[]>(); // insert-after position -> original indexes
  for (const orig of idx.slice(0, nDup).sort((a, b) => a - b)) {
    const after = Math.min(firstDeliveries.length - 1, orig + 1 + Math.floor(rand() * 50));
    const list = dupAt.get(after) ?? [];
    list.push(orig);
    dupAt.set(after, list);
  }
  const deliveries: Delivery[] = [];
  firstDeliveries.forEach((d, i) => {
    deliveries.push({ seq: deliveries.length, duplicate: false, attempt: 1, ...d });
    for (const orig of dupAt.get(i) ?? []) {
      deliveries.push({ seq: deliveries.length, duplicate: true, attempt: 2, ...firstDeliveries[orig]! });
    }
  });

  versions.sort((a, b) => a.validFrom - b.validFrom);
  let h = 0x811c9dc5;
  for (const d of deliveries) h = fnv1a(d.body + "\n", h);
  return { options, deliveries, objectVersions: versions, digest: h.toString(16).padStart(8, "0") };
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** Signs one delivery for a target. `timestamp` defaults to now (the receiver enforces a 300 s tolerance). */
export async function signDelivery(
  d: Delivery,
  target: Target,
  timestamp: number = Math.floor(Date.now() / 1000),
): Promise<{ path: string; init: RequestInit }> {
  const header = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload: d.body,
    secret: target.secret,
    timestamp,
    cryptoProvider,
  });
  return {
    path: target.path,
    init: {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": header,
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: d.body,
    },
  };
}
