/**
 * The `stripePrices` cache: Stripe price id → the catalogue tier and interval
 * it sells. Written when the checkout action resolves a lookup key
 * (`accounts.upsertPrice`) and when a subscription event carries a catalogue
 * price; read by the event handlers, because invoice lines name a price id
 * but not its lookup key (API 2026-10-28.endive,
 * https://docs.stripe.com/api/invoice-line-item/object).
 */
import type Stripe from "stripe";
import type { Infer } from "convex/values";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { planForLookupKey, type Interval, type Tier } from "./plans";
import schema from "../schema";

/** A `stripePrices` row's fields (`unitAmount`: minor units of `currency`; absent for tiered/custom prices). */
export const vPriceRecord = schema.tables.stripePrices.validator;
export type PriceRecord = Infer<typeof vPriceRecord>;

/**
 * Inserts or updates the `stripePrices` row for a price id. Keyed by price id,
 * not lookup key: a lookup key can move to a new price, and subscriptions on
 * the old price must still map back to their tier. Returns whether it wrote.
 */
export async function upsertPrice(ctx: MutationCtx, price: PriceRecord): Promise<boolean> {
  const existing = await ctx.db
    .query("stripePrices")
    .withIndex("by_stripePriceId", (q) => q.eq("stripePriceId", price.stripePriceId))
    .unique();
  if (!existing) {
    await ctx.db.insert("stripePrices", price);
    return true;
  }
  const changed =
    existing.lookupKey !== price.lookupKey ||
    existing.tier !== price.tier ||
    existing.interval !== price.interval ||
    existing.unitAmount !== price.unitAmount ||
    existing.currency !== price.currency;
  if (changed) await ctx.db.patch("stripePrices", existing._id, price);
  return changed;
}

/**
 * Caches a Stripe price when its lookup key is in the catalogue; other prices
 * are left alone. Returns whether the cache learned something new.
 */
export async function recordCataloguePrice(ctx: MutationCtx, price: Stripe.Price): Promise<boolean> {
  const plan = planForLookupKey(price.lookup_key);
  if (!plan || !price.lookup_key) return false;
  return await upsertPrice(ctx, {
    stripePriceId: price.id,
    lookupKey: price.lookup_key,
    tier: plan.tier,
    interval: plan.interval,
    unitAmount: price.unit_amount ?? undefined,
    currency: price.currency,
  });
}

export type PricePlan = { tier: Tier; interval?: Interval; priceId?: string; lookupKey?: string };

/**
 * The tier a price sells: by its lookup key in the catalogue, else by the
 * `stripePrices` cache (prices recorded by checkout or earlier events), else
 * `null` (unknown to us).
 */
export async function planForPrice(
  ctx: QueryCtx,
  price: { id: string; lookup_key?: string | null; recurring?: { interval: string } | null },
): Promise<PricePlan | null> {
  const byKey = planForLookupKey(price.lookup_key);
  if (byKey) return { ...byKey, priceId: price.id, lookupKey: price.lookup_key ?? undefined };
  const known = await ctx.db
    .query("stripePrices")
    .withIndex("by_stripePriceId", (q) => q.eq("stripePriceId", price.id))
    .unique();
  if (known) return { tier: known.tier, interval: known.interval, priceId: price.id, lookupKey: known.lookupKey };
  return null;
}
