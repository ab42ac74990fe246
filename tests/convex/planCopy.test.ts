/**
 * The pricing page's plan copy (`PLANS[tier].features`) against what each
 * tier may run (`FEATURES[feature].minTier`, enforced by `tokens.consume`):
 * the copy never promises an analysis a plan cannot run, and Free's names
 * every one it can, so no buyer pays a higher plan for what the lower one
 * already has by mistake, and nobody is promised what they will be refused.
 */
import { describe, expect, test } from "vitest";
import { FEATURES, PLANS, TIERS, tierRank, type Tier } from "../../convex/billing/model/plans";

/** "quick" for "Quick analysis". */
const kindOf = (name: string) => name.replace(/ analysis$/i, "").toLowerCase();
const copyOf = (tier: Tier) => PLANS[tier].features.join(" · ").toLowerCase();

describe("plan copy", () => {
  test("no plan's copy names an analysis above its tier", () => {
    for (const tier of TIERS) {
      const above = Object.values(FEATURES).filter((feature) => tierRank(feature.minTier) > tierRank(tier));
      for (const feature of above) expect({ tier, mentions: copyOf(tier).includes(kindOf(feature.name)) }).toEqual({ tier, mentions: false });
    }
  });

  test("Free's copy names every analysis Free can run", () => {
    const free = Object.values(FEATURES).filter((feature) => feature.minTier === "free");
    expect(free.length).toBeGreaterThan(0);
    for (const feature of free) expect({ feature: feature.name, named: copyOf("free").includes(kindOf(feature.name)) }).toEqual({ feature: feature.name, named: true });
  });
});
