/**
 * Creates the plan catalogue in Stripe: one product per paid tier with its
 * monthly and yearly recurring prices, and one product per token pack with
 * its one-off price, each price carrying the lookup key from
 * convex/billing/model/plans.ts (the server resolves lookup keys to price ids at
 * checkout; https://docs.stripe.com/products-prices/manage-prices#lookup-keys).
 *
 * Idempotent, and safe against real Stripe (test mode) as well as the local
 * simulator, because it only uses the official SDK:
 * - prices are looked up by lookup key first and created only when missing;
 * - every price is in USD with `currency_options` for the other `CURRENCIES`
 *   (EUR, GBP; https://docs.stripe.com/payments/checkout/present-local-currencies):
 *   Checkout charges the option of the currency it is given;
 * - a price whose amount/currency/interval or currency options no longer
 *   match the catalogue is replaced by a new price that takes over the lookup
 *   key (`transfer_lookup_key`), since Stripe prices are immutable;
 * - products have fixed ids (`billing_tier_<tier>`, `billing_pack_<pack>`) and
 *   are retrieved before being created;
 * - every create carries an Idempotency-Key derived from what it creates;
 * - the overage Billing Meter (`OVERAGE_METER`) is found by `event_name`
 *   among active meters or created, and its monthly metered price
 *   (`recurring.usage_type: metered`, product `billing_overage`) is seeded by
 *   lookup key like the others, replaced when its meter or amount changed;
 * - the Customer Portal configuration the app opens (`portalConfiguration()`)
 *   is found by `metadata.app` and updated in place, or created once: a fresh
 *   Stripe account has no saved Portal settings, and these make the Portal
 *   follow the in-app rules (upgrades prorated and invoiced at once,
 *   downgrades and shorter intervals at the period end, cancel at the period
 *   end with a reason).
 *
 * Usage:
 *   STRIPE_SECRET_KEY=sk_test_... [STRIPE_API_HOST=127.0.0.1 STRIPE_API_PORT=12111 STRIPE_API_PROTOCOL=http] npm run seed:stripe
 */
import { pathToFileURL } from "node:url";
import Stripe from "stripe";
import { getStripe, PORTAL_CONFIGURATION_APP } from "../convex/billing/model/stripeClient.ts";
import { CANCELLATION_FEEDBACK } from "../convex/billing/model/validators.ts";
import { PAID_TIERS, PLANS, TOKEN_PACKS, INTERVALS, OVERAGE_METER, type CurrencyOptions, type Interval } from "../convex/billing/model/plans.ts";

export type CatalogPrice = {
  lookupKey: string;
  productId: string;
  productName: string;
  productDescription: string;
  /** Minor units of `currency`: the price, or per unit of usage for a metered price. */
  amount: number;
  currency: string;
  /** The price in each other currency, minor units: created as the price's `currency_options`. */
  currencyOptions: CurrencyOptions;
  interval: Interval | null;
  metadata: Record<string, string>;
  /**
   * Set for a metered price (`recurring.usage_type: metered`): the `event_name`
   * of the Billing Meter whose usage it bills at each period end.
   */
  meterEventName?: string;
};

/** A Billing Meter the catalogue needs, found by `eventName` among active meters. */
export type MeterSpec = {
  eventName: string;
  displayName: string;
  formula: "sum";
};

/** The overage meter (`OVERAGE_METER`): sums `payload.value` per `payload.stripe_customer_id`. */
export function overageMeterSpec(): MeterSpec {
  return { eventName: OVERAGE_METER.eventName, displayName: OVERAGE_METER.displayName, formula: "sum" };
}

/** The monthly metered price billing overage tokens on the overage meter (product `billing_overage`). */
export function overagePrice(): CatalogPrice {
  const price = OVERAGE_METER.price;
  return {
    lookupKey: price.lookupKey,
    productId: "billing_overage",
    productName: OVERAGE_METER.displayName,
    productDescription: "Tokens used beyond the balance, billed in arrears at the end of each period.",
    amount: price.unitAmount,
    currency: price.currency,
    currencyOptions: price.currencyOptions,
    interval: price.interval,
    metadata: { meter: OVERAGE_METER.eventName },
    meterEventName: OVERAGE_METER.eventName,
  };
}

/** The catalogue as Stripe objects should describe it. */
export function catalogPrices(): CatalogPrice[] {
  const out: CatalogPrice[] = [];
  for (const tier of PAID_TIERS) {
    const plan = PLANS[tier];
    if (!plan.prices) continue;
    for (const interval of INTERVALS) {
      const price = plan.prices[interval];
      out.push({
        lookupKey: price.lookupKey,
        productId: `billing_tier_${tier}`,
        productName: plan.name,
        productDescription: plan.description,
        amount: price.displayAmount,
        currency: price.currency,
        currencyOptions: price.currencyOptions,
        interval,
        metadata: { tier, interval },
      });
    }
  }
  for (const pack of TOKEN_PACKS) {
    out.push({
      lookupKey: pack.lookupKey,
      productId: `billing_pack_${pack.id}`,
      productName: `${pack.tokens} tokens`,
      productDescription: `One-off top-up of ${pack.tokens} tokens.`,
      amount: pack.displayAmount,
      currency: pack.currency,
      currencyOptions: pack.currencyOptions,
      interval: null,
      metadata: { packId: pack.id, tokens: String(pack.tokens) },
    });
  }
  return out;
}

export type SeedResult = {
  /** Billing Meter id per event name, and whether this run created it. */
  meters: Record<string, { id: string; created: boolean }>;
  /** Price id per lookup key (the metered overage price included), and whether this run created it. */
  prices: Record<string, { id: string; created: boolean }>;
  products: Record<string, { id: string; created: boolean }>;
  /**
   * The Customer Portal configuration (`bpc_…`) and whether this run created
   * it; null when the server does not implement Portal configurations (an
   * older local simulator), which is logged.
   */
  portalConfiguration: { id: string; created: boolean } | null;
};

/** The Portal's headline above the customer's plan. */
export const PORTAL_HEADLINE = "Manage your plan, payment method and invoices.";

/**
 * The Portal configuration for the seeded catalogue: `priceIds` maps lookup
 * keys to price ids (each paid tier's product with its monthly and yearly price).
 */
export function portalConfiguration(priceIds: Record<string, string>): Stripe.BillingPortal.ConfigurationCreateParams {
  const products = PAID_TIERS.flatMap((tier) => {
    const prices = PLANS[tier].prices;
    if (!prices) return [];
    const ids = INTERVALS.map((interval) => priceIds[prices[interval].lookupKey]).filter((id): id is string => !!id);
    return ids.length > 0 ? [{ product: `billing_tier_${tier}`, prices: ids }] : [];
  });
  return {
    business_profile: { headline: PORTAL_HEADLINE },
    features: {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ["price"],
        products,
        proration_behavior: "always_invoice",
        schedule_at_period_end: {
          conditions: [{ type: "decreasing_item_amount" }, { type: "shortening_interval" }],
        },
      },
      subscription_cancel: {
        enabled: true,
        mode: "at_period_end",
        cancellation_reason: { enabled: true, options: [...CANCELLATION_FEEDBACK] },
      },
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
    },
    metadata: { app: PORTAL_CONFIGURATION_APP },
  };
}

/** True for Stripe's answer to an endpoint the server does not implement. */
function isUnknownEndpoint(err: unknown): boolean {
  return (
    err instanceof Stripe.errors.StripeError &&
    err.statusCode === 404 &&
    typeof err.message === "string" &&
    err.message.startsWith("Unrecognized request URL")
  );
}

/**
 * Creates or updates the app's Portal configuration (found by
 * `metadata.app`). The create's idempotency key names the configuration's
 * content, so a changed catalogue makes a new create possible while a
 * retried run of the same one does not duplicate it.
 */
export async function seedPortalConfiguration(
  stripe: Stripe,
  priceIds: Record<string, string>,
  log: (line: string) => void = () => {},
): Promise<{ id: string; created: boolean } | null> {
  const params = portalConfiguration(priceIds);
  let existing: Stripe.BillingPortal.Configuration | undefined;
  try {
    // Active first (what sessions use); an inactive one is reactivated rather than duplicated.
    for await (const config of stripe.billingPortal.configurations.list({ limit: 100 })) {
      if (config.metadata?.app !== PORTAL_CONFIGURATION_APP) continue;
      if (!existing || (config.active && !existing.active)) existing = config;
    }
  } catch (err) {
    if (!isUnknownEndpoint(err)) throw err;
    log("skipped the Customer Portal configuration: this server does not implement /v1/billing_portal/configurations");
    return null;
  }
  if (existing) {
    await stripe.billingPortal.configurations.update(existing.id, { ...params, active: true });
    return { id: existing.id, created: false };
  }
  const fingerprint = params.features.subscription_update?.products
    ? JSON.stringify(params.features.subscription_update.products)
    : "";
  const config = await stripe.billingPortal.configurations.create(params, {
    idempotencyKey: `seed-portal-configuration-${hash(fingerprint)}-v1`,
  });
  log(`created Customer Portal configuration ${config.id}`);
  return { id: config.id, created: true };
}

/** FNV-1a, hex: a short stable fingerprint for idempotency keys. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The price's `currency_options` create parameter: `{ eur: { unit_amount: 2700 }, … }`. */
export function currencyOptionsParam(spec: CatalogPrice): Record<string, { unit_amount: number }> {
  return Object.fromEntries(Object.entries(spec.currencyOptions).map(([currency, amount]) => [currency, { unit_amount: amount }]));
}

/**
 * Whether `price`'s currency options (listed with `expand[]=data.currency_options`)
 * are exactly `spec`'s: the same currencies besides the price's own (which
 * Stripe lists among them too), each with the same `unit_amount`. A server
 * that returns no `currency_options` at all when asked does not implement
 * them (an older local simulator): nothing to compare, so they match.
 */
export function currencyOptionsMatch(price: Pick<Stripe.Price, "currency" | "currency_options">, spec: CatalogPrice): boolean {
  const options = price.currency_options;
  if (!options) return true;
  const listed = Object.keys(options).filter((currency) => currency !== price.currency).sort();
  const wanted = Object.keys(spec.currencyOptions).sort();
  return (
    listed.length === wanted.length &&
    wanted.every((currency, i) => listed[i] === currency && options[currency]?.unit_amount === spec.currencyOptions[currency as keyof CurrencyOptions])
  );
}

/** Whether `price` is what `spec` describes; `meterId` is the meter a metered spec must name. */
function matches(price: Stripe.Price, spec: CatalogPrice, meterId: string | null): boolean {
  const interval = price.recurring?.interval ?? null;
  const usageType = price.recurring ? price.recurring.usage_type : null;
  const wantedUsage = spec.interval ? (spec.meterEventName ? "metered" : "licensed") : null;
  return (
    price.active &&
    price.unit_amount === spec.amount &&
    price.currency === spec.currency &&
    currencyOptionsMatch(price, spec) &&
    interval === spec.interval &&
    usageType === wantedUsage &&
    (price.recurring?.meter ?? null) === meterId
  );
}

/**
 * Finds the active meter listening for `spec.eventName`, or creates it (with
 * an Idempotency-Key naming it). Null when the server has no Billing Meters
 * (an older local simulator), which is logged.
 */
export async function seedMeter(
  stripe: Stripe,
  spec: MeterSpec,
  log: (line: string) => void = () => {},
): Promise<{ id: string; created: boolean } | null> {
  try {
    for await (const meter of stripe.billing.meters.list({ status: "active", limit: 100 })) {
      if (meter.event_name === spec.eventName) return { id: meter.id, created: false };
    }
  } catch (err) {
    if (!isUnknownEndpoint(err)) throw err;
    log("skipped the Billing Meters: this server does not implement /v1/billing/meters");
    return null;
  }
  let meter = await stripe.billing.meters.create(
    { display_name: spec.displayName, event_name: spec.eventName, default_aggregation: { formula: spec.formula } },
    { idempotencyKey: `seed-meter-${spec.eventName}-${spec.formula}-v1` },
  );
  // A replayed create can return a meter deactivated since.
  if (meter.status !== "active") meter = await stripe.billing.meters.reactivate(meter.id);
  log(`created meter ${meter.id} (${spec.eventName})`);
  return { id: meter.id, created: true };
}

/** The currency options' part of a price's idempotency key, e.g. `-eur2700-gbp2300`. */
function optionsKeyPart(spec: CatalogPrice): string {
  return Object.entries(spec.currencyOptions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, amount]) => `-${currency}${amount}`)
    .join("");
}

/** True for Stripe's 400 refusing an `expand[]` the server does not offer. */
function isUnexpandable(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && err.statusCode === 400 && /cannot be expanded/i.test(err.message ?? "");
}

/**
 * Active prices with these lookup keys (at most 10), with their
 * `currency_options` expanded (Stripe returns them only when asked). A
 * server that cannot expand them (an older local simulator) is asked again
 * without, which is logged: its prices then carry no options to compare.
 */
async function listPricesWithOptions(
  stripe: Stripe,
  lookupKeys: string[],
  log: (line: string) => void,
): Promise<Stripe.ApiList<Stripe.Price>> {
  const params: Stripe.PriceListParams = { lookup_keys: lookupKeys, active: true, limit: 100 };
  try {
    return await stripe.prices.list({ ...params, expand: ["data.currency_options"] });
  } catch (err) {
    if (!isUnexpandable(err)) throw err;
    log("this server cannot expand prices' currency_options: they are created but not compared");
    return await stripe.prices.list(params);
  }
}

function isMissing(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeError && err.code === "resource_missing";
}

/** Seeds the catalogue through `stripe`; returns ids. Throws Stripe SDK errors. */
export async function seedStripe(stripe: Stripe, log: (line: string) => void = () => {}): Promise<SeedResult> {
  const result: SeedResult = { meters: {}, prices: {}, products: {}, portalConfiguration: null };
  const meterSpec = overageMeterSpec();
  const meter = await seedMeter(stripe, meterSpec, log);
  if (meter) result.meters[meterSpec.eventName] = meter;
  const meterIds = new Map(Object.entries(result.meters).map(([name, m]) => [name, m.id]));
  const meterOf = (spec: CatalogPrice) => (spec.meterEventName ? (meterIds.get(spec.meterEventName) ?? null) : null);
  // A metered price is seeded only once its meter exists.
  const specs = [...catalogPrices(), overagePrice()].filter((spec) => !spec.meterEventName || meterOf(spec));

  const existing = new Map<string, Stripe.Price>();
  const keys = specs.map((s) => s.lookupKey);
  // Stripe accepts at most 10 lookup keys per list call.
  for (let i = 0; i < keys.length; i += 10) {
    const page = await listPricesWithOptions(stripe, keys.slice(i, i + 10), log);
    for (const p of page.data) if (p.lookup_key) existing.set(p.lookup_key, p);
  }

  for (const spec of specs) {
    if (result.products[spec.productId]) continue;
    try {
      const product = await stripe.products.retrieve(spec.productId);
      if (!product.active) await stripe.products.update(spec.productId, { active: true });
      result.products[spec.productId] = { id: product.id, created: false };
    } catch (err) {
      if (!isMissing(err)) throw err;
      const product = await stripe.products.create(
        { id: spec.productId, name: spec.productName, description: spec.productDescription, metadata: spec.metadata },
        { idempotencyKey: `seed-product-${spec.productId}-v1` },
      );
      result.products[spec.productId] = { id: product.id, created: true };
      log(`created product ${product.id} (${spec.productName})`);
    }
  }

  for (const spec of specs) {
    const current = existing.get(spec.lookupKey);
    const meterId = meterOf(spec);
    if (current && matches(current, spec, meterId)) {
      result.prices[spec.lookupKey] = { id: current.id, created: false };
      continue;
    }
    const price = await stripe.prices.create(
      {
        product: spec.productId,
        currency: spec.currency,
        unit_amount: spec.amount,
        currency_options: currencyOptionsParam(spec),
        lookup_key: spec.lookupKey,
        transfer_lookup_key: current !== undefined,
        nickname: spec.interval ? `${spec.productName} (${spec.interval}ly)` : spec.productName,
        metadata: spec.metadata,
        ...(spec.interval
          ? { recurring: { interval: spec.interval, ...(meterId ? { usage_type: "metered" as const, meter: meterId } : {}) } }
          : {}),
      },
      { idempotencyKey: `seed-price-${spec.lookupKey}-${spec.amount}-${spec.currency}${optionsKeyPart(spec)}-${spec.interval ?? "once"}${meterId ? `-${meterId}` : ""}-v1` },
    );
    result.prices[spec.lookupKey] = { id: price.id, created: true };
    log(`created price ${price.id} (${spec.lookupKey}${current ? `, replacing ${current.id}` : ""})`);
  }
  const priceIds = Object.fromEntries(Object.entries(result.prices).map(([key, p]) => [key, p.id]));
  result.portalConfiguration = await seedPortalConfiguration(stripe, priceIds, log);
  return result;
}

async function main(): Promise<void> {
  const key = process.env.STRIPE_SECRET_KEY;
  if (!key || !key.startsWith("sk_test_")) {
    console.error("Set STRIPE_SECRET_KEY to a test-mode key (sk_test_...). Refusing to seed without one.");
    process.exit(1);
  }
  const host = process.env.STRIPE_API_HOST;
  const base = host ? `${process.env.STRIPE_API_PROTOCOL ?? "https"}://${host}${process.env.STRIPE_API_PORT ? `:${process.env.STRIPE_API_PORT}` : ""}` : undefined;
  // The app's own client: same API version, and `STRIPE_API_HOST`/`_PORT`/`_PROTOCOL` read the same way.
  const stripe = getStripe();
  const result = await seedStripe(stripe, (line) => console.log(line));
  console.log(`Seeded ${base ?? "https://api.stripe.com"}:`);
  for (const [eventName, m] of Object.entries(result.meters)) {
    console.log(`  ${`meter ${eventName}`.padEnd(16)} ${m.id}${m.created ? "  (created)" : ""}`);
  }
  for (const [lookupKey, p] of Object.entries(result.prices)) {
    console.log(`  ${lookupKey.padEnd(16)} ${p.id}${p.created ? "  (created)" : ""}`);
  }
  const portal = result.portalConfiguration;
  if (portal) console.log(`  ${"portal config".padEnd(16)} ${portal.id}${portal.created ? "  (created)" : "  (updated)"}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
