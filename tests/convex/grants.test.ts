/**
 * The grant ledger: every credit is a grant, debits draw on them in the
 * documented order and say which they drew on, expiries leave the balance
 * through the ledger, and balance = ledger = active grants' remaining after
 * every step.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

/** A free account with this month's 5-token allowance, as sign-up leaves it. */
async function signedUp(t: TestConvex, who = alice): Promise<Id<"billingAccounts">> {
  const accountId = await seedAccount(t, who);
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: "period:free:2026-11",
      tokens: 5,
      periodKey: "period:free:2026-11",
      periodStart: Date.UTC(2026, 10, 1),
      periodEnd: Date.UTC(2026, 11, 1),
    });
  });
  return accountId;
}

async function operatorGrant(
  t: TestConvex,
  accountId: Id<"billingAccounts">,
  args: { amount: number; key: string; category?: "admin" | "promotional"; expiresAt?: number; priority?: number },
) {
  return await billing(t).mutation(billingApi.tokens.grant, {
    accountId,
    amount: args.amount,
    reason: `grant ${args.key}`,
    idempotencyKey: args.key,
    category: args.category,
    expiresAt: args.expiresAt,
    priority: args.priority,
  });
}

async function topUp(t: TestConvex, accountId: Id<"billingAccounts">, amount: number, key: string) {
  await runInBilling(t, async (ctx) => {
    await ledger.grant(ctx, accountId, { sourceKey: `checkout:${key}`, amount, reason: "top_up", note: key });
  });
}

async function grantsOf(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"tokenGrants">[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("tokenGrants").collect()).filter((g) => g.accountId === accountId),
  );
}

async function expectInvariant(t: TestConvex, accountId: Id<"billingAccounts">) {
  const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  expect(result.problems).toEqual([]);
  expect(result.balance).toBe(result.grantsSum);
  return result;
}

async function consume(t: TestConvex, feature: string, key: string, who = alice) {
  return await t.withIdentity(who).mutation(api.tokens.consume, { feature, idempotencyKey: key });
}

async function latestHistory(t: TestConvex, who = alice) {
  const page = await t.withIdentity(who).query(api.tokens.history, { paginationOpts: { numItems: 1, cursor: null } });
  return page.page[0];
}

describe("draw order", () => {
  test("an expiring promotion is drawn before the allowance, which is drawn before purchased tokens", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await topUp(t, accountId, 10, "pack");
    await operatorGrant(t, accountId, { amount: 2, key: "promo", category: "promotional", expiresAt: NOW + 3 * DAY });
    // standard_analysis costs 3: 2 from the promotion (expires first), 1 from the allowance.
    await consume(t, "standard_analysis", "a");
    expect((await latestHistory(t))?.drawnFrom?.map((d) => [d.category, d.amount])).toEqual([
      ["promotional", 2],
      ["plan_allowance", 1],
    ]);
    // 4 left in the allowance, then the pack: 3 + 3 = 4 from the allowance, 2 from the pack.
    await consume(t, "standard_analysis", "b");
    await consume(t, "standard_analysis", "c");
    expect((await latestHistory(t))?.drawnFrom?.map((d) => [d.category, d.amount])).toEqual([
      ["plan_allowance", 1],
      ["purchased", 2],
    ]);
    expect(await t.withIdentity(alice).query(api.tokens.balance, {})).toMatchObject({ remaining: 8, used: 9 });
    const grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    expect(grants.map((g) => [g.category, g.remaining])).toEqual([["purchased", 8]]);
    await expectInvariant(t, accountId);
  });

  test("a lower priority number is drawn first whatever its expiry; free tokens before paid at equal expiry", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await topUp(t, accountId, 4, "pack");
    await operatorGrant(t, accountId, { amount: 4, key: "admin" });
    await operatorGrant(t, accountId, { amount: 1, key: "first", priority: 1 });
    const grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    // Priority 1 first; then the allowance (expires); then admin (free) before the pack (paid), both never expiring.
    expect(grants.map((g) => g.category)).toEqual(["admin", "plan_allowance", "admin", "purchased"]);
    expect(grants[0]!.priority).toBe(1);
    await consume(t, "standard_analysis", "1");
    await consume(t, "standard_analysis", "2");
    await consume(t, "standard_analysis", "3");
    // 9 drawn: 1 (priority) + 5 (allowance) + 3 of the admin grant; the pack is untouched.
    expect((await t.withIdentity(alice).query(api.tokens.grants, {})).map((g) => [g.category, g.remaining])).toEqual([
      ["admin", 1],
      ["purchased", 4],
    ]);
    await expectInvariant(t, accountId);
  });
});

describe("expiry", () => {
  test("the sweep expires a promotion at its expiry through the ledger; the allowance is left to the next period", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await operatorGrant(t, accountId, { amount: 7, key: "promo", category: "promotional", expiresAt: NOW + DAY });
    await consume(t, "quick_analysis", "q"); // 1 from the promotion
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(11);
    // Before the expiry: nothing due.
    expect(await billing(t).mutation(billingInternal.tokens.expireGrants, {})).toEqual({ expired: 0, tokens: 0, more: false });
    vi.setSystemTime(NOW + DAY);
    expect(await billing(t).mutation(billingInternal.tokens.expireGrants, {})).toEqual({ expired: 1, tokens: 6, more: false });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
    expect((await latestHistory(t))).toMatchObject({ reason: "grant_expire", amount: -6, balanceAfter: 5 });
    // Running again finds nothing: an expired grant leaves the sweep's index.
    expect(await billing(t).mutation(billingInternal.tokens.expireGrants, {})).toMatchObject({ expired: 0 });
    await expectInvariant(t, accountId);
  });

  test("a debit never spends a grant past its expiry, even before the sweep ran", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await operatorGrant(t, accountId, { amount: 3, key: "promo", category: "promotional", expiresAt: NOW + HOUR });
    vi.setSystemTime(NOW + 2 * HOUR);
    await consume(t, "standard_analysis", "s"); // 3: must come from the allowance
    const page = await t.withIdentity(alice).query(api.tokens.history, { paginationOpts: { numItems: 2, cursor: null } });
    expect(page.page.map((r) => [r.reason, r.amount])).toEqual([
      ["consume", -3],
      ["grant_expire", -3],
    ]);
    expect(page.page[0]!.drawnFrom?.map((d) => d.category)).toEqual(["plan_allowance"]);
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(2);
    await expectInvariant(t, accountId);
  });

  test("the next period expires what is left of the allowance and keeps other grants", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await topUp(t, accountId, 10, "pack");
    await consume(t, "standard_analysis", "s");
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "period:free:2026-12",
        tokens: 5,
        periodKey: "period:free:2026-12",
        periodStart: Date.UTC(2026, 11, 1),
        periodEnd: Date.UTC(2027, 0, 1),
      });
    });
    const grants = await grantsOf(t, accountId);
    expect(grants.map((g) => [g.category, g.status, g.remaining])).toEqual([
      ["plan_allowance", "expired", 0],
      ["purchased", "active", 10],
      ["plan_allowance", "active", 5],
    ]);
    expect(await t.withIdentity(alice).query(api.tokens.balance, {})).toMatchObject({
      allowance: 5,
      purchased: 10,
      used: 0,
      remaining: 15,
    });
    await expectInvariant(t, accountId);
  });

  test("an operator cannot grant an already-expired promotion or a negative promotional grant", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await expectCode(operatorGrant(t, accountId, { amount: 5, key: "late", category: "promotional", expiresAt: NOW - 1 }), "INVALID_ARGUMENT");
    await expectCode(operatorGrant(t, accountId, { amount: -1, key: "neg", category: "promotional" }), "INVALID_ARGUMENT");
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
  });
});

describe("history and views", () => {
  test("grants list only the caller's live grants, with expiries; another account's are never shown", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await signedUp(t, bob);
    await operatorGrant(t, accountId, { amount: 2, key: "promo", category: "promotional", expiresAt: NOW + DAY });
    const mine = await t.withIdentity(alice).query(api.tokens.grants, {});
    expect(mine.map((g) => [g.category, g.remaining, g.expiresAt])).toEqual([
      ["promotional", 2, NOW + DAY],
      ["plan_allowance", 5, Date.UTC(2026, 11, 1)],
    ]);
    expect((await t.withIdentity(bob).query(api.tokens.grants, {})).map((g) => g.category)).toEqual(["plan_allowance"]);
    expect(await t.query(api.tokens.grants, {})).toEqual([]);
  });
});

describe("accounts from before grants", () => {
  test("are converted on their next movement: the grants hold exactly the old balance", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    // A row as the old ledger left it: 50 allowance, 20 purchased, 30 used → 40.
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("tokenBalances", {
        accountId,
        allowance: 50,
        purchased: 20,
        used: 30,
        balance: 40,
        periodKey: "period:free:2026-11",
        periodStart: Date.UTC(2026, 10, 1),
        periodEnd: Date.UTC(2026, 11, 1),
      });
      await ctx.db.insert("tokenLedger", { accountId, amount: 70, reason: "admin_grant", sourceKey: "old", balanceAfter: 70 });
      await ctx.db.insert("tokenLedger", { accountId, amount: -30, reason: "consume", sourceKey: "old-use", balanceAfter: 40 });
    });
    await consume(t, "standard_analysis", "first-after");
    const grants = await grantsOf(t, accountId);
    expect(grants.map((g) => [g.category, g.remaining])).toEqual([
      ["plan_allowance", 17],
      ["purchased", 20],
    ]);
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(37);
    await expectInvariant(t, accountId);
  });
});

describe("daily audit", () => {
  test("records an account whose balance drifted from its grants, and none of the healthy ones", async () => {
    const t = makeTest();
    const healthy = await signedUp(t);
    const broken = await signedUp(t, bob);
    await runInBilling(t, async (ctx) => {
      const row = await ledger.getBalance(ctx, broken);
      await ctx.db.patch("tokenBalances", row!._id, { balance: row!.balance + 3, purchased: row!.purchased + 3 });
    });
    expect(await billing(t).mutation(billingInternal.tokens.auditBalances, {})).toEqual({ checked: 2, drifted: 1, isDone: true });
    const drift = await billing(t).query(billingApi.tokens.drift, {});
    expect(drift.map((d) => d.accountId)).toEqual([broken]);
    expect(drift[0]!.problems.join("\n")).toMatch(/active grants hold 5/);
    expect(drift[0]!.problems.join("\n")).toMatch(/latest ledger row says 5/);
    await expectInvariant(t, healthy);
  });
});

describe("usage", () => {
  test("counts tokens per day and feature from consumes and settled holds, not from released ones", async () => {
    const t = makeTest();
    const accountId = await signedUp(t);
    await topUp(t, accountId, 40, "pack");
    const as = t.withIdentity(alice);
    await consume(t, "standard_analysis", "a");
    await consume(t, "quick_analysis", "b");
    vi.setSystemTime(NOW + DAY);
    const settled = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "h1" });
    await as.mutation(api.tokens.settle, { holdId: settled.holdId });
    const released = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "h2" });
    await as.mutation(api.tokens.release, { holdId: released.holdId });
    await consume(t, "standard_analysis", "c");
    const usage = await as.query(api.tokens.usage, {});
    expect(usage?.current.start).toBe(Date.UTC(2026, 10, 1));
    expect(usage?.current.days).toEqual([
      { day: "2026-11-10", feature: "quick_analysis", tokens: 1, runs: 1 },
      { day: "2026-11-10", feature: "standard_analysis", tokens: 3, runs: 1 },
      { day: "2026-11-11", feature: "bulk_analysis", tokens: 10, runs: 1 },
      { day: "2026-11-11", feature: "standard_analysis", tokens: 3, runs: 1 },
    ]);
    expect(usage?.previous).toEqual({ start: Date.UTC(2026, 9, 2), end: Date.UTC(2026, 10, 1), days: [] });
    expect(await t.withIdentity(bob).query(api.tokens.usage, {})).toBeNull();
  });
});

describe("rollover", () => {
  const MONTH = 30 * DAY;
  const start = Date.UTC(2026, 10, 1);
  async function window(t: TestConvex, accountId: Id<"billingAccounts">, n: number, tier: "free" | "pro" | "elite", tokens: number) {
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: `window:${n}`,
        tokens,
        periodKey: `window:${n}`,
        periodStart: start + n * MONTH,
        periodEnd: start + (n + 1) * MONTH,
        windowTier: tier === "free" ? undefined : tier,
      });
    });
  }

  test("elite carries up to 500 unused for two periods; it ends with them, whatever is left", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await window(t, accountId, 0, "elite", 500);
    await consume(t, "bulk_analysis", "a"); // 10 of the allowance
    await window(t, accountId, 1, "elite", 500); // 490 roll over
    let grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    // Draw order: the allowance expires first.
    expect(grants.map((g) => [g.category, g.remaining, g.expiresAt])).toEqual([
      ["plan_allowance", 500, start + 2 * MONTH],
      ["rollover", 490, start + 3 * MONTH],
    ]);
    await window(t, accountId, 2, "elite", 500); // 500 more roll over; the first rollover lives on
    grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    expect(grants.map((g) => [g.category, g.remaining])).toEqual([
      ["rollover", 490],
      ["plan_allowance", 500],
      ["rollover", 500],
    ]);
    await window(t, accountId, 3, "elite", 500); // the first rollover ends with window 2; window 2's 500 roll over
    grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    expect(grants.map((g) => [g.category, g.remaining, g.expiresAt])).toEqual([
      ["rollover", 500, start + 4 * MONTH],
      ["plan_allowance", 500, start + 4 * MONTH],
      ["rollover", 500, start + 5 * MONTH],
    ]);
    const expiredRollover = (await grantsOf(t, accountId)).find((g) => g.category === "rollover" && g.status === "expired");
    expect(expiredRollover?.amount).toBe(490);
    await expectInvariant(t, accountId);
  });

  test("free months never roll over", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await window(t, accountId, 0, "free", 5);
    await window(t, accountId, 1, "free", 5);
    expect((await t.withIdentity(alice).query(api.tokens.grants, {})).map((g) => g.category)).toEqual(["plan_allowance"]);
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
  });
});

describe("threshold alerts", () => {
  test("fire once per period as debits cross 80%, 100% and a low balance; dismissing clears them", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "window:a",
        tokens: 10,
        periodKey: "window:a",
        periodStart: NOW - DAY,
        periodEnd: NOW + 29 * DAY,
      });
    });
    const as = t.withIdentity(alice);
    await consume(t, "standard_analysis", "1"); // used 3 of 10, balance 7
    expect(await as.query(api.tokens.alerts, {})).toEqual([]);
    await consume(t, "standard_analysis", "2"); // used 6, balance 4: at or under 5
    expect((await as.query(api.tokens.alerts, {})).map((a) => a.alertId)).toEqual(["low_balance"]);
    await consume(t, "standard_analysis", "3"); // used 9: crosses 80%
    await consume(t, "quick_analysis", "4"); // used 10: crosses 100%
    const alerts = await as.query(api.tokens.alerts, {});
    expect(alerts.map((a) => a.alertId)).toEqual(["allowance_100", "allowance_80", "low_balance"]);
    expect(alerts[0]!.message).toMatch(/all 10 tokens/);
    expect(alerts[2]).toMatchObject({ message: "Only 4 tokens left.", balance: 4 });
    expect(await as.mutation(api.tokens.dismissAlerts, {})).toBe(3);
    expect(await as.query(api.tokens.alerts, {})).toEqual([]);
    // A grant and another spend in the same period do not fire the same alerts again.
    await topUp(t, accountId, 10, "pack");
    await consume(t, "bulk_analysis", "5");
    expect(await as.query(api.tokens.alerts, {})).toEqual([]);
    // The next period starts them afresh.
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "window:b",
        tokens: 10,
        periodKey: "window:b",
        periodStart: NOW + 29 * DAY,
        periodEnd: NOW + 59 * DAY,
      });
    });
    await consume(t, "bulk_analysis", "6");
    expect((await as.query(api.tokens.alerts, {})).map((a) => a.alertId).sort()).toEqual(["allowance_100", "allowance_80", "low_balance"]);
    expect(await t.withIdentity(bob).query(api.tokens.alerts, {})).toEqual([]);
  });
});
