/**
 * The dunning timeline (docs/DUNNING.md): overdue days from the oldest unpaid
 * invoice, each step at its day exactly once (audit + notification), the
 * suspension (tier free, token debits refused) and the restriction, and the
 * restore on payment, in every delivery order of the invoice events. Also
 * the 3-D Secure notice and the sweep reading only due accounts.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { consumeForAccount, reserveForAccount } from "../../convex/billing/model/tokens";
import { BILLING_CONFIG } from "../../convex/billing/model/plans";
import { DAY, T0, event, invoice, price, subscription } from "./fixtures/stripe";
import { account, createAccount, deliverAll, type TestConvex, useWebhookSuite } from "./fixtures/webhookHarness";
import { expectCode, permutations } from "./billingFixtures";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const DAY_MS = DAY * 1000;
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_dunning";
const SUB = "sub_dunning";
/** The renewal: created at the period end, its payment first failing a second later (Stripe seconds). */
const RENEWAL_AT = T0 + 30 * DAY;
const FAILED_AT = RENEWAL_AT + 1;
const OVERDUE_SINCE = FAILED_AT * 1000;

function renewal(status: Stripe.Invoice.Status, fields: { id?: string; created?: number; start?: number } = {}) {
  const start = fields.start ?? RENEWAL_AT;
  return invoice({
    id: fields.id ?? "in_renewal",
    customer: CUSTOMER,
    subscription: SUB,
    status,
    billingReason: "subscription_cycle",
    price: proMonthly,
    created: fields.created ?? start,
    linePeriodStart: start,
    linePeriodEnd: start + 30 * DAY,
  });
}

const SETUP = [
  () => event("customer.subscription.created", subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proMonthly, periodStart: T0 }), { created: T0 }),
  () =>
    event(
      "invoice.paid",
      invoice({ id: "in_first", customer: CUSTOMER, subscription: SUB, status: "paid", billingReason: "subscription_create", price: proMonthly, linePeriodStart: T0, linePeriodEnd: RENEWAL_AT }),
      { created: T0 + 1 },
    ),
];

const finalized = () => event("invoice.finalized", renewal("open"), { created: RENEWAL_AT });
const failed = () => event("invoice.payment_failed", renewal("open"), { created: FAILED_AT });
const paid = (at = FAILED_AT + 40 * DAY) => event("invoice.paid", renewal("paid"), { created: at });
const pastDue = () =>
  event("customer.subscription.updated", subscription({ id: SUB, customer: CUSTOMER, status: "past_due", price: proMonthly, periodStart: RENEWAL_AT }), {
    created: FAILED_AT + 1,
  });

async function sweepAt(t: TestConvex, nowMs: number) {
  return await billing(t).mutation(billingInternal.dunning.sweep, { now: nowMs });
}

async function steps(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"dunningSteps">[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("dunningSteps").collect()).filter((row) => row.accountId === accountId),
  );
}

/** The account's notifications but plan changes (the setup's subscription announces its plan; see `planNotices`). */
async function notifications(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"notifications">[]> {
  return (await allNotifications(t, accountId)).filter((row) => row.kind !== "plan_changed");
}

async function allNotifications(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"notifications">[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("notifications").collect()).filter((row) => row.accountId === accountId),
  );
}

/** Titles of the account's `plan_changed` notices: a suspension and its end are not plan changes. */
async function planNotices(t: TestConvex, accountId: Id<"billingAccounts">): Promise<string[]> {
  return (await allNotifications(t, accountId)).filter((row) => row.kind === "plan_changed").map((row) => row.title);
}

async function auditActions(t: TestConvex, accountId: Id<"billingAccounts">): Promise<string[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("auditLog").collect()).filter((row) => row.accountId === accountId).map((row) => row.action),
  );
}

async function debit(t: TestConvex, accountId: Id<"billingAccounts">, key: string) {
  return await runInBilling(t, async (ctx) => {
    const row = await ctx.db.get("billingAccounts", accountId);
    if (!row) throw new Error("no account");
    return await consumeForAccount(ctx, row, { feature: "quick_analysis", idempotencyKey: key });
  });
}

describe("dunning timeline", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
    await deliverAll(t, ...SETUP.map((e) => e()));
  });

  test("the default timeline is days 0, 3, 7, 14, 30 (suspended), 45 (restricted)", () => {
    expect(BILLING_CONFIG.dunning.steps.map((s) => [s.day, s.stage])).toEqual([
      [0, "overdue"],
      [3, "overdue"],
      [7, "overdue"],
      [14, "overdue"],
      [30, "suspended"],
      [45, "restricted"],
    ]);
  });

  test("a failed renewal opens the episode at its first failure: day 0 fires at once, critical, with the invoice link", async () => {
    await deliverAll(t, finalized(), failed(), pastDue());
    const row = await account(t, accountId);
    expect(row).toMatchObject({
      overdueSince: OVERDUE_SINCE,
      dunningEpisode: "in_renewal",
      dunningStage: "overdue",
      dunningStep: "day_0_payment_failed",
      dunningNextAt: OVERDUE_SINCE + 3 * DAY_MS,
      tier: "pro",
      // "Pay by …": the suspension day.
      graceEndsAt: OVERDUE_SINCE + 30 * DAY_MS,
    });
    const notes = await notifications(t, accountId);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({
      kind: "payment_failed",
      critical: true,
      dedupeKey: "payment_failed:in_renewal:day_0_payment_failed",
      link: "https://invoice.stripe.com/i/acct_test/in_renewal",
    });
    expect(await auditActions(t, accountId)).toEqual(expect.arrayContaining(["dunning.started", "dunning.payment_failed"]));
  });

  test("each step fires at its day, exactly once; day 30 suspends (free, debits refused), day 45 restricts; paying restores at once", async () => {
    await deliverAll(t, finalized(), failed(), pastDue());
    const days = [1, 3, 3, 6, 7, 13, 14, 14, 29, 30, 30, 44, 45, 45];
    const fired: Record<number, string[]> = {};
    for (const day of days) {
      // A millisecond before the step's day nothing fires; at it, once.
      const result = await sweepAt(t, OVERDUE_SINCE + day * DAY_MS);
      fired[day] = [...(fired[day] ?? []), ...(result.processed > 0 ? ["swept"] : [])];
      const row = await account(t, accountId);
      if (day < 30) expect(row.dunningStage).toBe("overdue");
      if (day >= 30 && day < 45) expect(row.dunningStage).toBe("suspended");
      if (day >= 45) expect(row.dunningStage).toBe("restricted");
    }
    // Only due accounts are read: the repeated days found nothing to do.
    expect(fired[1]).toEqual([]);
    expect(fired[6]).toEqual([]);
    expect(fired[29]).toEqual([]);

    const rows = await steps(t, accountId);
    expect(rows.map((r) => [r.step, r.overdueDays]).sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
      ["day_0_payment_failed", 0],
      ["day_3_reminder", 3],
      ["day_7_reminder", 7],
      ["day_14_reminder", 14],
      ["day_30_suspended", 30],
      ["day_45_restricted", 45],
    ]);
    const kinds = (await notifications(t, accountId)).map((n) => [n.kind, n.critical]);
    expect(kinds).toEqual([
      ["payment_failed", true],
      ["dunning_reminder", false],
      ["dunning_reminder", false],
      ["dunning_reminder", false],
      ["dunning_suspended", true],
      ["dunning_restricted", true],
    ]);
    const audit = await auditActions(t, accountId);
    expect(audit.filter((a) => a === "dunning.reminder")).toHaveLength(3);
    expect(audit.filter((a) => a === "dunning.suspended")).toHaveLength(1);
    expect(audit.filter((a) => a === "dunning.restricted")).toHaveLength(1);

    const restricted = await account(t, accountId);
    expect(restricted.tier).toBe("free");
    expect(restricted.dunningNextAt).toBeUndefined();
    expect(restricted.graceEndsAt).toBeUndefined();
    expect(restricted.overageBillable).toBeUndefined();
    await expectCode(debit(t, accountId, "restricted-1"), "ACCOUNT_RESTRICTED");

    await deliverAll(t, paid());
    const restored = await account(t, accountId);
    expect(restored).toMatchObject({ tier: "pro" });
    for (const field of ["overdueSince", "dunningStage", "dunningStep", "dunningEpisode", "dunningNextAt", "graceEndsAt"] as const) {
      expect(restored[field]).toBeUndefined();
    }
    expect((await debit(t, accountId, "after-pay")).duplicate).toBe(false);
    expect(await auditActions(t, accountId)).toContain("dunning.cleared");
    // Suspended, restricted, restored: the tier moved, the plan did not. Only the subscription's start was announced.
    expect(await planNotices(t, accountId)).toEqual(["You are now on Pro"]);
  });

  test("suspended: tier free and every debit (consume, reserve) refused with ACCOUNT_SUSPENDED; paying restores", async () => {
    await deliverAll(t, finalized(), failed());
    expect((await debit(t, accountId, "before")).duplicate).toBe(false);
    await sweepAt(t, OVERDUE_SINCE + 30 * DAY_MS);
    expect(await account(t, accountId)).toMatchObject({ tier: "free", dunningStage: "suspended" });
    await expectCode(debit(t, accountId, "suspended-1"), "ACCOUNT_SUSPENDED");
    await expectCode(
      runInBilling(t, async (ctx) => {
        const row = await ctx.db.get("billingAccounts", accountId);
        return await reserveForAccount(ctx, row!, { feature: "quick_analysis", idempotencyKey: "hold-1" });
      }),
      "ACCOUNT_SUSPENDED",
    );
    // A sweep jumping several steps (0 → 30) sends the suspension, records the skipped reminders unsent.
    const rows = await steps(t, accountId);
    expect(rows.filter((r) => r.skipped).map((r) => r.step).sort()).toEqual(["day_14_reminder", "day_3_reminder", "day_7_reminder"]);
    expect((await notifications(t, accountId)).map((n) => n.kind)).toEqual(["payment_failed", "dunning_suspended"]);
    // The balance the customer sees says the tokens are frozen, not spendable.
    const { ownerKey } = await account(t, accountId);
    expect(await billing(t).query(billingApi.tokens.balance, { ownerKey })).toMatchObject({ frozen: true });

    await deliverAll(t, paid(FAILED_AT + 31 * DAY));
    const restored = await account(t, accountId);
    expect(restored.tier).toBe("pro");
    expect(restored.dunningStage).toBeUndefined();
    expect(await billing(t).query(billingApi.tokens.balance, { ownerKey })).not.toHaveProperty("frozen");
    expect((await debit(t, accountId, "suspended-1")).duplicate).toBe(false);
  });

  test("a second unpaid invoice keeps the episode; overdue days count from the oldest", async () => {
    await deliverAll(t, finalized(), failed());
    const next = RENEWAL_AT + 30 * DAY;
    await deliverAll(t, event("invoice.payment_failed", renewal("open", { id: "in_second", start: next }), { created: next + 1 }));
    expect(await account(t, accountId)).toMatchObject({ overdueSince: OVERDUE_SINCE, dunningEpisode: "in_renewal" });
    // Paying only the newer one leaves the older overdue.
    await deliverAll(t, event("invoice.paid", renewal("paid", { id: "in_second", start: next }), { created: next + 2 }));
    expect(await account(t, accountId)).toMatchObject({ overdueSince: OVERDUE_SINCE, dunningStage: "suspended" });
  });

  test("a voided overdue invoice ends the episode; an uncollectible one does not (it can still be paid)", async () => {
    await deliverAll(t, finalized(), failed());
    await deliverAll(t, event("invoice.marked_uncollectible", renewal("uncollectible"), { created: FAILED_AT + 14 * DAY }));
    expect((await account(t, accountId)).dunningEpisode).toBe("in_renewal");
    await deliverAll(t, event("invoice.voided", renewal("void"), { created: FAILED_AT + 15 * DAY }));
    expect((await account(t, accountId)).dunningEpisode).toBeUndefined();
  });

  test("runForAccount runs the due step now as staff with the reason; blank reason refused", async () => {
    await deliverAll(t, finalized(), failed());
    vi.setSystemTime(OVERDUE_SINCE + 3 * DAY_MS + 5);
    const result = await billing(t).mutation(billingApi.dunning.runForAccount, { accountId, actor: "staff_1", reason: "support call" });
    expect(result).toEqual({ overdueDays: 3, stage: "overdue", fired: ["day_3_reminder"] });
    const again = await billing(t).mutation(billingApi.dunning.runForAccount, { accountId, actor: "staff_1", reason: "support call" });
    expect(again.fired).toEqual([]);
    const entry = await runInBilling(t, async (ctx) =>
      (await ctx.db.query("auditLog").collect()).find((row) => row.action === "dunning.reminder"),
    );
    expect(entry).toMatchObject({ actorKind: "staff", actor: "staff_1", reason: "support call" });
    await expectCode(billing(t).mutation(billingApi.dunning.runForAccount, { accountId, actor: "staff_1", reason: " " }), "INVALID_ARGUMENT");
  });

  const ORDERED = [finalized, failed, pastDue] as const;
  test.each(permutations([0, 1, 2]).map((order) => [order.join(",")]))(
    "delivery order %s of finalized / payment_failed / past_due: the same episode, day 0 once",
    async (order) => {
      await deliverAll(t, ...order.split(",").map((i) => ORDERED[Number(i)]!()));
      expect(await account(t, accountId)).toMatchObject({ overdueSince: OVERDUE_SINCE, dunningStage: "overdue", tier: "pro" });
      expect((await notifications(t, accountId)).map((n) => n.kind)).toEqual(["payment_failed"]);
      expect(await steps(t, accountId)).toHaveLength(1);
    },
  );

  const WITH_PAID = [finalized, failed, () => paid(FAILED_AT + 2), pastDue] as const;
  test.each(permutations([0, 1, 2, 3]).map((order) => [order.join(",")]))(
    "delivery order %s of finalized / payment_failed / paid / past_due: ends paid, nothing overdue, tier kept",
    async (order) => {
      await deliverAll(t, ...order.split(",").map((i) => WITH_PAID[Number(i)]!()));
      const row = await account(t, accountId);
      expect(row.tier).toBe("pro");
      for (const field of ["overdueSince", "dunningStage", "dunningEpisode", "dunningNextAt"] as const) expect(row[field]).toBeUndefined();
      // Whatever order: the invoice carries its failure, at most one day-0 notice exists, and a later sweep does nothing.
      expect((await notifications(t, accountId)).filter((n) => n.kind !== "payment_failed")).toEqual([]);
      expect((await sweepAt(t, OVERDUE_SINCE + 60 * DAY_MS)).processed).toBe(0);
      expect((await account(t, accountId)).tier).toBe("pro");
    },
  );

  test("3-D Secure: action_required notifies once (critical, hosted link), no 'payment failed' notice; confirming clears it", async () => {
    const sca = () => event("invoice.payment_action_required", renewal("open"), { created: FAILED_AT });
    await deliverAll(t, finalized(), sca(), sca(), failed());
    const notes = await notifications(t, accountId);
    expect(notes.map((n) => [n.kind, n.critical, n.link])).toEqual([
      ["action_required", true, "https://invoice.stripe.com/i/acct_test/in_renewal"],
    ]);
    expect(notes[0]!.title).toBe("Confirm your payment");
    const invoiceRow = await runInBilling(t, async (ctx) =>
      await ctx.db.query("invoices").withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", "in_renewal")).unique(),
    );
    expect(invoiceRow?.actionRequired).toBe(true);
    await deliverAll(t, paid(FAILED_AT + 60));
    const after = await runInBilling(t, async (ctx) =>
      await ctx.db.query("invoices").withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", "in_renewal")).unique(),
    );
    expect(after?.actionRequired).toBeUndefined();
    expect((await account(t, accountId)).dunningEpisode).toBeUndefined();
  });
});
