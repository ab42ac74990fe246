/**
 * The simulator tests' own catalogue, created through the SDK like any
 * seeder: three tiers with a monthly and a yearly price each, and two
 * one-off token packs, each price under a lookup key. Amounts in cents (USD).
 */
import type Stripe from "stripe";
import type { Seeder } from "../src/index.ts";

const TIERS = [
  { id: "starter", name: "Starter", month: 900, year: 9000 },
  { id: "pro", name: "Pro", month: 2900, year: 29000 },
  { id: "elite", name: "Elite", month: 9900, year: 99000 },
] as const;

const PACKS = [
  { id: "pack_100", tokens: 100, amount: 1000 },
  { id: "pack_500", tokens: 500, amount: 4000 },
] as const;

async function createPrice(stripe: Stripe, params: Stripe.PriceCreateParams): Promise<void> {
  await stripe.prices.create(params);
}

/** Seeds the catalogue above; lookup keys `<tier>_monthly`, `<tier>_yearly`, `tokens_<n>`. */
export const seedTestCatalog: Seeder = async (stripe, log) => {
  for (const tier of TIERS) {
    const product = await stripe.products.create({ id: `test_tier_${tier.id}`, name: tier.name, metadata: { tier: tier.id } });
    for (const [interval, amount, suffix] of [["month", tier.month, "monthly"], ["year", tier.year, "yearly"]] as const) {
      await createPrice(stripe, {
        product: product.id,
        currency: "usd",
        unit_amount: amount,
        recurring: { interval },
        lookup_key: `${tier.id}_${suffix}`,
        metadata: { tier: tier.id, interval },
      });
    }
  }
  for (const pack of PACKS) {
    const product = await stripe.products.create({ id: `test_${pack.id}`, name: `${pack.tokens} tokens`, metadata: { packId: pack.id } });
    await createPrice(stripe, {
      product: product.id,
      currency: "usd",
      unit_amount: pack.amount,
      lookup_key: `tokens_${pack.tokens}`,
      metadata: { packId: pack.id, tokens: String(pack.tokens) },
    });
  }
  log(`seeded ${TIERS.length} tiers and ${PACKS.length} packs`);
};
