/**
 * Runs `tests/lifecycle/lifecycle.ts` (`npm run lifecycle`) in-process, so CI covers the end-to-end
 * lifecycle (signed deliveries through the real webhook route, checkout,
 * token use, renewal, dunning, cancellation; trials that convert and end;
 * the dunning timeline) and its checks.
 */
import { describe, expect, test } from "vitest";
import { runInBilling } from "../lib/billingComponent";
import { runLifecycle } from "./lifecycle";

describe("npm run lifecycle", () => {
  test("a customer's whole billing life passes every check", async () => {
    const result = await runLifecycle({ seed: 20261121 });

    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
    const ada = result.steps.filter((s) => s.who === "Ada");
    expect(ada.map((s) => [s.name, s.tier, s.status, s.cancelScheduled, s.remaining])).toEqual([
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
    expect(ada.find((s) => s.name === "downgrade to Starter scheduled")?.scheduled).toBe("starter");
    expect(ada.find((s) => s.name === "failed renewal → past_due")?.dunning).toBe("overdue d0");

    // Trials (docs/TRIALS.md): the trial allowance once, the reminder once, conversion grants the paid allowance once.
    const row = (who: string) => result.steps.filter((s) => s.who === who).map((s) => [s.name, s.tier, s.status, s.remaining, s.trialGrants, s.notified.trial_ending ?? 0]);
    expect(row("Tia")).toEqual([
      ["sign-in", "free", "none", 5, 0, 0],
      ["pro trial checkout", "free", "none", 5, 0, 0],
      ["pro trial starts", "pro", "trialing", 50, 1, 0],
      ["trial_will_end (3 days left)", "pro", "trialing", 50, 1, 1],
      // Pro's paid 150 once; the trial's tokens do not roll over.
      ["trial converts (first invoice paid)", "pro", "active", 150, 1, 1],
    ]);
    expect(row("Noel")).toEqual([
      ["sign-in", "free", "none", 5, 0, 0],
      ["starter trial checkout", "free", "none", 5, 0, 0],
      ["starter trial starts (no card)", "starter", "trialing", 20, 1, 0],
      ["trial_will_end (3 days left)", "starter", "trialing", 20, 1, 1],
      // Starter's end without a card: cancel → Free; no paid allowance.
      ["trial ends without a card → canceled", "free", "canceled", 20, 1, 1],
      ["second trial refused", "free", "canceled", 20, 1, 1],
    ]);
    expect(result.steps.find((s) => s.name === "second trial refused")?.deliveries).toEqual([
      "createCheckoutSession(starter, trial) → TRIAL_ALREADY_USED",
      "createCheckoutSession(pro, trial) → TRIAL_ALREADY_USED",
    ]);

    // Dunning (docs/DUNNING.md): each step on its day, suspended at 30, restricted at 45, restored when paid.
    expect(result.steps.filter((s) => s.who === "Dora").map((s) => [s.name, s.tier, s.status, s.dunning])).toEqual([
      ["sign-in", "free", "none", "-"],
      ["checkout", "free", "none", "-"],
      ["completion events", "pro", "active", "-"],
      ["renewal fails (day 0)", "pro", "past_due", "overdue d0"],
      ["dunning day 3", "pro", "past_due", "overdue d3"],
      ["dunning day 7", "pro", "past_due", "overdue d7"],
      ["dunning day 14", "pro", "past_due", "overdue d14 +banner"],
      ["dunning day 30", "free", "past_due", "suspended d30 +banner"],
      ["next renewal fails too", "free", "past_due", "suspended d30 +banner"],
      ["dunning day 45", "free", "past_due", "restricted d45 +banner"],
      ["both paid (day 46) → restored", "pro", "active", "-"],
      ["debits work again", "pro", "active", "-"],
    ]);
    expect(result.steps.at(-1)!.notified).toMatchObject({ payment_failed: 1, dunning_reminder: 3, dunning_suspended: 1, dunning_restricted: 1 });
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
      only: ["Ada"],
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
    expect(result.failures.some((f) => f.startsWith("step 4 (Ada: spend tokens): ledger invariant broken"))).toBe(true);
  });
});
