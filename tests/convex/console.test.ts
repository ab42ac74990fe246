/**
 * The operator console's backend (issue 10 §4–§6): staff only, a reason
 * and an audit entry for every action, bounded reads.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { PLANS } from "../../convex/billing/model/plans";
import { effectiveTier } from "../../convex/billing/model/tokens";
import { billing, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, getAccount, inOrg, ISSUER, seedAccount, seedOrgAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const sam = { subject: "user_sam_staff", issuer: ISSUER, name: "Sam Staff", email: "sam@example.com" };
const claimStaff = { subject: "user_claim", issuer: ISSUER, name: "Claire", email: "claire@example.com", staff: true };
const orgAdmin = inOrg(bob, "org_acme", "org:admin", "Acme Inc");
const HOUR = 60 * 60 * 1000;

beforeEach(() => {
  vi.stubEnv("STAFF_USER_IDS", ` other_id , ${sam.subject}`);
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

async function auditRows(t: TestConvex, accountId?: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("auditLog").collect()).filter((row) => accountId === undefined || row.accountId === accountId),
  );
}

async function balanceOf(t: TestConvex, accountId: Id<"billingAccounts">): Promise<number> {
  return await runInBilling(
    t,
    async (ctx) =>
      (await ctx.db
        .query("tokenBalances")
        .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
        .unique())?.balance ?? 0,
  );
}

async function seedEvent(
  t: TestConvex,
  fields: { eventId: string; status: "dead" | "pending" | "waiting" | "succeeded" | "failed_retrying"; stripeCustomerId?: string; lastError?: string },
) {
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("webhookEvents", {
      eventId: fields.eventId,
      type: "invoice.paid",
      eventCreated: Math.floor(Date.now() / 1000),
      status: fields.status,
      attempts: fields.status === "dead" ? 8 : 0,
      nextAttemptAt: Date.now(),
      receivedAt: Date.now() - HOUR,
      ...(fields.stripeCustomerId ? { stripeCustomerId: fields.stripeCustomerId } : {}),
      ...(fields.lastError ? { lastError: fields.lastError } : {}),
    });
    await ctx.db.insert("webhookPayloads", {
      eventId: fields.eventId,
      payload: JSON.stringify({ id: fields.eventId, object: "event", type: "invoice.paid" }),
    });
  });
}

describe("the staff gate", () => {
  test("admin.me: true for the allowlist and the staff claim, false for others and signed out", async () => {
    const t = makeTest();
    expect(await t.query(api.admin.me, {})).toEqual({ isStaff: false });
    expect(await t.withIdentity(alice).query(api.admin.me, {})).toEqual({ isStaff: false });
    expect(await t.withIdentity(orgAdmin).query(api.admin.me, {})).toEqual({ isStaff: false });
    expect(await t.withIdentity(sam).query(api.admin.me, {})).toEqual({ isStaff: true });
    expect(await t.withIdentity(claimStaff).query(api.admin.me, {})).toEqual({ isStaff: true });
    // A claim other than `true` is not staff.
    expect(await t.withIdentity({ ...alice, staff: "yes" }).query(api.admin.me, {})).toEqual({ isStaff: false });
    vi.stubEnv("STAFF_USER_IDS", "");
    expect(await t.withIdentity(sam).query(api.admin.me, {})).toEqual({ isStaff: false });
  });

  test("every console function refuses signed-out callers, ordinary users and non-staff org admins", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await seedOrgAccount(t, "org_acme");
    const reason = "support ticket 1";
    const calls = (who: ReturnType<TestConvex["withIdentity"]> | TestConvex) => [
      () => who.query(api.admin.listAccounts, { paginationOpts: { numItems: 10, cursor: null } }),
      () => who.query(api.admin.accountDetail, { accountId }),
      () => who.query(api.admin.ledger, { accountId, paginationOpts: { numItems: 10, cursor: null } }),
      () => who.query(api.admin.auditLog, { paginationOpts: { numItems: 10, cursor: null } }),
      () => who.query(api.admin.queueHealth, {}),
      () => who.mutation(api.admin.grantTokens, { accountId, amount: 5, reason }),
      () => who.mutation(api.admin.debitTokens, { accountId, amount: 5, reason }),
      () => who.mutation(api.admin.compTier, { accountId, tier: "pro", expiresAt: Date.now() + HOUR, reason }),
      () => who.mutation(api.admin.clearComp, { accountId, reason }),
      () => who.mutation(api.admin.replayDeadEvents, { reason }),
      () => who.mutation(api.admin.runDunningNow, { accountId, reason }),
      () => who.mutation(api.admin.forceFreeReset, { accountId, reason }),
      () => who.action(api.admin.resyncCustomer, { accountId, reason }),
    ];
    for (const call of calls(t)) await expectCode(call(), "UNAUTHENTICATED");
    for (const identity of [alice, orgAdmin, { ...alice, role: "admin" }]) {
      for (const call of calls(t.withIdentity(identity))) await expectCode(call(), "FORBIDDEN");
    }
    expect(await balanceOf(t, accountId)).toBe(0);
    expect(await auditRows(t)).toEqual([]);
  });
});

describe("token grants and debits", () => {
  test("a grant needs a reason, goes through the ledger, writes the audit entry and is idempotent by key", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const staff = t.withIdentity(sam);
    await expectCode(staff.mutation(api.admin.grantTokens, { accountId, amount: 50, reason: "   " }), "INVALID_ARGUMENT");
    await expectCode(staff.mutation(api.admin.grantTokens, { accountId, amount: 0, reason: "goodwill" }), "INVALID_ARGUMENT");
    await expectCode(staff.mutation(api.admin.grantTokens, { accountId, amount: 1.5, reason: "goodwill" }), "INVALID_ARGUMENT");
    expect(await balanceOf(t, accountId)).toBe(0);

    const first = await staff.mutation(api.admin.grantTokens, { accountId, amount: 50, reason: "goodwill", idempotencyKey: "k1" });
    expect(first).toMatchObject({ applied: true, balance: 50 });
    const again = await staff.mutation(api.admin.grantTokens, { accountId, amount: 50, reason: "goodwill", idempotencyKey: "k1" });
    expect(again).toMatchObject({ applied: false, balance: 50 });
    expect(await balanceOf(t, accountId)).toBe(50);

    const entries = (await auditRows(t, accountId)).filter((row) => row.actorKind === "staff");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: sam.subject, action: "tokens.staff_grant", reason: "goodwill" });
    expect(JSON.parse(entries[0]!.before!)).toEqual({ balance: 0 });
    expect(JSON.parse(entries[0]!.after!)).toMatchObject({ balance: 50, amount: 50 });

    // The console's audit view shows it, newest first, per account and globally.
    const page = await staff.query(api.admin.auditLog, { accountId, paginationOpts: { numItems: 10, cursor: null } });
    expect(page.page.map((row) => row.action)).toContain("tokens.staff_grant");
    const all = await staff.query(api.admin.auditLog, { paginationOpts: { numItems: 10, cursor: null } });
    expect(all.page.find((row) => row.action === "tokens.staff_grant")).toMatchObject({ actor: sam.subject, reason: "goodwill" });
    const ledger = await staff.query(api.admin.ledger, { accountId, paginationOpts: { numItems: 10, cursor: null } });
    expect(ledger.page.map((row) => row.amount)).toEqual([50]);
  });

  test("a debit takes tokens off, never below zero", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const staff = t.withIdentity(sam);
    await staff.mutation(api.admin.grantTokens, { accountId, amount: 30, reason: "setup" });
    await expectCode(staff.mutation(api.admin.debitTokens, { accountId, amount: 31, reason: "abuse" }), "INSUFFICIENT_TOKENS");
    expect(await staff.mutation(api.admin.debitTokens, { accountId, amount: 10, reason: "abuse" })).toMatchObject({
      applied: true,
      balance: 20,
    });
    const debit = (await auditRows(t, accountId)).find((row) => row.action === "tokens.staff_debit");
    expect(debit).toMatchObject({ actorKind: "staff", actor: sam.subject, reason: "abuse" });
    const ledger = await staff.query(api.admin.ledger, { accountId, paginationOpts: { numItems: 1, cursor: null } });
    expect(ledger.page.map((row) => row.amount)).toEqual([-10]);
    expect(ledger.isDone).toBe(false);
  });

  test("a staff member by the claim acts under their own id; an unknown account is NOT_FOUND", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await t.withIdentity(claimStaff).mutation(api.admin.grantTokens, { accountId, amount: 5, reason: "claim" });
    expect((await auditRows(t, accountId)).find((row) => row.actorKind === "staff")?.actor).toBe(claimStaff.subject);
    await runInBilling(t, async (ctx) => await ctx.db.delete("billingAccounts", accountId));
    await expectCode(t.withIdentity(sam).mutation(api.admin.grantTokens, { accountId, amount: 5, reason: "x" }), "NOT_FOUND");
    await expectCode(t.withIdentity(sam).query(api.admin.accountDetail, { accountId }), "NOT_FOUND");
  });
});

describe("comps", () => {
  test("a comp applies at once and lapses by itself at its end; the audit log records both", async () => {
    vi.useFakeTimers();
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const staff = t.withIdentity(sam);
    await expectCode(
      staff.mutation(api.admin.compTier, { accountId, tier: "pro", expiresAt: Date.now() - 1, reason: "beta" }),
      "INVALID_ARGUMENT",
    );
    await expectCode(staff.mutation(api.admin.compTier, { accountId, tier: "pro", expiresAt: Date.now() + HOUR, reason: "" }), "INVALID_ARGUMENT");
    const expiresAt = Date.now() + HOUR;
    expect(await staff.mutation(api.admin.compTier, { accountId, tier: "pro", expiresAt, reason: "beta tester" })).toEqual({ tier: "pro" });
    expect(await getAccount(t, accountId)).toMatchObject({ tier: "pro", tierOverride: "pro", tierOverrideUntil: expiresAt });
    const row = (await staff.query(api.admin.accountDetail, { accountId })).account;
    expect(row).toMatchObject({ tier: "pro", tierOverride: "pro", tierOverrideUntil: expiresAt });

    // Past its end, before the lapse has run, readers already see the tier without it.
    vi.setSystemTime(expiresAt + 1);
    expect(effectiveTier((await getAccount(t, accountId))!)).toBe("free");

    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const after = await getAccount(t, accountId);
    expect(after).toMatchObject({ tier: "free" });
    expect(after?.tierOverride).toBeUndefined();
    expect(after?.tierOverrideUntil).toBeUndefined();
    const actions = (await auditRows(t, accountId)).map((r) => [r.action, r.actorKind]);
    expect(actions).toEqual(expect.arrayContaining([["tier.override", "staff"], ["tier.override_lapsed", "cron"]]));
  });

  test("clearing a comp ends it now, and the old comp's lapse leaves a newer comp alone", async () => {
    vi.useFakeTimers();
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const staff = t.withIdentity(sam);
    await staff.mutation(api.admin.compTier, { accountId, tier: "elite", expiresAt: Date.now() + HOUR, reason: "first" });
    expect(await staff.mutation(api.admin.clearComp, { accountId, reason: "ended early" })).toEqual({ cleared: true, tier: "free" });
    expect(await staff.mutation(api.admin.clearComp, { accountId, reason: "again" })).toEqual({ cleared: false, tier: "free" });
    const later = Date.now() + 3 * HOUR;
    await staff.mutation(api.admin.compTier, { accountId, tier: "pro", expiresAt: later, reason: "second" });
    vi.setSystemTime(Date.now() + HOUR + 1);
    await t.finishInProgressScheduledFunctions();
    await billing(t).mutation(billingInternal.console.lapseComp, { accountId, until: later - 2 * HOUR });
    expect(await getAccount(t, accountId)).toMatchObject({ tier: "pro", tierOverride: "pro" });
    expect((await auditRows(t, accountId)).some((r) => r.action === "tier.override_cleared" && r.reason === "ended early")).toBe(true);
  });
});

describe("listAccounts", () => {
  test("search by customer id, email and name prefix; filters by tier and overdue; row fields", async () => {
    const t = makeTest();
    const a = await seedAccount(t, alice, { stripeCustomerId: "cus_alice", tier: "pro" });
    const b = await seedAccount(t, bob, { overdueSince: Date.now() - 3 * 24 * HOUR - 1000 });
    const org = await seedOrgAccount(t, "org_acme", { name: "Acme Inc", tierOverride: "elite", tier: "elite" });
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("invoices", {
        stripeInvoiceId: "in_1",
        stripeCustomerId: "cus_alice",
        accountId: a,
        status: "paid",
        amountDue: 2900,
        amountPaid: 2900,
        amountRemaining: 0,
        currency: "usd",
        createdAt: 1_000,
        eventCreated: 1,
      });
    });
    await t.withIdentity(sam).mutation(api.admin.grantTokens, { accountId: a, amount: 7, reason: "r" });
    const staff = t.withIdentity(sam);
    const list = (args: Omit<Parameters<typeof staff.query<typeof api.admin.listAccounts>>[1], "paginationOpts">) =>
      staff.query(api.admin.listAccounts, { paginationOpts: { numItems: 10, cursor: null }, ...args });

    const byCustomer = await list({ search: "cus_alice" });
    expect(byCustomer.page[0]?.ownerKey).toMatch(/^user:/);
    expect(byCustomer.page).toEqual([
      {
        accountId: a,
        ownerKey: byCustomer.page[0]!.ownerKey,
        kind: "personal",
        name: "Alice",
        email: "alice@example.com",
        tier: "pro",
        tierOverride: null,
        tierOverrideUntil: null,
        subscriptionStatus: null,
        balance: 7,
        overdueDays: null,
        lastInvoice: { amountDue: 2900, currency: "usd", status: "paid", created: 1_000 },
        stripeCustomerId: "cus_alice",
      },
    ]);
    expect((await list({ search: "Bob@Example.com" })).page.map((r) => r.accountId)).toEqual([b]);
    expect((await list({ search: "Acm" })).page.map((r) => r.accountId)).toEqual([org]);
    expect((await list({ search: "Acme Inc" })).page[0]).toMatchObject({ kind: "organization", tierOverride: "elite" });
    expect((await list({ search: "cus_nobody" })).page).toEqual([]);
    expect((await list({ tier: "pro" })).page.map((r) => r.accountId)).toEqual([a]);
    const overdue = await list({ overdue: true });
    expect(overdue.page.map((r) => [r.accountId, r.overdueDays])).toEqual([[b, 3]]);
    expect((await list({})).page).toHaveLength(3);
    // A page never holds more than asked.
    const first = await staff.query(api.admin.listAccounts, { paginationOpts: { numItems: 2, cursor: null } });
    expect(first.page).toHaveLength(2);
    const second = await staff.query(api.admin.listAccounts, { paginationOpts: { numItems: 2, cursor: first.continueCursor } });
    expect(second.page).toHaveLength(1);
  });

  test("the status filter lists accounts whose current subscription has that status", async () => {
    const t = makeTest();
    const a = await seedAccount(t, alice, { stripeCustomerId: "cus_a", stripeSubscriptionId: "sub_a", tier: "pro" });
    const b = await seedAccount(t, bob, { stripeCustomerId: "cus_b", stripeSubscriptionId: "sub_b2", tier: "pro" });
    await runInBilling(t, async (ctx) => {
      const base = { tier: "pro" as const, quantity: 1, cancelAtPeriodEnd: false, eventCreated: 1 };
      await ctx.db.insert("subscriptions", { ...base, stripeSubscriptionId: "sub_a", stripeCustomerId: "cus_a", accountId: a, status: "past_due" });
      // b's old subscription is past due, but its current one is active.
      await ctx.db.insert("subscriptions", { ...base, stripeSubscriptionId: "sub_b1", stripeCustomerId: "cus_b", accountId: b, status: "past_due" });
      await ctx.db.insert("subscriptions", { ...base, stripeSubscriptionId: "sub_b2", stripeCustomerId: "cus_b", accountId: b, status: "active" });
    });
    const staff = t.withIdentity(sam);
    const pastDue = await staff.query(api.admin.listAccounts, { paginationOpts: { numItems: 10, cursor: null }, status: "past_due" });
    expect(pastDue.page.map((r) => [r.accountId, r.subscriptionStatus])).toEqual([[a, "past_due"]]);
    const active = await staff.query(api.admin.listAccounts, { paginationOpts: { numItems: 10, cursor: null }, status: "active" });
    expect(active.page.map((r) => r.accountId)).toEqual([b]);
  });
});

describe("account detail and queue health", () => {
  test("the detail lists the customer's events with their queue status and the notifications sent", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    await seedEvent(t, { eventId: "evt_dead", status: "dead", stripeCustomerId: "cus_alice", lastError: "boom" });
    await seedEvent(t, { eventId: "evt_wait", status: "waiting", stripeCustomerId: "cus_alice" });
    await seedEvent(t, { eventId: "evt_other", status: "dead", stripeCustomerId: "cus_other" });
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("notifications", {
        accountId,
        kind: "payment_failed",
        dedupeKey: "payment_failed:in_1",
        title: "Payment failed",
        body: "…",
        critical: true,
      });
    });
    const detail = await t.withIdentity(sam).query(api.admin.accountDetail, { accountId });
    expect(detail.events.map((e) => [e.eventId, e.status]).sort()).toEqual([
      ["evt_dead", "dead"],
      ["evt_wait", "waiting"],
    ]);
    expect(detail.events.find((e) => e.eventId === "evt_dead")?.lastError).toBe("boom");
    expect(detail.notifications.map(({ kind, title, readAt }) => ({ kind, title, readAt }))).toEqual([
      { kind: "payment_failed", title: "Payment failed", readAt: null },
    ]);
    expect(detail).toMatchObject({ subscription: null, scheduledChange: null, invoices: [], holds: [] });
  });

  test("queue health counts by status, lists dead events, and shows the last reconciliation", async () => {
    const t = makeTest();
    await seedEvent(t, { eventId: "evt_1", status: "dead", lastError: "bad payload" });
    await seedEvent(t, { eventId: "evt_2", status: "pending" });
    await seedEvent(t, { eventId: "evt_3", status: "succeeded" });
    const staff = t.withIdentity(sam);
    const health = await staff.query(api.admin.queueHealth, {});
    expect(health.counts).toEqual({ pending: 1, succeeded: 1, ignored: 0, failed_retrying: 0, waiting: 0, dead: 1 });
    expect(health.cappedStatuses).toEqual([]);
    expect(health.oldestPendingAgeMs).toBeGreaterThanOrEqual(HOUR);
    expect(health.dead.map(({ eventId, type, lastError }) => ({ eventId, type, lastError }))).toEqual([
      { eventId: "evt_1", type: "invoice.paid", lastError: "bad payload" },
    ]);
    expect(health.lastReconciliation).toBeNull();
    await billing(t).mutation(billingInternal.console.recordReconcileRun, {
      result: "ok",
      enqueued: 2,
      ignored: 0,
      alreadyKnown: 5,
      revived: 1,
    });
    expect((await staff.query(api.admin.queueHealth, {})).lastReconciliation).toMatchObject({
      result: "ok",
      enqueued: 2,
      alreadyKnown: 5,
      revived: 1,
      error: null,
    });
  });

  test("replaying dead events re-queues only dead ones, with a reason and an audit entry", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    await seedEvent(t, { eventId: "evt_dead", status: "dead", stripeCustomerId: "cus_alice" });
    await seedEvent(t, { eventId: "evt_done", status: "succeeded" });
    const staff = t.withIdentity(sam);
    await expectCode(staff.mutation(api.admin.replayDeadEvents, { accountId, reason: "" }), "INVALID_ARGUMENT");
    const result = await staff.mutation(api.admin.replayDeadEvents, { eventIds: ["evt_dead", "evt_done", "evt_missing"], reason: "fixed the bug" });
    expect(result).toEqual({ requeued: ["evt_dead"], skipped: ["evt_done", "evt_missing"] });
    const row = await runInBilling(t, async (ctx) =>
      await ctx.db.query("webhookEvents").withIndex("by_eventId", (q) => q.eq("eventId", "evt_dead")).unique(),
    );
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
    expect((await auditRows(t)).find((r) => r.action === "webhooks.replay")).toMatchObject({ actor: sam.subject, reason: "fixed the bug" });
    // Nothing dead left for the account: nothing to do, no audit entry.
    expect(await staff.mutation(api.admin.replayDeadEvents, { accountId, reason: "again" })).toEqual({ requeued: [], skipped: [] });
  });
});

describe("free-period reset and dunning", () => {
  test("a forced reset grants a fresh free allowance now; subscribers are refused", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const staff = t.withIdentity(sam);
    await expectCode(staff.mutation(api.admin.forceFreeReset, { accountId, reason: " " }), "INVALID_ARGUMENT");
    expect(await staff.mutation(api.admin.forceFreeReset, { accountId, reason: "stuck allowance" })).toEqual({
      tier: "free",
      balance: PLANS.free.tokensPerPeriod,
    });
    expect((await auditRows(t, accountId)).find((r) => r.action === "tokens.free_reset")).toMatchObject({ actorKind: "staff", reason: "stuck allowance" });

    const paid = await seedAccount(t, bob, { tier: "pro", stripeSubscriptionId: "sub_bob", stripeCustomerId: "cus_bob" });
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("subscriptions", {
        stripeSubscriptionId: "sub_bob",
        stripeCustomerId: "cus_bob",
        accountId: paid,
        status: "active",
        tier: "pro",
        quantity: 1,
        cancelAtPeriodEnd: false,
        eventCreated: 1,
      });
    });
    await expectCode(staff.mutation(api.admin.forceFreeReset, { accountId: paid, reason: "x" }), "INVALID_ARGUMENT");
  });

  test("running dunning needs a reason, and on an account with nothing overdue fires nothing", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await expectCode(t.withIdentity(sam).mutation(api.admin.runDunningNow, { accountId, reason: "" }), "INVALID_ARGUMENT");
    expect(await t.withIdentity(sam).mutation(api.admin.runDunningNow, { accountId, reason: "Customer called" })).toEqual({
      overdueDays: null,
      stage: null,
      fired: [],
    });
    await expectCode(t.withIdentity(alice).mutation(api.admin.runDunningNow, { accountId, reason: "me" }), "FORBIDDEN");
  });
});
