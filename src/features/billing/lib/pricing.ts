import { FEATURES, PLANS, isTier, type Interval } from "@/convex/billing/model/plans";
import { formatMoney } from "@/src/lib/format";

type ViewPrice = { amount: number; currency: string; currencyOptions?: Record<string, number> };

/** The subset of `plans.list` rows the helpers need. */
type PricedPlan = {
  prices: Record<Interval, ViewPrice> | null;
};

export type PriceLabel = { amount: string; per: string; monthlyEquivalent: string | null };

/**
 * A view price in `currency` (lower case): its own amount, or its
 * `currencyOptions` entry; the price as it is when `currency` is not given
 * or not offered.
 */
export function priceIn(price: ViewPrice, currency?: string): { amount: number; currency: string } {
  if (!currency || currency === price.currency) return { amount: price.amount, currency: price.currency };
  const option = price.currencyOptions?.[currency];
  return option === undefined ? { amount: price.amount, currency: price.currency } : { amount: option, currency };
}

/**
 * "$29" + "/month", or "$290" + "/year" with "$24.17/month" equivalent, in
 * `currency` when the price is offered in it ("€27"); null when not sold.
 */
export function priceLabel(plan: PricedPlan, interval: Interval, locale?: string, currency?: string): PriceLabel | null {
  const listed = plan.prices?.[interval];
  if (!listed) return null;
  const price = priceIn(listed, currency);
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
