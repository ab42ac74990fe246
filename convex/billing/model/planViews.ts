import { v, type Infer } from "convex/values";
import { PLANS, PUBLIC_TIERS, type Plan, type PlanPrice } from "./plans";
import { vTier } from "./validators";

/**
 * One price of a plan as the pricing page shows it. `amount` is in minor
 * units of `currency` (the default, USD); `currencyOptions` is the same
 * price in the other `CURRENCIES`, minor units by lower-case currency
 * (`{ eur: 2700, gbp: 2300 }`), which Checkout charges when asked.
 */
export const vPlanPriceView = v.object({
  lookupKey: v.string(),
  amount: v.number(),
  currency: v.string(),
  currencyOptions: v.optional(v.record(v.string(), v.number())),
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
  /** The plan's free trial (days, trial allowance in tokens, whether a card is asked for); absent for none. */
  trial: v.optional(v.object({ days: v.number(), tokens: v.number(), cardRequired: v.boolean() })),
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
    prices: prices ? { month: toPriceView(prices.month), year: toPriceView(prices.year) } : null,
    ...(plan.trial ? { trial: { days: plan.trial.days, tokens: plan.trial.tokens, cardRequired: plan.trial.cardRequired } } : {}),
  };
}

function toPriceView(price: PlanPrice): Infer<typeof vPlanPriceView> {
  return {
    lookupKey: price.lookupKey,
    amount: price.displayAmount,
    currency: price.currency,
    currencyOptions: { ...price.currencyOptions },
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
