/**
 * A small server speaking the slice of Stripe's REST API that the billing
 * actions use, for tests. It listens on 127.0.0.1 (random port), records every
 * request, and answers with minimal Stripe-shaped JSON.
 *
 * Point the backend at it with `stripeApiEnv(server.url)` (./stripeApiEnv.ts) and any
 * `STRIPE_SECRET_KEY` (it only checks that a Bearer key is sent).
 *
 * Endpoints:
 * - `POST /v1/customers`                → `customer` (`cus_test_<n>`)
 * - `GET  /v1/customers/:id`            → the stored customer, or 404
 * - `GET  /v1/prices?lookup_keys[]=…`   → `list` of prices with those lookup keys
 *   (`active` filter honoured, `expand[]=data.product` inlines the product)
 * - `POST /v1/checkout/sessions`        → `checkout.session` with a `url`
 * - `POST /v1/billing_portal/sessions`  → `billing_portal.session` with a `url`
 * - `GET|POST /v1/billing_portal/configurations[/:id]` → list / create / update
 * - `GET /v1/subscriptions?customer=` → the customer's subscriptions (a list; no trials)
 * - `GET /v1/subscriptions/:id`, `POST /v1/subscriptions/:id` → a subscription
 *   put with `putSubscription`; an update of the item's price applies, or is
 *   held in `pending_update` per `setUpdateOutcome` (3-D Secure, decline) or
 *   fails with a 402 card error; `cancel_at_period_end` / `cancel_at` apply
 * - `POST /v1/invoices/create_preview`  → a proration preview: half the
 *   period is left, so credit = old amount / 2 and charge = new amount / 2
 *   (the full new amount, as a period line, when the interval changes);
 *   the customer's balance (`setCustomerBalance`) is applied
 * - `GET /v1/payment_intents/:id`, `GET /v1/invoice_payments?invoice=…`
 * - `POST /v1/subscription_schedules` (`from_subscription`), `GET|POST
 *   /v1/subscription_schedules/:id`, `POST …/:id/release`
 * - `POST /v1/test_helpers/test_clocks`
 * - `GET /v1/customers/:id/payment_methods` → the cards put with `setSavedCard`
 * - `POST /v1/payment_intents` (`confirm`, `off_session`) → per
 *   `setPaymentOutcome`: `succeeds` (status `succeeded`), `processing`, or a
 *   402 `card_error` carrying the PaymentIntent (`requires_payment_method`)
 *   for a decline code or `authentication_required`
 * - `GET /v1/coupons/:id` → a coupon put with `putCoupon`, or 404
 *   `resource_missing`; `POST /v1/subscriptions/:id` with `discounts[n][coupon]`
 *   / `discounts[n][discount]` replaces the subscription's discounts (a new
 *   `di_…` per coupon, kept ones by id; `expand[]=discounts` on a read inlines
 *   them); a preview of a subscription with a `percent_off` coupon lists the
 *   discount (`total_discount_amounts`) and, with `setPreviewTaxPercent`, an
 *   exclusive tax on the discounted total (`total_taxes`)
 * - `GET /v1/billing/meters` (the overage meter), `POST /v1/billing/meter_events`
 *   (once per `identifier`; a repeat gets Stripe's 400 "An event already
 *   exists with identifier …"), `GET /v1/billing/meters/:id/event_summaries`
 *   (accepted events of a customer summed over a minute-aligned range)
 * Anything else answers 404 with Stripe's error shape.
 *
 * Idempotency follows https://docs.stripe.com/api/idempotent_requests: a POST
 * repeating an earlier `Idempotency-Key` with the same path and body gets the
 * stored response again (header `Idempotent-Replayed: true`) and creates
 * nothing; the same key with different parameters gets a 400
 * `idempotency_error`.
 *
 * Default prices come from the plan catalogue and token packs: price id
 * `price_<lookupKey>`, amount = `displayAmount`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { INTERVALS, OVERAGE_METER, PAID_TIERS, PLANS, TOKEN_PACKS } from "../../convex/billing/model/plans";

/** A nested form value: what `a[b][0]=x` parses to. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };

export type RecordedRequest = {
  method: string;
  /** Path without the query string, e.g. `/v1/checkout/sessions`. */
  path: string;
  /** Flat form fields as sent: query string for GET, body for POST (`line_items[0][price]` → value). */
  form: Record<string, string>;
  /** The same fields parsed into nested objects/arrays (`body.line_items[0].price`). */
  body: Record<string, FormValue>;
  /** The `Idempotency-Key` header, or null. */
  idempotencyKey: string | null;
  /** The bearer key the client authenticated with. */
  apiKey: string | null;
  /** The `Stripe-Version` header. */
  stripeVersion: string | null;
  /** True when the response was an idempotent replay. */
  replayed: boolean;
  status: number;
};

export type FakePrice = {
  id: string;
  lookupKey: string;
  unitAmount: number;
  currency: string;
  /** `null` for one-off prices. */
  interval: "month" | "year" | null;
  active: boolean;
  productName: string;
  /** A metered price's meter (`mtr_…`): `recurring.usage_type` is `metered`. */
  meter?: string;
  /** Amounts in other currencies (minor units): `currency_options`, listed with `expand[]=data.currency_options`. */
  currencyOptions?: Record<string, number>;
};

/** The overage meter every server has (`OVERAGE_METER`). */
export const OVERAGE_METER_ID = "mtr_test_overage";

/** A meter event the server accepted (`POST /v1/billing/meter_events`). */
export type FakeMeterEvent = { identifier: string; customer: string; value: number; timestamp: number };

export type StripeErrorReply = {
  status: number;
  type: string;
  code?: string;
  decline_code?: string;
  message: string;
};

type Json = Record<string, unknown>;

/** A subscription for `putSubscription`; the server builds Stripe's shape from it. */
export type FakeSubscriptionInput = {
  id: string;
  customer: string;
  itemId: string;
  /** Lookup key of the item's price (a price the server knows). */
  lookupKey: string;
  quantity?: number;
  status?: string;
  /** Stripe seconds. */
  periodStart: number;
  periodEnd: number;
  cancelAtPeriodEnd?: boolean;
  cancelAt?: number | null;
  schedule?: string | null;
  pendingUpdate?: Json | null;
  /** A second item (`si_…`) on the metered overage price, after the plan item. */
  overageItemId?: string;
};

/**
 * What the next price change of a subscription does: `succeeds` (applied,
 * invoice paid), `requires_action` / `declined` (held in `pending_update`,
 * the proration invoice open with its PaymentIntent in `requires_action` /
 * `requires_payment_method`), `card_error_402` (a thrown card decline),
 * `requires_action_402` (Stripe's thrown `invoice_payment_intent_requires_action`).
 */
export type UpdateOutcome = "succeeds" | "requires_action" | "declined" | "card_error_402" | "requires_action_402";

/** What every later `POST /v1/payment_intents` does: a decline code (`card_declined`, `insufficient_funds`, …) answers 402. */
export type PaymentOutcome = "succeeds" | "processing" | "authentication_required" | { decline: string };

export type RecordingStripeServer = {
  /** e.g. `http://127.0.0.1:54321`, for `stripeApiEnv`. */
  url: string;
  requests: RecordedRequest[];
  /** Requests with this method whose path starts with `pathPrefix`. */
  requestsTo(method: string, pathPrefix: string): RecordedRequest[];
  /** Customers created so far (distinct objects, not requests). */
  customers: Array<Record<string, unknown>>;
  /** Replace or add a price (keyed by lookup key). */
  setPrice(price: FakePrice): void;
  /** Forget a lookup key, so `prices.list` finds nothing for it. */
  removePrice(lookupKey: string): void;
  /** Make the next request to `method path` fail with this error (once). */
  failNext(method: string, path: string, error: StripeErrorReply): void;
  /** Forget recorded requests (objects and idempotency keys are kept). */
  clearRequests(): void;
  /** Stores (or replaces) a subscription. */
  putSubscription(input: FakeSubscriptionInput): void;
  /** The stored subscription as Stripe would return it. */
  subscription(id: string): Json | undefined;
  /** What the next price change does (once); default `succeeds`. */
  setUpdateOutcome(outcome: UpdateOutcome): void;
  /** Stripe's customer balance (negative = credit) used by previews. */
  setCustomerBalance(customerId: string, balance: number): void;
  /** Attaches a card (`pm_…`) to the customer (stored if unknown), or with `null` removes its cards. */
  setSavedCard(customerId: string, paymentMethod: string | null): void;
  /** What later PaymentIntents do; default `succeeds`. */
  setPaymentOutcome(outcome: PaymentOutcome): void;
  /** Subscription schedules by id. */
  schedules: Map<string, Json>;
  /** Customer Portal configurations, oldest first. */
  portalConfigurations: Json[];
  /** Test clocks created so far. */
  testClocks: Json[];
  /** Meter events accepted so far (one per identifier). */
  meterEvents: FakeMeterEvent[];
  /** Stores (or replaces) a coupon `GET /v1/coupons/:id` finds. */
  putCoupon(coupon: FakeCoupon): void;
  /** Exclusive tax (percent of the discounted total) on later previews; 0 = none. */
  setPreviewTaxPercent(percent: number): void;
  close(): Promise<void>;
};

/** A coupon for `putCoupon`: percent or amount (minor units) off. */
export type FakeCoupon = { id: string; percentOff?: number; amountOff?: number; currency?: string; name?: string; valid?: boolean };

/** Parses `a[b][0][c]=x&…` (Stripe's form encoding) into flat and nested forms. */
export function parseStripeForm(encoded: string): { form: Record<string, string>; body: Record<string, FormValue> } {
  const form: Record<string, string> = {};
  const root: Record<string, FormValue> = {};
  for (const [key, value] of new URLSearchParams(encoded)) {
    form[key] = value;
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const parts = match ? [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)] : [key];
    let node: Record<string, FormValue> = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      // `a[]=x` appends; treat it as the next index.
      const name = part === "" ? String(Object.keys(node).length) : part;
      if (last) {
        node[name] = value;
      } else {
        const next = node[name];
        if (typeof next !== "object" || next === null || Array.isArray(next)) node[name] = {};
        node = node[name] as Record<string, FormValue>;
      }
    });
  }
  return { form, body: arraysFromIndexedObjects(root) as Record<string, FormValue> };
}

function arraysFromIndexedObjects(value: FormValue): FormValue {
  if (typeof value === "string" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const converted: Record<string, FormValue> = {};
  for (const key of keys) converted[key] = arraysFromIndexedObjects(value[key]!);
  const isList = keys.length > 0 && keys.every((k, i) => k === String(i));
  return isList ? keys.map((k) => converted[k]!) : converted;
}

function defaultPrices(): FakePrice[] {
  const prices: FakePrice[] = [];
  for (const tier of PAID_TIERS) {
    const planPrices = PLANS[tier].prices;
    if (!planPrices) continue;
    for (const interval of INTERVALS) {
      const p = planPrices[interval];
      prices.push({
        id: `price_${p.lookupKey}`,
        lookupKey: p.lookupKey,
        unitAmount: p.displayAmount,
        currency: p.currency,
        currencyOptions: { ...p.currencyOptions },
        interval,
        active: true,
        productName: PLANS[tier].name,
      });
    }
  }
  prices.push({
    id: `price_${OVERAGE_METER.price.lookupKey}`,
    lookupKey: OVERAGE_METER.price.lookupKey,
    unitAmount: OVERAGE_METER.price.unitAmount,
    currency: OVERAGE_METER.price.currency,
    currencyOptions: { ...OVERAGE_METER.price.currencyOptions },
    interval: OVERAGE_METER.price.interval,
    active: true,
    productName: OVERAGE_METER.displayName,
    meter: OVERAGE_METER_ID,
  });
  for (const pack of TOKEN_PACKS) {
    prices.push({
      id: `price_${pack.lookupKey}`,
      lookupKey: pack.lookupKey,
      unitAmount: pack.displayAmount,
      currency: pack.currency,
      currencyOptions: { ...pack.currencyOptions },
      interval: null,
      active: true,
      productName: `${pack.tokens} tokens`,
    });
  }
  return prices;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Starts the server; call `close()` in `afterAll`. */
export async function startRecordingStripeServer(options: { prices?: FakePrice[] } = {}): Promise<RecordingStripeServer> {
  const requests: RecordedRequest[] = [];
  const customers: Array<Record<string, unknown>> = [];
  const prices = new Map<string, FakePrice>();
  for (const p of options.prices ?? defaultPrices()) prices.set(p.lookupKey, p);
  const idempotent = new Map<string, { fingerprint: string; status: number; json: unknown }>();
  const failures: Array<{ method: string; path: string; error: StripeErrorReply }> = [];
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}_test_${String(++counter).padStart(6, "0")}`;
  const now = () => Math.floor(Date.now() / 1000);

  const errorJson = (e: StripeErrorReply) => ({
    error: { type: e.type, code: e.code, decline_code: e.decline_code, message: e.message },
  });

  function priceJson(p: FakePrice, expandProduct: boolean, expandOptions = false) {
    const productId = `prod_${p.lookupKey}`;
    return {
      id: p.id,
      object: "price",
      active: p.active,
      currency: p.currency,
      lookup_key: p.lookupKey,
      unit_amount: p.unitAmount,
      type: p.interval ? "recurring" : "one_time",
      recurring: p.interval
        ? { interval: p.interval, interval_count: 1, usage_type: p.meter ? "metered" : "licensed", meter: p.meter ?? null }
        : null,
      product: expandProduct ? { id: productId, object: "product", name: p.productName, active: true } : productId,
      // Stripe lists the price's own currency among its options too.
      ...(expandOptions
        ? {
            currency_options: Object.fromEntries(
              Object.entries({ ...p.currencyOptions, [p.currency]: p.unitAmount }).map(([c, amount]) => [
                c,
                { unit_amount: amount, unit_amount_decimal: String(amount), tax_behavior: "unspecified", custom_unit_amount: null },
              ]),
            ),
          }
        : {}),
    };
  }

  const subscriptions = new Map<string, Json>();
  const schedules = new Map<string, Json>();
  const portalConfigurations: Json[] = [];
  const testClocks: Json[] = [];
  const paymentIntents = new Map<string, Json>();
  const invoices = new Map<string, Json>();
  const balances = new Map<string, number>();
  const outcomes: UpdateOutcome[] = [];
  const savedCards = new Map<string, string>();
  let paymentOutcome: PaymentOutcome = "succeeds";

  function createPaymentIntent(body: Record<string, FormValue>): { status: number; json: unknown } {
    const id = nextId("pi");
    const base: Json = {
      id,
      object: "payment_intent",
      amount: Number(str(body.amount)),
      amount_received: 0,
      currency: str(body.currency),
      customer: body.customer ?? null,
      payment_method: body.payment_method ?? null,
      description: body.description ?? null,
      metadata: body.metadata ?? {},
      created: now(),
      livemode: false,
      last_payment_error: null,
    };
    if (paymentOutcome === "succeeds" || paymentOutcome === "processing") {
      const pi = { ...base, status: paymentOutcome === "succeeds" ? "succeeded" : "processing", amount_received: paymentOutcome === "succeeds" ? base.amount : 0 };
      paymentIntents.set(id, pi);
      return { status: 200, json: pi };
    }
    const code = paymentOutcome === "authentication_required" ? "authentication_required" : "card_declined";
    const declineCode = paymentOutcome === "authentication_required" ? "authentication_required" : paymentOutcome.decline;
    const error = { type: "card_error", code, decline_code: declineCode, message: "Your card was declined." };
    const pi = { ...base, status: "requires_payment_method", last_payment_error: error };
    paymentIntents.set(id, pi);
    return { status: 402, json: { error: { ...error, payment_intent: pi } } };
  }

  const meterEvents: FakeMeterEvent[] = [];
  /**
   * Billing Meters: one active meter (`OVERAGE_METER`); meter events
   * accepted once per `identifier` (a repeat answers Stripe's 400 "An event
   * already exists with identifier …"); summaries sum accepted events of a
   * customer over [start_time, end_time).
   */
  function handleMetering(method: string, path: string, body: Record<string, FormValue>): { status: number; json: unknown } | null {
    const meter = {
      id: OVERAGE_METER_ID,
      object: "billing.meter",
      event_name: OVERAGE_METER.eventName,
      display_name: OVERAGE_METER.displayName,
      status: "active",
      livemode: false,
    };
    if (method === "GET" && path === "/v1/billing/meters") {
      return { status: 200, json: { object: "list", url: path, has_more: false, data: [meter] } };
    }
    if (method === "POST" && path === "/v1/billing/meter_events") {
      const payload = (body.payload ?? {}) as Record<string, FormValue>;
      const identifier = str(body.identifier);
      if (str(body.event_name) !== OVERAGE_METER.eventName) return invalid(`No active meter was found for event_name "${str(body.event_name)}".`);
      if (meterEvents.some((e) => e.identifier === identifier)) return invalid(`An event already exists with identifier ${identifier}.`);
      const event = {
        identifier,
        customer: str(payload.stripe_customer_id),
        value: Number(str(payload.value)),
        timestamp: num(body.timestamp) ?? now(),
      };
      meterEvents.push(event);
      return {
        status: 200,
        json: { object: "billing.meter_event", event_name: OVERAGE_METER.eventName, identifier, payload, timestamp: event.timestamp, created: now(), livemode: false },
      };
    }
    const summaries = /^\/v1\/billing\/meters\/([^/]+)\/event_summaries$/.exec(path);
    if (method === "GET" && summaries) {
      const start = num(body.start_time) ?? 0;
      const end = num(body.end_time) ?? 0;
      if (start % 60 !== 0 || end % 60 !== 0) return invalid("start_time and end_time must be aligned with minute boundaries.");
      const aggregated = meterEvents
        .filter((e) => e.customer === str(body.customer) && e.timestamp >= start && e.timestamp < end)
        .reduce((sum, e) => sum + e.value, 0);
      const data = [{ id: nextId("mtrusg"), object: "billing.meter_event_summary", aggregated_value: aggregated, start_time: start, end_time: end, meter: summaries[1], livemode: false }];
      return { status: 200, json: { object: "list", url: path, has_more: false, data } };
    }
    return null;
  }

  const priceById = (id: string) => [...prices.values()].find((p) => p.id === id);
  const missing = (what: string, id: string) => ({
    status: 404,
    json: errorJson({ status: 404, type: "invalid_request_error", code: "resource_missing", message: `No such ${what}: '${id}'` }),
  });
  const invalid = (message: string) => ({
    status: 400,
    json: errorJson({ status: 400, type: "invalid_request_error", message }),
  });
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const num = (v: FormValue | undefined) => (typeof v === "string" && v !== "" ? Number(v) : null);

  function subscriptionItem(itemId: string, price: FakePrice, quantity: number, start: number, end: number): Json {
    return {
      id: itemId,
      object: "subscription_item",
      price: priceJson(price, false),
      quantity,
      current_period_start: start,
      current_period_end: end,
    };
  }

  function putSubscription(input: FakeSubscriptionInput) {
    const price = prices.get(input.lookupKey);
    if (!price) throw new Error(`unknown lookup key ${input.lookupKey}`);
    subscriptions.set(input.id, {
      id: input.id,
      object: "subscription",
      customer: input.customer,
      status: input.status ?? "active",
      cancel_at_period_end: input.cancelAtPeriodEnd ?? false,
      cancel_at: input.cancelAt ?? (input.cancelAtPeriodEnd ? input.periodEnd : null),
      cancellation_details: { comment: null, feedback: null, reason: null },
      schedule: input.schedule ?? null,
      pending_update: input.pendingUpdate ?? null,
      latest_invoice: null,
      livemode: false,
      items: {
        object: "list",
        has_more: false,
        data: [
          subscriptionItem(input.itemId, price, input.quantity ?? 1, input.periodStart, input.periodEnd),
          ...(input.overageItemId
            ? [{ ...subscriptionItem(input.overageItemId, prices.get(OVERAGE_METER.price.lookupKey)!, 0, input.periodStart, input.periodEnd), quantity: undefined }]
            : []),
        ],
      },
    });
  }

  function itemOf(sub: Json): Json {
    return ((sub.items as Json).data as Json[])[0]!;
  }

  /** An invoice for a price change, with its PaymentIntent in `piStatus`. */
  function changeInvoice(sub: Json, amount: number, piStatus: string | null): Json {
    const invoiceId = nextId("in");
    const piId = nextId("pi");
    paymentIntents.set(piId, {
      id: piId,
      object: "payment_intent",
      amount,
      status: piStatus ?? "succeeded",
      last_payment_error:
        piStatus === "requires_payment_method" ? { code: "card_declined", decline_code: "insufficient_funds", type: "card_error" } : null,
    });
    const invoice = {
      id: invoiceId,
      object: "invoice",
      customer: sub.customer,
      subscription: sub.id,
      status: piStatus ? "open" : "paid",
      amount_due: amount,
      billing_reason: "subscription_update",
      hosted_invoice_url: `https://invoice.stripe.test/i/${invoiceId}`,
      payment_intent: null,
    };
    invoices.set(invoiceId, { ...invoice, payment: piId });
    return invoice;
  }

  function updateSubscription(id: string, body: Record<string, FormValue>): { status: number; json: unknown } {
    const sub = subscriptions.get(id);
    if (!sub) return missing("subscription", id);
    if (sub.schedule && (body.cancel_at_period_end !== undefined || body.cancel_at !== undefined)) {
      return invalid(`The subscription is managed by the subscription schedule \`${str(sub.schedule)}\`, and updating any cancelation behavior directly is not allowed.`);
    }
    if (body.cancel_at_period_end === "true") {
      sub.cancel_at_period_end = true;
      sub.cancel_at = itemOf(sub).current_period_end;
    } else if (body.cancel_at_period_end === "false") {
      sub.cancel_at_period_end = false;
      sub.cancel_at = null;
    }
    if (body.cancel_at === "") sub.cancel_at = null;
    if (body.cancellation_details && typeof body.cancellation_details === "object") {
      sub.cancellation_details = { ...(sub.cancellation_details as Json), ...(body.cancellation_details as Json) };
    }
    const items = Array.isArray(body.items) ? (body.items as Array<Record<string, FormValue>>) : [];
    if (items.length > 0) {
      const change = items[0]!;
      const item = itemOf(sub);
      if (change.id !== item.id) return invalid(`Invalid subscription item: ${str(change.id)}`);
      const price = priceById(str(change.price));
      if (!price) return missing("price", str(change.price));
      const outcome = outcomes.shift() ?? "succeeds";
      const oldAmount = ((item.price as Json).unit_amount as number) ?? 0;
      const amount = Math.max(0, Math.round((price.unitAmount - oldAmount) / 2));
      if (outcome === "card_error_402" || outcome === "requires_action_402") {
        const invoice = changeInvoice(sub, amount, outcome === "card_error_402" ? "requires_payment_method" : "requires_action");
        sub.latest_invoice = invoice.id;
        return {
          status: 402,
          json: errorJson(
            outcome === "card_error_402"
              ? { status: 402, type: "card_error", code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." }
              : {
                  status: 402,
                  type: "card_error",
                  code: "invoice_payment_intent_requires_action",
                  message: "This payment requires additional user action before it can be completed successfully.",
                },
          ),
        };
      }
      const held = outcome === "requires_action" || outcome === "declined";
      const invoice = changeInvoice(sub, amount, held ? (outcome === "declined" ? "requires_payment_method" : "requires_action") : null);
      sub.latest_invoice = invoice.id;
      if (held) {
        sub.pending_update = {
          expires_at: now() + 23 * 3600,
          subscription_items: [{ ...item, price: priceJson(price, false) }],
        };
      } else {
        (sub.items as Json).data = [{ ...item, price: priceJson(price, false) }];
      }
    }
    return { status: 200, json: renderSubscription(sub, body) };
  }

  const coupons = new Map<string, FakeCoupon>();
  const discounts = new Map<string, Json>();
  let previewTaxPercent = 0;

  function couponJson(c: FakeCoupon): Json {
    return {
      id: c.id,
      object: "coupon",
      percent_off: c.percentOff ?? null,
      amount_off: c.amountOff ?? null,
      currency: c.amountOff !== undefined ? (c.currency ?? "usd") : null,
      duration: "forever",
      name: c.name ?? null,
      valid: c.valid ?? true,
      livemode: false,
    };
  }

  /** `discounts[n][coupon|discount]` of a subscription update: the new list of `di_…` ids. */
  function applyDiscounts(sub: Json, list: FormValue): { status: number; json: unknown } | null {
    const entries = Array.isArray(list) ? (list as Array<Record<string, FormValue>>) : [];
    const ids: string[] = [];
    for (const entry of entries) {
      if (typeof entry.discount === "string") {
        if (!discounts.has(entry.discount)) return missing("discount", entry.discount);
        ids.push(entry.discount);
        continue;
      }
      const coupon = coupons.get(str(entry.coupon));
      if (!coupon) return missing("coupon", str(entry.coupon));
      const id = nextId("di");
      discounts.set(id, {
        id,
        object: "discount",
        customer: sub.customer,
        subscription: sub.id,
        source: { type: "coupon", coupon: coupon.id },
        promotion_code: null,
        start: now(),
        end: null,
      });
      ids.push(id);
    }
    sub.discounts = ids;
    return null;
  }

  /** The percent off of the subscription's discounts (amount-off coupons are not previewed). */
  function percentOff(sub: Json): number {
    const ids = Array.isArray(sub.discounts) ? (sub.discounts as string[]) : [];
    return ids.reduce((sum, id) => {
      const source = (discounts.get(id)?.source ?? {}) as Json;
      return sum + (coupons.get(String(source.coupon))?.percentOff ?? 0);
    }, 0);
  }

  function renderSubscription(sub: Json, body: Record<string, FormValue>): Json {
    const expand = Array.isArray(body.expand) ? (body.expand as string[]) : [];
    const out = structuredClone(sub);
    out.discounts = Array.isArray(sub.discounts) ? sub.discounts : [];
    if (expand.includes("discounts")) out.discounts = (out.discounts as string[]).map((id) => discounts.get(id));
    if (expand.includes("latest_invoice") && typeof out.latest_invoice === "string") {
      const invoice = invoices.get(out.latest_invoice);
      if (invoice) {
        const { payment: _payment, ...rest } = invoice;
        out.latest_invoice = rest;
      }
    }
    return out;
  }

  function preview(body: Record<string, FormValue>): { status: number; json: unknown } {
    const subId = str(body.subscription);
    const sub = subscriptions.get(subId);
    if (!sub) return missing("subscription", subId);
    const item = itemOf(sub);
    const oldPrice = item.price as Json;
    const oldAmount = (oldPrice.unit_amount as number) * (item.quantity as number);
    const details = (body.subscription_details ?? {}) as Record<string, FormValue>;
    const changes = Array.isArray(details.items) ? (details.items as Array<Record<string, FormValue>>) : [];
    const starting = balances.get(String(sub.customer)) ?? 0;
    const lines: Json[] = [];
    const line = (amount: number, proration: boolean, priceId: string, period: { start: number; end: number }) => ({
      object: "line_item",
      amount,
      period,
      pricing: { price_details: { price: priceId } },
      parent: { type: "subscription_item_details", subscription_item_details: { proration, subscription_item: item.id } },
    });
    const start = item.current_period_start as number;
    const end = item.current_period_end as number;
    if (changes.length === 0) {
      lines.push(line(oldAmount, false, String(oldPrice.id), { start: end, end: end + (end - start) }));
    } else {
      const price = priceById(str(changes[0]!.price));
      if (!price) return missing("price", str(changes[0]!.price));
      const newAmount = price.unitAmount * (item.quantity as number);
      const prorationDate = num(details.proration_date) ?? now();
      lines.push(line(-Math.round(oldAmount / 2), true, String(oldPrice.id), { start: prorationDate, end }));
      const oldInterval = (oldPrice.recurring as Json | null)?.interval;
      if (oldInterval !== price.interval) {
        const length = price.interval === "year" ? 365 * 86400 : 30 * 86400;
        lines.push(line(newAmount, false, price.id, { start: prorationDate, end: prorationDate + length }));
      } else {
        lines.push(line(Math.round(newAmount / 2), true, price.id, { start: prorationDate, end }));
      }
    }
    const subtotal = lines.reduce((sum, l) => sum + (l.amount as number), 0);
    const discount = subtotal > 0 ? Math.round((subtotal * percentOff(sub)) / 100) : 0;
    const tax = subtotal > 0 ? Math.round(((subtotal - discount) * previewTaxPercent) / 100) : 0;
    const total = subtotal - discount + tax;
    return {
      status: 200,
      json: {
        object: "invoice",
        id: null,
        customer: sub.customer,
        subscription: sub.id,
        currency: "usd",
        status: "draft",
        total,
        subtotal,
        total_discount_amounts: discount ? [{ amount: discount, discount: (sub.discounts as string[])[0] }] : [],
        total_taxes: tax
          ? [{ amount: tax, tax_behavior: "exclusive", taxable_amount: subtotal - discount, taxability_reason: "standard_rated", type: "tax_rate_details", tax_rate_details: { tax_rate: "txr_test" } }]
          : [],
        amount_due: Math.max(0, total + starting),
        starting_balance: starting,
        ending_balance: null,
        lines: { object: "list", has_more: false, data: lines },
      },
    };
  }

  function handle(method: string, path: string, body: Record<string, FormValue>): { status: number; json: unknown } {
    const metering = handleMetering(method, path, body);
    if (metering) return metering;
    const subMatch = /^\/v1\/subscriptions\/([^/]+)$/.exec(path);
    if (subMatch) {
      const id = subMatch[1]!;
      if (method === "GET") {
        const sub = subscriptions.get(id);
        return sub ? { status: 200, json: renderSubscription(sub, body) } : missing("subscription", id);
      }
      if (method === "POST") {
        const sub = subscriptions.get(id);
        if (sub && body.discounts !== undefined) {
          const refused = applyDiscounts(sub, body.discounts);
          if (refused) return refused;
        }
        return updateSubscription(id, body);
      }
    }
    if (method === "GET" && path === "/v1/subscriptions") {
      // `?customer=` (any status): the subscriptions put with `putSubscription`, newest last; none had a trial.
      const data = [...subscriptions.values()]
        .filter((sub) => body.customer === undefined || sub.customer === body.customer)
        .map((sub) => ({ trial_start: null, trial_end: null, ...renderSubscription(sub, body) }));
      return { status: 200, json: { object: "list", url: "/v1/subscriptions", has_more: false, data } };
    }
    const couponMatch = /^\/v1\/coupons\/([^/]+)$/.exec(path);
    if (method === "GET" && couponMatch) {
      const coupon = coupons.get(couponMatch[1]!);
      return coupon ? { status: 200, json: couponJson(coupon) } : missing("coupon", couponMatch[1]!);
    }
    if (method === "POST" && path === "/v1/invoices/create_preview") return preview(body);
    if (method === "POST" && path === "/v1/payment_intents") return createPaymentIntent(body);
    const cardsMatch = /^\/v1\/customers\/([^/]+)\/payment_methods$/.exec(path);
    if (method === "GET" && cardsMatch) {
      const card = savedCards.get(cardsMatch[1]!);
      const data = card ? [{ id: card, object: "payment_method", type: "card", customer: cardsMatch[1] }] : [];
      return { status: 200, json: { object: "list", url: path, has_more: false, data } };
    }
    const piMatch = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
    if (method === "GET" && piMatch) {
      const pi = paymentIntents.get(piMatch[1]!);
      return pi ? { status: 200, json: pi } : missing("payment_intent", piMatch[1]!);
    }
    if (method === "GET" && path === "/v1/invoice_payments") {
      const invoice = invoices.get(str(body.invoice));
      const data = invoice
        ? [{ object: "invoice_payment", invoice: invoice.id, payment: { type: "payment_intent", payment_intent: invoice.payment } }]
        : [];
      return { status: 200, json: { object: "list", url: "/v1/invoice_payments", has_more: false, data } };
    }
    if (method === "POST" && path === "/v1/subscription_schedules") {
      const subId = str(body.from_subscription);
      const sub = subscriptions.get(subId);
      if (!sub) return missing("subscription", subId);
      if (sub.schedule) return invalid(`You cannot migrate a subscription that is already attached to a schedule: \`${str(sub.schedule)}\`.`);
      const item = itemOf(sub);
      const schedule: Json = {
        id: nextId("sub_sched"),
        object: "subscription_schedule",
        subscription: subId,
        customer: sub.customer,
        status: "active",
        end_behavior: "release",
        released_subscription: null,
        phases: [
          {
            start_date: item.current_period_start,
            end_date: item.current_period_end,
            // Every item of the subscription, as Stripe copies them (a metered one has no quantity).
            items: ((sub.items as Json).data as Json[]).map((i) => ({ price: (i.price as Json).id, quantity: i.quantity })),
            metadata: {},
            proration_behavior: "create_prorations",
          },
        ],
      };
      schedules.set(schedule.id as string, schedule);
      sub.schedule = schedule.id;
      return { status: 200, json: schedule };
    }
    const schedMatch = /^\/v1\/subscription_schedules\/([^/]+)(\/release)?$/.exec(path);
    if (schedMatch) {
      const schedule = schedules.get(schedMatch[1]!);
      if (!schedule) return missing("subscription_schedule", schedMatch[1]!);
      if (method === "GET" && !schedMatch[2]) return { status: 200, json: schedule };
      if (method === "POST" && schedMatch[2]) {
        if (schedule.status !== "active" && schedule.status !== "not_started") {
          return invalid(`You cannot release a subscription schedule that is currently in the \`${String(schedule.status)}\` status.`);
        }
        schedule.status = "released";
        schedule.released_subscription = schedule.subscription;
        const sub = subscriptions.get(String(schedule.subscription));
        if (sub) sub.schedule = null;
        schedule.subscription = null;
        return { status: 200, json: schedule };
      }
      if (method === "POST") {
        if (schedule.status !== "active" && schedule.status !== "not_started") {
          return invalid(`You cannot update a subscription schedule that is currently in the \`${String(schedule.status)}\` status.`);
        }
        if (typeof body.end_behavior === "string") schedule.end_behavior = body.end_behavior;
        if (Array.isArray(body.phases)) {
          let previousEnd: number | null = null;
          schedule.phases = (body.phases as Array<Record<string, FormValue>>).map((phase) => {
            const startDate: number = num(phase.start_date) ?? previousEnd ?? now();
            const duration = phase.duration as Record<string, FormValue> | undefined;
            const length = duration ? (duration.interval === "year" ? 365 * 86400 : 30 * 86400) * Number(duration.interval_count ?? 1) : 30 * 86400;
            const endDate: number = num(phase.end_date) ?? startDate + length;
            previousEnd = endDate;
            return { ...phase, start_date: startDate, end_date: endDate };
          });
        }
        return { status: 200, json: schedule };
      }
    }
    if (method === "GET" && path === "/v1/billing_portal/configurations") {
      const active = body.active === undefined ? undefined : body.active === "true";
      const data = portalConfigurations.filter((c) => active === undefined || c.active === active);
      return { status: 200, json: { object: "list", url: path, has_more: false, data } };
    }
    if (method === "POST" && path === "/v1/billing_portal/configurations") {
      const config = { id: nextId("bpc"), object: "billing_portal.configuration", active: true, is_default: false, ...body };
      portalConfigurations.push(config);
      return { status: 200, json: config };
    }
    const configMatch = /^\/v1\/billing_portal\/configurations\/([^/]+)$/.exec(path);
    if (method === "POST" && configMatch) {
      const config = portalConfigurations.find((c) => c.id === configMatch[1]);
      if (!config) return missing("configuration", configMatch[1]!);
      Object.assign(config, body, { active: body.active === undefined ? config.active : body.active === "true" });
      return { status: 200, json: config };
    }
    if (method === "POST" && path === "/v1/test_helpers/test_clocks") {
      const clock = {
        id: nextId("clock"),
        object: "test_helpers.test_clock",
        frozen_time: num(body.frozen_time),
        name: body.name ?? null,
        status: "ready",
      };
      testClocks.push(clock);
      return { status: 200, json: clock };
    }
    if (method === "POST" && path === "/v1/customers") {
      const customer = {
        id: nextId("cus"),
        object: "customer",
        created: now(),
        email: body.email ?? null,
        name: body.name ?? null,
        metadata: body.metadata ?? {},
        test_clock: body.test_clock ?? null,
        livemode: false,
      };
      customers.push(customer);
      return { status: 200, json: customer };
    }
    const customerMatch = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === "GET" && customerMatch) {
      const found = customers.find((c) => c.id === customerMatch[1]);
      return found
        ? { status: 200, json: found }
        : { status: 404, json: errorJson({ status: 404, type: "invalid_request_error", code: "resource_missing", message: "No such customer" }) };
    }
    if (method === "GET" && path === "/v1/prices") {
      const keys = Array.isArray(body.lookup_keys) ? (body.lookup_keys as string[]) : [];
      const expand = Array.isArray(body.expand) ? (body.expand as string[]) : [];
      const activeFilter = body.active === undefined ? undefined : body.active === "true";
      const data = keys
        .map((k) => prices.get(k))
        .filter((p): p is FakePrice => p !== undefined && (activeFilter === undefined || p.active === activeFilter))
        .map((p) => priceJson(p, expand.includes("data.product"), expand.includes("data.currency_options")));
      return { status: 200, json: { object: "list", url: "/v1/prices", has_more: false, data } };
    }
    if (method === "POST" && path === "/v1/checkout/sessions") {
      const id = nextId("cs");
      return {
        status: 200,
        json: {
          id,
          object: "checkout.session",
          url: `https://checkout.stripe.test/c/pay/${id}`,
          mode: body.mode ?? null,
          customer: body.customer ?? null,
          currency: body.currency ?? null,
          client_reference_id: body.client_reference_id ?? null,
          metadata: body.metadata ?? {},
          success_url: body.success_url ?? null,
          cancel_url: body.cancel_url ?? null,
          status: "open",
          livemode: false,
          created: now(),
        },
      };
    }
    if (method === "POST" && path === "/v1/billing_portal/sessions") {
      const id = nextId("bps");
      return {
        status: 200,
        json: {
          id,
          object: "billing_portal.session",
          url: `https://billing.stripe.test/p/session/${id}`,
          customer: body.customer ?? null,
          return_url: body.return_url ?? null,
          livemode: false,
          created: now(),
        },
      };
    }
    return {
      status: 404,
      json: errorJson({ status: 404, type: "invalid_request_error", message: `Unrecognized request URL (${method}: ${path})` }),
    };
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const raw = method === "GET" || method === "DELETE" ? url.search.replace(/^\?/, "") : await readBody(req);
    const { form, body } = parseStripeForm(raw);
    const header = (name: string) => {
      const h = req.headers[name];
      return typeof h === "string" ? h : null;
    };
    const idempotencyKey = header("idempotency-key");
    const auth = header("authorization");
    const apiKey = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : null;
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      form,
      body,
      idempotencyKey,
      apiKey,
      stripeVersion: header("stripe-version"),
      replayed: false,
      status: 0,
    };
    requests.push(record);

    const send = (status: number, json: unknown, extraHeaders: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { "Content-Type": "application/json", "Request-Id": nextId("req"), ...extraHeaders });
      res.end(JSON.stringify(json));
    };

    if (!apiKey) {
      send(401, errorJson({ status: 401, type: "invalid_request_error", message: "You did not provide an API key." }));
      return;
    }
    const fingerprint = `${method} ${url.pathname} ${raw}`;
    if (method === "POST" && idempotencyKey) {
      const previous = idempotent.get(idempotencyKey);
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          send(
            400,
            errorJson({
              status: 400,
              type: "idempotency_error",
              message: "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            }),
          );
          return;
        }
        record.replayed = true;
        send(previous.status, previous.json, { "Idempotent-Replayed": "true" });
        return;
      }
    }
    const failureIndex = failures.findIndex((f) => f.method === method && f.path === url.pathname);
    if (failureIndex >= 0) {
      const { error } = failures.splice(failureIndex, 1)[0]!;
      // Tell the SDK not to retry, so one injected failure is one failed call.
      send(error.status, errorJson(error), { "Stripe-Should-Retry": "false" });
      return;
    }
    const result = handle(method, url.pathname, body);
    if (method === "POST" && idempotencyKey) idempotent.set(idempotencyKey, { fingerprint, ...result });
    send(result.status, result.json);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsTo: (method, pathPrefix) => requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)),
    customers,
    setPrice: (price) => void prices.set(price.lookupKey, price),
    removePrice: (lookupKey) => void prices.delete(lookupKey),
    failNext: (method, path, error) => void failures.push({ method, path, error }),
    clearRequests: () => void requests.splice(0, requests.length),
    putSubscription,
    subscription: (id) => subscriptions.get(id),
    setUpdateOutcome: (outcome) => void outcomes.push(outcome),
    setCustomerBalance: (customerId, balance) => void balances.set(customerId, balance),
    setSavedCard: (customerId, paymentMethod) => {
      if (!customers.some((c) => c.id === customerId)) {
        customers.push({ id: customerId, object: "customer", created: now(), metadata: {}, invoice_settings: { default_payment_method: null }, livemode: false });
      }
      if (paymentMethod) savedCards.set(customerId, paymentMethod);
      else savedCards.delete(customerId);
    },
    setPaymentOutcome: (outcome) => void (paymentOutcome = outcome),
    meterEvents,
    putCoupon: (coupon) => void coupons.set(coupon.id, coupon),
    setPreviewTaxPercent: (percent) => void (previewTaxPercent = percent),
    schedules,
    portalConfigurations,
    testClocks,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
