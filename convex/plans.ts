import { v } from "convex/values";
import { query } from "./_generated/server";
import { listPlanViews, vPlanView } from "./billing/model/planViews";

/**
 * The pricing page's plans, `free` → `elite` in upgrade order (no `internal`).
 *
 * Public and needs no sign-in: the catalogue is static, non-secret data
 * (`billing/model/plans.ts`), so it reads nothing per caller and no database rows.
 *
 * Returns `PlanView[]`: `{ tier, rank, name, description, features,
 * tokensPerPeriod, purchasable, prices: { month, year } | null }` where each
 * price is `{ lookupKey, amount, currency }` and `amount` is in minor units
 * (cents for USD). Throws nothing.
 */
export const list = query({
  args: {},
  returns: v.array(vPlanView),
  handler: () => listPlanViews(),
});
