/**
 * scripts/seed-stripe.ts and the catalogue's currencies: every price carries
 * EUR and GBP amounts as `currency_options`; a price whose options drifted
 * from the catalogue is replaced (lookup key transferred); the comparison
 * itself. The simulator part needs a simulator with price `currency_options`
 * (docs/STRIPE_SIMULATOR.md) and is skipped, saying so, against one without.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  amountIn,
  CURRENCIES,
  DEFAULT_CURRENCY,
  OVERAGE_METER,
  overageUnitAmount,
  PAID_TIERS,
  PLANS,
  TOKEN_PACKS,
} from "../../convex/billing/model/plans.ts";
import { catalogPrices, currencyOptionsMatch, currencyOptionsParam, overagePrice, seedStripe, type CatalogPrice } from "../../scripts/seed-stripe.ts";
import { startStripeSimulator, type StripeSimulator } from "@offline/stripe-sim";

const OTHER_CURRENCIES = CURRENCIES.filter((c) => c !== DEFAULT_CURRENCY);

describe("the catalogue's currencies", () => {
  it("prices every plan, pack and the overage meter in USD, EUR and GBP, whole minor units", () => {
    expect(CURRENCIES).toEqual(["usd", "eur", "gbp"]);
    const specs = [...catalogPrices(), overagePrice()];
    expect(specs).toHaveLength(PAID_TIERS.length * 2 + TOKEN_PACKS.length + 1);
    for (const spec of specs) {
      expect(spec.currency).toBe(DEFAULT_CURRENCY);
      expect(Object.keys(spec.currencyOptions).sort()).toEqual([...OTHER_CURRENCIES].sort());
      for (const amount of [spec.amount, ...Object.values(spec.currencyOptions)]) {
        expect(Number.isInteger(amount) && amount > 0).toBe(true);
      }
    }
    expect(amountIn(PLANS.pro.prices!.month, "eur")).toBe(2700);
    expect(amountIn(PLANS.pro.prices!.month, "usd")).toBe(2900);
    expect(amountIn(PLANS.pro.prices!.month, "jpy")).toBeNull();
    expect(overageUnitAmount("gbp")).toBe(OVERAGE_METER.price.currencyOptions.gbp);
    expect(overageUnitAmount("usd")).toBe(OVERAGE_METER.price.unitAmount);
  });

  it("sends the options as Stripe's currency_options parameter", () => {
    const pro = catalogPrices().find((p) => p.lookupKey === "pro_monthly")!;
    expect(currencyOptionsParam(pro)).toEqual({ eur: { unit_amount: 2700 }, gbp: { unit_amount: 2300 } });
  });

  it("compares options: the price's own currency ignored, a missing, extra or changed option is a mismatch", () => {
    const spec: CatalogPrice = catalogPrices().find((p) => p.lookupKey === "pro_monthly")!;
    const price = (options: Stripe.Price["currency_options"]) => ({ currency: "usd", currency_options: options });
    const opt = (unit_amount: number) => ({ unit_amount }) as Stripe.Price.CurrencyOptions;
    expect(currencyOptionsMatch(price({ usd: opt(2900), eur: opt(2700), gbp: opt(2300) }), spec)).toBe(true);
    expect(currencyOptionsMatch(price({ eur: opt(2700), gbp: opt(2300) }), spec)).toBe(true);
    expect(currencyOptionsMatch(price({ usd: opt(2900), eur: opt(2700) }), spec)).toBe(false);
    expect(currencyOptionsMatch(price({ usd: opt(2900), eur: opt(2600), gbp: opt(2300) }), spec)).toBe(false);
    expect(currencyOptionsMatch(price({ usd: opt(2900), eur: opt(2700), gbp: opt(2300), jpy: opt(400) }), spec)).toBe(false);
    // A server that does not implement currency options returns none: nothing to compare.
    expect(currencyOptionsMatch(price(undefined), spec)).toBe(true);
  });
});

describe("seedStripe with currency options (simulator)", () => {
  let sim: StripeSimulator;
  let stripe: Stripe;
  let supported = false;
  beforeAll(async () => {
    sim = await startStripeSimulator({ port: 0 });
    stripe = sim.stripe();
    // Does this simulator keep and expand currency_options?
    const probe = await stripe.prices.create({
      currency: "usd",
      unit_amount: 100,
      currency_options: { eur: { unit_amount: 90 } },
      product_data: { name: "probe" },
    });
    const listed = await stripe.prices.retrieve(probe.id, { expand: ["currency_options"] }).catch(() => null);
    supported = listed?.currency_options?.eur?.unit_amount === 90;
    await sim.reset();
  });
  afterAll(async () => {
    await sim.close();
  });

  it("creates each price with its EUR and GBP options, once", async (ctx) => {
    if (!supported) ctx.skip("this simulator does not implement price currency_options yet");
    const first = await seedStripe(stripe);
    const second = await seedStripe(stripe);
    expect(Object.values(second.prices).every((p) => !p.created)).toBe(true);
    for (const spec of [...catalogPrices(), overagePrice()]) {
      const price = await stripe.prices.retrieve(first.prices[spec.lookupKey]!.id, { expand: ["currency_options"] });
      expect(price.currency).toBe("usd");
      expect(price.unit_amount).toBe(spec.amount);
      for (const currency of OTHER_CURRENCIES) {
        expect(price.currency_options?.[currency]?.unit_amount).toBe(spec.currencyOptions[currency]);
      }
    }
  });

  it("replaces a price whose currency options differ and moves its lookup key", async (ctx) => {
    if (!supported) ctx.skip("this simulator does not implement price currency_options yet");
    await sim.reset();
    const spec = catalogPrices().find((p) => p.lookupKey === "pro_monthly")!;
    await stripe.products.create({ id: spec.productId, name: spec.productName });
    const stale = await stripe.prices.create({
      product: spec.productId,
      currency: "usd",
      unit_amount: spec.amount,
      currency_options: { eur: { unit_amount: 9999 } },
      recurring: { interval: "month" },
      lookup_key: spec.lookupKey,
    });
    const result = await seedStripe(stripe);
    const fresh = result.prices[spec.lookupKey]!;
    expect(fresh).toMatchObject({ created: true });
    expect(fresh.id).not.toBe(stale.id);
    const listed = await stripe.prices.list({ lookup_keys: [spec.lookupKey], expand: ["data.currency_options"] });
    expect(listed.data.map((p) => p.id)).toEqual([fresh.id]);
    expect(listed.data[0]!.currency_options?.eur?.unit_amount).toBe(spec.currencyOptions.eur);
    expect(listed.data[0]!.currency_options?.gbp?.unit_amount).toBe(spec.currencyOptions.gbp);
  });
});
