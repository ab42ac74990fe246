/**
 * The overage policy: Pro and Elite allow overage at the meter's price, and
 * only on an account whose subscription Stripe can bill it on
 * (`overageBillable`); a plan that allows it lets runs go past the balance
 * up to its cap a period, recorded as overage on the ledger row and the
 * balance, never as a negative balance, and never past the cap — for
 * consumes, holds and concurrent callers alike.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import * as holds from "../../convex/billing/model/holds";
import * as ledger from "../../convex/billing/model/ledger";
import { FEATURES, OVERAGE_METER, PAID_TIERS, PLANS, TIERS } from "../../convex/billing/model/plans";
import { billing, billingApi, runInBilling } from "../lib/billingComponent";
import { alice, expectCode, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
/** Pro allows 20 overage tokens a period (for these tests only), at the meter's price. */
const POLICY = { capTokens: 20, unitAmount: OVERAGE_METER.price.unitAmount, currency: "usd" };

const SHIPPED_PRO_OVERAGE = PLANS.pro.overage;
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
  PLANS.pro.overage = POLICY;
});
afterEach(() => {
  PLANS.pro.overage = SHIPPED_PRO_OVERAGE;
  delete FEATURES.bulk_analysis!.overage;
  vi.useRealTimers();
});

/** Alice on Pro with `tokens` in this period's allowance, on a subscription that bills overage. */
async function proAccount(t: TestConvex, tokens = 5, overageBillable = true): Promise<Id<"billingAccounts">> {
  const accountId = await seedAccount(t, alice, { tier: "pro", ...(overageBillable ? { overageBillable: true as const } : {}) });
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: "window:nov",
      tokens,
      periodKey: "window:nov",
      periodStart: Date.UTC(2026, 10, 1),
      periodEnd: Date.UTC(2026, 11, 1),
    });
  });
  return accountId;
}

const as = (t: TestConvex) => t.withIdentity(alice);
const consume = (t: TestConvex, feature: string, key: string) => as(t).mutation(api.tokens.consume, { feature, idempotencyKey: key });

async function expectInvariant(t: TestConvex, accountId: Id<"billingAccounts">) {
  expect((await billing(t).query(billingApi.tokens.checkInvariant, { accountId })).problems).toEqual([]);
}

test("the shipped catalogue: Pro and Elite allow overage at the metered price's unit amount; the others block", () => {
  PLANS.pro.overage = SHIPPED_PRO_OVERAGE;
  expect(TIERS.filter((tier) => PLANS[tier].overage !== null)).toEqual(["pro", "elite"]);
  for (const tier of PAID_TIERS) {
    const policy = PLANS[tier].overage;
    if (!policy) continue;
    expect(policy).toMatchObject({ unitAmount: OVERAGE_METER.price.unitAmount, currency: OVERAGE_METER.price.currency });
    expect(Number.isSafeInteger(policy.capTokens) && policy.capTokens > 0).toBe(true);
  }
});

test("a plan that allows overage still blocks it while Stripe can't bill it (no active subscription with the metered price)", async () => {
  const t = makeTest();
  await proAccount(t, 5, false);
  expect(await as(t).query(api.tokens.check, { feature: "bulk_analysis" })).toMatchObject({
    allowed: false,
    reason: "insufficient_tokens",
  });
  await expectCode(consume(t, "bulk_analysis", "one"), "INSUFFICIENT_TOKENS");
  expect(await as(t).query(api.tokens.balance, {})).toMatchObject({ remaining: 5, overage: 0 });
});

describe("consume under an overage policy", () => {
  test("goes past the balance up to the cap, recorded as overage, and says what it costs beforehand", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 5);
    expect(await as(t).query(api.tokens.check, { feature: "bulk_analysis" })).toEqual({
      allowed: true,
      cost: 10,
      remaining: 5,
      reason: "ok",
      overage: 5,
      overageAmount: 5 * OVERAGE_METER.price.unitAmount,
      currency: "usd",
    });
    expect(await consume(t, "bulk_analysis", "one")).toEqual({ cost: 10, remaining: 0, overage: 5, duplicate: false });
    expect(await as(t).query(api.tokens.balance, {})).toMatchObject({ remaining: 0, used: 5, overage: 5 });
    const [row] = (await as(t).query(api.tokens.history, { paginationOpts: { numItems: 1, cursor: null } })).page;
    expect(row).toMatchObject({ reason: "consume", amount: -5, balanceAfter: 0 });

    expect(await consume(t, "bulk_analysis", "two")).toMatchObject({ overage: 10, remaining: 0 });
    // 15 of 20 used: another 10 does not fit, and nothing is debited.
    expect(await as(t).query(api.tokens.check, { feature: "bulk_analysis" })).toMatchObject({ allowed: false, reason: "insufficient_tokens" });
    const refused = await expectCode(consume(t, "bulk_analysis", "three"), "INSUFFICIENT_TOKENS");
    expect(refused).toMatchObject({ required: 10, available: 5 });
    expect(refused.message).toBe("This needs 10 tokens; you have 0 and 5 of this period's 20 overage tokens left.");
    expect(await consume(t, "standard_analysis", "four")).toMatchObject({ overage: 3 });
    expect(await as(t).query(api.tokens.balance, {})).toMatchObject({ remaining: 0, overage: 18 });
    // A repeat returns what was first charged.
    expect(await consume(t, "bulk_analysis", "one")).toEqual({ cost: 10, remaining: 0, overage: 5, duplicate: true });
    await expectInvariant(t, accountId);
  });

  test("a feature that opts out blocks even on a plan that allows overage", async () => {
    const t = makeTest();
    await proAccount(t, 5);
    FEATURES.bulk_analysis!.overage = false;
    expect(await as(t).query(api.tokens.check, { feature: "bulk_analysis" })).toMatchObject({ allowed: false });
    await expectCode(consume(t, "bulk_analysis", "x"), "INSUFFICIENT_TOKENS");
  });

  test("a plan that blocks refuses what the balance cannot cover", async () => {
    const t = makeTest();
    await proAccount(t, 5);
    PLANS.pro.overage = null;
    const refused = await expectCode(consume(t, "bulk_analysis", "x"), "INSUFFICIENT_TOKENS");
    expect(refused).toMatchObject({ required: 10, available: 5 });
  });

  test("a new period starts with no overage; the old period's stays on its ledger rows", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 5);
    await consume(t, "bulk_analysis", "one");
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "window:dec",
        tokens: 150,
        periodKey: "window:dec",
        periodStart: Date.UTC(2026, 11, 1),
        periodEnd: Date.UTC(2027, 0, 1),
      });
    });
    expect(await as(t).query(api.tokens.balance, {})).toMatchObject({ remaining: 150, overage: 0 });
    const overageRows = await runInBilling(t, async (ctx) =>
      (await ctx.db.query("tokenLedger").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect()).filter((r) => r.overage),
    );
    expect(overageRows.map((r) => [r.sourceKey, r.overage])).toEqual([["consume:one", 5]]);
    await expectInvariant(t, accountId);
  });
});

describe("holds under an overage policy", () => {
  test("reserve beyond the balance holds overage room; release gives it back", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 3);
    const hold = await as(t).mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job" });
    expect(hold).toMatchObject({ amount: 10, remaining: 0 });
    const row = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId));
    // Overage counters are stored only while non-zero.
    expect(row).toMatchObject({ held: 3, overageHeld: 7, balance: 0 });
    expect(row).not.toHaveProperty("overage");
    await as(t).mutation(api.tokens.release, { holdId: hold.holdId });
    const after = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId));
    expect(after).toMatchObject({ held: 0, balance: 3 });
    expect(after).not.toHaveProperty("overageHeld");
    await expectInvariant(t, accountId);
  });

  // Server code (an action) settles with the actual amount; the app's wrapper takes none, so these call the model.
  test("settling less returns the overage first; the balance is charged before overage", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 3);
    const hold = await as(t).mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job" });
    const settled = await runInBilling(t, async (ctx) => {
      const row = await ctx.db.get("tokenHolds", hold.holdId as Id<"tokenHolds">);
      return await holds.settle(ctx, row!, 5, POLICY.capTokens);
    });
    expect(settled).toMatchObject({ charged: 5, overage: 2, returned: 0, shortfall: 0 });
    expect(await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId))).toMatchObject({
      held: 0,
      overage: 2,
      used: 3,
      balance: 0,
    });
    await expectInvariant(t, accountId);
  });

  test("settling more takes the rest as overage up to the cap; what is past it is shortfall, not charged", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 3);
    const hold = await as(t).mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job" });
    const settled = await runInBilling(t, async (ctx) => {
      const row = await ctx.db.get("tokenHolds", hold.holdId as Id<"tokenHolds">);
      return await holds.settle(ctx, row!, 30, POLICY.capTokens);
    });
    // 3 from the balance, 20 of overage (the cap), 7 short.
    expect(settled).toMatchObject({ charged: 23, overage: 20, shortfall: 7 });
    expect(await as(t).query(api.tokens.balance, {})).toMatchObject({ remaining: 0, overage: 20, held: 0 });
    await expectInvariant(t, accountId);
  });

  test("many concurrent reserves and consumes never pass the balance plus the cap", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 5);
    const calls = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0
        ? as(t).mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: `r${i}` }).then((h) => h.amount)
        : consume(t, "standard_analysis", `c${i}`).then((c) => c.cost),
    );
    const results = await Promise.allSettled(calls);
    const spent = results.reduce((sum, r) => sum + (r.status === "fulfilled" ? r.value : 0), 0);
    // 5 tokens + 20 overage: at most 8 runs of 3.
    expect(spent).toBe(24);
    const row = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId));
    expect((row!.overage ?? 0) + (row!.overageHeld ?? 0)).toBeLessThanOrEqual(POLICY.capTokens);
    expect(row!.balance).toBe(0);
    await expectInvariant(t, accountId);
  });
});
