/**
 * The `/v1` REST API, in Stripe's wire format. Handlers read bracket-decoded
 * params, call the billing engine, and render objects with `expand[]`.
 * Auth, idempotency and error shaping are done around them in `server.ts`.
 */
import type Stripe from "stripe";
import {
  adjustBalance,
  cancelSubscriptionNow,
  createCustomer,
  createSubscription,
  getCheckoutSession,
  getCustomer,
  getInvoice,
  getPrice,
  getProduct,
  getSubscription,
  idOf,
  payInvoiceFromApi,
  resolvePaymentMethod,
  updateCustomer,
  voidInvoice,
} from "../billing.ts";
import { buildPrice, buildProduct, buildTestClock, buildWebhookEndpoint } from "../builders.ts";
import { createCheckoutSession, expireCheckoutSession } from "../checkout.ts";
import { advanceClock } from "../clock.ts";
import type { SimContext } from "../context.ts";
import { found, invalid, paramMissing } from "../errors.ts";
import { deliverySucceeded, emit } from "../events.ts";
import { newestFirst } from "../expand.ts";
import { arr, bool, int, mergeMetadata, metadataOf, obj, str, strs } from "../form.ts";
import { randomToken } from "../ids.ts";
import type { Router } from "../router.ts";
import { createdFilter, requireStr, responders } from "./common.ts";

export function registerApiRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);

  // ---- Customers ---------------------------------------------------------
  router.on("POST", "/v1/customers", (req) => {
    const p = req.body;
    const customer = createCustomer(ctx, {
      email: str(p.email) ?? null,
      name: str(p.name) ?? null,
      description: str(p.description) ?? null,
      phone: str(p.phone) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
      testClock: str(p.test_clock) ?? null,
    });
    const pm = str(p.payment_method);
    if (pm) {
      const attached = resolvePaymentMethod(ctx, pm, customer.id);
      const defaultPm = str(obj(p.invoice_settings)?.default_payment_method);
      if (defaultPm) customer.invoice_settings.default_payment_method = attached.id;
    }
    return one(req, customer);
  });
  router.on("GET", "/v1/customers/:id", (req) => one(req, getCustomer(ctx, req.params.id ?? "", "id")));
  router.on("POST", "/v1/customers/:id", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "id");
    const p = req.body;
    const settings = obj(p.invoice_settings);
    const defaultPm = str(settings?.default_payment_method);
    const resolved = defaultPm ? resolvePaymentMethod(ctx, defaultPm, customer.id, "invoice_settings[default_payment_method]").id : undefined;
    updateCustomer(ctx, customer, (c) => {
      if (p.email !== undefined) c.email = str(p.email) || null;
      if (p.name !== undefined) c.name = str(p.name) || null;
      if (p.description !== undefined) c.description = str(p.description) || null;
      if (p.phone !== undefined) c.phone = str(p.phone) || null;
      c.metadata = mergeMetadata(c.metadata, metadataOf(p.metadata), p.metadata);
      if (resolved !== undefined) c.invoice_settings.default_payment_method = resolved;
    });
    const balance = int(p.balance);
    if (balance !== undefined && balance !== customer.balance) {
      adjustBalance(ctx, customer, balance - customer.balance, { type: "adjustment" });
    }
    return one(req, customer);
  });
  router.on("DELETE", "/v1/customers/:id", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "id");
    for (const sub of Object.values(state().subscriptions)) {
      if (idOf(sub.customer) === customer.id) cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    }
    delete state().customers[customer.id];
    emit(ctx, "customer.deleted", customer, { customer: customer.id });
    return ok({ id: customer.id, object: "customer", deleted: true });
  });
  router.on("GET", "/v1/customers", (req) => {
    const q = req.query;
    const email = str(q.email);
    const clock = str(q.test_clock);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().customers)).filter(
      (c) => (!email || c.email === email) && (!clock || c.test_clock === clock) && when(c.created),
    );
    return list(req, items, "/v1/customers");
  });
  router.on("GET", "/v1/customers/:id/payment_methods", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const items = newestFirst(Object.values(state().paymentMethods)).filter((pm) => pm.customer === customer.id);
    return list(req, items, `/v1/customers/${customer.id}/payment_methods`);
  });

  // ---- Products ----------------------------------------------------------
  router.on("POST", "/v1/products", (req) => {
    const p = req.body;
    const id = str(p.id);
    if (id && state().products[id]) {
      throw invalid(`Product already exists.`, "id", "resource_already_exists");
    }
    const product = buildProduct({
      id,
      created: ctx.store.now(),
      name: requireStr(p, "name"),
      description: str(p.description) ?? null,
      active: bool(p.active) ?? true,
      metadata: metadataOf(p.metadata) ?? {},
    });
    state().products[product.id] = product;
    emit(ctx, "product.created", product);
    return one(req, product);
  });
  router.on("GET", "/v1/products/:id", (req) => one(req, getProduct(ctx, req.params.id ?? "", "id")));
  router.on("POST", "/v1/products/:id", (req) => {
    const product = getProduct(ctx, req.params.id ?? "", "id");
    const p = req.body;
    if (str(p.name)) product.name = str(p.name) ?? product.name;
    if (p.description !== undefined) product.description = str(p.description) || null;
    const active = bool(p.active);
    if (active !== undefined) product.active = active;
    product.metadata = mergeMetadata(product.metadata, metadataOf(p.metadata), p.metadata);
    product.updated = ctx.store.now();
    emit(ctx, "product.updated", product);
    return one(req, product);
  });
  router.on("GET", "/v1/products", (req) => {
    const q = req.query;
    const active = bool(q.active);
    const ids = strs(q.ids);
    const items = newestFirst(Object.values(state().products)).filter(
      (p) => (active === undefined || p.active === active) && (ids.length === 0 || ids.includes(p.id)),
    );
    return list(req, items, "/v1/products");
  });

  // ---- Prices ------------------------------------------------------------
  const claimLookupKey = (lookupKey: string, transfer: boolean, exceptId?: string) => {
    const holder = Object.values(state().prices).find((pr) => pr.lookup_key === lookupKey && pr.id !== exceptId);
    if (!holder) return;
    if (!transfer) {
      throw invalid(`A price (\`${holder.id}\`) already uses that lookup key.`, "lookup_key", "lookup_key_already_exists");
    }
    holder.lookup_key = null;
    emit(ctx, "price.updated", holder, { previous: { lookup_key: lookupKey } });
  };
  router.on("POST", "/v1/prices", (req) => {
    const p = req.body;
    let productId = str(p.product);
    const productData = obj(p.product_data);
    if (!productId && productData) {
      const product = buildProduct({
        created: ctx.store.now(),
        name: requireStr(productData, "name"),
        description: null,
        active: true,
        metadata: metadataOf(productData.metadata) ?? {},
      });
      state().products[product.id] = product;
      emit(ctx, "product.created", product);
      productId = product.id;
    }
    if (!productId) throw paramMissing("product");
    getProduct(ctx, productId, "product");
    const unitAmount = int(p.unit_amount);
    if (unitAmount === undefined || unitAmount < 0) throw paramMissing("unit_amount");
    const currency = requireStr(p, "currency").toLowerCase();
    const rec = obj(p.recurring);
    const interval = rec ? str(rec.interval) : undefined;
    if (rec && !["day", "week", "month", "year"].includes(interval ?? "")) {
      throw invalid("Invalid recurring[interval]: must be one of day, week, month, or year", "recurring[interval]");
    }
    const lookupKey = str(p.lookup_key) ?? null;
    if (lookupKey) claimLookupKey(lookupKey, bool(p.transfer_lookup_key) ?? false);
    const price = buildPrice({
      created: ctx.store.now(),
      product: productId,
      currency,
      unitAmount,
      recurring: rec
        ? {
            interval: interval as Stripe.Price.Recurring.Interval,
            intervalCount: int(rec.interval_count) ?? 1,
            trialPeriodDays: int(rec.trial_period_days) ?? null,
          }
        : null,
      lookupKey,
      nickname: str(p.nickname) ?? null,
      active: bool(p.active) ?? true,
      metadata: metadataOf(p.metadata) ?? {},
    });
    state().prices[price.id] = price;
    emit(ctx, "price.created", price);
    return one(req, price);
  });
  router.on("GET", "/v1/prices/:id", (req) => one(req, getPrice(ctx, req.params.id ?? "", "id")));
  router.on("POST", "/v1/prices/:id", (req) => {
    const price = getPrice(ctx, req.params.id ?? "", "id");
    const p = req.body;
    const before = { active: price.active, lookup_key: price.lookup_key, nickname: price.nickname, metadata: price.metadata };
    const active = bool(p.active);
    if (active !== undefined) price.active = active;
    if (p.nickname !== undefined) price.nickname = str(p.nickname) || null;
    if (p.lookup_key !== undefined) {
      const key = str(p.lookup_key) || null;
      if (key) claimLookupKey(key, bool(p.transfer_lookup_key) ?? false, price.id);
      price.lookup_key = key;
    }
    price.metadata = mergeMetadata(price.metadata, metadataOf(p.metadata), p.metadata);
    emit(ctx, "price.updated", price, { previous: before });
    return one(req, price);
  });
  router.on("GET", "/v1/prices", (req) => {
    const q = req.query;
    const active = bool(q.active);
    const product = str(q.product);
    const type = str(q.type);
    const currency = str(q.currency);
    const keys = strs(q.lookup_keys);
    const interval = str(obj(q.recurring)?.interval);
    const items = newestFirst(Object.values(state().prices)).filter(
      (p) =>
        (active === undefined || p.active === active) &&
        (!product || p.product === product) &&
        (!type || p.type === type) &&
        (!currency || p.currency === currency) &&
        (keys.length === 0 || (p.lookup_key !== null && keys.includes(p.lookup_key))) &&
        (!interval || p.recurring?.interval === interval),
    );
    return list(req, items, "/v1/prices");
  });

  // ---- Payment methods ---------------------------------------------------
  router.on("GET", "/v1/payment_methods/:id", (req) => {
    const pm = found(state().paymentMethods[req.params.id ?? ""], "payment_method", req.params.id ?? "", "id");
    return one(req, pm);
  });
  router.on("POST", "/v1/payment_methods/:id/attach", (req) => {
    const customer = getCustomer(ctx, requireStr(req.body, "customer"));
    return one(req, resolvePaymentMethod(ctx, req.params.id ?? "", customer.id, "payment_method"));
  });
  router.on("POST", "/v1/payment_methods/:id/detach", (req) => {
    const pm = found(state().paymentMethods[req.params.id ?? ""], "payment_method", req.params.id ?? "", "id");
    const customerId = idOf(pm.customer);
    pm.customer = null;
    emit(ctx, "payment_method.detached", pm, { customer: customerId, previous: { customer: customerId } });
    return one(req, pm);
  });
  router.on("GET", "/v1/payment_methods", (req) => {
    const customer = str(req.query.customer);
    const items = newestFirst(Object.values(state().paymentMethods)).filter((pm) => !customer || pm.customer === customer);
    return list(req, items, "/v1/payment_methods");
  });
  router.on("GET", "/v1/invoice_payments", (req) => {
    const invoice = str(req.query.invoice);
    const items = newestFirst(Object.values(state().invoicePayments ?? {})).filter((p) => !invoice || p.invoice === invoice);
    return list(req, items, "/v1/invoice_payments");
  });
  router.on("GET", "/v1/payment_intents/:id", (req) => {
    const pi = found(state().paymentIntents[req.params.id ?? ""], "payment_intent", req.params.id ?? "", "intent");
    return one(req, pi);
  });

  // ---- Checkout ----------------------------------------------------------
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
        return { price, quantity: int(o.quantity) ?? 1 };
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
      paymentIntentMetadata: metadataOf(piData?.metadata) ?? {},
      invoiceCreation: bool(obj(p.invoice_creation)?.enabled)
        ? {
            description: str(obj(obj(p.invoice_creation)?.invoice_data)?.description) ?? null,
            metadata: metadataOf(obj(obj(p.invoice_creation)?.invoice_data)?.metadata) ?? {},
          }
        : null,
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

  // ---- Subscriptions -----------------------------------------------------
  router.on("POST", "/v1/subscriptions", (req) => {
    const p = req.body;
    const customer = getCustomer(ctx, requireStr(p, "customer"));
    const pmParam = str(p.default_payment_method);
    const pm = pmParam ? resolvePaymentMethod(ctx, pmParam, customer.id, "default_payment_method").id : null;
    const { subscription } = createSubscription(ctx, {
      customer: customer.id,
      items: arr(p.items).map((it, i) => {
        const o = obj(it) ?? {};
        const price = str(o.price);
        if (!price) throw paramMissing(`items[${i}][price]`);
        return { price, quantity: int(o.quantity) ?? 1 };
      }),
      metadata: metadataOf(p.metadata) ?? {},
      description: str(p.description) ?? null,
      trialDays: int(p.trial_period_days) ?? null,
      paymentMethod: pm,
      atCheckout: false,
      authenticated: false,
    });
    return one(req, subscription);
  });
  router.on("GET", "/v1/subscriptions/:id", (req) => one(req, getSubscription(ctx, req.params.id ?? "", "id")));
  router.on("GET", "/v1/subscriptions", (req) => {
    const q = req.query;
    const customer = str(q.customer), status = str(q.status), price = str(q.price), clock = str(q.test_clock);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().subscriptions)).filter(
      (s) =>
        (!customer || s.customer === customer) &&
        (status === "all" ? true : status ? s.status === status : s.status !== "canceled" && s.status !== "incomplete_expired") &&
        (!price || s.items.data.some((i) => i.price.id === price)) &&
        (!clock || s.test_clock === clock) &&
        when(s.created),
    );
    return list(req, items, "/v1/subscriptions");
  });

  // ---- Invoices ----------------------------------------------------------
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

  // ---- Events ------------------------------------------------------------
  router.on("GET", "/v1/events/:id", (req) => {
    const ev = found(state().events[req.params.id ?? ""], "event", req.params.id ?? "", "id");
    return one(req, ev);
  });
  router.on("GET", "/v1/events", (req) => {
    const q = req.query;
    const type = str(q.type);
    const types = strs(q.types);
    const delivery = bool(q.delivery_success);
    const when = createdFilter(q);
    const matchType = (t: string) => {
      if (types.length > 0) return types.includes(t);
      if (!type) return true;
      // Stripe allows one `*` wildcard, e.g. `invoice.*`.
      if (type.includes("*")) return new RegExp(`^${type.split("*").map((s) => s.replace(/[.]/g, "\\.")).join(".*")}$`).test(t);
      return t === type;
    };
    const ids = [...state().eventOrder].reverse();
    const items = ids
      .map((id) => state().events[id])
      .filter((e): e is Stripe.Event => e !== undefined)
      .sort((a, b) => b.created - a.created)
      .filter(
        (e) =>
          matchType(e.type) &&
          when(e.created) &&
          (delivery === undefined ||
            (Object.keys(state().eventDelivery[e.id] ?? {}).length > 0 && deliverySucceeded(ctx, e.id) === delivery)),
      );
    return list(req, items, "/v1/events");
  });

  // ---- Test clocks -------------------------------------------------------
  router.on("POST", "/v1/test_helpers/test_clocks", (req) => {
    const frozen = int(req.body.frozen_time);
    if (frozen === undefined) throw paramMissing("frozen_time");
    const clock = buildTestClock({ created: ctx.store.realNow(), frozenTime: frozen, name: str(req.body.name) ?? null });
    state().testClocks[clock.id] = clock;
    emit(ctx, "test_helpers.test_clock.created", clock);
    return one(req, clock);
  });
  router.on("GET", "/v1/test_helpers/test_clocks/:id", (req) => {
    const clock = found(state().testClocks[req.params.id ?? ""], "test_helpers.test_clock", req.params.id ?? "", "test_clock");
    return one(req, clock);
  });
  router.on("GET", "/v1/test_helpers/test_clocks", (req) =>
    list(req, newestFirst(Object.values(state().testClocks)), "/v1/test_helpers/test_clocks"),
  );
  router.on("POST", "/v1/test_helpers/test_clocks/:id/advance", (req) => {
    const frozen = int(req.body.frozen_time);
    if (frozen === undefined) throw paramMissing("frozen_time");
    return one(req, advanceClock(ctx, req.params.id ?? "", frozen));
  });
  router.on("DELETE", "/v1/test_helpers/test_clocks/:id", (req) => {
    const clock = found(state().testClocks[req.params.id ?? ""], "test_helpers.test_clock", req.params.id ?? "", "test_clock");
    delete state().testClocks[clock.id];
    emit(ctx, "test_helpers.test_clock.deleted", clock);
    return ok({ id: clock.id, object: "test_helpers.test_clock", deleted: true });
  });

  // ---- Webhook endpoints -------------------------------------------------
  router.on("POST", "/v1/webhook_endpoints", (req) => {
    const p = req.body;
    const ep = buildWebhookEndpoint({
      created: ctx.store.realNow(),
      url: requireStr(p, "url"),
      enabledEvents: strs(p.enabled_events).length > 0 ? strs(p.enabled_events) : (() => { throw paramMissing("enabled_events"); })(),
      secret: `whsec_${randomToken(32)}`,
      description: str(p.description) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
    });
    state().webhookEndpoints[ep.id] = ep;
    return one(req, ep);
  });
  const endpoint = (id: string) => found(state().webhookEndpoints[id], "webhook_endpoint", id);
  // The secret is only returned at creation, as in Stripe.
  const hideSecret = (ep: Stripe.WebhookEndpoint & { secret: string }) => {
    const { secret: _secret, ...rest } = ep;
    return rest;
  };
  router.on("GET", "/v1/webhook_endpoints/:id", (req) => one(req, hideSecret(endpoint(req.params.id ?? ""))));
  router.on("POST", "/v1/webhook_endpoints/:id", (req) => {
    const ep = endpoint(req.params.id ?? "");
    const p = req.body;
    if (str(p.url)) ep.url = str(p.url) ?? ep.url;
    if (strs(p.enabled_events).length > 0) ep.enabled_events = strs(p.enabled_events);
    const disabled = bool(p.disabled);
    if (disabled !== undefined) ep.status = disabled ? "disabled" : "enabled";
    ep.metadata = mergeMetadata(ep.metadata, metadataOf(p.metadata), p.metadata);
    return one(req, hideSecret(ep));
  });
  router.on("DELETE", "/v1/webhook_endpoints/:id", (req) => {
    const ep = endpoint(req.params.id ?? "");
    delete state().webhookEndpoints[ep.id];
    return ok({ id: ep.id, object: "webhook_endpoint", deleted: true });
  });
  router.on("GET", "/v1/webhook_endpoints", (req) =>
    list(req, newestFirst(Object.values(state().webhookEndpoints)).map(hideSecret) as (Stripe.WebhookEndpoint & { id: string })[], "/v1/webhook_endpoints"),
  );

}
