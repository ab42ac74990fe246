/**
 * Holds: reserve, then settle or release. Tokens leave the spendable balance
 * at reserve, are charged exactly once, come back when a run fails or its
 * hold expires, and concurrent reserves never overspend. Ends with a
 * property-style run of random operation sequences checking the invariant
 * after every step.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { isBillingError } from "../../convex/billing/model/errors";
import * as ledger from "../../convex/billing/model/ledger";
import { PLANS } from "../../convex/billing/model/plans";
import { billingOwnerKey } from "../../convex/model/auth";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

async function account(t: TestConvex, who = alice, purchased = 0): Promise<Id<"billingAccounts">> {
  const accountId = await seedAccount(t, who);
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: "period:free:2026-11",
      tokens: 5,
      periodKey: "period:free:2026-11",
      periodStart: Date.UTC(2026, 10, 1),
      periodEnd: Date.UTC(2026, 11, 1),
    });
    if (purchased > 0) await ledger.grant(ctx, accountId, { sourceKey: "checkout:cs_1", amount: purchased, reason: "top_up" });
  });
  return accountId;
}

async function balance(t: TestConvex, who = alice) {
  return await t.withIdentity(who).query(api.tokens.balance, {});
}

async function expectInvariant(t: TestConvex, accountId: Id<"billingAccounts">) {
  const result = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  expect(result.problems).toEqual([]);
  return result;
}

/** The owner key the app uses for `who` (server-side callers pass it to the component). */
async function ownerKeyOf(t: TestConvex, who = alice): Promise<string> {
  const user = await t.run(async (ctx) => await ctx.db.query("users").withIndex("by_clerkUserId", (q) => q.eq("clerkUserId", who.subject)).first());
  return billingOwnerKey(user!._id);
}

describe("reserve → settle", () => {
  test("tokens leave the balance at reserve and are charged once at settle", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 10);
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job-1" });
    expect(hold).toMatchObject({ status: "open", amount: 10, remaining: 5, duplicate: false, expiresAt: NOW + 10 * MINUTE });
    expect(await balance(t)).toMatchObject({ held: 10, remaining: 5, used: 0 });
    // A retried reserve with the same key returns the same hold and reserves nothing more.
    expect(await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job-1" })).toMatchObject({
      holdId: hold.holdId,
      duplicate: true,
    });
    expect(await as.mutation(api.tokens.settle, { holdId: hold.holdId })).toEqual({
      charged: 10,
      returned: 0,
      overage: 0,
      shortfall: 0,
      remaining: 5,
      duplicate: false,
    });
    expect(await as.mutation(api.tokens.settle, { holdId: hold.holdId })).toMatchObject({ charged: 10, duplicate: true });
    expect(await balance(t)).toMatchObject({ held: 0, remaining: 5, used: 10 });
    await expectInvariant(t, accountId);
  });

  test("a server-side settle of less returns the rest to the grants it came from", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 10);
    const ownerKey = await ownerKeyOf(t);
    const hold = await billing(t).mutation(billingApi.tokens.reserve, {
      ownerKey,
      feature: "long_report",
      estimate: 12,
      idempotencyKey: "report-1",
    });
    // 12 drawn: 5 allowance + 7 of the pack.
    expect(await balance(t)).toMatchObject({ held: 12, remaining: 3 });
    const settled = await billing(t).mutation(billingApi.tokens.settle, { ownerKey, holdId: hold.holdId, actual: 4 });
    expect(settled).toMatchObject({ charged: 4, returned: 8, shortfall: 0, remaining: 11 });
    // What stays charged is what was drawn first: the allowance. The pack got its 7 back, the allowance 1.
    const grants = await t.withIdentity(alice).query(api.tokens.grants, {});
    expect(grants.map((g) => [g.category, g.remaining])).toEqual([
      ["plan_allowance", 1],
      ["purchased", 10],
    ]);
    expect(await balance(t)).toMatchObject({ held: 0, used: 4, remaining: 11 });
    await expectInvariant(t, accountId);
  });

  test("settling more than reserved draws the extra, and never below zero (the rest is a recorded shortfall)", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 2);
    const ownerKey = await ownerKeyOf(t);
    const hold = await billing(t).mutation(billingApi.tokens.reserve, { ownerKey, feature: "chat", estimate: 4, idempotencyKey: "c" });
    const settled = await billing(t).mutation(billingApi.tokens.settle, { ownerKey, holdId: hold.holdId, actual: 9 });
    // 4 reserved + the 3 still spendable = 7 charged; 2 over the balance not charged.
    expect(settled).toMatchObject({ charged: 7, returned: 0, shortfall: 2, remaining: 0 });
    expect(await balance(t)).toMatchObject({ remaining: 0, held: 0, used: 7 });
    await expectInvariant(t, accountId);
  });

  test("the client cannot choose the amount: its reserve is the catalogue price and its settle charges all of it", async () => {
    const t = makeTest();
    await account(t, alice, 10);
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "standard_analysis", complexity: "high", idempotencyKey: "k" });
    expect(hold.amount).toBe(5); // 3 × 1.5, rounded up
    // Extra fields are refused by the app's validators.
    await expect(
      as.mutation(api.tokens.settle, { holdId: hold.holdId, actual: 0 } as unknown as { holdId: string }),
    ).rejects.toThrow(/actual/);
    await expect(
      as.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: "k2", estimate: 1 } as unknown as {
        feature: string;
        idempotencyKey: string;
      }),
    ).rejects.toThrow(/estimate/);
    expect((await as.mutation(api.tokens.settle, { holdId: hold.holdId })).charged).toBe(5);
  });
});

describe("release and expiry", () => {
  test("a failed run releases: everything comes back, and a released hold cannot be settled", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 10);
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "job" });
    expect(await as.mutation(api.tokens.release, { holdId: hold.holdId })).toEqual({ returned: 10, remaining: 15, duplicate: false });
    expect(await as.mutation(api.tokens.release, { holdId: hold.holdId })).toMatchObject({ returned: 0, duplicate: true });
    await expectCode(as.mutation(api.tokens.settle, { holdId: hold.holdId }), "HOLD_CLOSED");
    expect(await balance(t)).toMatchObject({ held: 0, used: 0, remaining: 15 });
    await expectInvariant(t, accountId);
  });

  test("a settled hold cannot be released", async () => {
    const t = makeTest();
    await account(t, alice, 10);
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "q" });
    await as.mutation(api.tokens.settle, { holdId: hold.holdId });
    await expectCode(as.mutation(api.tokens.release, { holdId: hold.holdId }), "HOLD_CLOSED");
  });

  test("the cron returns an expired hold's tokens; settling it later still charges the job", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 10);
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "slow", ttlMs: 60_000 });
    expect(await billing(t).mutation(billingInternal.tokens.expireHolds, {})).toEqual({ released: 0, more: false });
    vi.setSystemTime(NOW + 2 * MINUTE);
    expect(await billing(t).mutation(billingInternal.tokens.expireHolds, {})).toEqual({ released: 1, more: false });
    expect(await balance(t)).toMatchObject({ held: 0, remaining: 15 });
    expect(await as.mutation(api.tokens.settle, { holdId: hold.holdId })).toMatchObject({ charged: 10, remaining: 5 });
    expect(await balance(t)).toMatchObject({ held: 0, used: 10, remaining: 5 });
    await expectInvariant(t, accountId);
  });

  test("tokens returned to a grant that expired meanwhile are forfeited, not resurrected", async () => {
    const t = makeTest();
    const accountId = await account(t, alice);
    await billing(t).mutation(billingApi.tokens.grant, {
      accountId,
      amount: 10,
      reason: "launch promo",
      category: "promotional",
      expiresAt: NOW + 5 * MINUTE,
    });
    const as = t.withIdentity(alice);
    const hold = await as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "j", ttlMs: 60 * MINUTE });
    vi.setSystemTime(NOW + 10 * MINUTE);
    await billing(t).mutation(billingInternal.tokens.expireGrants, {});
    const released = await as.mutation(api.tokens.release, { holdId: hold.holdId });
    expect(released).toMatchObject({ returned: 0, remaining: 5 });
    const page = await as.query(api.tokens.history, { paginationOpts: { numItems: 1, cursor: null } });
    expect(page.page[0]).toMatchObject({ reason: "hold_release", amount: 0 });
    expect(page.page[0]!.note).toMatch(/10 not returned/);
    await expectInvariant(t, accountId);
  });

  test("validates the TTL and refuses another account's hold", async () => {
    const t = makeTest();
    await account(t, alice, 10);
    await account(t, bob, 10);
    const as = t.withIdentity(alice);
    await expectCode(as.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "t", ttlMs: 5 }), "INVALID_ARGUMENT");
    await expectCode(as.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "t", ttlMs: 2 * DAY }), "INVALID_ARGUMENT");
    const hold = await as.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "mine" });
    await expectCode(t.withIdentity(bob).mutation(api.tokens.settle, { holdId: hold.holdId }), "NOT_FOUND");
    await expectCode(t.withIdentity(bob).mutation(api.tokens.release, { holdId: hold.holdId }), "NOT_FOUND");
    await expectCode(as.mutation(api.tokens.settle, { holdId: "not-an-id" }), "NOT_FOUND");
    await expect(t.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "anon" })).rejects.toThrow();
  });

  test("reserve checks the tier and the balance like consume", async () => {
    const t = makeTest();
    await account(t, alice);
    const as = t.withIdentity(alice);
    const tier = await expectCode(as.mutation(api.tokens.reserve, { feature: "deep_analysis", idempotencyKey: "d" }), "TIER_REQUIRED");
    expect(tier.tier).toBe("pro");
    const short = await expectCode(as.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "b" }), "INSUFFICIENT_TOKENS");
    expect(short).toMatchObject({ required: 10, available: 5 });
    expect(await balance(t)).toMatchObject({ held: 0, remaining: 5 });
  });
});

describe("concurrency", () => {
  test("many concurrent reserves and consumes on one account never overspend", async () => {
    const t = makeTest();
    const accountId = await account(t, alice, 12); // 17 tokens
    const as = t.withIdentity(alice);
    const attempts = Array.from({ length: 40 }, (_, i) => {
      const call =
        i % 2 === 0
          ? as.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: `r-${i}` })
          : as.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: `c-${i}` });
      return call.then(
        () => "ok" as const,
        (e: unknown) => (isBillingError(e, "INSUFFICIENT_TOKENS") ? ("refused" as const) : Promise.reject(e as Error)),
      );
    });
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(5); // 5 × 3 = 15 ≤ 17 < 18
    const view = await balance(t);
    expect(view!.remaining).toBe(2);
    expect(view!.held + view!.used).toBe(15);
    await expectInvariant(t, accountId);
  });
});

/** A small deterministic PRNG (mulberry32) so a failing sequence can be replayed by its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

describe("property: random sequences keep the invariant", () => {
  // Seeds 7–9 run with an overage policy on the free plan (a cap of 12 a period), switched on for the test only.
  const OVERAGE_CAP = 12;
  afterEach(() => {
    PLANS.free.overage = null;
  });
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    const cap = seed > 6 ? OVERAGE_CAP : 0;
    test(`seed ${seed}${cap ? ` (overage cap ${cap})` : ""}: balance = ledger = active grants after every step; never negative, never past the overage cap; every key applies once`, async () => {
      if (cap) PLANS.free.overage = { capTokens: cap, unitAmount: 1, currency: "usd" };
      const t = makeTest();
      const accountId = await account(t, alice, 0);
      // Overage runs only on an account Stripe can bill (an active subscription with the metered price).
      if (cap) await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { overageBillable: true }));
      const ownerKey = await ownerKeyOf(t);
      const rand = random(seed);
      const pick = (n: number) => Math.floor(rand() * n);
      const open: string[] = [];
      const keys: string[] = [];
      let period = 0;
      for (let step = 0; step < 40; step++) {
        const op = pick(9);
        const key = `k${pick(12)}`; // keys repeat on purpose: a repeat must apply once
        const attempt = async () => {
          switch (op) {
            case 0:
              return await billing(t).mutation(billingApi.tokens.grant, {
                accountId,
                amount: 1 + pick(8),
                reason: "promo",
                category: "promotional",
                idempotencyKey: `g-${key}`,
                expiresAt: Date.now() + (1 + pick(3)) * DAY,
              });
            case 1:
              return await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: 1 + pick(8), reason: "pack", idempotencyKey: `p-${key}` });
            case 2:
              // With an overage cap, a 10-token run often outgrows the balance.
              return await billing(t).mutation(billingApi.tokens.consume, {
                ownerKey,
                feature: cap ? "bulk_analysis" : "chat",
                idempotencyKey: `c-${key}`,
              });
            case 3: {
              const hold = await billing(t).mutation(billingApi.tokens.reserve, {
                ownerKey,
                feature: "chat",
                estimate: 1 + pick(6),
                idempotencyKey: `h-${key}`,
              });
              if (!hold.duplicate) open.push(hold.holdId);
              return hold;
            }
            case 4:
              if (open.length === 0) return null;
              return await billing(t).mutation(billingApi.tokens.settle, { ownerKey, holdId: open[pick(open.length)]!, actual: pick(9) });
            case 5:
              if (open.length === 0) return null;
              return await billing(t).mutation(billingApi.tokens.release, { ownerKey, holdId: open[pick(open.length)]! });
            case 6:
              vi.setSystemTime(Date.now() + pick(2) * DAY + pick(30) * MINUTE);
              await billing(t).mutation(billingInternal.tokens.expireGrants, {});
              return await billing(t).mutation(billingInternal.tokens.expireHolds, {});
            case 7: {
              period += 1;
              const start = Date.UTC(2026, 10 + period, 1);
              return await runInBilling(t, async (ctx) =>
                await ledger.startPeriod(ctx, accountId, {
                  sourceKey: `period:free:${period}`,
                  tokens: 5,
                  periodKey: `period:free:${period}`,
                  periodStart: start,
                  periodEnd: Date.UTC(2026, 11 + period, 1),
                }),
              );
            }
            default:
              return await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: -(1 + pick(4)), reason: "fix", idempotencyKey: `n-${key}` });
          }
        };
        keys.push(`${op}:${key}`);
        await attempt().catch((e: unknown) => {
          // Refusals are fine (not enough tokens, a closed hold); anything else is a bug.
          if (!isBillingError(e, "INSUFFICIENT_TOKENS") && !isBillingError(e, "HOLD_CLOSED")) throw e;
        });
        const audit = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
        expect({ step, op, problems: audit.problems }).toEqual({ step, op, problems: [] });
        expect(audit.balance).toBeGreaterThanOrEqual(0);
        expect(audit.grantsSum).toBe(audit.balance);
        const row = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId));
        // A new period clears `overage`, so only within one period is the sum bounded by the cap.
        expect((row!.overage ?? 0) + (row!.overageHeld ?? 0)).toBeLessThanOrEqual(cap);
      }
      // Every ledger key is unique: no key applied twice.
      const sourceKeys = await runInBilling(t, async (ctx) =>
        (await ctx.db.query("tokenLedger").collect()).filter((r) => r.accountId === accountId).map((r) => r.sourceKey),
      );
      expect(new Set(sourceKeys).size).toBe(sourceKeys.length);
      if (cap) {
        // The policy was exercised: some debit or hold went past the balance.
        const wentOver = await runInBilling(t, async (ctx) =>
          [...(await ctx.db.query("tokenLedger").collect()), ...(await ctx.db.query("tokenHolds").collect())].some((r) => (r.overage ?? 0) > 0),
        );
        expect(wentOver).toBe(true);
      }
      // Held tokens (from the balance and as overage) equal the open holds' amounts.
      const { held, openHolds } = await runInBilling(t, async (ctx) => ({
        held: ((await ledger.getBalance(ctx, accountId))!.held ?? 0) + ((await ledger.getBalance(ctx, accountId))!.overageHeld ?? 0),
        openHolds: (await ctx.db.query("tokenHolds").collect()).filter((h) => h.status === "open").reduce((s, h) => s + h.amount, 0),
      }));
      expect(held).toBe(openHolds);
    });
  }
});
