/**
 * The catalogue: `/v1/products` and `/v1/prices` (create, retrieve, update,
 * list; prices by `lookup_keys`, `transfer_lookup_key`).
 */
import type Stripe from "stripe";
import { getMeter, getPrice, getProduct } from "../../billing.ts";
import { buildPrice, buildProduct, decimal } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { invalid, paramMissing } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { bool, type FormObject, int, mergeMetadata, metadataOf, obj, str, strs } from "../../form.ts";
import type { Router } from "../../router.ts";
import { requireStr, responders } from "../common.ts";

/**
 * `recurring[usage_type]` and `recurring[meter]`: a metered price must name
 * an existing meter and bill `per_unit` (tiered prices are not simulated);
 * a meter is refused on a licensed price.
 */
function meteringOf(ctx: SimContext, rec: FormObject, p: FormObject): { usageType: Stripe.Price.Recurring.UsageType; meter: string | null } {
  const usageType = str(rec.usage_type) ?? "licensed";
  if (usageType !== "licensed" && usageType !== "metered") {
    throw invalid("Invalid recurring[usage_type]: must be one of licensed or metered", "recurring[usage_type]");
  }
  const meterId = str(rec.meter) || null;
  const scheme = str(p.billing_scheme) ?? "per_unit";
  if (scheme !== "per_unit") {
    throw invalid("The simulator supports only billing_scheme=per_unit (tiered prices are not simulated).", "billing_scheme");
  }
  if (usageType === "licensed") {
    if (meterId) throw invalid("recurring[meter] can only be set when recurring[usage_type] is metered.", "recurring[meter]");
    return { usageType, meter: null };
  }
  if (!meterId) throw paramMissing("recurring[meter]");
  getMeter(ctx, meterId, "recurring[meter]");
  return { usageType, meter: meterId };
}

/**
 * `currency_options[<cur>][unit_amount]` (minor units of `<cur>`): the
 * price's amount in other currencies. The price's own currency is listed too,
 * as Stripe does. The simulator returns them on every price (Stripe only
 * with `expand[]=currency_options`).
 */
function currencyOptionsOf(o: FormObject | undefined, currency: string, unitAmount: number): Record<string, Stripe.Price.CurrencyOptions> {
  const option = (amount: number): Stripe.Price.CurrencyOptions => ({
    custom_unit_amount: null,
    tax_behavior: "unspecified",
    unit_amount: amount,
    unit_amount_decimal: decimal(amount),
  });
  const out: Record<string, Stripe.Price.CurrencyOptions> = { [currency]: option(unitAmount) };
  for (const [cur, v] of Object.entries(o ?? {})) {
    const code = cur.toLowerCase();
    if (code === currency) throw invalid(`currency_options cannot include the price's own currency (${currency}).`, `currency_options[${cur}]`);
    const amount = int(obj(v)?.unit_amount);
    if (amount === undefined || amount < 0) throw paramMissing(`currency_options[${cur}][unit_amount]`);
    out[code] = option(amount);
  }
  return out;
}

export function registerCatalogRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
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
    const metering = rec ? meteringOf(ctx, rec, p) : null;
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
            usageType: metering?.usageType ?? "licensed",
            meter: metering?.meter ?? null,
          }
        : null,
      lookupKey,
      nickname: str(p.nickname) ?? null,
      active: bool(p.active) ?? true,
      metadata: metadataOf(p.metadata) ?? {},
    });
    price.currency_options = currencyOptionsOf(obj(p.currency_options), currency, unitAmount);
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
    const usageType = str(obj(q.recurring)?.usage_type);
    const meter = str(obj(q.recurring)?.meter);
    const items = newestFirst(Object.values(state().prices)).filter(
      (p) =>
        (active === undefined || p.active === active) &&
        (!product || p.product === product) &&
        (!type || p.type === type) &&
        (!currency || p.currency === currency) &&
        (keys.length === 0 || (p.lookup_key !== null && keys.includes(p.lookup_key))) &&
        (!interval || p.recurring?.interval === interval) &&
        (!usageType || p.recurring?.usage_type === usageType) &&
        (!meter || p.recurring?.meter === meter),
    );
    return list(req, items, "/v1/prices");
  });
}
