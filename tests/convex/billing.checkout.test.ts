import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { OVERAGE_METER } from "../../convex/billing/model/plans";
import { STRIPE_API_VERSION } from "../../convex/billing/model/stripeClient";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { alice, bob, expectCode, getAccount, seedAccount } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";
import { fakeLiveKey } from "../helpers/fakeStripeKeys";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { testClocksPerCustomer } from "../../convex/billing/model/stripeClient";

/**
 * A live key without the host override (which a live key refuses), so any
 * Stripe call would go to api.stripe.com and fail `STRIPE_ERROR`: a test that
 * gets `STRIPE_NOT_CONFIGURED` instead was refused before calling Stripe.
 */
function useLiveKey(): void {
  vi.stubEnv("STRIPE_SECRET_KEY", fakeLiveKey());
  for (const name of Object.keys(stripeApiEnv("http://127.0.0.1"))) vi.stubEnv(name, "");
}

const SITE = "https://app.example.test";
let stripe: RecordingStripeServer;

// A fresh server per test: convex-test hands out the same ids in every test,
// so a shared server would replay idempotency keys across tests.
beforeEach(async () => {
  stripe = await startRecordingStripeServer();
  vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_checkout");
  for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
  vi.stubEnv("SITE_URL", SITE);
});
afterEach(async () => {
  await stripe.close();
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe("billing.createCheckoutSession", () => {
  test("creates a customer and a subscription Checkout for the server-resolved price", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);

    const { url } = await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });

    const sessions = stripe.requestsTo("POST", "/v1/checkout/sessions");
    expect(sessions).toHaveLength(1);
    const session = sessions[0]!;
    expect(url).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_/);

    // The customer was created for this account and linked to it.
    const customers = stripe.requestsTo("POST", "/v1/customers");
    expect(customers).toHaveLength(1);
    expect(customers[0]!.form).toMatchObject({
      "metadata[accountId]": accountId,
      email: "alice@example.com",
      name: "Alice",
    });
    const customerId = stripe.customers[0]!.id as string;
    expect((await getAccount(t, accountId))!.stripeCustomerId).toBe(customerId);

    // The price came from its lookup key on Stripe, not from the client.
    // (The second look-up is the metered overage price; see the next test.)
    const priceLookups = stripe.requestsTo("GET", "/v1/prices");
    expect(priceLookups).toHaveLength(2);
    expect(priceLookups[0]!.body).toMatchObject({ lookup_keys: ["pro_monthly"], active: "true", expand: ["data.product"] });

    expect(session.form).toMatchObject({
      mode: "subscription",
      customer: customerId,
      client_reference_id: accountId,
      "metadata[accountId]": accountId,
      "subscription_data[metadata][accountId]": accountId,
      "line_items[0][price]": "price_pro_monthly",
      "line_items[0][quantity]": "1",
      allow_promotion_codes: "true",
      success_url: `${SITE}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${SITE}/pricing`,
    });

    // Every write carries our own idempotency key (not the SDK's random one),
    // and every call uses the pinned API version and the configured key.
    const posts = stripe.requests.filter((r) => r.method === "POST");
    expect(posts.map((r) => r.idempotencyKey)).toEqual([
      `customer-create:${accountId}`,
      expect.stringMatching(new RegExp(`^checkout:${accountId}:pro_monthly:metered:${customerId}:\\d+$`)),
    ]);
    for (const r of stripe.requests) {
      expect(r.stripeVersion).toBe(STRIPE_API_VERSION);
      expect(r.apiKey).toBe("sk_test_checkout");
    }

    // The price is cached for the event handlers.
    const cached = await runInBilling(t, async (ctx) =>
      ctx.db
        .query("stripePrices")
        .withIndex("by_stripePriceId", (q) => q.eq("stripePriceId", "price_pro_monthly"))
        .unique(),
    );
    expect(cached).toMatchObject({ lookupKey: "pro_monthly", tier: "pro", interval: "month", unitAmount: 2900, currency: "usd" });
  });

  test("a monthly plan with an overage policy also carries the metered overage price, without a quantity; yearly plans and plans that block don't", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    const pro = stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!;
    expect(pro.body.line_items).toEqual([
      { price: "price_pro_monthly", quantity: "1" },
      { price: `price_${OVERAGE_METER.price.lookupKey}` },
    ]);
    expect(stripe.requestsTo("GET", "/v1/prices")[1]!.body.lookup_keys).toEqual([OVERAGE_METER.price.lookupKey]);

    for (const [tier, interval] of [["pro", "year"], ["starter", "month"]] as const) {
      stripe.clearRequests();
      const other = makeTest();
      await seedAccount(other, alice);
      await other.withIdentity(alice).action(api.billing.createCheckoutSession, { tier, interval });
      expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.body.line_items).toEqual([
        { price: `price_${tier}_${interval}ly`, quantity: "1" },
      ]);
    }
  });

  test("without the overage price in Stripe (seed not run) the plan is still sold, and its overage stays blocked", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    stripe.removePrice(OVERAGE_METER.price.lookupKey);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "elite", interval: "month" });
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.body.line_items).toEqual([{ price: "price_elite_monthly", quantity: "1" }]);
  });

  test("yearly interval resolves the yearly lookup key", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "elite", interval: "year" });
    expect(stripe.requestsTo("GET", "/v1/prices")[0]!.body.lookup_keys).toEqual(["elite_yearly"]);
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.form["line_items[0][price]"]).toBe("price_elite_yearly");
  });

  test("reuses the account's customer on a later checkout", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month" });
    const customerId = (await getAccount(t, accountId))!.stripeCustomerId;

    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "year" });

    expect(stripe.requestsTo("POST", "/v1/customers")).toHaveLength(1);
    const sessions = stripe.requestsTo("POST", "/v1/checkout/sessions");
    expect(sessions.map((s) => s.form.customer)).toEqual([customerId, customerId]);
  });

  test("a double click creates one customer and one session", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-05-04T12:00:10Z"));
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const asAlice = t.withIdentity(alice);

    const [first, second] = await Promise.all([
      asAlice.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      asAlice.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
    ]);

    expect(stripe.customers.filter((c) => (c.metadata as Record<string, string>).accountId === accountId)).toHaveLength(1);
    // Both clicks really raced (each saw no customer and asked Stripe for one);
    // the shared idempotency key made Stripe answer the second with the first.
    const customerCalls = stripe.requestsTo("POST", "/v1/customers");
    expect(customerCalls).toHaveLength(2);
    expect(new Set(customerCalls.map((r) => r.idempotencyKey))).toEqual(new Set([`customer-create:${accountId}`]));
    expect(customerCalls.filter((r) => r.replayed)).toHaveLength(1);
    expect((await getAccount(t, accountId))!.stripeCustomerId).toBe(stripe.customers.at(-1)!.id);
    // Same minute, same parameters: Stripe answers the second with the first session.
    expect(second.url).toBe(first.url);
  });

  test("separate accounts get separate customers", async () => {
    const t = makeTest();
    const aliceAccount = await seedAccount(t, alice);
    const bobAccount = await seedAccount(t, bob);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    await t.withIdentity(bob).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    const a = (await getAccount(t, aliceAccount))!.stripeCustomerId;
    const b = (await getAccount(t, bobAccount))!.stripeCustomerId;
    expect(a).toBeTruthy();
    expect(b).toBeTruthy();
    expect(a).not.toBe(b);
  });

  test.each([
    ["a lower tier", "pro", "starter"],
    ["the same tier", "pro", "pro"],
    ["anything from internal", "internal", "elite"],
  ] as const)("refuses %s (current %s, asked %s) before calling Stripe", async (_label, current, asked) => {
    const t = makeTest();
    await seedAccount(t, alice, { tier: current });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: asked, interval: "month" }),
      "NOT_AN_UPGRADE",
    );
    expect(data.tier).toBe(asked);
    expect(stripe.requests).toHaveLength(0);
  });

  test.each(["internal", "free"] as const)("refuses to sell the %s tier", async (tier) => {
    const t = makeTest();
    await seedAccount(t, alice);
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier, interval: "month" }),
      "NOT_AN_UPGRADE",
    );
    expect(stripe.requests).toHaveLength(0);
  });

  test("refuses a second subscription while one is billed (upgrades go through the Portal)", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { tier: "free", stripeCustomerId: "cus_existing" });
    // Past due beyond grace: tier already fell to free, but Stripe still bills it.
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("subscriptions", {
        stripeSubscriptionId: "sub_1",
        stripeCustomerId: "cus_existing",
        accountId,
        status: "past_due",
        tier: "pro",
        quantity: 1,
        cancelAtPeriodEnd: false,
        eventCreated: 1,
      });
    });
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      "NOT_AN_UPGRADE",
    );
    expect(stripe.requests).toHaveLength(0);
  });

  test("a canceled earlier subscription does not block a new one", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: "cus_returning" });
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("subscriptions", {
        stripeSubscriptionId: "sub_old",
        stripeCustomerId: "cus_returning",
        accountId,
        status: "canceled",
        tier: "pro",
        quantity: 1,
        cancelAtPeriodEnd: false,
        eventCreated: 1,
      });
    });
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(stripe.requestsTo("POST", "/v1/customers")).toHaveLength(0);
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.form.customer).toBe("cus_returning");
  });

  test("a customer deleted in Stripe is replaced, under a new idempotency key", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: "cus_gone", stripeCustomerDeleted: true });
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    const create = stripe.requestsTo("POST", "/v1/customers");
    expect(create.map((r) => r.idempotencyKey)).toEqual([`customer-create:${accountId}:after:cus_gone`]);
    const account = (await getAccount(t, accountId))!;
    expect(account.stripeCustomerId).toBe(stripe.customers.at(-1)!.id);
    expect(account.stripeCustomerDeleted).toBeUndefined();
  });

  test("rejects unknown tiers and intervals in the validator", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    const asAlice = t.withIdentity(alice);
    const call = (args: Record<string, unknown>) =>
      // Cast on purpose: this is what a hostile client could send.
      asAlice.action(api.billing.createCheckoutSession, args as never);
    await expect(call({ tier: "platinum", interval: "month" })).rejects.toThrow(/Validator error/);
    await expect(call({ tier: "pro", interval: "week" })).rejects.toThrow(/Validator error/);
    await expect(call({ tier: "pro", interval: "month", priceId: "price_cheap" })).rejects.toThrow(/Validator error/);
    expect(stripe.requests).toHaveLength(0);
  });

  test("requires sign-in", async () => {
    const t = makeTest();
    await expectCode(t.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }), "UNAUTHENTICATED");
    expect(stripe.requests).toHaveLength(0);
  });

  test("a signed-in caller whose account is not stored yet gets NOT_FOUND", async () => {
    const t = makeTest();
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      "NOT_FOUND",
    );
  });

  test("without STRIPE_SECRET_KEY the call fails with STRIPE_NOT_CONFIGURED and the rest keeps working", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "");
    const t = makeTest();
    await seedAccount(t, alice);
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      "STRIPE_NOT_CONFIGURED",
    );
    expect(data.variable).toBe("STRIPE_SECRET_KEY");
    expect(data.message).toContain("STRIPE_SECRET_KEY");
    expect(stripe.requests).toHaveLength(0);

    const plans = await t.query(api.plans.list, {});
    expect(plans.map((p) => p.tier)).toEqual(["free", "starter", "pro", "elite"]);
    expect(await t.withIdentity(alice).query(api.billing.subscription, {})).toMatchObject({ tier: "free", status: "none" });
  });

  test("a lookup key with no active price fails with PRICE_NOT_FOUND and creates nothing", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    stripe.removePrice("starter_monthly");
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month" }),
      "PRICE_NOT_FOUND",
    );
    expect(stripe.requests.filter((r) => r.method === "POST")).toHaveLength(0);
    expect((await getAccount(t, accountId))!.stripeCustomerId).toBeUndefined();
  });

  test("a Stripe error becomes STRIPE_ERROR without Stripe's raw message", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_x" });
    stripe.failNext("POST", "/v1/checkout/sessions", {
      status: 400,
      type: "invalid_request_error",
      message: "No such customer: 'cus_x' (secret detail)",
    });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      "STRIPE_ERROR",
    );
    expect(data.message).not.toContain("secret detail");
    expect(data.message).not.toContain("cus_x");
  });

  test("without SITE_URL a test key falls back to the local app origin", async () => {
    vi.stubEnv("SITE_URL", "");
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.form.cancel_url).toBe("http://127.0.0.1:5173/pricing");
  });

  test("without SITE_URL a live key refuses, naming SITE_URL, before calling Stripe", async () => {
    vi.stubEnv("SITE_URL", "");
    useLiveKey();
    const t = makeTest();
    await seedAccount(t, alice);
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      "STRIPE_NOT_CONFIGURED",
    );
    expect(data.variable).toBe("SITE_URL");
  });
});

describe("test clocks (STRIPE_TEST_CLOCKS=per_customer)", () => {
  test("a new customer gets its own test clock, created first, frozen at now", async () => {
    vi.stubEnv("STRIPE_TEST_CLOCKS", "per_customer");
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    const before = Math.floor(Date.now() / 1000);

    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });

    const clocks = stripe.requestsTo("POST", "/v1/test_helpers/test_clocks");
    expect(clocks).toHaveLength(1);
    expect(clocks[0]!.form.name).toBe(`account ${accountId}`);
    const frozen = Number(clocks[0]!.form.frozen_time);
    expect(frozen).toBeGreaterThan(before - 61);
    expect(frozen).toBeLessThanOrEqual(before + 1);
    expect(clocks[0]!.idempotencyKey).toMatch(new RegExp(`^test-clock:${accountId}:\\d+$`));
    const clockId = stripe.testClocks[0]!.id as string;
    const customer = stripe.requestsTo("POST", "/v1/customers")[0]!;
    expect(customer.form.test_clock).toBe(clockId);
    expect(customer.idempotencyKey).toBe(`customer-create:${accountId}:clock:${clockId}`);
    const order = stripe.requests.filter((r) => r.method === "POST").map((r) => r.path);
    expect(order.slice(0, 2)).toEqual(["/v1/test_helpers/test_clocks", "/v1/customers"]);
  });

  test("off by default, and an existing customer never gets a clock", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(stripe.requestsTo("POST", "/v1/test_helpers/test_clocks")).toHaveLength(0);
    expect(stripe.requestsTo("POST", "/v1/customers")[0]!.form.test_clock).toBeUndefined();

    vi.stubEnv("STRIPE_TEST_CLOCKS", "per_customer");
    await seedAccount(t, bob, { stripeCustomerId: "cus_bob" });
    await t.withIdentity(bob).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(stripe.requestsTo("POST", "/v1/test_helpers/test_clocks")).toHaveLength(0);
  });

  test("refused with a live key, naming STRIPE_TEST_CLOCKS", async () => {
    // A live key cannot reach this test's Stripe server (it refuses the host
    // override), so the check that `ensureCustomer` makes before creating a
    // customer is called directly.
    vi.stubEnv("STRIPE_TEST_CLOCKS", "per_customer");
    useLiveKey();
    const data = await expectCode(Promise.resolve().then(testClocksPerCustomer), "STRIPE_NOT_CONFIGURED");
    expect(data.variable).toBe("STRIPE_TEST_CLOCKS");
    expect(data.message).toMatch(/only with a test key/);
  });
});

describe("billing.createTopUpCheckoutSession", () => {
  test("creates a payment-mode Checkout for the pack's price with top-up metadata", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });

    const { url } = await t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_500" });

    expect(url).toContain("cs_test_");
    expect(stripe.requestsTo("GET", "/v1/prices")[0]!.body.lookup_keys).toEqual(["tokens_500"]);
    const session = stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!;
    expect(session.form).toMatchObject({
      mode: "payment",
      customer: "cus_alice",
      client_reference_id: accountId,
      "metadata[accountId]": accountId,
      "metadata[kind]": "top_up",
      "metadata[packId]": "pack_500",
      "line_items[0][price]": "price_tokens_500",
      "line_items[0][quantity]": "1",
      cancel_url: `${SITE}/billing`,
      // A receipt in the invoice list.
      "invoice_creation[enabled]": "true",
      "invoice_creation[invoice_data][description]": "500 tokens",
      "invoice_creation[invoice_data][metadata][accountId]": accountId,
      "invoice_creation[invoice_data][metadata][kind]": "top_up",
      "invoice_creation[invoice_data][metadata][packId]": "pack_500",
      // The buyer may save the card for auto-recharge; nothing is saved unticked.
      "saved_payment_method_options[payment_method_save]": "enabled",
    });
    expect(session.idempotencyKey).toMatch(new RegExp(`^topup-checkout:${accountId}:pack_500:cus_alice:\\d+$`));
    expect(stripe.requestsTo("POST", "/v1/customers")).toHaveLength(0);
  });

  test("rejects unknown packs in the validator and requires sign-in", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await expect(
      t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_free" }),
    ).rejects.toThrow(/Validator error/);
    await expectCode(t.action(api.billing.createTopUpCheckoutSession, { packId: "pack_100" }), "UNAUTHENTICATED");
    expect(stripe.requests).toHaveLength(0);
  });
});
