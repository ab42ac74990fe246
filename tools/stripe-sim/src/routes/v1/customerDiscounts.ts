/**
 * A customer's discount, address and tax ids:
 * `coupon` / `promotion_code` on `POST /v1/customers[/:id]` (the pre-2025
 * params, still accepted here so an operator can attach a coupon; the SDK
 * types no longer list them), `DELETE /v1/customers/:id/discount`,
 * `address`, and `/v1/customers/:id/tax_ids` (create, list, retrieve, delete).
 */
import type Stripe from "stripe";
import { getCustomer, redeem, resolveDiscountRefs, updateCustomer } from "../../billing.ts";
import { buildTaxId } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { found, invalid } from "../../errors.ts";
import { newestFirst } from "../../expand.ts";
import { arr, obj, str, type FormObject, type FormValue } from "../../form.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

/** `address[...]` as a Stripe Address; `undefined` when absent, `null` for `""`. */
export function addressOf(v: FormValue | undefined): Stripe.Address | null | undefined {
  if (v === undefined) return undefined;
  if (v === "") return null;
  const o = obj(v) ?? {};
  const s = (k: string) => str(o[k]) || null;
  return { city: s("city"), country: s("country")?.toUpperCase() ?? null, line1: s("line1"), line2: s("line2"), postal_code: s("postal_code"), state: s("state") };
}

/**
 * Applies `coupon`, `promotion_code`, `address` and `tax_id_data` from a
 * customer create/update. A new coupon replaces the customer's discount;
 * `coupon=""` removes it. The discount applies to the customer's later
 * invoices of subscriptions without a discount of their own.
 */
export function applyCustomerExtras(ctx: SimContext, customer: Stripe.Customer, p: FormObject): void {
  const address = addressOf(p.address);
  const coupon = str(p.coupon);
  const promotionCode = str(p.promotion_code);
  updateCustomer(ctx, customer, (c) => {
    if (address !== undefined) c.address = address;
    if (coupon === "" || promotionCode === "") c.discount = null;
    if (coupon || promotionCode) {
      const now = ctx.store.now(c.id);
      const order = { customer: c.id, currency: c.currency ?? "usd", subtotal: Number.MAX_SAFE_INTEGER, now };
      const ref = coupon ? { coupon } : { promotionCode };
      const [picked] = resolveDiscountRefs(ctx, [ref], order, coupon ? "coupon" : "promotion_code");
      if (picked) c.discount = redeem(ctx, picked, { customer: c.id }, now);
    }
  });
  for (const [i, d] of arr(p.tax_id_data).entries()) {
    const o = obj(d) ?? {};
    addTaxId(ctx, customer, requireStr(o, "type"), requireStr(o, "value"), `tax_id_data[${i}]`);
  }
}

function addTaxId(ctx: SimContext, customer: Stripe.Customer, type: string, value: string, param: string): Stripe.TaxId {
  if (!/^[a-z]{2,3}_[a-z_]+$/.test(type) && type !== "unknown") throw invalid(`Invalid value for ${param}[type].`, `${param}[type]`);
  const taxId = buildTaxId({
    created: ctx.store.now(customer.id),
    customer: customer.id,
    type: type,
    value: value.replace(/\s+/g, "").toUpperCase(),
    country: type === "eu_vat" ? value.slice(0, 2).toUpperCase() : (customer.address?.country ?? null),
  });
  ctx.store.state.taxIds[taxId.id] = taxId;
  return taxId;
}

export function registerCustomerDiscountRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);
  router.on("DELETE", "/v1/customers/:id/discount", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const discount = customer.discount;
    if (!discount) throw invalid(`No active discount for customer: '${customer.id}'`, "customer", "resource_missing");
    updateCustomer(ctx, customer, (c) => {
      c.discount = null;
    });
    return ok({ ...discount, deleted: true });
  });
  router.on("POST", "/v1/customers/:id/tax_ids", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    return one(req, addTaxId(ctx, customer, requireStr(req.body, "type"), requireStr(req.body, "value"), "tax_id"));
  });
  router.on("GET", "/v1/customers/:id/tax_ids", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const items = newestFirst(Object.values(state().taxIds)).filter((t) => t.customer === customer.id);
    return list(req, items, `/v1/customers/${customer.id}/tax_ids`);
  });
  router.on("GET", "/v1/customers/:id/tax_ids/:taxId", (req) => {
    const taxId = found(state().taxIds[req.params.taxId ?? ""], "tax_id", req.params.taxId ?? "");
    return one(req, taxId);
  });
  router.on("DELETE", "/v1/customers/:id/tax_ids/:taxId", (req) => {
    const taxId = found(state().taxIds[req.params.taxId ?? ""], "tax_id", req.params.taxId ?? "");
    delete state().taxIds[taxId.id];
    return ok({ id: taxId.id, object: "tax_id", deleted: true });
  });
}
