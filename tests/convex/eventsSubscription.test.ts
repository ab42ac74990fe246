/**
 * customer.subscription.* handlers: the mirror's fields, ordering (event
 * time plus status rank), the access policy and mid-period upgrades.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { recomputeAccountTier } from "../../convex/billing/model/access";
import { DAY, T0, event, invoice, legacySubscription, price, subscription, type SubscriptionInput } from "./fixtures/stripe";
import {
  account,
  balance,
  createAccount,
  deliverAll,
  deliverOk,
  eventRow,
  ledgerRows,
  subscriptionRows,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { billingOwnerKey } from "../../convex/model/auth";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const starterMonthly = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const eliteYearly = price({ id: "price_elite_y", lookupKey: "elite_yearly", unitAmount: 99000, interval: "year" });

const CUSTOMER = "cus_subs";
const SUB = "sub_main";

function sub(fields: Partial<SubscriptionInput> = {}) {
  return subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proMonthly, ...fields });
}

/** The paid first invoice of `sub()`'s period: what lets its tier count (money before entitlement). */
function paidFirstInvoice(p = proMonthly) {
  return event(
    "invoice.paid",
    invoice({
      id: "in_first",
      customer: CUSTOMER,
      subscription: SUB,
      status: "paid",
      billingReason: "subscription_create",
      price: p,
      linePeriodStart: T0,
      linePeriodEnd: T0 + 30 * DAY,
    }),
    { created: T0 + 1 },
  );
}

describe("subscription events", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
  });

  async function send(...events: Parameters<typeof deliverOk>[1][]) {
    await deliverAll(t, ...events);
  }

  test("created: mirrors the subscription (period from its item, ms) and grants the plan's tier", async () => {
    const e = event(
      "customer.subscription.created",
      sub({ periodStart: T0, periodEnd: T0 + 30 * DAY, trialStart: null, quantity: 1 }),
    );
    await send(e);
    // Nothing granted unpaid: the tier waits for the paid invoice.
    expect((await account(t, accountId)).tier).toBe("free");
    await send(paidFirstInvoice());
    const [row, ...rest] = await subscriptionRows(t, SUB);
    expect(rest).toHaveLength(0);
    expect(row).toMatchObject({
      accountId,
      stripeCustomerId: CUSTOMER,
      status: "active",
      // The price's lookup key lives in `stripePrices`; the mirror keeps the price id and its tier.
      stripePriceId: "price_pro_m",
      tier: "pro",
      interval: "month",
      quantity: 1,
      currentPeriodStart: T0 * 1000,
      currentPeriodEnd: (T0 + 30 * DAY) * 1000,
      cancelAtPeriodEnd: false,
      eventCreated: e.created,
    });
    expect(await account(t, accountId)).toMatchObject({ tier: "pro", stripeSubscriptionId: SUB });
    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded" });
    const priceRow = await runInBilling(t, async (ctx) =>
      ctx.db
        .query("stripePrices")
        .withIndex("by_stripePriceId", (q) => q.eq("stripePriceId", "price_pro_m"))
        .unique(),
    );
    expect(priceRow).toMatchObject({ lookupKey: "pro_monthly", tier: "pro", interval: "month", unitAmount: 2900 });
  });

  test("reads the period from the subscription in pre-2025 payloads", async () => {
    const legacy = legacySubscription({
      id: SUB,
      customer: CUSTOMER,
      status: "active",
      price: eliteYearly,
      periodStart: T0,
      periodEnd: T0 + 365 * DAY,
    });
    expect(legacy.items.data[0]).not.toHaveProperty("current_period_start");
    await send(event("customer.subscription.created", legacy));
    const [row] = await subscriptionRows(t, SUB);
    expect(row).toMatchObject({
      tier: "elite",
      interval: "year",
      currentPeriodStart: T0 * 1000,
      currentPeriodEnd: (T0 + 365 * DAY) * 1000,
    });
  });

  test("updated before created: one row with the newer state", async () => {
    const created = event("customer.subscription.created", sub({ status: "incomplete" }), { created: T0 });
    const updated = event("customer.subscription.updated", sub({ status: "active", cancelAtPeriodEnd: true }), {
      created: T0 + 5,
    });
    await send(updated, created, paidFirstInvoice());
    const rows = await subscriptionRows(t, SUB);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "active", cancelAtPeriodEnd: true, eventCreated: T0 + 5 });
    expect(await eventRow(t, created.id)).toMatchObject({ status: "succeeded" });
    expect((await account(t, accountId)).tier).toBe("pro");
  });

  test("at the same second the higher status rank wins, whatever the arrival order", async () => {
    const created = event("customer.subscription.created", sub({ status: "incomplete" }), { created: T0 });
    const updated = event("customer.subscription.updated", sub({ status: "active" }), { created: T0 });
    await send(updated, created, paidFirstInvoice());
    expect((await subscriptionRows(t, SUB))[0]?.status).toBe("active");
    expect((await account(t, accountId)).tier).toBe("pro");
  });

  describe("recovery from past_due stamped with the same second as a card update", () => {
    // Updating the card leaves the status past_due (previous_attributes names
    // the payment method); paying the open invoice a moment later moves it to
    // active (previous_attributes.status = past_due). Both carry one second.
    const pastDue = () =>
      event("customer.subscription.updated", sub({ status: "past_due" }), {
        created: T0 + 100,
        previousAttributes: { status: "active" },
      });
    const cardUpdated = () =>
      event("customer.subscription.updated", sub({ status: "past_due" }), {
        created: T0 + 200,
        previousAttributes: { default_payment_method: "pm_old" },
      });
    const recovered = () =>
      event("customer.subscription.updated", sub({ status: "active" }), {
        created: T0 + 200,
        previousAttributes: { status: "past_due" },
      });

    test("in delivery order the subscription ends active", async () => {
      await send(event("customer.subscription.created", sub(), { created: T0 }), paidFirstInvoice(), pastDue(), cardUpdated(), recovered());
      const [row] = await subscriptionRows(t, SUB);
      expect(row?.status).toBe("active");
      expect(row?.pastDueSince).toBeUndefined();
      const after = await account(t, accountId);
      expect(after.tier).toBe("pro");
      expect(after.graceEndsAt).toBeUndefined();
    });

    test("delivered the other way round the subscription still ends active", async () => {
      const late = cardUpdated();
      await send(event("customer.subscription.created", sub(), { created: T0 }), paidFirstInvoice(), pastDue(), recovered(), late);
      expect((await subscriptionRows(t, SUB))[0]?.status).toBe("active");
      expect(await eventRow(t, late.id)).toMatchObject({ status: "succeeded" });
      const after = await account(t, accountId);
      expect(after.tier).toBe("pro");
      expect(after.graceEndsAt).toBeUndefined();
    });
  });

  test("at the same second, a status change delivered after the later update that kept its status changes nothing", async () => {
    // One second: the renewal fails (active → past_due), then the customer
    // schedules a cancel (status stays past_due). Delivered the other way
    // round, the status change moved *into* the status we already hold, so
    // it is the earlier event and must not undo the scheduled cancel.
    const wentPastDue = event("customer.subscription.updated", sub({ status: "past_due" }), {
      created: T0 + 200,
      previousAttributes: { status: "active" },
    });
    const cancelScheduled = event("customer.subscription.updated", sub({ status: "past_due", cancelAtPeriodEnd: true }), {
      created: T0 + 200,
      previousAttributes: { cancel_at_period_end: false },
    });
    await send(event("customer.subscription.created", sub(), { created: T0 }), cancelScheduled, wentPastDue);
    const [row] = await subscriptionRows(t, SUB);
    expect(row).toMatchObject({ status: "past_due", cancelAtPeriodEnd: true });
    expect(await eventRow(t, wentPastDue.id)).toMatchObject({ status: "succeeded" });
  });

  test("a stale updated after deleted does not revive the subscription", async () => {
    const deleted = event(
      "customer.subscription.deleted",
      sub({ status: "canceled", canceledAt: T0 + 100, endedAt: T0 + 100 }),
      { created: T0 + 100 },
    );
    const staleUpdate = event("customer.subscription.updated", sub({ status: "active" }), { created: T0 + 50 });
    const laterButStillDead = event("customer.subscription.updated", sub({ status: "active" }), { created: T0 + 200 });
    await send(event("customer.subscription.created", sub(), { created: T0 }), deleted, staleUpdate, laterButStillDead);
    const rows = await subscriptionRows(t, SUB);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "canceled", endedAt: (T0 + 100) * 1000 });
    expect((await account(t, accountId)).tier).toBe("free");
    expect(await eventRow(t, staleUpdate.id)).toMatchObject({ status: "succeeded" });
  });

  test("an older event after a newer one changes nothing", async () => {
    const newer = event("customer.subscription.updated", sub({ status: "past_due" }), { created: T0 + 600 });
    const older = event("customer.subscription.updated", sub({ status: "active", cancelAtPeriodEnd: true }), {
      created: T0 + 300,
    });
    await send(newer, older);
    const [row] = await subscriptionRows(t, SUB);
    expect(row).toMatchObject({ status: "past_due", cancelAtPeriodEnd: false, eventCreated: T0 + 600 });
  });

  test("past_due alone keeps the tier: the dunning timeline, not the status, decides when it stops", async () => {
    const wentPastDue = T0 + DAY;
    await send(
      event("customer.subscription.created", sub(), { created: T0 }),
      paidFirstInvoice(),
      event("customer.subscription.updated", sub({ status: "past_due" }), { created: wentPastDue }),
      event("customer.subscription.updated", sub({ status: "past_due" }), { created: wentPastDue + 3 * DAY }),
    );
    // No overdue invoice is known, so no episode and no suspension date.
    const stored = await account(t, accountId);
    expect(stored.tier).toBe("pro");
    expect(stored.graceEndsAt).toBeUndefined();
    expect(stored.dunningStage).toBeUndefined();
    expect((await subscriptionRows(t, SUB))[0]?.pastDueSince).toBe(wentPastDue * 1000);
    const later = await runInBilling(t, async (ctx) => await recomputeAccountTier(ctx, accountId, (wentPastDue + 60 * DAY) * 1000));
    expect(later).toEqual({ tier: "pro", graceEndsAt: undefined });
  });

  test("recovering from past_due to active restores the tier and clears the grace period", async () => {
    await send(
      paidFirstInvoice(),
      event("customer.subscription.updated", sub({ status: "past_due" }), { created: T0 }),
      event("customer.subscription.updated", sub({ status: "active" }), { created: T0 + DAY }),
    );
    const stored = await account(t, accountId);
    expect(stored.tier).toBe("pro");
    expect(stored.graceEndsAt).toBeUndefined();
    expect((await subscriptionRows(t, SUB))[0]?.pastDueSince).toBeUndefined();
  });

  test.each([
    ["trialing", "pro"],
    ["active", "pro"],
    ["incomplete", "free"],
    ["incomplete_expired", "free"],
    ["unpaid", "free"],
    ["paused", "free"],
    ["canceled", "free"],
  ] as const)("status %s gives tier %s", async (status, tier) => {
    await send(paidFirstInvoice(), event("customer.subscription.updated", sub({ status })));
    expect((await account(t, accountId)).tier).toBe(tier);
  });

  test("paused and resumed events move access off and back on", async () => {
    await send(paidFirstInvoice(), event("customer.subscription.paused", sub({ status: "paused" }), { created: T0 }));
    expect((await account(t, accountId)).tier).toBe("free");
    await send(event("customer.subscription.resumed", sub({ status: "active" }), { created: T0 + 10 }));
    expect((await account(t, accountId)).tier).toBe("pro");
  });

  test("a staff tierOverride wins over the subscription", async () => {
    await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { tierOverride: "internal" }));
    await send(event("customer.subscription.updated", sub({ status: "canceled" })));
    expect((await account(t, accountId)).tier).toBe("internal");
  });

  test("cancel_at inside the period: stored, access kept until deleted, shown as a scheduled cancel", async () => {
    const userId = await t.run(
      async (ctx) =>
        await ctx.db.insert("users", { tokenIdentifier: "https://issuer.test|user_sub", clerkUserId: "user_sub" }),
    );
    await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { ownerKey: billingOwnerKey(userId) }));
    expect(userId).toBeTruthy();
    const cancelAt = T0 + 20 * DAY;
    await send(
      event("customer.subscription.created", sub({ periodStart: T0, periodEnd: T0 + 30 * DAY }), { created: T0 }),
      paidFirstInvoice(),
      event(
        "customer.subscription.updated",
        sub({ periodStart: T0, periodEnd: T0 + 30 * DAY, cancelAt, cancelAtPeriodEnd: false }),
        { created: T0 + 60 },
      ),
    );
    expect((await subscriptionRows(t, SUB))[0]).toMatchObject({ cancelAt: cancelAt * 1000, cancelAtPeriodEnd: false });
    expect((await account(t, accountId)).tier).toBe("pro");
    const view = await t
      .withIdentity({ issuer: "https://issuer.test", subject: "user_sub" })
      .query(api.billing.subscription, {});
    expect(view).toMatchObject({ tier: "pro", status: "active", cancelScheduled: true, cancelAt: cancelAt * 1000 });

    await send(
      event("customer.subscription.deleted", sub({ status: "canceled", canceledAt: cancelAt, endedAt: cancelAt }), {
        created: cancelAt,
      }),
    );
    expect((await account(t, accountId)).tier).toBe("free");
  });

  test("the account follows its live subscription, not an ended one", async () => {
    await send(
      event("customer.subscription.created", sub(), { created: T0 }),
      paidFirstInvoice(),
      event(
        "customer.subscription.created",
        subscription({ id: "sub_second", customer: CUSTOMER, status: "active", price: eliteYearly }),
        { created: T0 + 100 },
      ),
      event("customer.subscription.deleted", subscription({ id: "sub_second", customer: CUSTOMER, status: "canceled", price: eliteYearly }), {
        created: T0 + 200,
      }),
    );
    expect(await account(t, accountId)).toMatchObject({ tier: "pro", stripeSubscriptionId: SUB });
  });

  test("an upgrade within the period changes nothing until its proration invoice is paid, then raises the allowance once", async () => {
    const period = { periodStart: T0, periodEnd: T0 + 30 * DAY };
    await send(
      event("customer.subscription.created", sub({ price: starterMonthly, ...period }), { created: T0 }),
      paidFirstInvoice(starterMonthly),
    );
    expect(await balance(t, accountId)).toMatchObject({ allowance: 50, balance: 50 });

    const upgrade = sub({ price: proMonthly, ...period });
    await send(
      event("customer.subscription.updated", upgrade, { created: T0 + DAY }),
      // Stripe may send another update for the same change (e.g. latest_invoice set).
      event("customer.subscription.updated", upgrade, { created: T0 + DAY + 1 }),
    );
    // Stripe moved the plan, but its proration invoice is not paid: nothing unlocks.
    expect(await account(t, accountId)).toMatchObject({ tier: "starter" });
    expect(await balance(t, accountId)).toMatchObject({ allowance: 50, balance: 50 });

    const proration = event(
      "invoice.paid",
      invoice({
        id: "in_upgrade",
        customer: CUSTOMER,
        subscription: SUB,
        status: "paid",
        billingReason: "subscription_update",
        price: proMonthly,
        lines: [
          { price: starterMonthly, amount: -870, start: T0 + DAY, end: T0 + 30 * DAY, proration: true },
          { price: proMonthly, amount: 2803, start: T0 + DAY, end: T0 + 30 * DAY, proration: true },
        ],
      }),
      { created: T0 + DAY + 2 },
    );
    await send(proration, event("invoice.paid", proration.data.object, { created: T0 + DAY + 3 }));
    expect(await account(t, accountId)).toMatchObject({ tier: "pro" });
    expect(await balance(t, accountId)).toMatchObject({ allowance: 150, balance: 150 });
    const planChanges = (await ledgerRows(t, accountId)).filter((r) => r.reason === "plan_change");
    expect(planChanges).toHaveLength(1);
    expect(planChanges[0]).toMatchObject({ amount: 100 });
  });

  test("a subscription of a customer with no account waits for it, not dropped", async () => {
    const e = event("customer.subscription.created", subscription({ id: "sub_orphan", customer: "cus_orphan", status: "active", price: proMonthly }));
    await deliverOk(t, e);
    // Parked at once, costing no attempt, and never dead-lettered, however long it waits.
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "customer:cus_orphan" });
    expect(await subscriptionRows(t, "sub_orphan")).toHaveLength(0);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "customer:cus_orphan" });
  });
});
