/**
 * Webhook delivery from the simulator: signatures, retries after failures,
 * and chaos (duplicates, shuffled order, dropped deliveries) with the
 * `delivery_success=false` listing that reconciliation relies on.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DeliveryRecord } from "../src/index.ts";
import { simPost, startHarness, subscribe, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  h.receiver.failNext(0);
  h.sim.configure({
    retryDelaysMs: [20, 40, 80],
    chaos: { duplicateRate: 0, shuffle: false, delayMs: [0, 0], dropRate: 0, dropNext: 0, dropTypes: [], seed: null },
  });
  await h.reset();
});

async function deliveries(): Promise<DeliveryRecord[]> {
  const res = await fetch(`${h.sim.url}/_sim/deliveries`);
  return ((await res.json()) as { data: DeliveryRecord[] }).data;
}

async function undelivered(): Promise<Stripe.Event[]> {
  const all: Stripe.Event[] = [];
  for await (const e of h.stripe.events.list({ delivery_success: false, limit: 100 })) all.push(e);
  return all;
}

describe("signing", () => {
  it("signs as Stripe does: t=<seconds>,v1=<hex sha256>; every delivery verifies with constructEvent", async () => {
    await h.stripe.customers.create({ email: "sig@example.com" });
    await h.sim.waitForDeliveries();
    expect(h.receiver.requests).toHaveLength(1);
    const req = h.receiver.requests[0];
    expect(req?.verified).toBe(true);
    expect(req?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = h.receiver.events[0] as Stripe.Event;
    expect(event).toMatchObject({ type: "customer.created", api_version: "2026-10-28.endive", livemode: false, object: "event" });
    expect(event.request?.id).toMatch(/^req_/);
    // Stored and retrievable, with pending_webhooks down to 0 once delivered.
    const stored = await h.stripe.events.retrieve(event.id);
    expect(stored.pending_webhooks).toBe(0);
  });
});

describe("retries", () => {
  it("retries a delivery the receiver answered 500, then marks it delivered", async () => {
    h.receiver.failNext(1, 500);
    const customer = await h.stripe.customers.create({ email: "retry@example.com" });
    expect(await h.sim.waitForDeliveries()).toBe(true);
    const created = h.receiver.events.filter((e) => e.type === "customer.created");
    expect(created).toHaveLength(1);
    expect((created[0]?.data.object as Stripe.Customer).id).toBe(customer.id);
    const log = (await deliveries()).filter((d) => d.eventId === created[0]?.id);
    expect(log.map((d) => [d.attempt, d.outcome, d.httpStatus])).toEqual([
      [1, "failed", 500],
      [2, "succeeded", 200],
    ]);
    expect(await undelivered()).toHaveLength(0);
  });

  it("gives up after the configured retries; the event stays delivery_success=false", async () => {
    h.receiver.failNext(100, 503);
    await h.stripe.customers.create({ email: "down@example.com" });
    expect(await h.sim.waitForDeliveries(5_000)).toBe(true);
    const log = (await deliveries()).filter((d) => d.eventType === "customer.created");
    expect(log.map((d) => [d.attempt, d.outcome, d.httpStatus])).toEqual([
      [1, "failed", 503],
      [2, "failed", 503],
      [3, "failed", 503],
      [4, "failed", 503],
    ]);
    const pending = await undelivered();
    expect(pending.map((e) => e.type)).toEqual(["customer.created"]);
    expect(pending[0]?.pending_webhooks).toBe(1);
  });

  it("treats a refused connection as a failed attempt and retries it", async () => {
    const good = h.receiver.url;
    // Port 9 (discard) is closed on loopback: the connection is refused.
    h.sim.configure({ webhookUrl: "http://127.0.0.1:9/stripe/webhook", retryDelaysMs: [20] });
    try {
      await h.stripe.customers.create({ email: "refused@example.com" });
      expect(await h.sim.waitForDeliveries(5_000)).toBe(true);
      const log = (await deliveries()).filter((d) => d.eventType === "customer.created");
      expect(log).toHaveLength(2);
      expect(log.every((d) => d.outcome === "failed" && d.httpStatus === null && d.error !== null)).toBe(true);
      expect((await undelivered()).map((e) => e.type)).toEqual(["customer.created"]);
    } finally {
      h.sim.configure({ webhookUrl: good });
    }
  });
});

describe("chaos", () => {
  it("duplicates: every event arrives twice with the same id", async () => {
    h.sim.configure({ chaos: { duplicateRate: 1 } });
    await subscribe(h);
    const ids = h.receiver.events.map((e) => e.id);
    const unique = new Set(ids);
    expect(unique.size).toBeGreaterThan(5);
    expect(ids).toHaveLength(unique.size * 2);
  });

  it("shuffle: one operation's events arrive in another order, all of them", async () => {
    h.sim.configure({ chaos: { shuffle: true, seed: 7 } });
    const before = h.sim.state().eventOrder.length;
    await subscribe(h);
    const emitted = h.sim.state().eventOrder.slice(before);
    const received = h.receiver.events.map((e) => e.id);
    expect(emitted.length).toBeGreaterThan(5);
    expect([...received].sort()).toEqual([...emitted].sort());
    expect(received).not.toEqual(emitted);
  });

  it("drop: a dropped event is never delivered and is listed by delivery_success=false until redelivered", async () => {
    h.sim.configure({ chaos: { dropTypes: ["invoice.paid"] } });
    const { subscription } = await subscribe(h);
    expect(h.receiver.types()).not.toContain("invoice.paid");
    expect(h.receiver.types()).toContain("invoice.payment_succeeded");
    const pending = await undelivered();
    expect(pending.map((e) => e.type)).toEqual(["invoice.paid"]);
    const invoice = pending[0]?.data.object as Stripe.Invoice;
    expect(invoice.parent?.subscription_details?.subscription).toBe(subscription.id);
    expect((await deliveries()).find((d) => d.outcome === "dropped")?.eventType).toBe("invoice.paid");

    // Reconciliation reads the list; a manual resend heals it here too.
    h.sim.configure({ chaos: { dropTypes: [] } });
    await simPost(h.sim, "/_sim/redeliver", { event: pending[0]?.id });
    await h.sim.waitForDeliveries();
    expect(h.receiver.types()).toContain("invoice.paid");
    expect(await undelivered()).toHaveLength(0);
  });

  it("dropNext drops exactly the next N events", async () => {
    await simPost(h.sim, "/_sim/config", { chaos: { dropNext: 1 } });
    await h.stripe.customers.create({ email: "a@example.com" });
    await h.stripe.customers.create({ email: "b@example.com" });
    await h.sim.waitForDeliveries();
    expect(h.receiver.events.map((e) => (e.data.object as Stripe.Customer).email)).toEqual(["b@example.com"]);
    const pending = await undelivered();
    expect(pending.map((e) => (e.data.object as Stripe.Customer).email)).toEqual(["a@example.com"]);
  });
});
