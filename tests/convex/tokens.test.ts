import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { isBillingError, type BillingErrorData } from "../../convex/billing/model/errors";
import * as ledger from "../../convex/billing/model/ledger";
import type { Tier } from "../../convex/billing/model/plans";
import { billingOwnerKey } from "../../convex/model/auth";
import { accountOf, billing, billingApi, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const ISSUER = "https://clerk.example.test";
const alice = { subject: "user_alice", issuer: ISSUER, name: "Alice" };
const bob = { subject: "user_bob", issuer: ISSUER, name: "Bob" };

type T = ReturnType<typeof makeTest>;

/** Signs `who` up through `users.store` and returns their account id. */
async function signUp(t: T, who: typeof alice): Promise<Id<"billingAccounts">> {
  const userId = await t.withIdentity(who).mutation(api.users.store, {});
  const account = await accountOf(t, billingOwnerKey(userId));
  return account!._id;
}

async function setTier(t: T, accountId: Id<"billingAccounts">, tier: Tier) {
  await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { tier }));
}

async function addPurchased(t: T, accountId: Id<"billingAccounts">, amount: number, key: string) {
  await billing(t).mutation(billingApi.tokens.grant, { accountId, amount, reason: "test top-up", idempotencyKey: key });
}

async function expectInvariant(t: T, accountId: Id<"billingAccounts">) {
  const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  expect(result.problems).toEqual([]);
  expect(result.ok).toBe(true);
  return result;
}

async function errorOf(promise: Promise<unknown>): Promise<BillingErrorData> {
  const error: unknown = await promise.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  if (!isBillingError(error)) throw error instanceof Error ? error : new Error(String(error));
  return error.data;
}

describe("tokens.balance", () => {
  test("is null when signed out", async () => {
    const t = makeTest();
    expect(await t.query(api.tokens.balance, {})).toBeNull();
  });

  test("shows allowance, purchased, used and remaining after mixed movements", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 10, "buy-1");
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "a" });
    const balance = await t.withIdentity(alice).query(api.tokens.balance, {});
    expect(balance).toMatchObject({ allowance: 5, purchased: 10, used: 3, remaining: 12 });
    expect(typeof balance?.periodEnd).toBe("number");
    await expectInvariant(t, accountId);
  });
});

describe("tokens.check", () => {
  test("prices by complexity: low ×0.7 and high ×1.5 rounded up, unknown features at the default", async () => {
    const t = makeTest();
    await signUp(t, alice);
    const as = t.withIdentity(alice);
    const cost = async (feature: string, complexity?: "low" | "medium" | "high") =>
      (await as.query(api.tokens.check, { feature, complexity })).cost;
    expect(await cost("quick_analysis", "low")).toBe(1); // ceil(0.7)
    expect(await cost("quick_analysis", "high")).toBe(2); // ceil(1.5)
    expect(await cost("standard_analysis")).toBe(3);
    expect(await cost("standard_analysis", "low")).toBe(3); // ceil(2.1)
    expect(await cost("standard_analysis", "high")).toBe(5); // ceil(4.5)
    expect(await cost("bulk_analysis", "low")).toBe(7);
    expect(await cost("bulk_analysis", "high")).toBe(15);
    expect(await cost("no_such_feature")).toBe(5);
    expect(await cost("no_such_feature", "high")).toBe(8); // ceil(7.5)
  });

  test("reports ok, insufficient_tokens and tier_required with the remaining balance", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    const as = t.withIdentity(alice);
    expect(await as.query(api.tokens.check, { feature: "standard_analysis" })).toEqual({
      allowed: true,
      cost: 3,
      remaining: 5,
      reason: "ok",
    });
    expect(await as.query(api.tokens.check, { feature: "bulk_analysis" })).toEqual({
      allowed: false,
      cost: 10,
      remaining: 5,
      reason: "insufficient_tokens",
    });
    expect(await as.query(api.tokens.check, { feature: "deep_analysis" })).toEqual({
      allowed: false,
      cost: 20,
      remaining: 5,
      reason: "tier_required",
      requiredTier: "pro",
    });
    await setTier(t, accountId, "pro");
    expect(await as.query(api.tokens.check, { feature: "deep_analysis" })).toMatchObject({
      allowed: false,
      reason: "insufficient_tokens",
    });
  });

  test("a staff tierOverride opens tier-gated features", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { tierOverride: "internal" }));
    expect((await t.withIdentity(alice).query(api.tokens.check, { feature: "deep_analysis" })).reason).toBe(
      "insufficient_tokens",
    );
  });

  test("answers signed_out, not an error, when signed out", async () => {
    const t = makeTest();
    expect(await t.query(api.tokens.check, { feature: "quick_analysis" })).toEqual({
      allowed: false,
      cost: 1,
      remaining: 0,
      reason: "signed_out",
    });
  });

  test("rejects an empty feature name", async () => {
    const t = makeTest();
    await signUp(t, alice);
    expect((await errorOf(t.withIdentity(alice).query(api.tokens.check, { feature: "" }))).code).toBe(
      "INVALID_ARGUMENT",
    );
  });
});

describe("tokens.consume", () => {
  test("debits the cost and records it in the ledger", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    const result = await t
      .withIdentity(alice)
      .mutation(api.tokens.consume, { feature: "standard_analysis", complexity: "high", idempotencyKey: "job-1" });
    expect(result).toEqual({ cost: 5, remaining: 0, overage: 0, duplicate: false });
    const history = await t.withIdentity(alice).query(api.tokens.history, {
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(history.page[0]).toMatchObject({
      amount: -5,
      reason: "consume",
      sourceKey: "consume:job-1",
      balanceAfter: 0,
      feature: "standard_analysis",
    });
    await expectInvariant(t, accountId);
  });

  test("the same idempotency key debits once and returns the original cost", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    const as = t.withIdentity(alice);
    const first = await as.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "same" });
    // Same key, different feature: still the first debit, nothing new.
    const again = await as.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "same" });
    expect(first).toEqual({ cost: 3, remaining: 2, overage: 0, duplicate: false });
    expect(again).toEqual({ cost: 3, remaining: 2, overage: 0, duplicate: true });
    expect((await as.query(api.tokens.balance, {}))?.remaining).toBe(2);
    const { entries } = await expectInvariant(t, accountId);
    expect(entries).toBe(2); // the period grant and one debit
  });

  test("a duplicate still answers after the balance ran out", async () => {
    const t = makeTest();
    await signUp(t, alice);
    const as = t.withIdentity(alice);
    await as.mutation(api.tokens.consume, { feature: "no_such_feature", idempotencyKey: "all" });
    expect(await as.mutation(api.tokens.consume, { feature: "no_such_feature", idempotencyKey: "all" })).toEqual({
      cost: 5,
      remaining: 0,
      overage: 0,
      duplicate: true,
    });
  });

  test("fails with INSUFFICIENT_TOKENS carrying required and available, and debits nothing", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    const as = t.withIdentity(alice);
    const data = await errorOf(as.mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: "big" }));
    expect(data).toMatchObject({ code: "INSUFFICIENT_TOKENS", required: 10, available: 5 });
    expect((await as.query(api.tokens.balance, {}))?.remaining).toBe(5);
    // The failed key was not recorded: it can succeed once tokens arrive.
    await addPurchased(t, accountId, 5, "buy");
    expect(await as.mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: "big" })).toEqual({
      cost: 10,
      remaining: 0,
      overage: 0,
      duplicate: false,
    });
    await expectInvariant(t, accountId);
  });

  test("fails with TIER_REQUIRED for a feature above the account's tier", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 100, "buy");
    const data = await errorOf(
      t.withIdentity(alice).mutation(api.tokens.consume, { feature: "deep_analysis", idempotencyKey: "deep" }),
    );
    expect(data).toMatchObject({ code: "TIER_REQUIRED", tier: "pro" });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(105);
    await setTier(t, accountId, "pro");
    expect(
      await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "deep_analysis", idempotencyKey: "deep" }),
    ).toMatchObject({ cost: 20, remaining: 85 });
  });

  test("draws on the allowance first, then on purchased tokens", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 10, "buy");
    const as = t.withIdentity(alice);
    await as.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "1" });
    expect(await as.query(api.tokens.balance, {})).toMatchObject({ allowance: 5, purchased: 10, used: 3 });
    await as.mutation(api.tokens.consume, { feature: "no_such_feature", idempotencyKey: "2" });
    // 8 used: 5 from the allowance, 3 from the 10 purchased.
    expect(await as.query(api.tokens.balance, {})).toMatchObject({ used: 8, remaining: 7 });
    await expectInvariant(t, accountId);
  });

  test("validates the idempotency key length (1 to 200)", async () => {
    const t = makeTest();
    await signUp(t, alice);
    const as = t.withIdentity(alice);
    for (const idempotencyKey of ["", "x".repeat(201)]) {
      expect((await errorOf(as.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey }))).code).toBe(
        "INVALID_ARGUMENT",
      );
    }
    expect(
      (await as.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "x".repeat(200) })).cost,
    ).toBe(1);
  });

  test("many concurrent consumes never spend more than the balance", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 12, "buy"); // 17 tokens
    const as = t.withIdentity(alice);
    const attempts = Array.from({ length: 30 }, (_, i) =>
      as.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: `race-${i}` }).then(
        (r) => ({ ok: true as const, cost: r.cost }),
        (e: unknown) => ({ ok: false as const, insufficient: isBillingError(e, "INSUFFICIENT_TOKENS") }),
      ),
    );
    const outcomes = await Promise.all(attempts);
    const succeeded = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok);
    expect(succeeded.length).toBe(5); // 5 × 3 = 15 ≤ 17 < 18
    expect(failed.every((o) => !o.ok && o.insufficient)).toBe(true);
    expect(await as.query(api.tokens.balance, {})).toMatchObject({ remaining: 2 });
    const { balance, entries } = await expectInvariant(t, accountId);
    expect(balance).toBe(2);
    expect(entries).toBe(1 + 1 + 5);
  });

  test("refuses a signed-out caller", async () => {
    const t = makeTest();
    await signUp(t, alice);
    const data = await errorOf(t.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "k" }));
    expect(data.code).toBe("UNAUTHENTICATED");
  });

  test("keys are per account: the same key for two users debits each once", async () => {
    const t = makeTest();
    const a = await signUp(t, alice);
    const b = await signUp(t, bob);
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "k" });
    const forBob = await t
      .withIdentity(bob)
      .mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "k" });
    expect(forBob).toEqual({ cost: 1, remaining: 4, overage: 0, duplicate: false });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(2);
    await expectInvariant(t, a);
    await expectInvariant(t, b);
  });
});

describe("tokens.history", () => {
  test("pages newest first", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 20, "buy");
    const as = t.withIdentity(alice);
    for (let i = 0; i < 4; i++) {
      await as.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: `h${i}` });
    }
    const first = await as.query(api.tokens.history, { paginationOpts: { numItems: 3, cursor: null } });
    expect(first.isDone).toBe(false);
    expect(first.page.map((r) => r.sourceKey)).toEqual(["consume:h3", "consume:h2", "consume:h1"]);
    expect(first.page.map((r) => r.balanceAfter)).toEqual([21, 22, 23]);
    const second = await as.query(api.tokens.history, {
      paginationOpts: { numItems: 3, cursor: first.continueCursor },
    });
    expect(second.page.map((r) => r.reason)).toEqual(["consume", "admin_grant", "period_grant"]);
    expect(second.page[1]).toMatchObject({ amount: 20, note: "test top-up" });
  });

  test("is an empty finished page when signed out", async () => {
    const t = makeTest();
    await signUp(t, alice);
    expect(await t.query(api.tokens.history, { paginationOpts: { numItems: 10, cursor: null } })).toMatchObject({
      page: [],
      isDone: true,
    });
  });

  test("never shows another account's rows", async () => {
    const t = makeTest();
    await signUp(t, alice);
    await signUp(t, bob);
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "secret" });
    const bobs = await t
      .withIdentity(bob)
      .query(api.tokens.history, { paginationOpts: { numItems: 100, cursor: null } });
    expect(bobs.page).toHaveLength(1);
    expect(bobs.page[0]?.sourceKey).toMatch(/^period:free:\d{4}-\d{2}$/);
    expect((await t.withIdentity(bob).query(api.tokens.balance, {}))?.remaining).toBe(5);
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(4);
  });

  test("a signed-in user not stored yet gets empty answers, not someone else's", async () => {
    const t = makeTest();
    await signUp(t, alice);
    const stranger = t.withIdentity({ subject: "user_new", issuer: ISSUER });
    expect(await stranger.query(api.tokens.balance, {})).toBeNull();
    expect((await stranger.query(api.tokens.history, { paginationOpts: { numItems: 5, cursor: null } })).page).toEqual(
      [],
    );
    expect((await stranger.query(api.tokens.check, { feature: "quick_analysis" })).reason).toBe("signed_out");
    expect(
      (await errorOf(stranger.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "x" }))).code,
    ).toBe("NOT_FOUND");
  });
});

describe("tokens.grant (operators)", () => {
  test("requires a non-empty reason and a non-zero integer amount", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    for (const args of [
      { amount: 5, reason: "  " },
      { amount: 0, reason: "why" },
      { amount: 1.5, reason: "why" },
      { amount: Number.NaN, reason: "why" },
    ]) {
      expect((await errorOf(billing(t).mutation(billingApi.tokens.grant, { accountId, ...args }))).code).toBe("INVALID_ARGUMENT");
    }
    await expectInvariant(t, accountId);
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
  });

  test("is idempotent by idempotencyKey; without one every call grants", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    const first = await billing(t).mutation(billingApi.tokens.grant, {
      accountId,
      amount: 50,
      reason: "support ticket 42",
      idempotencyKey: "ticket-42",
    });
    const again = await billing(t).mutation(billingApi.tokens.grant, {
      accountId,
      amount: 50,
      reason: "support ticket 42",
      idempotencyKey: "ticket-42",
    });
    expect(first).toMatchObject({ applied: true, balance: 55, sourceKey: "admin:ticket-42" });
    expect(again).toMatchObject({ applied: false, balance: 55 });
    await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: 1, reason: "goodwill" });
    await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: 1, reason: "goodwill" });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(57);
    await expectInvariant(t, accountId);
  });

  test("a negative correction removes tokens but never below zero", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await addPurchased(t, accountId, 3, "buy"); // allowance 5 + purchased 3
    const data = await errorOf(billing(t).mutation(billingApi.tokens.grant, { accountId, amount: -9, reason: "fraud" }));
    expect(data).toMatchObject({ code: "INSUFFICIENT_TOKENS", required: 9, available: 8 });
    await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: -4, reason: "refunded pack" });
    // Purchased tokens go first, then the allowance.
    expect(await t.withIdentity(alice).query(api.tokens.balance, {})).toMatchObject({
      allowance: 4,
      purchased: 0,
      used: 0,
      remaining: 4,
    });
    await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: -4, reason: "zero it" });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(0);
    await expectInvariant(t, accountId);
  });

  test("fails with NOT_FOUND for an unknown account", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await runInBilling(t, async (ctx) => await ctx.db.delete("billingAccounts", accountId));
    expect((await errorOf(billing(t).mutation(billingApi.tokens.grant, { accountId, amount: 1, reason: "x" }))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("tokens.checkInvariant", () => {
  test("detects a balance that no longer matches the ledger", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await expectInvariant(t, accountId);
    await runInBilling(t, async (ctx) => {
      const row = await ledger.getBalance(ctx, accountId);
      await ctx.db.patch("tokenBalances", row!._id, { balance: 6, purchased: 1 });
    });
    const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
    expect(result).toMatchObject({ ok: false, balance: 6, ledgerSum: 5, entries: 1 });
  });

  test("detects a ledger row whose balanceAfter is wrong", async () => {
    const t = makeTest();
    const accountId = await signUp(t, alice);
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("tokenLedger", { accountId, amount: 0, reason: "admin_grant", sourceKey: "bad", balanceAfter: 99 });
    });
    const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
    expect(result.ok).toBe(false);
    expect(result.problems.join("\n")).toContain("balanceAfter 99");
  });
});
