import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { alice, bob, expectCode, seedAccount } from "./billingFixtures";
import { makeTest } from "./setup";
import { stripeApiEnv } from "../helpers/stripeApiEnv";

const SITE = "https://app.example.test";
let stripe: RecordingStripeServer;

const APP_CONFIG = "bpc_app";

beforeEach(async () => {
  stripe = await startRecordingStripeServer();
  // What `npm run seed:stripe` ships: the app's configuration among others.
  stripe.portalConfigurations.push(
    { id: "bpc_other", object: "billing_portal.configuration", active: true, metadata: {} },
    { id: APP_CONFIG, object: "billing_portal.configuration", active: true, metadata: { app: "convex-stripe-billing" } },
  );
  vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_portal");
  for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
  vi.stubEnv("SITE_URL", SITE);
});
afterEach(async () => {
  await stripe.close();
  vi.unstubAllEnvs();
});

describe("billing.createPortalSession", () => {
  test("opens the portal for the caller's own customer from the database", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    await seedAccount(t, bob, { tier: "pro", stripeCustomerId: "cus_bob" });

    const { url } = await t.withIdentity(alice).action(api.billing.createPortalSession, {});

    expect(url).toMatch(/^https:\/\/billing\.stripe\.test\/p\/session\/bps_test_/);
    const calls = stripe.requestsTo("POST", "/v1/billing_portal/sessions");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.form).toEqual({ customer: "cus_alice", configuration: APP_CONFIG, return_url: `${SITE}/billing` });
    expect(calls[0]!.idempotencyKey).toMatch(new RegExp(`^portal:${accountId}:cus_alice:\\d+$`));
  });

  test("rejects any id sent by the client, so nobody opens another customer's portal", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    await seedAccount(t, bob, { tier: "pro", stripeCustomerId: "cus_bob" });
    const asAlice = t.withIdentity(alice);
    // Casts on purpose: this is what a hostile client could send.
    await expect(asAlice.action(api.billing.createPortalSession, { customerId: "cus_bob" } as never)).rejects.toThrow(
      /Validator error/,
    );
    await expect(asAlice.action(api.billing.createPortalSession, { accountId: "x" } as never)).rejects.toThrow(
      /Validator error/,
    );
    expect(stripe.requests).toHaveLength(0);

    await asAlice.action(api.billing.createPortalSession, {});
    expect(stripe.requestsTo("POST", "/v1/billing_portal/sessions").map((r) => r.form.customer)).toEqual(["cus_alice"]);
  });

  test("uses the shipped configuration, found by metadata.app in one list call", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    await t.withIdentity(alice).action(api.billing.createPortalSession, {});
    expect(stripe.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/billing_portal/configurations",
      "POST /v1/billing_portal/sessions",
    ]);
    expect(stripe.requests[0]!.form.active).toBe("true");
    expect(stripe.requestsTo("POST", "/v1/billing_portal/sessions")[0]!.form.configuration).toBe(APP_CONFIG);
  });

  test("STRIPE_PORTAL_CONFIGURATION_ID wins and skips the look-up", async () => {
    vi.stubEnv("STRIPE_PORTAL_CONFIGURATION_ID", "bpc_from_env");
    const t = makeTest();
    await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    await t.withIdentity(alice).action(api.billing.createPortalSession, {});
    expect(stripe.requestsTo("GET", "/v1/billing_portal/configurations")).toHaveLength(0);
    expect(stripe.requestsTo("POST", "/v1/billing_portal/sessions")[0]!.form.configuration).toBe("bpc_from_env");
  });

  test("without the shipped configuration it fails with STRIPE_NOT_CONFIGURED, naming the seed", async () => {
    stripe.portalConfigurations.splice(0, stripe.portalConfigurations.length, {
      id: "bpc_other",
      active: true,
      metadata: {},
    });
    const t = makeTest();
    await seedAccount(t, alice, { tier: "pro", stripeCustomerId: "cus_alice" });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createPortalSession, {}),
      "STRIPE_NOT_CONFIGURED",
    );
    expect(data.message).toMatch(/npm run seed:stripe/);
    expect(data.variable).toBe("STRIPE_PORTAL_CONFIGURATION_ID");
    expect(stripe.requestsTo("POST", "/v1/billing_portal/sessions")).toHaveLength(0);
  });

  test("without a customer it fails with NO_CUSTOMER and calls nothing", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    const data = await expectCode(t.withIdentity(alice).action(api.billing.createPortalSession, {}), "NO_CUSTOMER");
    expect(data.message).toMatch(/plan/i);
    expect(stripe.requests).toHaveLength(0);
  });

  test("a customer deleted in Stripe counts as no customer", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_gone", stripeCustomerDeleted: true });
    await expectCode(t.withIdentity(alice).action(api.billing.createPortalSession, {}), "NO_CUSTOMER");
    expect(stripe.requests).toHaveLength(0);
  });

  test("requires sign-in", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    await expectCode(t.action(api.billing.createPortalSession, {}), "UNAUTHENTICATED");
    expect(stripe.requests).toHaveLength(0);
  });

  test("without STRIPE_SECRET_KEY it fails with STRIPE_NOT_CONFIGURED", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "");
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_alice" });
    const data = await expectCode(
      t.withIdentity(alice).action(api.billing.createPortalSession, {}),
      "STRIPE_NOT_CONFIGURED",
    );
    expect(data.variable).toBe("STRIPE_SECRET_KEY");
  });
});
