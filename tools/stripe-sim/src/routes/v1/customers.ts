/**
 * `/v1/customers`: create, retrieve, update (balance changes as adjustments),
 * delete, list, a customer's payment methods, and its balance transactions.
 */
import {
  adjustBalance,
  cancelSubscriptionNow,
  createCustomer,
  getCustomer,
  idOf,
  resolvePaymentMethod,
  updateCustomer,
} from "../../billing.ts";
import type { SimContext } from "../../context.ts";
import { paramMissing } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { int, mergeMetadata, metadataOf, obj, str } from "../../form.ts";
import type { Router } from "../../router.ts";
import { createdFilter, requireStr, responders } from "../common.ts";
import { applyCustomerExtras, registerCustomerDiscountRoutes } from "./customerDiscounts.ts";

export function registerCustomerRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);
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
    applyCustomerExtras(ctx, customer, p);
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
    applyCustomerExtras(ctx, customer, p);
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
  registerCustomerDiscountRoutes(router, ctx);
  router.on("GET", "/v1/customers/:id/payment_methods", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const type = str(req.query.type);
    const items = newestFirst(Object.values(state().paymentMethods)).filter((pm) => pm.customer === customer.id && (!type || pm.type === type));
    return list(req, items, `/v1/customers/${customer.id}/payment_methods`);
  });

  router.on("POST", "/v1/customers/:id/balance_transactions", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const p = req.body;
    const amount = int(p.amount);
    if (amount === undefined) throw paramMissing("amount");
    const currency = requireStr(p, "currency").toLowerCase();
    const txn = adjustBalance(ctx, customer, amount, {
      type: "adjustment",
      currency,
      description: str(p.description) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
    });
    return one(req, txn);
  });
  router.on("GET", "/v1/customers/:id/balance_transactions", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const items = newestFirst(Object.values(ctx.store.state.balanceTransactions)).filter((t) => t.customer === customer.id);
    return list(req, items, `/v1/customers/${customer.id}/balance_transactions`);
  });
}
