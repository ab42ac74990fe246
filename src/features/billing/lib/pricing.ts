import { FEATURES, PLANS, isTier, type Interval } from "@/convex/billing/model/plans";
import { formatMoney } from "@/src/lib/format";

/** The subset of `plans.list` rows the helpers need. */
type PricedPlan = {
  prices: Record<Interval, { amount: number; currency: string }> | null;
};

export type PriceLabel = { amount: string; per: string; monthlyEquivalent: string | null };

/** "$29" + "/month", or "$290" + "/year" with "$24.17/month" equivalent; null when not sold. */
export function priceLabel(plan: PricedPlan, interval: Interval, locale?: string): PriceLabel | null {
  const price = plan.prices?.[interval];
  if (!price) return null;
  return {
    amount: formatMoney(price.amount, price.currency, { locale, compact: true }),
    per: interval === "month" ? "/month" : "/year",
    monthlyEquivalent:
      interval === "year"
        ? `${formatMoney(Math.round(price.amount / 12), price.currency, { locale })}/month billed yearly`
        : null,
  };
}

/** Largest yearly saving across plans as a whole percent, e.g. "Save 17%", or null. */
export function yearlySavings(plans: readonly PricedPlan[]): string | null {
  let best = 0;
  for (const plan of plans) {
    if (!plan.prices) continue;
    const monthlyTotal = plan.prices.month.amount * 12;
    if (monthlyTotal <= 0) continue;
    best = Math.max(best, 1 - plan.prices.year.amount / monthlyTotal);
  }
  return best >= 0.01 ? `Save ${Math.round(best * 100)}%` : null;
}

/** Tier display name; tolerant of unknown strings from the server. */
export function tierName(tier: string | null | undefined): string {
  if (!tier) return "Free";
  return isTier(tier) ? PLANS[tier].name : tier;
}

/** Feature display name from FEATURES; the key itself for a feature the catalogue doesn't list. */
export function featureName(feature: string): string {
  return FEATURES[feature]?.name ?? feature;
}
