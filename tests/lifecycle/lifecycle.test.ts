/**
 * Runs `tests/lifecycle/lifecycle.ts` (`npm run lifecycle`) in-process, so CI covers the end-to-end
 * lifecycle (signed deliveries through the real webhook route, checkout,
 * token use, renewal, dunning, cancellation) and its checks.
 */
import { describe, expect, test } from "vitest";
import { runInBilling } from "../lib/billingComponent";
import { runLifecycle } from "./lifecycle";

describe("npm run lifecycle", () => {
  test("a customer's whole billing life passes every check", async () => {
    const result = await runLifecycle({ seed: 20261121 });

    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => [s.name, s.tier, s.status, s.cancelScheduled, s.remaining])).toEqual([
      ["sign-in", "free", "none", false, 5],
      ["checkout", "free", "none", false, 5],
      ["completion events", "pro", "active", false, 150],
      ["spend tokens", "pro", "active", false, 126],
      // A fresh 150 plus 75 of the 126 unused rolled over (Pro's rollover policy).
      ["renewal", "pro", "active", false, 225],
      ["failed renewal → past_due", "pro", "past_due", false, 225],
      // The first rollover ends with its window; 75 of the next unused 150 roll over.
      ["recovery", "pro", "active", false, 225],
      // Raised to Elite's 500 once paid, not refilled on top.
      ["upgrade to Elite (paid)", "elite", "active", false, 575],
      // Elite is paid to the period end; the downgrade waits for it.
      ["downgrade to Starter scheduled", "elite", "active", false, 575],
      // Starter's 50, and the Elite window's unused 500 rolled over for two periods.
      ["renewal at Starter", "starter", "active", false, 550],
      // 10 spent, then an interval round trip: no extra tokens.
      ["spend, then monthly → yearly → monthly", "starter", "active", false, 540],
      ["cancel at period end", "starter", "active", true, 540],
      ["deletion", "free", "canceled", false, 540],
    ]);
    expect(result.steps.find((s) => s.name === "downgrade to Starter scheduled")?.scheduled).toBe("starter");
    // Duplicated deliveries happened and were absorbed.
    expect(result.steps.some((s) => s.deliveries.some((d) => d.endsWith("*")))).toBe(true);
    expect(result.steps.at(-1)!.events).toMatchObject({ pending: 0, failed_retrying: 0, waiting: 0, dead: 0 });
  });

  test("another delivery order reaches the same states", async () => {
    const a = await runLifecycle({ seed: 1 });
    const b = await runLifecycle({ seed: 99 });
    expect(a.failures).toEqual([]);
    expect(b.failures).toEqual([]);
    // Periods start at the real clock, so compare whether a grace period runs, not its end.
    const summary = (r: typeof a) => r.steps.map((s) => ({ ...s, deliveries: [], graceEndsAt: s.graceEndsAt !== null }));
    expect(summary(b)).toEqual(summary(a));
  });

  test("a balance that no longer matches its ledger is reported, naming the step", async () => {
    const result = await runLifecycle({
      seed: 7,
      afterStep: async (step, t, accountId) => {
        if (step !== 4) return;
        // Ten tokens appear without a ledger row.
        await runInBilling(t, async (ctx) => {
          const row = await ctx.db
            .query("tokenBalances")
            .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
            .unique();
          await ctx.db.patch("tokenBalances", row!._id, { purchased: row!.purchased + 10, balance: row!.balance + 10 });
        });
      },
    });

    expect(result.ok).toBe(false);
    expect(result.failures.filter((f) => f.startsWith("step 3"))).toEqual([]);
    expect(result.failures.some((f) => f.startsWith("step 4 (spend tokens): ledger invariant broken"))).toBe(true);
  });
});
