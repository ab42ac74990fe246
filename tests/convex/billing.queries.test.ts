import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { PLANS } from "../../convex/billing/model/plans";
import { alice, bob, seedAccount, type TestConvex } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

type SubscriptionFields = Omit<Doc<"subscriptions">, "_id" | "_creationTime" | "accountId" | "stripeCustomerId">;

async function seedSubscription(
  t: TestConvex,
  accountId: Id<"billingAccounts">,
  fields: Partial<SubscriptionFields> & Pick<SubscriptionFields, "stripeSubscriptionId">,
) {
  await runInBilling(t, async (ctx) => {
    const account = (await ctx.db.get("billingAccounts", accountId))!;
    await ctx.db.insert("subscriptions", {
      stripeCustomerId: account.stripeCustomerId ?? "cus_unknown",
      accountId,
      status: "active",
      tier: "pro",
      interval: "month",
      quantity: 1,
      cancelAtPeriodEnd: false,
      eventCreated: 1,
      ...fields,
    });
    await ctx.db.patch("billingAccounts", accountId, { stripeSubscriptionId: fields.stripeSubscriptionId });
  });
}

async function seedInvoice(t: TestConvex, accountId: Id<"billingAccounts">, id: string, createdAt: number) {
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("invoices", {
      stripeInvoiceId: id,
      stripeCustomerId: "cus_x",
      accountId,
      status: "paid",
      billingReason: "subscription_cycle",
      number: `NUM-${id}`,
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt,
      eventCreated: Math.floor(createdAt / 1000),
      hostedInvoiceUrl: `https://invoice.stripe.test/${id}`,
    });
  });
}

describe("billing.subscription", () => {
  test("is null when signed out", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { tier: "pro" });
    expect(await t.query(api.billing.subscription, {})).toBeNull();
  });

  test("a free account without a subscription", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    expect(await t.withIdentity(alice).query(api.billing.subscription, {})).toEqual({
      tier: "free",
      status: "none",
      interval: null,
      currentPeriodEnd: null,
      dunning: null,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      cancelScheduled: false,
      trialEnd: null,
      trialUsed: false,
      hasPaymentMethod: null,
      graceEndsAt: null,
      hasCustomer: false,
      planTier: null,
      endedAt: null,
      pendingUpdate: null,
      scheduledChange: null,
      creditBalance: 0,
      creditCurrency: null,
      attention: null,
    });
  });

  test("shows only the caller's own subscription", async () => {
    const t = makeTest();
    const aliceAccount = await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    const bobAccount = await seedAccount(t, bob, { tier: "elite", stripeCustomerId: "cus_bob" });
    await seedSubscription(t, aliceAccount, {
      stripeSubscriptionId: "sub_alice",
      tier: "pro",
      interval: "month",
      currentPeriodEnd: 1_800_000_000_000,
    });
    await seedSubscription(t, bobAccount, {
      stripeSubscriptionId: "sub_bob",
      tier: "elite",
      interval: "year",
      status: "trialing",
      trialEnd: 1_700_000_000_000,
      currentPeriodEnd: 1_900_000_000_000,
    });

    expect(await t.withIdentity(alice).query(api.billing.subscription, {})).toMatchObject({
      tier: "pro",
      status: "active",
      interval: "month",
      currentPeriodEnd: 1_800_000_000_000,
      trialEnd: null,
      hasCustomer: true,
    });
    expect(await t.withIdentity(bob).query(api.billing.subscription, {})).toMatchObject({
      tier: "elite",
      status: "trialing",
      interval: "year",
      trialEnd: 1_700_000_000_000,
    });
  });

  test("cancelScheduled covers cancel_at_period_end and a cancel_at inside the period", async () => {
    const t = makeTest();
    const periodEnd = 1_800_000_000_000;
    const accountId = await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    const asAlice = t.withIdentity(alice);

    await seedSubscription(t, accountId, { stripeSubscriptionId: "sub_a", currentPeriodEnd: periodEnd, cancelAtPeriodEnd: true });
    expect(await asAlice.query(api.billing.subscription, {})).toMatchObject({ cancelAtPeriodEnd: true, cancelScheduled: true });

    // Flexible billing: the Portal sets cancel_at and leaves the boolean false.
    await seedSubscription(t, accountId, { stripeSubscriptionId: "sub_b", currentPeriodEnd: periodEnd, cancelAt: periodEnd });
    expect(await asAlice.query(api.billing.subscription, {})).toMatchObject({
      cancelAtPeriodEnd: false,
      cancelAt: periodEnd,
      cancelScheduled: true,
    });

    // A cancel_at in a later period is not a cancel of this one.
    await seedSubscription(t, accountId, {
      stripeSubscriptionId: "sub_c",
      currentPeriodEnd: periodEnd,
      cancelAt: periodEnd + 30 * 86_400_000,
    });
    expect(await asAlice.query(api.billing.subscription, {})).toMatchObject({ cancelScheduled: false });

    // An ended subscription has nothing left to cancel.
    await seedSubscription(t, accountId, { stripeSubscriptionId: "sub_d", status: "canceled", cancelAtPeriodEnd: true });
    expect(await asAlice.query(api.billing.subscription, {})).toMatchObject({ status: "canceled", cancelScheduled: false });
  });

  test("reports the grace period of a past-due account", async () => {
    const t = makeTest();
    const graceEndsAt = 1_800_000_000_000;
    const accountId = await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice", graceEndsAt });
    await seedSubscription(t, accountId, { stripeSubscriptionId: "sub_a", status: "past_due" });
    expect(await t.withIdentity(alice).query(api.billing.subscription, {})).toMatchObject({
      tier: "pro",
      status: "past_due",
      graceEndsAt,
    });
  });
});

describe("billing.invoices", () => {
  test("is [] when signed out", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await seedInvoice(t, accountId, "in_a1", 1_000);
    expect(await t.query(api.billing.invoices, {})).toEqual([]);
  });

  test("lists only the caller's invoices, newest first, 6 by default and at most 24", async () => {
    const t = makeTest();
    const aliceAccount = await seedAccount(t, alice);
    const bobAccount = await seedAccount(t, bob);
    for (let i = 1; i <= 30; i++) await seedInvoice(t, aliceAccount, `in_alice_${i}`, i * 1_000);
    await seedInvoice(t, bobAccount, "in_bob_1", 999_999);

    const asAlice = t.withIdentity(alice);
    const latest = await asAlice.query(api.billing.invoices, {});
    expect(latest.map((i) => i.id)).toEqual([30, 29, 28, 27, 26, 25].map((i) => `in_alice_${i}`));
    expect(latest[0]).toEqual({
      id: "in_alice_30",
      number: "NUM-in_alice_30",
      status: "paid",
      billingReason: "subscription_cycle",
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt: 30_000,
      periodStart: null,
      periodEnd: null,
      hostedInvoiceUrl: "https://invoice.stripe.test/in_alice_30",
      invoicePdf: null,
      total: 2900,
      creditApplied: 0,
      creditAdded: 0,
      description: null,
      kind: "other",
    });
    expect(await asAlice.query(api.billing.invoices, { limit: 2 })).toHaveLength(2);
    expect(await asAlice.query(api.billing.invoices, { limit: 100 })).toHaveLength(24);
    expect(await asAlice.query(api.billing.invoices, { limit: 0 })).toHaveLength(1);

    const bobs = await t.withIdentity(bob).query(api.billing.invoices, {});
    expect(bobs.map((i) => i.id)).toEqual(["in_bob_1"]);
  });
});

describe("plans.list", () => {
  test("lists free to elite in upgrade order with display prices, without internal", async () => {
    const t = makeTest();
    const plans = await t.query(api.plans.list, {});
    expect(plans.map((p) => p.tier)).toEqual(["free", "starter", "pro", "elite"]);
    expect(plans.map((p) => p.rank)).toEqual([0, 1, 2, 3]);
    expect(plans[0]).toMatchObject({ tier: "free", purchasable: false, prices: null, tokensPerPeriod: 5 });
    expect(plans.find((p) => p.tier === "pro")).toEqual({
      tier: "pro",
      rank: 2,
      name: "Pro",
      description: PLANS.pro.description,
      features: PLANS.pro.features,
      tokensPerPeriod: 150,
      purchasable: true,
      prices: {
        month: { lookupKey: "pro_monthly", amount: 2900, currency: "usd", currencyOptions: { eur: 2700, gbp: 2300 } },
        year: { lookupKey: "pro_yearly", amount: 29000, currency: "usd", currencyOptions: { eur: 27000, gbp: 23000 } },
      },
      trial: { days: 14, tokens: PLANS.pro.trial!.tokens, cardRequired: true },
    });
  });
});
