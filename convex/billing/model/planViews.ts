import { v, type Infer } from "convex/values";
import { INTERVALS, PLANS, PUBLIC_TIERS, type Plan } from "./plans";
import { vTier } from "./validators";

/** One price of a plan as the pricing page shows it. `amount` is in minor units of `currency`. */
export const vPlanPriceView = v.object({
  lookupKey: v.string(),
  amount: v.number(),
  currency: v.string(),
});

/** A plan on the pricing page (`plans.list`). */
export const vPlanView = v.object({
  tier: vTier,
  rank: v.number(),
  name: v.string(),
  description: v.string(),
  features: v.array(v.string()),
  tokensPerPeriod: v.number(),
  purchasable: v.boolean(),
  prices: v.union(v.object({ month: vPlanPriceView, year: vPlanPriceView }), v.null()),
});
export type PlanView = Infer<typeof vPlanView>;

function toPlanView(plan: Plan): PlanView {
  const prices = plan.prices;
  return {
    tier: plan.tier,
    rank: plan.rank,
    name: plan.name,
    description: plan.description,
    features: [...plan.features],
    tokensPerPeriod: plan.tokensPerPeriod,
    purchasable: plan.purchasable,
    prices: prices
      ? (Object.fromEntries(
          INTERVALS.map((interval) => [
            interval,
            {
              lookupKey: prices[interval].lookupKey,
              amount: prices[interval].displayAmount,
              currency: prices[interval].currency,
            },
          ]),
        ) as PlanView["prices"])
      : null,
  };
}

/**
 * The public plans in upgrade order, without the staff `internal` tier.
 * Amounts are the catalogue's display amounts (what the seed script creates in
 * Stripe); Stripe's price is what is actually charged.
 */
export function listPlanViews(): PlanView[] {
  return PUBLIC_TIERS.map((tier) => toPlanView(PLANS[tier])).sort((a, b) => a.rank - b.rank);
}
