import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import crons from "../../convex/billing/crons";
import * as ledger from "../../convex/billing/model/ledger";
import { freePeriod, freePeriodSourceKey } from "../../convex/billing/model/periods";
import type { Tier } from "../../convex/billing/model/plans";
import { FREE_RESET_BATCH_SIZE } from "../../convex/billing/model/tokens";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

type T = ReturnType<typeof makeTest>;
const ISSUER = "https://clerk.example.test";
/** Numbers the accounts seeded without a user, for unique owner keys. */
let seeded = 0;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Creates `count` accounts of `tier`, each with a balance holding the free
 * period of `at`'s month (as `users.store` would have made it then).
 */
async function seedAccounts(t: T, count: number, tier: Tier, at: number): Promise<Id<"billingAccounts">[]> {
  const ids: Id<"billingAccounts">[] = [];
  const period = freePeriod(at);
  // Chunks keep each seeding transaction small.
  for (let start = 0; start < count; start += 100) {
    const chunk = await runInBilling(t, async (ctx) => {
      const created: Id<"billingAccounts">[] = [];
      for (let i = start; i < Math.min(count, start + 100); i++) {
        const accountId = await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: `seed:${++seeded}`, tier });
        await ledger.startPeriod(ctx, accountId, { sourceKey: freePeriodSourceKey(period), tokens: 5, ...period });
        created.push(accountId);
      }
      return created;
    });
    ids.push(...chunk);
  }
  return ids;
}

async function ledgerKeys(t: T, accountId: Id<"billingAccounts">): Promise<string[]> {
  return await runInBilling(t, async (ctx) =>
    (
      await ctx.db
        .query("tokenLedger")
        .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
        .take(50)
    ).map((r) => r.sourceKey),
  );
}

async function runReset(t: T) {
  const first = await billing(t).mutation(billingInternal.tokens.resetFreeTier, {});
  await t.finishAllScheduledFunctions(() => vi.runAllTimers());
  return first;
}

async function expectInvariant(t: T, accountId: Id<"billingAccounts">) {
  const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  expect(result.problems).toEqual([]);
}

describe("tokens.resetFreeTier", () => {
  // convex-test simulates indexes by scanning, so 470 accounts take seconds here;
  // the generous timeout is for a busy machine, not a speed claim.
  test("grants each free account exactly one new month, in batches, and skips paid accounts", { timeout: 120_000 }, async () => {
    vi.setSystemTime(new Date("2026-04-10T12:00:00Z"));
    const t = makeTest();
    const free = await seedAccounts(t, 450, "free", Date.now());
    const paid = await seedAccounts(t, 20, "pro", Date.now());

    vi.setSystemTime(new Date("2026-05-01T00:07:00Z"));
    const first = await runReset(t);
    // Equal periodEnds page in creation order, so the first batch is all free accounts.
    expect(first).toEqual({ processed: FREE_RESET_BATCH_SIZE, granted: FREE_RESET_BATCH_SIZE, windowsOpened: 0, skippedPaid: 0, isDone: false });

    // 470 ended periods at FREE_RESET_BATCH_SIZE (110) a batch: the first run scheduled four more, one after another.
    const scheduled = await runInBilling(t, async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
    expect(scheduled.map((s) => [s.name, s.state.kind])).toEqual(
      Array.from({ length: 4 }, () => ["tokens:resetFreeTier", "success"]),
    );
    expect(Math.ceil(470 / FREE_RESET_BATCH_SIZE)).toBe(1 + scheduled.length);

    // One scan of the ledger (convex-test answers each indexed query by scanning,
    // so 470 separate look-ups would dominate the test's time).
    const mayGrantees = await runInBilling(t, async (ctx) => {
      const accountIds: string[] = [];
      for await (const row of ctx.db.query("tokenLedger")) {
        if (row.sourceKey === "period:free:2026-05") accountIds.push(row.accountId);
      }
      return accountIds;
    });
    const grantsOfMay = (ids: Id<"billingAccounts">[]) => ids.map((id) => mayGrantees.filter((g) => g === id).length);
    expect(grantsOfMay(free)).toEqual(free.map(() => 1));
    expect(grantsOfMay(paid)).toEqual(paid.map(() => 0));
    for (const accountId of paid.slice(0, 3)) {
      expect(await ledgerKeys(t, accountId)).toEqual(["period:free:2026-04"]);
    }
    const sample = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, free[449]!));
    expect(sample).toMatchObject({ allowance: 5, used: 0, balance: 5, periodKey: "free:2026-05", periodEnd: Date.UTC(2026, 5, 1) });
    for (const accountId of [free[0]!, free[200]!, free[449]!, paid[0]!]) await expectInvariant(t, accountId);

    // A second run the same hour grants nothing: only the paid accounts are still due.
    expect(await runReset(t)).toEqual({ processed: 20, granted: 0, windowsOpened: 0, skippedPaid: 20, isDone: true });
    expect(await runInBilling(t, async (ctx) => {
      let n = 0;
      for await (const row of ctx.db.query("tokenLedger")) if (row.sourceKey === "period:free:2026-05") n += 1;
      return n;
    })).toBe(450);
  });

  test("re-running for a month already granted writes nothing (idempotent by period key)", async () => {
    vi.setSystemTime(new Date("2026-04-10T12:00:00Z"));
    const t = makeTest();
    const accountId = (await seedAccounts(t, 1, "free", Date.now()))[0]!;
    vi.setSystemTime(new Date("2026-05-01T01:07:00Z"));
    await runReset(t);
    // Simulate a balance still looking due (e.g. an overlapping run that read it earlier).
    await runInBilling(t, async (ctx) => {
      const row = await ledger.getBalance(ctx, accountId);
      await ctx.db.patch("tokenBalances", row!._id, { periodEnd: Date.UTC(2026, 4, 1) });
    });
    const again = await runReset(t);
    expect(again).toEqual({ processed: 1, granted: 0, windowsOpened: 0, skippedPaid: 0, isDone: true });
    expect(await ledgerKeys(t, accountId)).toEqual([
      "period:free:2026-04",
      "period:free:2026-05:expire",
      "period:free:2026-05",
    ]);
    await expectInvariant(t, accountId);
  });

  test("a free account whose balance has no period yet gets the current month", async () => {
    vi.setSystemTime(new Date("2026-08-20T10:00:00Z"));
    const t = makeTest();
    const accountId = await runInBilling(t, async (ctx) => {
      const id = await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: "user:free", tier: "free" });
      await ledger.ensureBalance(ctx, id);
      return id;
    });
    expect(await runReset(t)).toEqual({ processed: 1, granted: 1, windowsOpened: 0, skippedPaid: 0, isDone: true });
    expect(await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId))).toMatchObject({
      balance: 5,
      periodKey: "free:2026-08",
    });
    await expectInvariant(t, accountId);
  });

  test("does nothing before the month ends", async () => {
    vi.setSystemTime(new Date("2026-01-31T10:00:00Z"));
    const t = makeTest();
    const accountId = (await seedAccounts(t, 1, "free", Date.now()))[0]!;
    vi.setSystemTime(new Date("2026-01-31T23:59:59Z"));
    expect(await runReset(t)).toEqual({ processed: 0, granted: 0, windowsOpened: 0, skippedPaid: 0, isDone: true });
    expect(await ledgerKeys(t, accountId)).toEqual(["period:free:2026-01"]);
  });

  test.each([
    ["January 31 → February", "2026-01-31T23:59:00Z", "2026-02-01T00:07:00Z", "free:2026-02", Date.UTC(2026, 2, 1)],
    ["February 29 → March (leap year)", "2028-02-29T18:00:00Z", "2028-03-01T00:07:00Z", "free:2028-03", Date.UTC(2028, 3, 1)],
    ["December → January", "2026-12-31T23:00:00Z", "2027-01-01T00:07:00Z", "free:2027-01", Date.UTC(2027, 1, 1)],
  ])("%s", async (_name, signUpAt, resetAt, periodKey, periodEnd) => {
    vi.setSystemTime(new Date(signUpAt));
    const t = makeTest();
    const who = { subject: "user_p", issuer: ISSUER };
    await t.withIdentity(who).mutation(api.users.store, {});
    await t.withIdentity(who).mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "k" });
    vi.setSystemTime(new Date(resetAt));
    expect((await runReset(t)).granted).toBe(1);
    // The 2 unused tokens of the old month expired; the new month's 5 arrived.
    expect(await t.withIdentity(who).query(api.tokens.balance, {})).toEqual({
      allowance: 5,
      purchased: 0,
      held: 0,
      used: 0,
      remaining: 5,
      overage: 0,
      periodEnd,
    });
    const history = await t.withIdentity(who).query(api.tokens.history, { paginationOpts: { numItems: 10, cursor: null } });
    expect(history.page.map((r) => [r.reason, r.amount, r.balanceAfter])).toEqual([
      ["period_grant", 5, 5],
      ["period_expire", -2, 0],
      ["consume", -3, 2],
      ["period_grant", 5, 5],
    ]);
    expect(history.page[0]?.note).toBe(periodKey);
  });

  test("purchased tokens survive the reset; an account back on free after a paid period is renewed", async () => {
    vi.setSystemTime(new Date("2026-05-15T09:00:00Z"));
    const t = makeTest();
    const accountId = await runInBilling(
      t,
      async (ctx) => await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: "user:pro", tier: "pro" }),
    );
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "invoice:in_1",
        tokens: 150,
        periodKey: "invoice:in_1",
        periodStart: Date.UTC(2026, 4, 15),
        periodEnd: Date.UTC(2026, 5, 15),
      });
      await ledger.grant(ctx, accountId, { sourceKey: "topup:1", amount: 100, reason: "top_up" });
    });
    // Still paid when the period ends: skipped (invoice.paid will renew it).
    vi.setSystemTime(new Date("2026-06-15T00:07:00Z"));
    expect(await runReset(t)).toMatchObject({ granted: 0, skippedPaid: 1 });
    // The subscription ends; the account is free and gets June's allowance.
    await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { tier: "free" }));
    vi.setSystemTime(new Date("2026-06-15T01:07:00Z"));
    expect(await runReset(t)).toMatchObject({ granted: 1, skippedPaid: 0 });
    expect(await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId))).toMatchObject({
      allowance: 5,
      purchased: 100,
      used: 0,
      balance: 105,
      periodKey: "free:2026-06",
      periodEnd: Date.UTC(2026, 6, 1),
    });
    await expectInvariant(t, accountId);
  });

  test("a staff or comped account (tierOverride, no paying subscription) gets its tier's allowance each month", async () => {
    vi.setSystemTime(new Date("2026-04-10T12:00:00Z"));
    const t = makeTest();
    const [staff] = await seedAccounts(t, 1, "internal", Date.now());
    const [comped] = await seedAccounts(t, 1, "pro", Date.now());
    const [payingWithOverride] = await seedAccounts(t, 1, "elite", Date.now());
    await runInBilling(t, async (ctx) => {
      await ctx.db.patch("billingAccounts", staff!, { tierOverride: "internal" });
      await ctx.db.patch("billingAccounts", comped!, { tierOverride: "pro" });
      await ctx.db.patch("billingAccounts", payingWithOverride!, { tierOverride: "elite", stripeSubscriptionId: "sub_pay" });
      await ctx.db.insert("subscriptions", {
        stripeSubscriptionId: "sub_pay",
        stripeCustomerId: "cus_pay",
        accountId: payingWithOverride!,
        status: "active",
        tier: "starter",
        quantity: 1,
        cancelAtPeriodEnd: false,
        eventCreated: 1,
      });
    });
    vi.setSystemTime(new Date("2026-05-01T00:07:00Z"));
    // The paying account's periods come from its invoices, as for any subscriber.
    expect(await runReset(t)).toMatchObject({ granted: 2, skippedPaid: 1 });
    const balanceOf = async (id: Id<"billingAccounts">) => await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, id));
    expect(await balanceOf(staff!)).toMatchObject({ allowance: 10_000, balance: 10_000, periodKey: "internal:2026-05" });
    expect(await balanceOf(comped!)).toMatchObject({ allowance: 150, balance: 150, periodKey: "pro:2026-05" });
    expect(await balanceOf(payingWithOverride!)).toMatchObject({ allowance: 5, periodKey: "free:2026-04" });
    // Idempotent per month.
    expect(await runReset(t)).toMatchObject({ granted: 0 });
    for (const id of [staff!, comped!, payingWithOverride!]) await expectInvariant(t, id);
  });
});

describe("crons", () => {
  test("schedules the free-tier reset hourly, off the top of the hour", () => {
    const job = Object.values(crons.crons).find((c) => String(c.name) === "tokens:resetFreeTier");
    expect(job?.schedule).toEqual({ type: "hourly", minuteUTC: 7 });
  });
});
