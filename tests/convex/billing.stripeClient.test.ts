import { afterEach, describe, expect, test, vi } from "vitest";
import Stripe from "stripe";
import { getStripe, stripeMode, stripeModeFromKey, STRIPE_API_VERSION, toStripeError } from "../../convex/billing/model/stripeClient";
import { fail } from "../../convex/billing/model/errors";
import { expectCode } from "./billingFixtures";
import { fakeLiveKey } from "../helpers/fakeStripeKeys";
import { startRecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs `f` so that a synchronous throw becomes a rejected promise. */
const settle = async (f: () => unknown) => {
  await Promise.resolve();
  return f();
};

describe("stripeClient", () => {
  test("pins the API version the installed SDK was generated for", () => {
    expect(STRIPE_API_VERSION).toBe(Stripe.API_VERSION);
  });

  test("tells live keys from test keys", () => {
    expect(stripeModeFromKey(fakeLiveKey("sk"))).toBe("live");
    expect(stripeModeFromKey(fakeLiveKey("rk"))).toBe("live");
    expect(stripeModeFromKey("sk_test_abc")).toBe("test");
    expect(stripeModeFromKey("rk_test_abc")).toBe("test");
    vi.stubEnv("STRIPE_SECRET_KEY", fakeLiveKey());
    expect(stripeMode()).toBe("live");
  });

  test("a missing or blank key fails the call with STRIPE_NOT_CONFIGURED naming the variable", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "   ");
    expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_SECRET_KEY");
    expect((await expectCode(settle(stripeMode), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_SECRET_KEY");
  });

  test("STRIPE_API_HOST / _PORT / _PROTOCOL become the SDK's host, port and protocol", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_x");
    const server = await startRecordingStripeServer();
    try {
      for (const [name, value] of Object.entries(stripeApiEnv(server.url))) vi.stubEnv(name, value);
      await getStripe().customers.create({ email: "host@example.com" }, { idempotencyKey: "host-test" });
      expect(server.requestsTo("POST", "/v1/customers")).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  test("a host override needs a host, a port number and http(s)", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_x");
    vi.stubEnv("STRIPE_API_PORT", "12111");
    expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_HOST");
    vi.stubEnv("STRIPE_API_HOST", "127.0.0.1");
    vi.stubEnv("STRIPE_API_PORT", "not a port");
    expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_PORT");
    vi.stubEnv("STRIPE_API_PORT", "70000");
    expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_PORT");
    vi.stubEnv("STRIPE_API_PORT", "12111");
    vi.stubEnv("STRIPE_API_PROTOCOL", "ftp");
    expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_PROTOCOL");
    vi.stubEnv("STRIPE_API_PROTOCOL", "http");
    expect(getStripe()).toBeInstanceOf(Stripe);
  });

  test("a live key refuses any host override, so live calls only go to Stripe", async () => {
    for (const key of [fakeLiveKey("sk"), fakeLiveKey("rk")]) {
      vi.stubEnv("STRIPE_SECRET_KEY", key);
      vi.stubEnv("STRIPE_API_HOST", "127.0.0.1");
      const refused = await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED");
      expect(refused.variable).toBe("STRIPE_API_HOST");
      expect(refused.message).toMatch(/refused with a live key/);
      vi.stubEnv("STRIPE_API_HOST", "");
      vi.stubEnv("STRIPE_API_PROTOCOL", "http");
      expect((await expectCode(settle(getStripe), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_PROTOCOL");
      vi.stubEnv("STRIPE_API_PROTOCOL", "");
      expect(getStripe()).toBeInstanceOf(Stripe);
    }
  });

  test("errors: billing errors pass through, Stripe's raw message never reaches the client", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const billing = await expectCode(
      settle(() => {
        try {
          fail("PRICE_NOT_FOUND", "no price");
        } catch (e) {
          toStripeError(e, "op");
        }
      }),
      "PRICE_NOT_FOUND",
    );
    expect(billing.message).toBe("no price");

    const stripeError = new Stripe.errors.StripeRateLimitError({ message: "raw text with cus_123", type: "rate_limit_error" });
    const mapped = await expectCode(settle(() => toStripeError(stripeError, "op")), "STRIPE_ERROR");
    expect(mapped.message).toMatch(/busy/);
    expect(mapped.message).not.toContain("cus_123");

    const other = await expectCode(settle(() => toStripeError(new TypeError("boom"), "op")), "STRIPE_ERROR");
    expect(other.message).not.toContain("boom");
  });
});
