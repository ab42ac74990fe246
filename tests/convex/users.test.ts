import { describe, expect, test, vi, afterEach } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { isBillingError } from "../../convex/billing/model/errors";
import { PLANS } from "../../convex/billing/model/plans";
import { billingOwnerKey } from "../../convex/model/auth";
import { accountOf, billing, billingApi, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const ISSUER = "https://clerk.example.test";
const alice = { subject: "user_alice", issuer: ISSUER, name: "Alice", email: "alice@example.com" };
const bob = { subject: "user_bob", issuer: ISSUER, name: "Bob", email: "bob@example.com" };

afterEach(() => {
  vi.useRealTimers();
});

/** The personal billing account of the user stored for `subject`, or null. */
async function accountOfSubject(t: ReturnType<typeof makeTest>, subject: string) {
  const userId: Id<"users"> | undefined = await t.run(async (ctx) => {
    const user = await ctx.db
      .query("users")
      .withIndex("by_tokenIdentifier", (q) => q.eq("tokenIdentifier", `${ISSUER}|${subject}`))
      .unique();
    return user?._id;
  });
  return userId ? await accountOf(t, billingOwnerKey(userId)) : null;
}

describe("users.store", () => {
  test("creates the user, a free personal account and this month's free allowance", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-03-15T10:00:00Z"));
    const t = makeTest();
    const userId = await t.withIdentity(alice).mutation(api.users.store, {});

    const user = await t.run(async (ctx) => await ctx.db.get("users", userId));
    expect(user).toMatchObject({
      tokenIdentifier: `${ISSUER}|user_alice`,
      clerkUserId: "user_alice",
      name: "Alice",
      email: "alice@example.com",
    });
    const account = await accountOf(t, `user:${userId}`);
    expect(account).toMatchObject({ kind: "personal", ownerKey: `user:${userId}`, tier: "free", email: "alice@example.com" });

    const balance = await t.withIdentity(alice).query(api.tokens.balance, {});
    expect(balance).toEqual({
      allowance: PLANS.free.tokensPerPeriod,
      purchased: 0,
      held: 0,
      used: 0,
      remaining: 5,
      overage: 0,
      periodEnd: Date.UTC(2026, 3, 1),
    });
    const history = await t.withIdentity(alice).query(api.tokens.history, {
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(history.page.map((r) => [r.reason, r.amount, r.sourceKey, r.balanceAfter])).toEqual([
      ["period_grant", 5, "period:free:2026-03", 5],
    ]);
    expect(await billing(t).query(billingApi.tokens.checkInvariant, { accountId: account!._id })).toMatchObject({ ok: true });
  });

  test("is idempotent: repeat calls return the same user and grant nothing twice", async () => {
    const t = makeTest();
    const first = await t.withIdentity(alice).mutation(api.users.store, {});
    const [second, third] = await Promise.all([
      t.withIdentity(alice).mutation(api.users.store, {}),
      t.withIdentity(alice).mutation(api.users.store, {}),
    ]);
    expect(second).toBe(first);
    expect(third).toBe(first);

    const users = await t.run(async (ctx) => (await ctx.db.query("users").collect()).length);
    const counts = await runInBilling(t, async (ctx) => ({
      users,
      accounts: (await ctx.db.query("billingAccounts").collect()).length,
      balances: (await ctx.db.query("tokenBalances").collect()).length,
      ledger: (await ctx.db.query("tokenLedger").collect()).length,
    }));
    expect(counts).toEqual({ users: 1, accounts: 1, balances: 1, ledger: 1 });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
  });

  test("a later call refreshes name and email on the user and the account, keeping tokens", async () => {
    const t = makeTest();
    await t.withIdentity(alice).mutation(api.users.store, {});
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "k1" });

    await t.withIdentity({ ...alice, name: "Alice Liddell", email: "al@example.com" }).mutation(api.users.store, {});
    expect(await t.withIdentity(alice).query(api.users.current, {})).toMatchObject({
      name: "Alice Liddell",
      email: "al@example.com",
    });
    expect(await accountOfSubject(t, "user_alice")).toMatchObject({ name: "Alice Liddell", email: "al@example.com" });
    // A token without the email claim does not erase the stored email.
    await t.withIdentity({ subject: alice.subject, issuer: ISSUER }).mutation(api.users.store, {});
    expect(await t.withIdentity(alice).query(api.users.current, {})).toMatchObject({ email: "al@example.com" });
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(4);
  });

  test("repairs a missing balance once, and never re-grants an existing one", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-09-30T23:00:00Z"));
    const t = makeTest();
    await t.withIdentity(alice).mutation(api.users.store, {});
    const account = await accountOfSubject(t, "user_alice");
    await runInBilling(t, async (ctx) => {
      for (const table of ["tokenBalances", "tokenLedger", "tokenGrants"] as const) {
        for (const row of await ctx.db.query(table).collect()) await ctx.db.delete(table, row._id);
      }
    });
    await t.withIdentity(alice).mutation(api.users.store, {});
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(5);
    // A sign-in in the next month does not grant: the monthly reset does that, once.
    vi.setSystemTime(new Date("2026-10-01T00:01:00Z"));
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "k" });
    await t.withIdentity(alice).mutation(api.users.store, {});
    expect((await t.withIdentity(alice).query(api.tokens.balance, {}))?.remaining).toBe(4);
    expect(await billing(t).query(billingApi.tokens.checkInvariant, { accountId: account!._id })).toMatchObject({ ok: true });
  });

  test("refuses a signed-out caller with UNAUTHENTICATED and writes nothing", async () => {
    const t = makeTest();
    const error: unknown = await t.mutation(api.users.store, {}).catch((e: unknown) => e);
    expect(isBillingError(error, "UNAUTHENTICATED")).toBe(true);
    expect(await t.run(async (ctx) => (await ctx.db.query("users").collect()).length)).toBe(0);
  });

  test("two users get separate accounts and balances", async () => {
    const t = makeTest();
    const a = await t.withIdentity(alice).mutation(api.users.store, {});
    const b = await t.withIdentity(bob).mutation(api.users.store, {});
    expect(a).not.toBe(b);
    const [accountA, accountB] = [await accountOfSubject(t, "user_alice"), await accountOfSubject(t, "user_bob")];
    expect(accountA!._id).not.toBe(accountB!._id);
  });
});

describe("users.current", () => {
  test("is null when signed out, and null before store has run", async () => {
    const t = makeTest();
    expect(await t.query(api.users.current, {})).toBeNull();
    expect(await t.withIdentity(alice).query(api.users.current, {})).toBeNull();
  });

  test("returns only the caller's own profile", async () => {
    const t = makeTest();
    const aliceId = await t.withIdentity(alice).mutation(api.users.store, {});
    const bobId = await t.withIdentity(bob).mutation(api.users.store, {});
    expect(await t.withIdentity(alice).query(api.users.current, {})).toEqual({
      _id: aliceId,
      name: "Alice",
      email: "alice@example.com",
      clerkUserId: "user_alice",
    });
    expect((await t.withIdentity(bob).query(api.users.current, {}))?._id).toBe(bobId);
  });
});
