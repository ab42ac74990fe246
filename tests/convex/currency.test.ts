/**
 * Currencies (docs/BILLING_COMPONENT.md "Currencies"): Checkout charges the
 * currency the client asks for, resolved against the price's
 * `currency_options`; an account Stripe already bills in a currency is
 * charged in it and refused another one (`CURRENCY_LOCKED`) before any
 * Stripe write; the billed currency comes from `customer.updated`, else the
 * account's invoices; `billing.currency` tells the pricing page.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { runInBilling } from "../lib/billingComponent";
import { alice, expectCode, getAccount, seedAccount } from "./billingFixtures";
import { customer, event } from "./fixtures/stripe";
import { account, createAccount, deliverAll, restoreEnvironment, useWebhookEnvironment } from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

type T = ReturnType<typeof makeTest>;

async function addInvoice(t: T, accountId: Id<"billingAccounts">, currency: string, status: "paid" | "draft" = "paid") {
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("invoices", {
      stripeInvoiceId: `in_${currency}_${status}`,
      accountId,
      status,
      amountDue: 2700,
      amountPaid: status === "paid" ? 2700 : 0,
      amountRemaining: status === "paid" ? 0 : 2700,
      currency,
      createdAt: Date.now(),
      eventCreated: Math.floor(Date.now() / 1000),
    });
  });
}

describe("Checkout in the visitor's currency", () => {
  let stripe: RecordingStripeServer;
  beforeEach(async () => {
    stripe = await startRecordingStripeServer();
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_currency");
    for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
    vi.stubEnv("SITE_URL", "https://app.example.test");
  });
  afterEach(async () => {
    await stripe.close();
    vi.unstubAllEnvs();
  });

  test("a subscription in EUR: prices looked up with their currency options, Checkout told the currency", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", currency: "eur" });

    const lookups = stripe.requestsTo("GET", "/v1/prices");
    expect(lookups.map((r) => r.body.expand)).toEqual([
      ["data.product", "data.currency_options"],
      ["data.product", "data.currency_options"],
    ]);
    const [session] = stripe.requestsTo("POST", "/v1/checkout/sessions");
    expect(session!.form).toMatchObject({ mode: "subscription", currency: "eur", "line_items[0][price]": "price_pro_monthly" });
    expect(session!.idempotencyKey).toMatch(new RegExp(`^checkout:${accountId}:pro_monthly:eur:metered:`));
  });

  test("no currency asked: USD, the price's own, with keys and look-ups as before currencies", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "starter", interval: "year" });
    expect(stripe.requestsTo("GET", "/v1/prices")[0]!.body.expand).toEqual(["data.product"]);
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.form.currency).toBe("usd");
  });

  test("a token pack in GBP", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_500", currency: "gbp" });
    const [session] = stripe.requestsTo("POST", "/v1/checkout/sessions");
    expect(session!.form).toMatchObject({ mode: "payment", currency: "gbp", "line_items[0][price]": "price_tokens_500" });
    expect(session!.idempotencyKey).toMatch(new RegExp(`^topup-checkout:${accountId}:pack_500:gbp:`));
  });

  test("a price without an option for the currency is PRICE_NOT_FOUND, before any Stripe write", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    stripe.setPrice({ id: "price_pro_monthly", lookupKey: "pro_monthly", unitAmount: 2900, currency: "usd", interval: "month", active: true, productName: "Pro" });
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", currency: "eur" }),
      "PRICE_NOT_FOUND",
    );
    expect(stripe.requests.filter((r) => r.method === "POST")).toEqual([]);
  });

  test("an account billed in EUR is charged in EUR, and refused GBP with CURRENCY_LOCKED before any Stripe call", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_alice", currency: "eur" });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", currency: "gbp" }),
      "CURRENCY_LOCKED",
    );
    expect(data).toMatchObject({ currency: "eur" });
    expect(data.message).toContain("billed in EUR");
    await expectCode(t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_100", currency: "usd" }), "CURRENCY_LOCKED");
    expect(stripe.requests).toEqual([]);

    // Asking for nothing, or for EUR, charges EUR.
    await t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_100" });
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", currency: "eur" });
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions").map((r) => r.form.currency)).toEqual(["eur", "eur"]);
  });

  test("without the customer's currency mirrored, the newest non-draft invoice fixes it", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    await addInvoice(t, accountId, "gbp");
    await expectCode(
      t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "elite", interval: "month", currency: "usd" }),
      "CURRENCY_LOCKED",
    );
    expect(await t.withIdentity(alice).query(api.billing.currency, {})).toEqual({ billedCurrency: "gbp" });
  });

  test("a deleted customer unlocks the currency: the next Checkout makes a new customer", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_gone", stripeCustomerDeleted: true, currency: "eur" });
    expect(await t.withIdentity(alice).query(api.billing.currency, {})).toEqual({ billedCurrency: null });
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", currency: "gbp" });
    expect(stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!.form.currency).toBe("gbp");
  });
});

describe("billing.currency", () => {
  test("null signed out; null with no customer, or a customer never billed; a draft invoice does not count", async () => {
    const t = makeTest();
    expect(await t.query(api.billing.currency, {})).toBeNull();
    const accountId = await seedAccount(t, alice);
    expect(await t.withIdentity(alice).query(api.billing.currency, {})).toEqual({ billedCurrency: null });
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_alice" }));
    await addInvoice(t, accountId, "eur", "draft");
    expect(await t.withIdentity(alice).query(api.billing.currency, {})).toEqual({ billedCurrency: null });
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { currency: "eur" }));
    expect(await t.withIdentity(alice).query(api.billing.currency, {})).toEqual({ billedCurrency: "eur" });
    expect((await getAccount(t, accountId))!.currency).toBe("eur");
  });
});

describe("customer.updated mirrors the customer's currency", () => {
  beforeEach(useWebhookEnvironment);
  afterEach(restoreEnvironment);

  test("set once Stripe reports it; an event without one keeps it; writes only on change", async () => {
    const t = makeTest();
    const accountId = await createAccount(t, { stripeCustomerId: "cus_eu" });
    const updated = (fields: Partial<Stripe.Customer>, created: number) =>
      event("customer.updated", { ...customer("cus_eu"), balance: 0, ...fields }, { created });
    const now = Math.floor(Date.now() / 1000);
    await deliverAll(t, updated({ currency: null }, now));
    expect((await account(t, accountId)).currency).toBeUndefined();
    await deliverAll(t, updated({ currency: "eur" }, now + 1));
    expect((await account(t, accountId)).currency).toBe("eur");
    await deliverAll(t, updated({ currency: null }, now + 2));
    expect((await account(t, accountId)).currency).toBe("eur");
  });
});
