/**
 * POST /stripe/webhook: size cap, signature verification, configuration,
 * livemode, idempotent enqueue. Each case checks the HTTP answer and what was
 * (or was not) written.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { WEBHOOK_MAX_BODY_BYTES } from "../../convex/billing/model/stripeWebhook";
import { checkoutSession, customer, event, price, subscription, unhandledEvent } from "./fixtures/stripe";
import {
  OTHER_SECRET,
  SECRET,
  account,
  allEventRows,
  createAccount,
  deliver,
  drain,
  eventRow,
  post,
  restoreEnvironment,
  signatureHeader,
  storedPayload,
  useWebhookEnvironment,
  type TestConvex,
} from "./fixtures/webhookHarness";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";
import { fakeLiveKey } from "../helpers/fakeStripeKeys";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });

function anEvent() {
  return event("customer.updated", customer("cus_endpoint"));
}

async function expectNothingWritten(t: TestConvex) {
  expect(await allEventRows(t)).toEqual([]);
}

describe("POST /stripe/webhook", () => {
  let t: TestConvex;
  beforeEach(() => {
    useWebhookEnvironment();
    t = makeTest();
  });
  afterEach(restoreEnvironment);

  test("a correctly signed event is recorded and applied before the 200, storing no payload", async () => {
    const accountId = await createAccount(t, { stripeCustomerId: "cus_endpoint" });
    const e = event("customer.updated", { ...customer("cus_endpoint"), balance: -1200, currency: "usd" });
    const response = await deliver(t, e);
    expect(response.status).toBe(200);
    const row = await eventRow(t, e.id);
    expect(row).toMatchObject({ type: "customer.updated", status: "succeeded", attempts: 1, livemode: false });
    // Settled on receipt: nothing will wake or retry it, so its customer is not kept.
    expect(row?.stripeCustomerId).toBeUndefined();
    expect(row?.eventCreated).toBe(e.created);
    expect(row?.processedAt).toBe(Date.now());
    expect(await account(t, accountId)).toMatchObject({ customerBalance: -1200, balanceCurrency: "usd" });
    // Applied at once: nothing left to run, and no payload kept.
    expect(await storedPayload(t, e.id)).toBeNull();
  });

  test("an event that cannot apply yet stores the raw body exactly as received (the string that was signed)", async () => {
    const e = event("customer.subscription.created", subscription({ id: "sub_endpoint", customer: "cus_unlinked", status: "active", price: proMonthly }));
    const body = JSON.stringify(e, null, 4) + "\n";
    expect((await deliver(t, body)).status).toBe(200);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", waitingFor: "customer:cus_unlinked" });
    expect(await storedPayload(t, e.id)).toBe(body);
  });

  test("when applying throws, its writes roll back and the event is recorded for retry with its raw body: 200", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const accountId = await createAccount(t);
    // Links the customer, then throws on a token pack we do not sell.
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "payment", customer: "cus_throws", clientReferenceId: accountId, metadata: { kind: "top_up", packId: "pack_nonexistent" } }),
    );
    const body = JSON.stringify(e);
    expect((await deliver(t, body)).status).toBe(200);
    const row = await eventRow(t, e.id);
    expect(row).toMatchObject({ status: "failed_retrying", attempts: 1 });
    expect(row?.lastError).toMatch(/unknown token pack/);
    expect(row!.nextAttemptAt!).toBeGreaterThan(Date.now());
    expect(await storedPayload(t, e.id)).toBe(body);
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
  });

  describe("signature", () => {
    test("missing Stripe-Signature header → 400, nothing written", async () => {
      const response = await post(t, JSON.stringify(anEvent()), {});
      expect(response.status).toBe(400);
      await expectNothingWritten(t);
    });

    test("body altered after signing → 400, nothing written", async () => {
      const e = anEvent();
      const body = JSON.stringify(e);
      const header = await signatureHeader(body);
      const tampered = body.replace('"livemode":false', '"livemode":true');
      expect(tampered).not.toBe(body);
      expect((await post(t, tampered, { "Stripe-Signature": header })).status).toBe(400);
      await expectNothingWritten(t);
    });

    test("signed with a secret we do not hold → 400", async () => {
      const response = await deliver(t, anEvent(), { secret: "whsec_someone_else" });
      expect(response.status).toBe(400);
      await expectNothingWritten(t);
    });

    test("a 301 s old timestamp is rejected, exactly 300 s old is accepted", async () => {
      const now = Math.floor(Date.now() / 1000);
      expect((await deliver(t, anEvent(), { timestamp: now - 301 })).status).toBe(400);
      await expectNothingWritten(t);
      const fresh = anEvent();
      expect((await deliver(t, fresh, { timestamp: now - 300 })).status).toBe(200);
      expect(await eventRow(t, fresh.id)).not.toBeNull();
    });

    test("a timestamp more than 60 s in the future is rejected; 60 s ahead is accepted", async () => {
      const now = Math.floor(Date.now() / 1000);
      expect((await deliver(t, anEvent(), { timestamp: now + 61 })).status).toBe(400);
      await expectNothingWritten(t);
      const skewed = anEvent();
      expect((await deliver(t, skewed, { timestamp: now + 60 })).status).toBe(200);
      expect(await eventRow(t, skewed.id)).not.toBeNull();
    });

    test("a header with two t= values (one now, one an hour ahead, signed for the later) → 400, nothing written", async () => {
      // The future-timestamp guard and the SDK must never read different times.
      const now = Math.floor(Date.now() / 1000);
      const e = anEvent();
      const body = JSON.stringify(e, null, 2);
      const ahead = await signatureHeader(body, { timestamp: now + 3600 });
      const response = await post(t, body, { "Stripe-Signature": `t=${now},${ahead}` });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/exactly one/);
      await expectNothingWritten(t);
    });

    test("during a secret roll either configured secret verifies", async () => {
      vi.stubEnv("STRIPE_WEBHOOK_SECRET", `${SECRET}, ${OTHER_SECRET}`);
      const a = anEvent();
      const b = anEvent();
      expect((await deliver(t, a, { secret: SECRET })).status).toBe(200);
      expect((await deliver(t, b, { secret: OTHER_SECRET })).status).toBe(200);
      expect((await deliver(t, anEvent(), { secret: "whsec_retired" })).status).toBe(400);
      expect((await allEventRows(t)).map((r) => r.eventId).sort()).toEqual([a.id, b.id].sort());
    });

    test("a header carrying one v1 per secret (Stripe's roll) verifies against the new secret", async () => {
      const e = anEvent();
      const body = JSON.stringify(e);
      const oldHeader = await signatureHeader(body, { secret: "whsec_old_expired" });
      const newHeader = await signatureHeader(body, { secret: SECRET });
      const newV1 = newHeader.split(",").find((p) => p.startsWith("v1="))!;
      expect((await post(t, body, { "Stripe-Signature": `${oldHeader},${newV1}` })).status).toBe(200);
      expect(await eventRow(t, e.id)).not.toBeNull();
    });
  });

  test("a body over 512 KiB → 413 before verification, nothing written", async () => {
    const e = anEvent();
    const big = JSON.stringify({ ...e, padding: "x".repeat(WEBHOOK_MAX_BODY_BYTES) });
    const response = await deliver(t, big);
    expect(response.status).toBe(413);
    await expectNothingWritten(t);
  });

  test("a declared Content-Length over the cap → 413 without reading further", async () => {
    const body = JSON.stringify(anEvent());
    const response = await post(t, body, {
      "Stripe-Signature": await signatureHeader(body),
      "Content-Length": String(WEBHOOK_MAX_BODY_BYTES + 1),
    });
    expect(response.status).toBe(413);
    await expectNothingWritten(t);
  });

  test("properly signed but malformed JSON → 400, nothing written", async () => {
    const body = '{"id":"evt_broken","object":"event",';
    const response = await deliver(t, body);
    expect(response.status).toBe(400);
    await expectNothingWritten(t);
  });

  test("properly signed JSON that is not an event → 400", async () => {
    expect((await deliver(t, "[1,2,3]")).status).toBe(400);
    expect((await deliver(t, '{"hello":"world"}')).status).toBe(400);
    await expectNothingWritten(t);
  });

  test("missing STRIPE_WEBHOOK_SECRET → 500 (Stripe retries), nothing written", async () => {
    vi.stubEnv("STRIPE_WEBHOOK_SECRET", "");
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await deliver(t, anEvent());
    expect(response.status).toBe(500);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("STRIPE_WEBHOOK_SECRET"));
    await expectNothingWritten(t);
  });

  test("when the event cannot be recorded the answer is 500, so Stripe redelivers", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const e = anEvent();
    // Two rows under one event id make the idempotent lookup throw, in
    // `receive` and again in `recordForRetry`.
    await runInBilling(t, async (ctx) => {
      for (let i = 0; i < 2; i++) {
        await ctx.db.insert("webhookEvents", {
          eventId: e.id,
          type: e.type,
          livemode: false,
          eventCreated: e.created,
          status: "dead",
          attempts: 8,
          receivedAt: Date.now(),
        });
      }
    });
    expect((await deliver(t, e)).status).toBe(500);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining(`could not record Stripe event ${e.id}`), expect.anything());
    expect(await allEventRows(t)).toHaveLength(2);
  });

  test("a live event on a test-mode deployment is acknowledged and recorded as ignored", async () => {
    const e = event("customer.updated", { ...customer("cus_live"), livemode: true }, { livemode: true });
    expect((await deliver(t, e)).status).toBe(200);
    await drain(t);
    const row = await eventRow(t, e.id);
    expect(row?.status).toBe("ignored");
    expect(row?.lastError).toMatch(/live event on a test-mode deployment/);
  });

  test("a test event on a live-mode deployment is ignored too", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", fakeLiveKey("rk"));
    const e = anEvent();
    expect((await deliver(t, e)).status).toBe(200);
    expect((await eventRow(t, e.id))?.status).toBe("ignored");
  });

  test("a redelivered event id is a no-op: one row", async () => {
    const e = anEvent();
    expect((await deliver(t, e)).status).toBe(200);
    await drain(t);
    const first = await eventRow(t, e.id);
    expect((await deliver(t, e)).status).toBe(200);
    await drain(t);
    const rows = await allEventRows(t);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: first?.status, attempts: first?.attempts, receivedAt: first?.receivedAt });
  });

  test("two concurrent deliveries of the same event id → one row, both 200", async () => {
    const e = anEvent();
    const [a, b] = await Promise.all([deliver(t, e), deliver(t, e)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await drain(t);
    const rows = await allEventRows(t);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.eventId).toBe(e.id);
  });

  test("an event type we do not handle is acknowledged and ends ignored", async () => {
    const e = unhandledEvent();
    expect((await deliver(t, e)).status).toBe(200);
    await drain(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "ignored", attempts: 1 });
  });
});
