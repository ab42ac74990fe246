import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { alice, bob, expectCode, seedAccount } from "./billingFixtures";
import { makeTest } from "./setup";

const SITE = "https://app.example.test";
let stripe: RecordingStripeServer;

beforeEach(async () => {
  stripe = await startRecordingStripeServer();
  vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_portal");
  vi.stubEnv("STRIPE_API_BASE", stripe.url);
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
    expect(calls[0]!.form).toEqual({ customer: "cus_alice", return_url: `${SITE}/billing` });
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
    expect(stripe.requests.map((r) => r.form.customer)).toEqual(["cus_alice"]);
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
