/**
 * The set-up a convex-test suite needs to run billing actions against the
 * recording Stripe server: per test, a fresh server (convex-test hands out
 * the same ids in every test, so a shared server would replay idempotency
 * keys across tests), the SDK pointed at it, the webhook secret and site
 * URL set, and only `Date` faked at `nowMs` — the Stripe SDK's request
 * timeouts and convex-test's scheduler keep real timers, so scheduled
 * actions run by themselves. Call at the top of a test file; the returned
 * function gives the current test's server.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { startRecordingStripeServer, type RecordingStripeServer } from "./recordingStripeServer";
import { stripeApiEnv } from "./stripeApiEnv";

export const TEST_SITE_URL = "https://app.example.test";

export function useRecordingStripe(options: { nowMs: number; secretKey: string; webhookSecret: string }): () => RecordingStripeServer {
  let server: RecordingStripeServer | null = null;
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(options.nowMs);
    server = await startRecordingStripeServer();
    vi.stubEnv("STRIPE_SECRET_KEY", options.secretKey);
    vi.stubEnv("STRIPE_WEBHOOK_SECRET", options.webhookSecret);
    vi.stubEnv("SITE_URL", TEST_SITE_URL);
    for (const [name, value] of Object.entries(stripeApiEnv(server.url))) vi.stubEnv(name, value);
  });
  afterEach(async () => {
    await server?.close();
    server = null;
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });
  return () => {
    if (!server) throw new Error("the recording Stripe server runs only inside a test");
    return server;
  };
}
