import { describe, expect, test } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { isBillingError } from "../../convex/billing/model/errors";
import * as ledger from "../../convex/billing/model/ledger";
import { runInBilling, type BillingMutationCtx } from "../lib/billingComponent";
import { makeTest } from "./setup";

type T = ReturnType<typeof makeTest>;
const DAY = 24 * 60 * 60 * 1000;
const MAY_1 = Date.UTC(2026, 4, 1);
const JUNE_1 = Date.UTC(2026, 5, 1);
const JULY_1 = Date.UTC(2026, 6, 1);

/** A bare billing account (no user), as the webhook handlers see them. */
async function newAccount(t: T): Promise<Id<"billingAccounts">> {
  return await runInBilling(
    t,
    async (ctx) => await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: "user:bare", tier: "free" }),
  );
}

/** What `fn` throws inside the component (its result if it does not throw). */
async function caught(t: T, fn: (ctx: BillingMutationCtx) => Promise<unknown>): Promise<unknown> {
  return await runInBilling(t, fn).catch((e: unknown) => e);
}

async function state(t: T, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) => {
    const b = await ledger.getBalance(ctx, accountId);
    const invariant = await ledger.checkInvariant(ctx, accountId);
    expect(invariant.problems).toEqual([]);
    return b && { allowance: b.allowance, purchased: b.purchased, used: b.used, balance: b.balance, periodKey: b.periodKey };
  });
}

async function rows(t: T, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) =>
    (
      await ctx.db
        .query("tokenLedger")
        .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
        .take(100)
    ).map((r) => [r.reason, r.amount, r.sourceKey, r.balanceAfter]),
  );
}

const may = { sourceKey: "invoice:in_may", tokens: 150, periodKey: "invoice:in_may", periodStart: MAY_1, periodEnd: JUNE_1 };
const june = { sourceKey: "invoice:in_june", tokens: 150, periodKey: "invoice:in_june", periodStart: JUNE_1, periodEnd: JULY_1 };

describe("ledger.ensureBalance", () => {
  test("creates one empty row and returns the same row afterwards", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    const [a, b] = await runInBilling(t, async (ctx) => [
      await ledger.ensureBalance(ctx, accountId),
      await ledger.ensureBalance(ctx, accountId),
    ]);
    expect(a._id).toBe(b._id);
    expect(a).toMatchObject({ allowance: 0, purchased: 0, used: 0, balance: 0 });
  });
});

describe("ledger.startPeriod", () => {
  test("grants the allowance, and a repeat of the key is a no-op", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    expect(await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, may))).toEqual({ applied: true });
    expect(await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, may))).toEqual({ applied: false });
    expect(await state(t, accountId)).toEqual({
      allowance: 150,
      purchased: 0,
      used: 0,
      balance: 150,
      periodKey: "invoice:in_may",
    });
    expect(await rows(t, accountId)).toEqual([["period_grant", 150, "invoice:in_may", 150]]);
  });

  test("expires the unused allowance and carries purchased tokens over", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, may);
      await ledger.grant(ctx, accountId, { sourceKey: "topup:cs_1", amount: 100, reason: "top_up" });
      await ledger.consume(ctx, accountId, { sourceKey: "consume:a", cost: 40, feature: "f" });
      await ledger.startPeriod(ctx, accountId, june);
    });
    expect(await state(t, accountId)).toMatchObject({ allowance: 150, purchased: 100, used: 0, balance: 250 });
    expect(await rows(t, accountId)).toEqual([
      ["period_grant", 150, "invoice:in_may", 150],
      ["top_up", 100, "topup:cs_1", 250],
      ["consume", -40, "consume:a", 210],
      ["period_expire", -110, "invoice:in_june:expire", 100],
      ["period_grant", 150, "invoice:in_june", 250],
    ]);
  });

  test("consumption beyond the allowance comes out of purchased tokens at the rollover", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, { ...may, tokens: 5 });
      await ledger.grant(ctx, accountId, { sourceKey: "topup:1", amount: 100, reason: "top_up" });
      await ledger.consume(ctx, accountId, { sourceKey: "c1", cost: 25, feature: "f" });
      await ledger.startPeriod(ctx, accountId, { ...june, tokens: 5 });
    });
    // 25 used = 5 allowance + 20 purchased; nothing unused to expire.
    expect(await state(t, accountId)).toMatchObject({ allowance: 5, purchased: 80, used: 0, balance: 85 });
    expect((await rows(t, accountId)).map((r) => r[0])).not.toContain("period_expire");
  });

  test("ignores a stale period that ended before the current one started", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, june);
      await ledger.consume(ctx, accountId, { sourceKey: "c1", cost: 10, feature: "f" });
    });
    expect(await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, may))).toEqual({ applied: false });
    expect(await state(t, accountId)).toMatchObject({ allowance: 150, used: 10, balance: 140, periodKey: "invoice:in_june" });
  });

  test("accepts an overlapping newer period (free month after a mid-month paid period)", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, { ...may, periodStart: MAY_1 + 14 * DAY, periodEnd: JUNE_1 + 14 * DAY });
    });
    const free = { sourceKey: "period:free:2026-06", tokens: 5, periodKey: "free:2026-06", periodStart: JUNE_1, periodEnd: JULY_1 };
    expect(await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, free))).toEqual({ applied: true });
    expect(await state(t, accountId)).toMatchObject({ allowance: 5, balance: 5, periodKey: "free:2026-06" });
  });

  test("rejects a fractional token amount or an empty period", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    for (const bad of [{ ...may, tokens: 1.5 }, { ...may, tokens: -1 }, { ...may, periodEnd: MAY_1 }, { ...may, sourceKey: "" }]) {
      const error = await caught(t, async (ctx) => await ledger.startPeriod(ctx, accountId, bad));
      expect(isBillingError(error, "INVALID_ARGUMENT")).toBe(true);
    }
    expect(await rows(t, accountId)).toEqual([]);
  });
});

describe("ledger.setAllowance", () => {
  async function balanceRow(t: T, accountId: Id<"billingAccounts">) {
    return await runInBilling(t, async (ctx) => (await ledger.getBalance(ctx, accountId))!);
  }

  test("raising the allowance grants the difference, once per key", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, { ...may, tokens: 50 });
      await ledger.consume(ctx, accountId, { sourceKey: "c1", cost: 30, feature: "f" });
    });
    const change = { sourceKey: "window:may:pro:evt_1", allowance: 150, windowTier: "pro" as const, note: "upgrade" };
    const first = await balanceRow(t, accountId);
    expect(await runInBilling(t, async (ctx) => await ledger.setAllowance(ctx, first, change))).toEqual({ applied: true });
    const second = await balanceRow(t, accountId);
    expect(await runInBilling(t, async (ctx) => await ledger.setAllowance(ctx, second, change))).toEqual({ applied: false });
    expect(await state(t, accountId)).toMatchObject({ allowance: 150, used: 30, balance: 120 });
    expect((await rows(t, accountId)).at(-1)).toEqual(["plan_change", 100, "window:may:pro:evt_1", 120]);
  });

  test("lowering takes back only unused allowance, never what was used", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, { ...may, tokens: 500 });
      await ledger.consume(ctx, accountId, { sourceKey: "c1", cost: 20, feature: "f" });
    });
    const row = await balanceRow(t, accountId);
    const down = { sourceKey: "down", allowance: 50, windowTier: "starter" as const, note: "down" };
    await runInBilling(t, async (ctx) => await ledger.setAllowance(ctx, row, down));
    // 50 − 20 used = 30 left of the new allowance.
    expect(await state(t, accountId)).toMatchObject({ allowance: 50, used: 20, balance: 30 });
    const below = await balanceRow(t, accountId);
    const tooLow = { sourceKey: "x", allowance: 10, windowTier: "starter" as const, note: "x" };
    const error = await caught(t, async (ctx) => await ledger.setAllowance(ctx, below, tooLow));
    expect(isBillingError(error, "INVALID_ARGUMENT")).toBe(true);
  });

  test("a result past Number.MAX_SAFE_INTEGER is refused and writes nothing", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    const nearMax = { sourceKey: "a", amount: Number.MAX_SAFE_INTEGER - 5, reason: "admin_grant" as const };
    await runInBilling(t, async (ctx) => await ledger.grant(ctx, accountId, nearMax));
    const error = await caught(
      t,
      async (ctx) => await ledger.grant(ctx, accountId, { sourceKey: "b", amount: 10, reason: "admin_grant" }),
    );
    expect(isBillingError(error, "INVALID_ARGUMENT")).toBe(true);
    expect(await state(t, accountId)).toMatchObject({ balance: Number.MAX_SAFE_INTEGER - 5 });
    expect(await rows(t, accountId)).toHaveLength(1);
  });
});

describe("ledger.consume and ledger.grant", () => {
  test("consume refuses to overdraw and reports required/available", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, { ...may, tokens: 5 }));
    const error = await caught(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: "c", cost: 6, feature: "f" }));
    expect(isBillingError(error, "INSUFFICIENT_TOKENS")).toBe(true);
    expect(isBillingError(error) && error.data).toMatchObject({ required: 6, available: 5 });
    const ok = await runInBilling(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: "c", cost: 5, feature: "f" }));
    expect(ok).toEqual({ applied: true, cost: 5, remaining: 0, overage: 0 });
    const dup = await runInBilling(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: "c", cost: 1, feature: "f" }));
    expect(dup).toEqual({ applied: false, cost: 5, remaining: 0, overage: 0 });
    expect(await state(t, accountId)).toMatchObject({ balance: 0, used: 5 });
  });

  test("consume rejects zero, negative and fractional costs", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => await ledger.startPeriod(ctx, accountId, may));
    for (const cost of [0, -3, 0.5]) {
      const error = await caught(
        t,
        async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: `c${cost}`, cost, feature: "f" }),
      );
      expect(isBillingError(error, "INVALID_ARGUMENT")).toBe(true);
    }
    expect(await state(t, accountId)).toMatchObject({ balance: 150 });
  });

  test("a negative grant takes unused purchased tokens first, then unused allowance", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, { ...may, tokens: 10 });
      await ledger.grant(ctx, accountId, { sourceKey: "t1", amount: 20, reason: "top_up" });
      await ledger.consume(ctx, accountId, { sourceKey: "c1", cost: 15, feature: "f" }); // 10 allowance + 5 purchased
      await ledger.grant(ctx, accountId, { sourceKey: "fix", amount: -15, reason: "admin_grant", note: "refund" });
    });
    expect(await state(t, accountId)).toMatchObject({ allowance: 10, purchased: 5, used: 15, balance: 0 });
  });
});

describe("ledger.checkInvariant", () => {
  test("is ok for an account with no balance and no ledger", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    expect(await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId))).toEqual({
      ok: true,
      balance: 0,
      ledgerSum: 0,
      grantsSum: 0,
      entries: 0,
      problems: [],
    });
  });

  test("flags allowance/purchased/used that disagree with the balance", async () => {
    const t = makeTest();
    const accountId = await newAccount(t);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, may);
      const row = await ledger.getBalance(ctx, accountId);
      await ctx.db.patch("tokenBalances", row!._id, { used: 7 });
    });
    const result = await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId));
    expect(result.ok).toBe(false);
    expect(result.problems.join("\n")).toContain("used 7");
  });
});
