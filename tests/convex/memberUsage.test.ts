/**
 * Per-member usage and caps in organisations (issue 10 §3): each member's
 * debits are counted in pre-aggregated rows per period (consume, reserve,
 * settle, release, expiry), admins read everyone's usage and set caps
 * (audited), a cap is enforced atomically with the debit and per period,
 * and nobody outside the organisation's admins reads or sets anything.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { isBillingError } from "../../convex/billing/model/errors";
import * as ledger from "../../convex/billing/model/ledger";
import { billingOwnerKey, orgOwnerKey } from "../../convex/model/auth";
import { accountOf, billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, inOrg, ISSUER, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
const MINUTE = 60_000;
const carol = { subject: "user_carol", issuer: ISSUER, name: "Carol", email: "carol@example.com" };
const ACME = "org_acme";
const OTHER = "org_other";
const aliceAdmin = inOrg(alice, ACME, "org:admin", "Acme Inc");
const bobMember = inOrg(bob, ACME, "org:member", "Acme Inc");
const carolOtherAdmin = inOrg(carol, OTHER, "org:admin", "Other Ltd");
const bobOtherMember = inOrg(bob, OTHER, "org:member", "Other Ltd");

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

let keySeq = 0;
const key = () => `k-${++keySeq}`;

/** Alice (admin) and Bob (member) of Acme, whose account holds `tokens` purchased tokens on top of its free allowance. */
async function setUp(t: TestConvex, tokens = 100) {
  for (const identity of [aliceAdmin, bobMember]) await t.withIdentity(identity).mutation(api.users.store, {});
  const accountId = (await accountOf(t, orgOwnerKey(ACME)))!._id;
  await runInBilling(t, async (ctx) => {
    await ledger.grant(ctx, accountId, { sourceKey: "seed:tokens", amount: tokens, reason: "top_up" });
  });
  const users = await t.run(async (ctx) => await ctx.db.query("users").collect());
  const keyOf = (subject: string) => billingOwnerKey(users.find((u) => u.clerkUserId === subject)!._id);
  return { accountId, aliceKey: keyOf(alice.subject), bobKey: keyOf(bob.subject) };
}

type Usage = { used: number; held: number; cap: number | null };

/** The admin's table this period, by member name. */
async function usageOf(t: TestConvex, identity = aliceAdmin): Promise<Record<string, Usage>> {
  const list = await t.withIdentity(identity).query(api.memberUsage.list, {});
  const out: Record<string, Usage> = {};
  for (const m of list?.current.members ?? []) out[m.name ?? m.memberKey] = { used: m.used, held: m.held, cap: m.cap };
  return out;
}

async function remaining(t: TestConvex) {
  return (await t.withIdentity(aliceAdmin).query(api.tokens.balance, {}))!.remaining;
}

async function startPeriod(t: TestConvex, accountId: Id<"billingAccounts">, month: number) {
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: `period:test:${month}`,
      tokens: 0,
      periodKey: `test:2026-${month}`,
      periodStart: Date.UTC(2026, month - 1, 1),
      periodEnd: Date.UTC(2026, month, 1),
    });
  });
}

describe("per-member usage", () => {
  test("consumes, reserves, settles (less and more), releases and expiries add up per member, and the ledger names the member", async () => {
    const t = makeTest();
    const { accountId, bobKey, aliceKey } = await setUp(t);
    const asBob = t.withIdentity(bobMember);
    const ownerKey = orgOwnerKey(ACME);

    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "b1" }); // 3
    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: "b1" }); // repeat: nothing
    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: "a1" }); // 10
    expect(await usageOf(t)).toEqual({ Alice: { used: 10, held: 0, cap: null }, Bob: { used: 3, held: 0, cap: null } });

    // A hold counts as held while open, then what was charged.
    const h1 = await asBob.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "h1" }); // 10
    expect((await usageOf(t)).Bob).toEqual({ used: 3, held: 10, cap: null });
    // Server code settles for less: the rest is returned.
    await billing(t).mutation(billingApi.tokens.settle, { ownerKey, holdId: h1.holdId, actual: 4 });
    expect((await usageOf(t)).Bob).toEqual({ used: 7, held: 0, cap: null });
    // More than reserved: the extra is charged too.
    const h2 = await asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: "h2" }); // 3
    await billing(t).mutation(billingApi.tokens.settle, { ownerKey, holdId: h2.holdId, actual: 5 });
    expect((await usageOf(t)).Bob).toEqual({ used: 12, held: 0, cap: null });
    // Released (the run failed): nothing charged.
    const h3 = await asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: "h3" });
    await asBob.mutation(api.tokens.release, { holdId: h3.holdId });
    await asBob.mutation(api.tokens.release, { holdId: h3.holdId }); // repeat: nothing
    expect((await usageOf(t)).Bob).toEqual({ used: 12, held: 0, cap: null });
    // Expired by the hold cron: returned like a release.
    await asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: "h4", ttlMs: 10_000 });
    expect((await usageOf(t)).Bob).toEqual({ used: 12, held: 3, cap: null });
    vi.setSystemTime(NOW + MINUTE);
    await billing(t).mutation(billingInternal.tokens.expireHolds, {});
    expect((await usageOf(t)).Bob).toEqual({ used: 12, held: 0, cap: null });
    // The client's settle charges what was reserved.
    const h5 = await asBob.mutation(api.tokens.reserve, { feature: "quick_analysis", idempotencyKey: "h5" });
    await asBob.mutation(api.tokens.settle, { holdId: h5.holdId });
    await asBob.mutation(api.tokens.settle, { holdId: h5.holdId }); // repeat: nothing
    expect(await usageOf(t)).toEqual({ Alice: { used: 10, held: 0, cap: null }, Bob: { used: 13, held: 0, cap: null } });

    // The per-member rows agree with the ledger rows that name the member.
    const rows = await runInBilling(t, async (ctx) =>
      await ctx.db.query("tokenLedger").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
    );
    const spentBy = (member: string) =>
      -rows.filter((r) => r.memberKey === member).reduce((sum, r) => sum + r.amount - (r.overage ?? 0), 0);
    expect(spentBy(bobKey)).toBe(13);
    expect(spentBy(aliceKey)).toBe(10);
    expect(rows.filter((r) => r.reason === "consume").map((r) => r.memberKey)).toEqual([bobKey, aliceKey]);
    expect((await billing(t).query(billingApi.tokens.checkInvariant, { accountId })).ok).toBe(true);
  });

  test("personal accounts keep no per-member rows, and their list is null", async () => {
    const t = makeTest();
    await t.withIdentity(alice).mutation(api.users.store, {});
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "p1" });
    expect(await t.withIdentity(alice).query(api.memberUsage.list, {})).toBeNull();
    expect(await t.withIdentity(alice).query(api.memberUsage.mine, {})).toBeNull();
    const rows = await runInBilling(t, async (ctx) => await ctx.db.query("tokenUsageByMember").collect());
    expect(rows).toEqual([]);
    await expectCode(t.withIdentity(alice).mutation(api.memberUsage.setCap, { memberKey: "user:x", capTokens: 5 }), "INVALID_ARGUMENT");
  });
});

describe("per-member caps", () => {
  test("a debit past the member's cap fails with MEMBER_CAP_REACHED and changes nothing; others are not capped", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    const asBob = t.withIdentity(bobMember);
    await t.withIdentity(aliceAdmin).mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 5 });
    expect(await asBob.query(api.memberUsage.mine, {})).toMatchObject({ used: 0, held: 0, cap: 5 });

    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() }); // 3 of 5
    const before = await remaining(t);
    const refused = await expectCode(
      asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() }),
      "MEMBER_CAP_REACHED",
    );
    expect(refused).toMatchObject({ required: 3, available: 2, cap: 5 });
    expect(refused.message).toMatch(/limits you to 5 tokens/);
    expect(await remaining(t)).toBe(before);
    // What fits still goes through, up to the cap exactly.
    await asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    await asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    await expectCode(asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");
    expect(await asBob.query(api.memberUsage.mine, {})).toMatchObject({ used: 5, held: 0, cap: 5 });
    // Alice has no cap.
    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: key() });
    expect(await usageOf(t)).toEqual({ Alice: { used: 10, held: 0, cap: null }, Bob: { used: 5, held: 0, cap: 5 } });
  });

  test("a reservation counts against the cap; a release gives the room back; settling more stops at the cap", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    const asBob = t.withIdentity(bobMember);
    await t.withIdentity(aliceAdmin).mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 12 });

    const hold = await asBob.mutation(api.tokens.reserve, { feature: "bulk_analysis", idempotencyKey: "big" }); // 10 held
    await expectCode(asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");
    await expectCode(asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");
    await asBob.mutation(api.tokens.release, { holdId: hold.holdId });
    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() }); // 3 used

    // Reserved 3 (6 of 12), the job used 20: charged within the cap (12), the rest not charged.
    const h = await asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: "run" });
    const before = await remaining(t);
    const settled = await billing(t).mutation(billingApi.tokens.settle, { ownerKey: orgOwnerKey(ACME), holdId: h.holdId, actual: 20 });
    expect(settled).toMatchObject({ charged: 9, shortfall: 11 });
    expect(await remaining(t)).toBe(before - 6);
    expect(await asBob.query(api.memberUsage.mine, {})).toMatchObject({ used: 12, held: 0, cap: 12 });
  });

  test("racing debits cannot both pass the cap: exactly what fits goes through", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    await t.withIdentity(aliceAdmin).mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 10 });
    const asBob = t.withIdentity(bobMember);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: `race-${i}` })
          : asBob.mutation(api.tokens.reserve, { feature: "standard_analysis", idempotencyKey: `race-${i}` }),
      ),
    );
    const passed = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected" && isBillingError(r.reason, "MEMBER_CAP_REACHED")).length;
    expect(passed).toBe(3);
    expect(refused).toBe(5);
    const mine = (await asBob.query(api.memberUsage.mine, {}))!;
    expect(mine.used + mine.held).toBe(9);
  });

  test("caps apply per period: a new period starts from zero, and the previous one stays listed", async () => {
    const t = makeTest();
    const { accountId, bobKey } = await setUp(t);
    const asBob = t.withIdentity(bobMember);
    await t.withIdentity(aliceAdmin).mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 3 });
    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() });
    await expectCode(asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");

    await startPeriod(t, accountId, 12);
    await asBob.mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: key() });
    await expectCode(asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");

    const list = (await t.withIdentity(aliceAdmin).query(api.memberUsage.list, {}))!;
    expect(list.current.periodKey).toBe("test:2026-12");
    expect(list.current.members.map((m) => [m.name, m.used, m.cap])).toEqual([
      ["Bob", 3, 3],
    ]);
    expect(list.previous?.members.map((m) => [m.name, m.used])).toEqual([["Bob", 3]]);
    expect(list.previous?.periodKey).not.toBe("test:2026-12");
  });

  test("an admin sets and clears caps, each change audited with who, before and after", async () => {
    const t = makeTest();
    const { accountId, aliceKey, bobKey } = await setUp(t);
    const asAlice = t.withIdentity(aliceAdmin);
    expect(await asAlice.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 50, reason: "intern budget" })).toEqual({
      before: null,
      after: 50,
    });
    expect(await asAlice.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 50 })).toEqual({ before: 50, after: 50 });
    expect(await asAlice.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: null })).toEqual({ before: 50, after: null });
    const audit = await runInBilling(t, async (ctx) =>
      await ctx.db.query("auditLog").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
    );
    expect(audit.filter((a) => a.action.startsWith("memberCap.")).map((a) => ({ actor: a.actor, action: a.action, before: a.before, after: a.after, reason: a.reason }))).toEqual([
      {
        actor: aliceKey,
        action: "memberCap.set",
        before: JSON.stringify({ memberKey: bobKey, capTokens: null }),
        after: JSON.stringify({ memberKey: bobKey, capTokens: 50 }),
        reason: "intern budget",
      },
      {
        actor: aliceKey,
        action: "memberCap.cleared",
        before: JSON.stringify({ memberKey: bobKey, capTokens: 50 }),
        after: JSON.stringify({ memberKey: bobKey, capTokens: null }),
        reason: undefined,
      },
    ]);
    for (const capTokens of [-1, 1.5, 2_000_000_000]) {
      await expectCode(asAlice.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens }), "INVALID_ARGUMENT");
    }
    await expectCode(asAlice.mutation(api.memberUsage.setCap, { memberKey: "user:nobody", capTokens: 5 }), "INVALID_ARGUMENT");
    await expectCode(asAlice.mutation(api.memberUsage.setCap, { memberKey: "org:org_acme", capTokens: 5 }), "INVALID_ARGUMENT");
  });
});

describe("who may read and set", () => {
  test("a member sees only their own usage; they cannot list others or set caps", async () => {
    const t = makeTest();
    const { bobKey, aliceKey } = await setUp(t);
    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: key() });
    const asBob = t.withIdentity(bobMember);
    await asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    expect(await asBob.query(api.memberUsage.list, {})).toBeNull();
    expect(await asBob.query(api.memberUsage.mine, {})).toMatchObject({ used: 1, held: 0, cap: null });
    await expectCode(asBob.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 1000 }), "FORBIDDEN");
    await expectCode(asBob.mutation(api.memberUsage.setCap, { memberKey: aliceKey, capTokens: 0 }), "FORBIDDEN");
    expect((await usageOf(t)).Bob?.cap).toBeNull();
  });

  test("a member or admin of another organisation reaches nothing of Acme's; no argument names an account", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    await t.withIdentity(bobMember).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    await t.withIdentity(carolOtherAdmin).mutation(api.users.store, {});
    await t.withIdentity(bobOtherMember).mutation(api.users.store, {});
    const asCarol = t.withIdentity(carolOtherAdmin);

    // Carol lists her own organisation: Bob's Acme usage is not there.
    const list = await asCarol.query(api.memberUsage.list, {});
    expect(list?.current.members).toEqual([]);
    // A cap she sets for Bob applies to her organisation only.
    await asCarol.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 0 });
    await t.withIdentity(bobMember).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    await expectCode(t.withIdentity(bobOtherMember).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() }), "MEMBER_CAP_REACHED");
    expect((await usageOf(t)).Bob).toEqual({ used: 2, held: 0, cap: null });
    // Bob, a member of Other, cannot read Acme's table from there either.
    expect(await t.withIdentity(bobOtherMember).query(api.memberUsage.list, {})).toBeNull();
    // The validators refuse any account-naming argument.
    const sneaky = { memberKey: bobKey, capTokens: 100, ownerKey: orgOwnerKey(ACME) } as unknown as { memberKey: string; capTokens: number };
    await expect(asCarol.mutation(api.memberUsage.setCap, sneaky)).rejects.toThrow(/ownerKey/);
    await expect(asCarol.query(api.memberUsage.list, { ownerKey: orgOwnerKey(ACME) } as unknown as Record<string, never>)).rejects.toThrow(
      /ownerKey/,
    );
  });

  test("a former member and a signed-out caller read nothing and set nothing", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    await t.withIdentity(bobMember).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    const removed = { clerkOrgId: ACME, status: "removed" as const, role: "member" as const, eventAt: NOW };
    await t.mutation(internal.orgMemberships.record, { ...removed, clerkUserId: bob.subject });
    const asBob = t.withIdentity(bobMember);
    expect(await asBob.query(api.memberUsage.mine, {})).toBeNull();
    expect(await asBob.query(api.memberUsage.list, {})).toBeNull();
    await expectCode(asBob.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() }), "FORBIDDEN");

    // A removed admin too.
    await t.mutation(internal.orgMemberships.record, { ...removed, clerkUserId: alice.subject, role: "admin" });
    const asAlice = t.withIdentity(aliceAdmin);
    expect(await asAlice.query(api.memberUsage.list, {})).toBeNull();
    await expectCode(asAlice.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 1 }), "FORBIDDEN");

    expect(await t.query(api.memberUsage.list, {})).toBeNull();
    expect(await t.query(api.memberUsage.mine, {})).toBeNull();
    await expectCode(t.mutation(api.memberUsage.setCap, { memberKey: bobKey, capTokens: 1 }), "UNAUTHENTICATED");
  });

  test("the admin's table names members from the users table, most used first, marking the caller", async () => {
    const t = makeTest();
    const { bobKey } = await setUp(t);
    await t.withIdentity(bobMember).mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: key() });
    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key() });
    const list = (await t.withIdentity(aliceAdmin).query(api.memberUsage.list, {}))!;
    expect(list.current.members).toEqual([
      { memberKey: bobKey, name: "Bob", email: "bob@example.com", used: 10, held: 0, cap: null, isYou: false },
      expect.objectContaining({ name: "Alice", email: "alice@example.com", used: 1, isYou: true }),
    ]);
    expect(list.current.truncated).toBe(false);
    expect(list.previous).toBeNull();
  });
});
