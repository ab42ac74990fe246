/**
 * In-app plan changes (`billing.previewPlanChange`, `changePlan`,
 * `cancelScheduledChange`, `cancelSubscription`, `resumeSubscription`)
 * against the recording Stripe server: refusals, the exact requests
 * (parameters, idempotency keys, ids from the database), and how Stripe's
 * answers map to results.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { classifyChange } from "../../convex/billing/model/planChanges";
import type { Interval, PaidTier } from "../../convex/billing/model/plans";
import { OVERAGE_METER, PLANS } from "../../convex/billing/model/plans";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { alice, bob, expectCode, seedAccount, type TestConvex, type TestIdentity } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";
import { stripeApiEnv } from "../helpers/stripeApiEnv";

let stripe: RecordingStripeServer;

beforeEach(async () => {
  stripe = await startRecordingStripeServer();
  vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_plan_change");
  for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
  vi.stubEnv("SITE_URL", "https://app.example.test");
});
afterEach(async () => {
  await stripe.close();
  vi.unstubAllEnvs();
});

const DAY = 86_400;
const nowSeconds = () => Math.floor(Date.now() / 1000);

type SubscriberOptions = {
  tier: PaidTier;
  interval: Interval;
  status?: Doc<"subscriptions">["status"];
  cancelAtPeriodEnd?: boolean;
  pendingUpdate?: Doc<"subscriptions">["pendingUpdate"];
  /** Only on Stripe, not in the mirror (webhook not arrived yet). */
  stripePendingUpdate?: boolean;
  scheduleId?: string;
  customerBalance?: number;
};

type Subscriber = {
  accountId: Id<"billingAccounts">;
  customer: string;
  subId: string;
  itemId: string;
  periodStart: number;
  periodEnd: number;
};

/** An account with a subscription, in the database and on the fake Stripe. */
async function seedSubscriber(t: TestConvex, who: TestIdentity, o: SubscriberOptions): Promise<Subscriber> {
  const name = who.subject.replace("user_", "");
  const customer = `cus_${name}`;
  const subId = `sub_${name}`;
  const itemId = `si_${name}_db`;
  const periodStart = nowSeconds() - 15 * DAY;
  const periodEnd = nowSeconds() + 15 * DAY;
  const lookupKey = PLANS[o.tier].prices![o.interval].lookupKey;
  const accountId = await seedAccount(t, who, {
    tier: o.tier,
    stripeCustomerId: customer,
    stripeSubscriptionId: subId,
    customerBalance: o.customerBalance,
    balanceCurrency: o.customerBalance !== undefined ? "usd" : undefined,
  });
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("subscriptions", {
      stripeSubscriptionId: subId,
      stripeCustomerId: customer,
      accountId,
      status: o.status ?? "active",
      stripePriceId: `price_${lookupKey}`,
      stripeSubscriptionItemId: itemId,
      lookupKey,
      tier: o.tier,
      interval: o.interval,
      quantity: 1,
      currentPeriodStart: periodStart * 1000,
      currentPeriodEnd: periodEnd * 1000,
      cancelAtPeriodEnd: o.cancelAtPeriodEnd ?? false,
      eventCreated: nowSeconds(),
      pendingUpdate: o.pendingUpdate,
      scheduleId: o.scheduleId,
    });
  });
  stripe.putSubscription({
    id: subId,
    customer,
    itemId,
    lookupKey,
    status: o.status ?? "active",
    periodStart,
    periodEnd,
    cancelAtPeriodEnd: o.cancelAtPeriodEnd,
    schedule: o.scheduleId ?? null,
    pendingUpdate: o.stripePendingUpdate || o.pendingUpdate ? { expires_at: periodEnd } : null,
  });
  if (o.customerBalance !== undefined) stripe.setCustomerBalance(customer, o.customerBalance);
  return { accountId, customer, subId, itemId, periodStart, periodEnd };
}

const writes = () => stripe.requests.filter((r) => r.method === "POST" && r.path !== "/v1/invoices/create_preview");

describe("refusals", () => {
  test("signed out: UNAUTHENTICATED everywhere, nothing sent to Stripe", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    const target = { tier: "elite", interval: "month" } as const;
    await expectCode(t.action(api.billing.previewPlanChange, target), "UNAUTHENTICATED");
    await expectCode(t.action(api.billing.changePlan, target), "UNAUTHENTICATED");
    await expectCode(t.action(api.billing.cancelScheduledChange, {}), "UNAUTHENTICATED");
    await expectCode(t.action(api.billing.cancelSubscription, {}), "UNAUTHENTICATED");
    await expectCode(t.action(api.billing.resumeSubscription, {}), "UNAUTHENTICATED");
    expect(stripe.requests).toHaveLength(0);
  });

  test("no subscription (or only an ended one): NO_SUBSCRIPTION, buy through Checkout", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    const asAlice = t.withIdentity(alice);
    const data = await expectCode(
      asAlice.action(api.billing.previewPlanChange, { tier: "pro", interval: "month" }),
      "NO_SUBSCRIPTION",
    );
    expect(data.message).toMatch(/choose a plan/i);
    await expectCode(asAlice.action(api.billing.changePlan, { tier: "pro", interval: "month" }), "NO_SUBSCRIPTION");
    await expectCode(asAlice.action(api.billing.cancelSubscription, {}), "NO_SUBSCRIPTION");
    await expectCode(asAlice.action(api.billing.resumeSubscription, {}), "NO_SUBSCRIPTION");
    await expectCode(asAlice.action(api.billing.cancelScheduledChange, {}), "NO_SUBSCRIPTION");

    await seedSubscriber(t, bob, { tier: "pro", interval: "month", status: "canceled" });
    await expectCode(
      t.withIdentity(bob).action(api.billing.changePlan, { tier: "elite", interval: "month" }),
      "NO_SUBSCRIPTION",
    );
    expect(stripe.requests).toHaveLength(0);
  });

  test("the same tier and interval: NOT_A_CHANGE", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "year" });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "year" }),
      "NOT_A_CHANGE",
    );
    expect(data.message).toMatch(/already on Pro \(yearly\)/);
    expect(stripe.requests).toHaveLength(0);
  });

  test.each(["past_due", "unpaid", "incomplete"] as const)(
    "%s: PAYMENT_REQUIRED with the open invoice's URL",
    async (status) => {
      const t = makeTest();
      const { accountId, customer, subId } = await seedSubscriber(t, alice, { tier: "pro", interval: "month", status });
      await runInBilling(t, async (ctx) => {
        await ctx.db.insert("invoices", {
          stripeInvoiceId: "in_open",
          stripeCustomerId: customer,
          accountId,
          stripeSubscriptionId: subId,
          status: "open",
          amountDue: 2900,
          amountPaid: 0,
          amountRemaining: 2900,
          currency: "usd",
          hostedInvoiceUrl: "https://invoice.stripe.test/i/in_open",
          createdAt: Date.now(),
          eventCreated: nowSeconds(),
        });
      });
      for (const fn of [api.billing.previewPlanChange, api.billing.changePlan]) {
        const data = await expectCode(
          t.withIdentity(alice).action(fn, { tier: "elite", interval: "month" }),
          "PAYMENT_REQUIRED",
        );
        expect(data.message).toMatch(/pay the open invoice first/i);
        expect(data.hostedInvoiceUrl).toBe("https://invoice.stripe.test/i/in_open");
      }
      expect(stripe.requests).toHaveLength(0);
    },
  );

  test("a change held for payment: CHANGE_PENDING, from the mirror or from Stripe's fresh copy", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, {
      tier: "pro",
      interval: "month",
      pendingUpdate: { tier: "elite", interval: "month", expiresAt: Date.now() + 3_600_000 },
    });
    await expectCode(
      t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "year" }),
      "CHANGE_PENDING",
    );
    expect(stripe.requests).toHaveLength(0);

    // The mirror has not heard of it yet; Stripe has.
    await seedSubscriber(t, bob, { tier: "pro", interval: "month", stripePendingUpdate: true });
    await expectCode(
      t.withIdentity(bob).action(api.billing.changePlan, { tier: "elite", interval: "month" }),
      "CHANGE_PENDING",
    );
    expect(writes()).toHaveLength(0);
  });

  test("a scheduled cancellation: CHANGE_PENDING, resume first", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month", cancelAtPeriodEnd: true });
    for (const target of [
      { tier: "starter", interval: "month" },
      { tier: "elite", interval: "month" },
    ] as const) {
      const data = await expectCode(t.withIdentity(alice).action(api.billing.changePlan, target), "CHANGE_PENDING");
      expect(data.message).toMatch(/resume it first/i);
    }
    expect(stripe.requests).toHaveLength(0);
  });

  test("a free trial: TRIAL_ACTIVE for an upgrade, a downgrade and an interval switch; nothing previewed or sent", async () => {
    // A trial bills nothing: a preview would show a charge that never comes
    // (and Pro's card-required trial could be reached from a card-less one).
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "starter", interval: "month", status: "trialing" });
    for (const target of [
      { tier: "pro", interval: "month" },
      { tier: "starter", interval: "year" },
    ] as const) {
      for (const fn of [api.billing.previewPlanChange, api.billing.changePlan]) {
        const data = await expectCode(t.withIdentity(alice).action(fn, target), "TRIAL_ACTIVE");
        expect(data.message).toMatch(/free trial of Starter \(monthly\) can't switch plans/);
      }
    }
    await seedSubscriber(t, bob, { tier: "pro", interval: "month", status: "trialing" });
    await expectCode(t.withIdentity(bob).action(api.billing.changePlan, { tier: "starter", interval: "month" }), "TRIAL_ACTIVE");
    expect(stripe.requests).toHaveLength(0);
  });

  test("the client cannot name a price, an item or a subscription", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    const asAlice = t.withIdentity(alice);
    for (const extra of [{ price: "price_x" }, { itemId: "si_x" }, { subscriptionId: "sub_bob" }]) {
      await expect(
        asAlice.action(api.billing.changePlan, { tier: "elite", interval: "month", ...extra } as never),
      ).rejects.toThrow(/Validator error/);
    }
    await expect(asAlice.action(api.billing.changePlan, { tier: "internal", interval: "month" } as never)).rejects.toThrow(
      /Validator error/,
    );
    expect(stripe.requests).toHaveLength(0);
  });
});

describe("classifyChange", () => {
  const plan = (tier: PaidTier, interval: Interval) => ({
    tier,
    interval,
    unitAmount: PLANS[tier].prices![interval].displayAmount,
  });
  test.each([
    ["pro", "month", "elite", "month", "upgrade"],
    ["pro", "month", "elite", "year", "upgrade"],
    ["pro", "month", "pro", "year", "upgrade"],
    ["pro", "year", "pro", "month", "downgrade"],
    ["pro", "month", "starter", "month", "downgrade"],
    ["elite", "month", "pro", "year", "downgrade"],
    // A higher tier on a shorter interval that costs more per month applies now.
    ["pro", "year", "elite", "month", "upgrade"],
  ] as const)("%s/%s → %s/%s is an %s", (tier, interval, toTier, toInterval, kind) => {
    expect(classifyChange(plan(tier, interval), plan(toTier, toInterval))).toBe(kind);
  });
  test("a higher tier on a shorter interval that costs less per month waits for the period end", () => {
    expect(
      classifyChange({ tier: "starter", interval: "year", unitAmount: 120_000 }, { tier: "pro", interval: "month", unitAmount: 2900 }),
    ).toBe("downgrade");
  });
});

describe("billing.previewPlanChange", () => {
  test("an upgrade: Stripe's preview with the item from the database, and the amounts it bills", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month", customerBalance: -500 });
    const minuteStart = Math.floor(Date.now() / 60_000) * 60;

    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "elite", interval: "month" });

    // Half the period left: credit 2900/2, charge 9900/2; 500 of credit on the balance.
    expect({ ...preview, effectiveAt: 0 }).toEqual({
      kind: "upgrade",
      tier: "elite",
      interval: "month",
      currency: "usd",
      dueNow: 4950 - 1450 - 500,
      creditApplied: 500,
      prorationCredit: 1450,
      newPlanCharge: 4950,
      otherCharges: 0,
      nextInvoiceAmount: 9900,
      nextInvoiceAt: s.periodEnd * 1000,
      effectiveAt: 0,
      tokensNow: 500 - 150,
      allowanceAfter: 500,
    });
    expect(Math.abs(preview.effectiveAt - Date.now())).toBeLessThan(10_000);
    const calls = stripe.requestsTo("POST", "/v1/invoices/create_preview");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toMatchObject({
      customer: s.customer,
      subscription: s.subId,
      subscription_details: {
        items: [{ id: s.itemId, price: "price_elite_monthly" }],
        proration_behavior: "always_invoice",
      },
    });
    const prorationDate = Number(calls[0]!.form["subscription_details[proration_date]"]);
    expect([minuteStart, minuteStart + 60]).toContain(prorationDate);
    // A preview changes nothing.
    expect(writes()).toHaveLength(0);
  });

  test("monthly → yearly restarts the cycle: the next invoice comes a year later", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "pro", interval: "year" });
    expect(preview.kind).toBe("upgrade");
    expect(preview.dueNow).toBe(29000 - 1450);
    expect(preview.prorationCredit).toBe(1450);
    // The whole new year is the new plan's line; the lines add up to what is due.
    expect(preview.newPlanCharge).toBe(29000);
    expect(preview.newPlanCharge - preview.prorationCredit + preview.otherCharges).toBe(preview.dueNow);
    expect(preview.tokensNow).toBe(0);
    expect(preview.nextInvoiceAt).toBeGreaterThan(Date.now() + 360 * DAY * 1000);
  });

  test("Pro yearly → Elite monthly is an upgrade; the unused year's credit pays the next invoices", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "year" });
    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "elite", interval: "month" });
    // Credit 29000/2 = 14500, a full month of Elite 9900 now: total −4600 stays as credit.
    expect(preview).toMatchObject({
      kind: "upgrade",
      dueNow: 0,
      creditApplied: 0,
      prorationCredit: 14500,
      newPlanCharge: 9900,
      otherCharges: 0,
      nextInvoiceAmount: 9900 - 4600,
      tokensNow: 350,
    });
    expect(preview.nextInvoiceAt).toBeGreaterThan(Date.now() + 28 * DAY * 1000);
  });

  test("a downgrade: nothing due now, effective at the period end, next invoice net of credit", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "elite", interval: "month", customerBalance: -1000 });
    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "pro", interval: "month" });
    expect(preview).toEqual({
      kind: "downgrade",
      tier: "pro",
      interval: "month",
      currency: "usd",
      dueNow: 0,
      creditApplied: 0,
      prorationCredit: 0,
      newPlanCharge: 0,
      otherCharges: 0,
      nextInvoiceAmount: 2900 - 1000,
      nextInvoiceAt: s.periodEnd * 1000,
      effectiveAt: s.periodEnd * 1000,
      tokensNow: 0,
      allowanceAfter: 150,
    });
    expect(stripe.requestsTo("POST", "/v1/invoices/create_preview")).toHaveLength(0);
    expect(writes()).toHaveLength(0);
  });
});

describe("billing.changePlan: upgrades", () => {
  test("updates the item from the database, pays first (pending_if_incomplete), with our idempotency key", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });

    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });

    expect(result).toMatchObject({ status: "applied", hostedInvoiceUrl: null });
    expect(result.message).toMatch(/Elite \(monthly\)/);
    const updates = stripe.requestsTo("POST", `/v1/subscriptions/${s.subId}`);
    expect(updates).toHaveLength(1);
    const update = updates[0]!;
    expect(update.body).toMatchObject({
      items: [{ id: s.itemId, price: "price_elite_monthly" }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
      expand: ["latest_invoice"],
    });
    expect(update.form["proration_date"]).toMatch(/^\d+$/);
    expect(update.idempotencyKey).toMatch(new RegExp(`^plan-change:${s.accountId}:${s.subId}:elite_monthly:\\d+$`));
    expect(writes()).toHaveLength(1);
    // The price is cached for the webhook handlers.
    const cached = await runInBilling(t, async (ctx) =>
      ctx.db
        .query("stripePrices")
        .withIndex("by_stripePriceId", (q) => q.eq("stripePriceId", "price_elite_monthly"))
        .unique(),
    );
    expect(cached).toMatchObject({ tier: "elite", interval: "month" });
  });

  test("a second click before the webhook: Stripe's fresh copy already has the plan, so NOT_A_CHANGE", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    const asAlice = t.withIdentity(alice);
    expect((await asAlice.action(api.billing.changePlan, { tier: "elite", interval: "year" })).status).toBe("applied");
    // The mirror still says Pro monthly (no webhook in this test).
    await expectCode(asAlice.action(api.billing.changePlan, { tier: "elite", interval: "year" }), "NOT_A_CHANGE");
    expect(stripe.requests.filter((r) => r.path.startsWith("/v1/subscriptions/") && r.method === "POST")).toHaveLength(1);
  });

  test("an upgrade replaces a scheduled downgrade: the schedule is released first", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    await t.withIdentity(alice).action(api.billing.changePlan, { tier: "starter", interval: "month" });
    const scheduleId = [...stripe.schedules.keys()][0]!;
    stripe.clearRequests();

    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });

    expect(result.status).toBe("applied");
    expect(writes().map((r) => [r.path, r.idempotencyKey])).toEqual([
      [`/v1/subscription_schedules/${scheduleId}/release`, `schedule-release:${scheduleId}`],
      [`/v1/subscriptions/${s.subId}`, expect.stringMatching(/^plan-change:/)],
    ]);
  });

  test("3-D Secure: requires_action with the invoice to confirm; nothing applied", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.setUpdateOutcome("requires_action");
    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });
    expect(result).toMatchObject({ status: "requires_action", effectiveAt: null });
    expect(result.hostedInvoiceUrl).toMatch(/^https:\/\/invoice\.stripe\.test\/i\/in_test_/);
    expect(result.message).toMatch(/confirm/i);
    // The old price is still billed; the change is held.
    const sub = stripe.subscription(s.subId)!;
    expect(sub.pending_update).not.toBeNull();
  });

  test("a decline held in pending_update: payment_failed", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.setUpdateOutcome("declined");
    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });
    expect(result).toMatchObject({ status: "payment_failed", effectiveAt: null });
    expect(result.message).toMatch(/declined \(insufficient funds\)/);
    expect(result.message).toMatch(/stay on your current plan/);
  });

  test("a card error thrown as 402: payment_failed, not STRIPE_ERROR", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.setUpdateOutcome("card_error_402");
    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });
    expect(result.status).toBe("payment_failed");
    expect(result.hostedInvoiceUrl).toMatch(/^https:\/\/invoice\.stripe\.test\/i\//);
  });

  test("Stripe's thrown invoice_payment_intent_requires_action: requires_action", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.setUpdateOutcome("requires_action_402");
    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });
    expect(result.status).toBe("requires_action");
    expect(result.hostedInvoiceUrl).toMatch(/^https:\/\/invoice\.stripe\.test\/i\//);
  });

  test("a subscription of another customer is refused (FORBIDDEN), nothing written", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.putSubscription({
      id: s.subId,
      customer: "cus_someone_else",
      itemId: s.itemId,
      lookupKey: "pro_monthly",
      periodStart: s.periodStart,
      periodEnd: s.periodEnd,
    });
    await expectCode(t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" }), "FORBIDDEN");
    expect(writes()).toHaveLength(0);
  });
});

describe("billing.changePlan: downgrades", () => {
  test("schedules the new price for the period end through a Subscription Schedule", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "elite", interval: "month" });

    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "month" });

    expect(result).toMatchObject({ status: "scheduled", effectiveAt: s.periodEnd * 1000, hostedInvoiceUrl: null });
    expect(result.message).toMatch(/switch to Pro \(monthly\)/);
    const [create, update] = writes();
    expect(create!.path).toBe("/v1/subscription_schedules");
    expect(create!.form).toEqual({ from_subscription: s.subId });
    expect(create!.idempotencyKey).toMatch(new RegExp(`^schedule-create:${s.accountId}:${s.subId}:\\d+$`));
    const scheduleId = [...stripe.schedules.keys()][0]!;
    expect(update!.path).toBe(`/v1/subscription_schedules/${scheduleId}`);
    expect(update!.idempotencyKey).toMatch(new RegExp(`^plan-schedule:${scheduleId}:none:pro_monthly:\\d+$`));
    expect(update!.body).toMatchObject({
      end_behavior: "release",
      phases: [
        {
          items: [{ price: "price_elite_monthly", quantity: "1" }],
          start_date: String(s.periodStart),
          end_date: String(s.periodEnd),
        },
        {
          items: [{ price: "price_pro_monthly", quantity: "1" }],
          duration: { interval: "month", interval_count: "1" },
          proration_behavior: "none",
          metadata: { tier: "pro", interval: "month", lookupKey: "pro_monthly" },
        },
      ],
    });
    expect(writes()).toHaveLength(2);
    // The subscription itself is not touched.
    expect(stripe.requestsTo("POST", `/v1/subscriptions/`)).toHaveLength(0);
  });

  test("yearly → monthly on the same tier is scheduled too", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "year" });
    const result = await t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "month" });
    expect(result).toMatchObject({ status: "scheduled", effectiveAt: s.periodEnd * 1000 });
  });

  test("an existing schedule is reused (checked to be this subscription's) and its next phase replaced", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "elite", interval: "month" });
    const asAlice = t.withIdentity(alice);
    await asAlice.action(api.billing.changePlan, { tier: "pro", interval: "month" });
    const scheduleId = [...stripe.schedules.keys()][0]!;
    stripe.clearRequests();

    const result = await asAlice.action(api.billing.changePlan, { tier: "starter", interval: "month" });

    expect(result.status).toBe("scheduled");
    expect(stripe.requestsTo("GET", "/v1/subscription_schedules/")).toHaveLength(1);
    expect(writes().map((r) => [r.path, r.idempotencyKey])).toEqual([
      [
        `/v1/subscription_schedules/${scheduleId}`,
        expect.stringMatching(new RegExp(`^plan-schedule:${scheduleId}:price_pro_monthly:starter_monthly:\\d+$`)),
      ],
    ]);
    expect(stripe.schedules.size).toBe(1);
  });
});

describe("billing.cancelScheduledChange", () => {
  test("releases the schedule after checking it is the caller's", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "elite", interval: "month" });
    await t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "month" });
    const scheduleId = [...stripe.schedules.keys()][0]!;
    // The schedule's webhook has arrived: the mirror names it.
    await runInBilling(t, async (ctx) => {
      const row = await ctx.db
        .query("subscriptions")
        .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", s.subId))
        .unique();
      await ctx.db.patch("subscriptions", row!._id, { scheduleId });
    });
    stripe.clearRequests();

    expect(await t.withIdentity(alice).action(api.billing.cancelScheduledChange, {})).toEqual({ canceled: true });
    expect(stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/subscription_schedules/${scheduleId}`,
      `POST /v1/subscription_schedules/${scheduleId}/release`,
    ]);
    expect(stripe.schedules.get(scheduleId)!.status).toBe("released");

    // Again: the mirror still names it (its event is on the way), Stripe says released.
    expect(await t.withIdentity(alice).action(api.billing.cancelScheduledChange, {})).toEqual({ canceled: false });
  });

  test("nothing scheduled: { canceled: false }, nothing written", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    expect(await t.withIdentity(alice).action(api.billing.cancelScheduledChange, {})).toEqual({ canceled: false });
    expect(writes()).toHaveLength(0);
  });

  test("a mirror schedule id that belongs to another subscription is refused (FORBIDDEN)", async () => {
    const t = makeTest();
    await seedSubscriber(t, bob, { tier: "elite", interval: "month" });
    await t.withIdentity(bob).action(api.billing.changePlan, { tier: "pro", interval: "month" });
    const bobsSchedule = [...stripe.schedules.keys()][0]!;
    await seedSubscriber(t, alice, { tier: "pro", interval: "month", scheduleId: bobsSchedule });
    stripe.clearRequests();
    await expectCode(t.withIdentity(alice).action(api.billing.cancelScheduledChange, {}), "FORBIDDEN");
    expect(writes()).toHaveLength(0);
    expect(stripe.schedules.get(bobsSchedule)!.status).toBe("active");
  });
});

describe("billing.cancelSubscription / resumeSubscription", () => {
  test("cancels at the period end with the reason, returning when it ends", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });

    const result = await t
      .withIdentity(alice)
      .action(api.billing.cancelSubscription, { feedback: "too_expensive", comment: "  Budget cuts.  " });

    expect(result).toEqual({ cancelAt: s.periodEnd * 1000 });
    const [update] = writes();
    expect(update!.path).toBe(`/v1/subscriptions/${s.subId}`);
    expect(update!.form).toEqual({
      cancel_at_period_end: "true",
      "cancellation_details[feedback]": "too_expensive",
      "cancellation_details[comment]": "Budget cuts.",
    });
    expect(update!.idempotencyKey).toMatch(new RegExp(`^cancel:${s.accountId}:${s.subId}:\\d+:[0-9a-f-]{36}$`));
  });

  test("without a reason sends no cancellation_details", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    await t.withIdentity(alice).action(api.billing.cancelSubscription, {});
    expect(writes()[0]!.form).toEqual({ cancel_at_period_end: "true" });
  });

  test("a comment over 500 characters is INVALID_ARGUMENT, nothing sent", async () => {
    const t = makeTest();
    await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    await expectCode(
      t.withIdentity(alice).action(api.billing.cancelSubscription, { comment: "x".repeat(501) }),
      "INVALID_ARGUMENT",
    );
    expect(stripe.requests).toHaveLength(0);
    await t.withIdentity(alice).action(api.billing.cancelSubscription, { comment: "x".repeat(500) });
    expect(writes()).toHaveLength(1);
  });

  test("a scheduled downgrade is released first (Stripe refuses cancel settings on a scheduled subscription)", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "elite", interval: "month" });
    await t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "month" });
    const scheduleId = [...stripe.schedules.keys()][0]!;
    stripe.clearRequests();
    const result = await t.withIdentity(alice).action(api.billing.cancelSubscription, { feedback: "unused" });
    expect(result.cancelAt).toBe(s.periodEnd * 1000);
    expect(writes().map((r) => r.path)).toEqual([
      `/v1/subscription_schedules/${scheduleId}/release`,
      `/v1/subscriptions/${s.subId}`,
    ]);
  });

  test("resume undoes cancel_at_period_end; a second resume has nothing to undo", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month", cancelAtPeriodEnd: true });
    const asAlice = t.withIdentity(alice);
    expect(await asAlice.action(api.billing.resumeSubscription, {})).toEqual({ resumed: true });
    const [update] = writes();
    expect(update!.form).toEqual({ cancel_at_period_end: "false" });
    expect(update!.idempotencyKey).toMatch(new RegExp(`^resume:${s.accountId}:${s.subId}:`));
    stripe.clearRequests();
    expect(await asAlice.action(api.billing.resumeSubscription, {})).toEqual({ resumed: false });
    expect(writes()).toHaveLength(0);
  });

  test("resume clears a cancel_at (flexible billing / Portal cancel)", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.putSubscription({
      id: s.subId,
      customer: s.customer,
      itemId: s.itemId,
      lookupKey: "pro_monthly",
      periodStart: s.periodStart,
      periodEnd: s.periodEnd,
      cancelAt: s.periodEnd,
    });
    expect(await t.withIdentity(alice).action(api.billing.resumeSubscription, {})).toEqual({ resumed: true });
    expect(writes()[0]!.form).toEqual({ cancel_at: "" });
  });

  test("cancel → resume → cancel within a minute really cancels again (no stale idempotent replay)", async () => {
    const t = makeTest();
    const s = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    const asAlice = t.withIdentity(alice);
    await asAlice.action(api.billing.cancelSubscription, {});
    await asAlice.action(api.billing.resumeSubscription, {});
    await asAlice.action(api.billing.cancelSubscription, {});
    expect(stripe.subscription(s.subId)!.cancel_at_period_end).toBe(true);
    expect(stripe.requests.some((r) => r.replayed)).toBe(false);
  });
});

describe("the metered overage item across plan changes", () => {
  /** Pro monthly whose Stripe subscription also carries the metered overage item. */
  async function meteredSubscriber(t: TestConvex) {
    const seeded = await seedSubscriber(t, alice, { tier: "pro", interval: "month" });
    stripe.putSubscription({
      id: seeded.subId,
      customer: seeded.customer,
      itemId: seeded.itemId,
      lookupKey: "pro_monthly",
      periodStart: seeded.periodStart,
      periodEnd: seeded.periodEnd,
      overageItemId: "si_overage",
    });
    return seeded;
  }
  const updates = (subId: string) => stripe.requestsTo("POST", `/v1/subscriptions/${subId}`);

  test("a monthly upgrade changes the plan item only: the metered item stays, so overage keeps being billed", async () => {
    const t = makeTest();
    const { subId, itemId } = await meteredSubscriber(t);
    await t.withIdentity(alice).action(api.billing.changePlan, { tier: "elite", interval: "month" });
    expect(updates(subId)[0]!.body.items).toEqual([{ id: itemId, price: "price_elite_monthly" }]);
  });

  test("a downgrade scheduled for the period end keeps the metered item (no quantity) through the current phase, and into the next only when that plan bills overage monthly", async () => {
    for (const [tier, keeps] of [["pro", true], ["starter", false]] as const) {
      const t = makeTest();
      stripe.clearRequests();
      const seeded = await seedSubscriber(t, alice, { tier: "elite", interval: "month" });
      stripe.putSubscription({
        id: seeded.subId,
        customer: seeded.customer,
        itemId: seeded.itemId,
        lookupKey: "elite_monthly",
        periodStart: seeded.periodStart,
        periodEnd: seeded.periodEnd,
        overageItemId: "si_overage",
      });
      await t.withIdentity(alice).action(api.billing.changePlan, { tier, interval: "month" });
      const update = stripe.requests.filter((r) => r.method === "POST" && /^\/v1\/subscription_schedules\/[^/]+$/.test(r.path)).at(-1)!;
      const phases = update.body.phases as Array<{ items: unknown }>;
      const metered = { price: `price_${OVERAGE_METER.price.lookupKey}` };
      expect(phases[0]!.items).toEqual([{ price: "price_elite_monthly", quantity: "1" }, metered]);
      expect(phases[1]!.items).toEqual([{ price: `price_${tier}_monthly`, quantity: "1" }, ...(keeps ? [metered] : [])]);
    }
  });

  test("a switch to a yearly plan removes the metered item in the same update (and in its preview), since a classic subscription's prices share one interval", async () => {
    const t = makeTest();
    const { subId, itemId } = await meteredSubscriber(t);
    await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "pro", interval: "year" });
    const preview = stripe.requestsTo("POST", "/v1/invoices/create_preview")[0]!;
    expect((preview.body.subscription_details as Record<string, unknown>).items).toEqual([
      { id: itemId, price: "price_pro_yearly" },
      { id: "si_overage", deleted: "true" },
    ]);
    await t.withIdentity(alice).action(api.billing.changePlan, { tier: "pro", interval: "year" });
    expect(updates(subId)[0]!.body.items).toEqual([
      { id: itemId, price: "price_pro_yearly" },
      { id: "si_overage", deleted: "true" },
    ]);
  });
});
