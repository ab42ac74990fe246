/**
 * reconcile.reconcileEvents: Stripe events whose webhook delivery was lost
 * are listed from `GET /v1/events` (a small Stripe-shaped server on
 * 127.0.0.1 below) and queued exactly like deliveries; what the webhook
 * already recorded is never recorded twice.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { PLANS } from "../../convex/billing/model/plans";
import {
  DEFAULT_WINDOW_SECONDS,
  MAX_EVENTS_PER_RUN,
  MAX_WINDOW_SECONDS,
  RECONCILE_EVENT_TYPES,
  SETTLE_SECONDS,
  STRIPE_MAX_TYPES_FILTER,
  batchInputs,
  enqueueInputOf,
  eventsPerRun,
  reconcileWindow,
} from "../../convex/billing/model/reconcile";
import type { EventInput } from "../../convex/billing/model/webhookQueue";
import { startStripeSimulator, type StripeSimulator } from "@offline/stripe-sim";
import { seedStripe } from "../../scripts/seed-stripe";
import { parseStripeForm, type FormValue } from "../helpers/recordingStripeServer";
import { payCheckout, startReceiver, type Receiver } from "@offline/stripe-sim/testing";
import { DAY, T0, checkoutSession, customer, event, invoice, price, subscription, unhandledEvent } from "./fixtures/stripe";
import {
  account,
  allEventRows,
  balance,
  createAccount,
  deliverOk,
  drain,
  eventRow,
  ledgerRows,
  restoreEnvironment,
  runDueNow,
  storedPayload,
  useWebhookEnvironment,
  type TestConvex,
} from "./fixtures/webhookHarness";
import { billing, billingInternal } from "../lib/billingComponent";
import { makeTest } from "./setup";
import { fakeLiveKey } from "../helpers/fakeStripeKeys";
import { expectCode } from "./billingFixtures";
import { stripeApiEnv } from "../helpers/stripeApiEnv";

const HOUR = 60 * 60;
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });

// ---------------------------------------------------------------------------
// A Stripe API server answering GET /v1/events the way Stripe does: newest
// first, `types[]`, `type`, `created[gte|gt|lte|lt]`, `delivery_success`,
// `limit` (default 10, max 100) and `starting_after`.
// ---------------------------------------------------------------------------

type EventsServer = {
  url: string;
  /** Query parameters of every `GET /v1/events`, parsed (`types` is an array). */
  listRequests: Array<Record<string, FormValue>>;
  /** Stores events; `delivered: false` puts them in `delivery_success=false`. */
  add(events: Stripe.Event[], options: { delivered: boolean }): void;
  /** The next `GET /v1/events` answers this Stripe error (not retried by the SDK). */
  failNext(status: number, message: string): void;
  close(): Promise<void>;
};

async function startEventsServer(): Promise<EventsServer> {
  const stored: Array<{ event: Stripe.Event; delivered: boolean; seq: number }> = [];
  const listRequests: Array<Record<string, FormValue>> = [];
  let failure: { status: number; message: string } | null = null;
  let seq = 0;

  function list(query: Record<string, FormValue>): { status: number; json: unknown } {
    const types = Array.isArray(query.types) ? (query.types as string[]) : null;
    const created = typeof query.created === "object" && !Array.isArray(query.created) ? query.created : {};
    const bound = (name: string) => (typeof created[name] === "string" ? Number(created[name]) : undefined);
    const [gte, gt, lte, lt] = [bound("gte"), bound("gt"), bound("lte"), bound("lt")];
    const delivery = query.delivery_success;
    const matching = stored
      .filter(({ event: e, delivered }) => {
        if (types && !types.includes(e.type)) return false;
        if (typeof query.type === "string" && query.type !== e.type) return false;
        if (gte !== undefined && e.created < gte) return false;
        if (gt !== undefined && e.created <= gt) return false;
        if (lte !== undefined && e.created > lte) return false;
        if (lt !== undefined && e.created >= lt) return false;
        if (delivery === "false" && delivered) return false;
        if (delivery === "true" && !delivered) return false;
        return true;
      })
      .sort((a, b) => b.event.created - a.event.created || b.seq - a.seq)
      .map((s) => s.event);
    let start = 0;
    if (typeof query.starting_after === "string") {
      const i = matching.findIndex((e) => e.id === query.starting_after);
      if (i < 0) {
        return {
          status: 400,
          json: { error: { type: "invalid_request_error", message: `No such event: '${query.starting_after}'` } },
        };
      }
      start = i + 1;
    }
    const limit = Math.min(100, Math.max(1, Number(typeof query.limit === "string" ? query.limit : 10)));
    const data = matching.slice(start, start + limit);
    return {
      status: 200,
      json: { object: "list", url: "/v1/events", has_more: start + limit < matching.length, data },
    };
  }

  function onRequest(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json", "Stripe-Should-Retry": "false" });
      res.end(JSON.stringify(json));
    };
    if (!req.headers.authorization?.startsWith("Bearer ")) {
      send(401, { error: { type: "invalid_request_error", message: "You did not provide an API key." } });
      return;
    }
    if (req.method !== "GET" || url.pathname !== "/v1/events") {
      send(404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${req.method}: ${url.pathname})` } });
      return;
    }
    const { body } = parseStripeForm(url.search.replace(/^\?/, ""));
    listRequests.push(body);
    if (failure) {
      const { status, message } = failure;
      failure = null;
      send(status, { error: { type: "api_error", message } });
      return;
    }
    const result = list(body);
    send(result.status, result.json);
  }

  const server = createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    listRequests,
    add: (events, { delivered }) => {
      for (const e of events) stored.push({ event: e, delivered, seq: seq++ });
    },
    failNext: (status, message) => void (failure = { status, message }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

// ---------------------------------------------------------------------------

describe("reconcile.reconcileEvents", () => {
  let t: TestConvex;
  let stripe: EventsServer;
  let accountId: Id<"billingAccounts">;

  beforeEach(async () => {
    useWebhookEnvironment();
    stripe = await startEventsServer();
    for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    t = makeTest();
    accountId = await createAccount(t);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    restoreEnvironment();
    await stripe.close();
  });

  async function reconcile(args: { sinceSeconds?: number; maxEvents?: number } = {}) {
    return await billing(t).action(billingInternal.reconcile.reconcileEvents, args);
  }

  /**
   * A Checkout subscription as Stripe emits it, an hour ago: the subscription
   * and its first invoice before `checkout.session.completed`, which is the
   * event that links the customer to the account.
   */
  function checkoutSequence(created = T0 - HOUR) {
    const customerId = "cus_reconciled";
    const subscriptionId = "sub_reconciled";
    return {
      customerId,
      subscriptionId,
      events: [
        event(
          "customer.subscription.created",
          subscription({ id: subscriptionId, customer: customerId, status: "active", price: proMonthly, periodStart: created }),
          { created },
        ),
        event(
          "invoice.paid",
          invoice({
            id: "in_reconciled",
            customer: customerId,
            subscription: subscriptionId,
            status: "paid",
            billingReason: "subscription_create",
            price: proMonthly,
            created,
            linePeriodStart: created,
            linePeriodEnd: created + 30 * DAY,
          }),
          { created },
        ),
        event(
          "checkout.session.completed",
          checkoutSession({ mode: "subscription", customer: customerId, subscription: subscriptionId, clientReferenceId: accountId }),
          { created },
        ),
      ] as Stripe.Event[],
    };
  }

  async function periodGrants() {
    return (await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant");
  }

  test("a dropped checkout → subscription → invoice.paid sequence is healed by one run", async () => {
    const { customerId, subscriptionId, events } = checkoutSequence();
    // An event type the handlers ignore is not even listed.
    stripe.add([...events, unhandledEvent({ created: T0 - HOUR })], { delivered: false });

    const result = await reconcile();
    expect(result).toMatchObject({ listed: 3, enqueued: 3, ignored: 0, alreadyKnown: 0, oversized: 0, continued: false });
    await drain(t);

    for (const e of events) expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded", livemode: false });
    expect(await account(t, accountId)).toMatchObject({
      tier: "pro",
      stripeCustomerId: customerId,
      stripeSubscriptionId: subscriptionId,
    });
    const grants = await periodGrants();
    expect(grants).toHaveLength(1);
    expect(grants[0]?.amount).toBe(PLANS.pro.tokensPerPeriod);
    expect(grants[0]?.sourceKey).toMatch(/^window:\d+$/);
    expect(await balance(t, accountId)).toMatchObject({ allowance: PLANS.pro.tokensPerPeriod });

    // Stored like a delivery: the event JSON and its customer.
    const row = await eventRow(t, events[1]!.id);
    expect(JSON.parse((await storedPayload(t, events[1]!.id))!)).toEqual(events[1]);
    expect(row).toMatchObject({ type: "invoice.paid", stripeCustomerId: customerId, eventCreated: T0 - HOUR });

    // What was asked of Stripe: undelivered first, then the whole window,
    // both for the handled types and the default 3-day window.
    expect(stripe.listRequests.map((q) => q.delivery_success)).toEqual(["false", undefined]);
    for (const q of stripe.listRequests) {
      expect(q.types).toEqual([...RECONCILE_EVENT_TYPES]);
      expect(q.created).toEqual({ gte: String(T0 - 3 * DAY), lt: String(T0 - SETTLE_SECONDS) });
    }

    // A second run finds everything known and grants nothing more.
    const again = await reconcile();
    expect(again).toMatchObject({ listed: 3, enqueued: 0, alreadyKnown: 3 });
    await drain(t);
    expect(await periodGrants()).toHaveLength(1);
    expect(await allEventRows(t)).toHaveLength(3);
  });

  test("after a normal delivery, a run changes nothing (also when Stripe still lists an event as failed)", async () => {
    const { events } = checkoutSequence();
    // Delivered in Stripe's order; the first two wait for the checkout that links the customer.
    for (const e of events) await deliverOk(t, e);
    await drain(t);
    expect((await account(t, accountId)).tier).toBe("pro");
    // Our 200 reached Stripe for two of them; for the last one Stripe gave up
    // (e.g. the answer came too late), so it is still "undelivered".
    stripe.add(events.slice(0, 2), { delivered: true });
    stripe.add(events.slice(2), { delivered: false });
    const before = {
      rows: await allEventRows(t),
      account: await account(t, accountId),
      ledger: await ledgerRows(t, accountId),
      balance: await balance(t, accountId),
    };

    const result = await reconcile();
    expect(result).toMatchObject({ listed: 3, enqueued: 0, alreadyKnown: 3 });
    await drain(t);

    expect({
      rows: await allEventRows(t),
      account: await account(t, accountId),
      ledger: await ledgerRows(t, accountId),
      balance: await balance(t, accountId),
    }).toEqual(before);
  });

  test("a live event on a test-mode deployment is recorded ignored and changes nothing", async () => {
    const live = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_live", subscription: "sub_live", clientReferenceId: accountId }),
      { created: T0 - HOUR, livemode: true },
    );
    stripe.add([live], { delivered: false });

    expect(await reconcile()).toMatchObject({ listed: 1, enqueued: 1, ignored: 1 });
    await drain(t);

    expect(await eventRow(t, live.id)).toMatchObject({
      status: "ignored",
      livemode: true,
      lastError: "live event on a test-mode deployment",
    });
    const row = await account(t, accountId);
    expect(row.stripeCustomerId).toBeUndefined();
    expect(row.tier).toBe("free");
  });

  test("a test event on a live-mode deployment is recorded ignored", async () => {
    // A live key cannot be pointed at this test's server (see the next test),
    // so the live run's recording step is driven with what it would list.
    const testEvent = event("customer.updated", customer("cus_test_mode"), { created: T0 - HOUR });
    const recorded = await billing(t).mutation(billingInternal.reconcile.enqueueBatch, { events: [enqueueInputOf(testEvent, "live")] });
    expect(recorded).toEqual({ enqueued: 1, ignored: 1, alreadyKnown: 0 });
    expect(await eventRow(t, testEvent.id)).toMatchObject({
      status: "ignored",
      lastError: "test event on a live-mode deployment",
    });
  });

  test("a live key refuses the Stripe host override before listing anything", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", fakeLiveKey());
    stripe.add([event("customer.updated", customer("cus_test_mode"), { created: T0 - HOUR })], { delivered: false });

    expect((await expectCode(reconcile(), "STRIPE_NOT_CONFIGURED")).variable).toBe("STRIPE_API_HOST");
    expect(stripe.listRequests).toHaveLength(0);
    expect(await allEventRows(t)).toHaveLength(0);
  });

  test("without STRIPE_SECRET_KEY the run is skipped without throwing or calling Stripe", async () => {
    vi.stubEnv("STRIPE_SECRET_KEY", "");
    stripe.add(checkoutSequence().events, { delivered: false });

    await expect(reconcile()).resolves.toEqual({ skipped: "not_configured" });
    expect(stripe.listRequests).toHaveLength(0);
    expect(await allEventRows(t)).toHaveLength(0);
  });

  test("pages through more than one page with starting_after", async () => {
    const events = Array.from({ length: 250 }, (_, i) =>
      event("customer.updated", customer(`cus_page_${i}`), { created: T0 - 2 * DAY + i }),
    );
    stripe.add(events, { delivered: false });

    const result = await reconcile();
    expect(result).toMatchObject({ listed: 250, enqueued: 250, alreadyKnown: 0, continued: false });

    const undelivered = stripe.listRequests.filter((q) => q.delivery_success === "false");
    expect(undelivered).toHaveLength(3);
    expect(undelivered.map((q) => q.limit)).toEqual(["100", "100", "100"]);
    // Newest first: page 2 starts after the 100th newest event.
    expect(undelivered[0]!.starting_after).toBeUndefined();
    expect(undelivered[1]!.starting_after).toBe(events[150]!.id);
    expect(undelivered[2]!.starting_after).toBe(events[50]!.id);

    const ids = (await allEventRows(t)).map((r) => r.eventId).sort();
    expect(ids).toEqual(events.map((e) => e.id).sort());
  });

  test("a backlog larger than one run is finished by scheduled continuations", async () => {
    const perRun = 40;
    const count = 2 * perRun + 25;
    const events = Array.from({ length: count }, (_, i) =>
      event("customer.updated", customer(`cus_backlog_${i}`), { created: T0 - 2 * DAY + i }),
    );
    stripe.add(events, { delivered: false });

    const first = await reconcile({ maxEvents: perRun });
    expect(first).toMatchObject({ listed: perRun, enqueued: perRun, continued: true });
    // Newest first: the oldest ones are left for the continuations.
    expect(await eventRow(t, events[count - 1]!.id)).not.toBeNull();
    expect(await eventRow(t, events[count - perRun - 1]!.id)).toBeNull();

    // Each continuation is an action scheduled to run now. (Not `drain`: it
    // fires every fake timer at once, the SDK's request timeout included.)
    for (let i = 0; i < 8; i++) await runDueNow(t);
    const ids = new Set((await allEventRows(t)).map((r) => r.eventId));
    expect(ids.size).toBe(count);
    for (const e of events) expect(ids.has(e.id)).toBe(true);

    // The undelivered listing resumed, by time, at the oldest event each run reached.
    const undeliveredStarts = stripe.listRequests.filter((q) => q.delivery_success === "false" && q.starting_after === undefined);
    expect(undeliveredStarts.map((q) => q.created)).toEqual([
      { gte: String(T0 - 3 * DAY), lt: String(T0 - SETTLE_SECONDS) },
      { gte: String(T0 - 3 * DAY), lt: String(events[count - perRun]!.created + 1) },
      { gte: String(T0 - 3 * DAY), lt: String(events[count - 2 * perRun + 1]!.created + 1) },
    ]);
    expect(stripe.listRequests.every((q) => Number(q.limit) <= perRun)).toBe(true);
  });

  test("MAX_EVENTS_PER_RUN caps maxEvents", () => {
    expect(eventsPerRun()).toBe(MAX_EVENTS_PER_RUN);
    expect(eventsPerRun(5_000)).toBe(MAX_EVENTS_PER_RUN);
    expect(eventsPerRun(0)).toBe(1);
    expect(MAX_EVENTS_PER_RUN).toBe(1_000);
  });

  test("a Stripe error fails the run with STRIPE_ERROR and records nothing", async () => {
    stripe.add(checkoutSequence().events, { delivered: false });
    stripe.failNext(500, "boom");

    await expect(reconcile()).rejects.toThrow(/Stripe could not complete the request/);
    expect(await allEventRows(t)).toHaveLength(0);

    // The next run works.
    expect(await reconcile()).toMatchObject({ enqueued: 3 });
  });
});

describe("reconcile helpers", () => {
  test("the type filter fits Stripe's 20-type limit and has no duplicates", () => {
    expect(RECONCILE_EVENT_TYPES.length).toBeLessThanOrEqual(STRIPE_MAX_TYPES_FILTER);
    expect(new Set(RECONCILE_EVENT_TYPES).size).toBe(RECONCILE_EVENT_TYPES.length);
    expect(RECONCILE_EVENT_TYPES).toEqual(expect.arrayContaining(["checkout.session.completed", "invoice.paid", "customer.subscription.deleted"]));
  });

  test("window: 3 days by default, at most 30 days, never into the last 2 minutes", () => {
    const now = 2_000_000_000;
    expect(reconcileWindow(now)).toEqual({ gte: now - DEFAULT_WINDOW_SECONDS, lt: now - SETTLE_SECONDS });
    expect(DEFAULT_WINDOW_SECONDS).toBe(3 * DAY);
    expect(reconcileWindow(now, 90 * DAY)).toEqual({ gte: now - MAX_WINDOW_SECONDS, lt: now - SETTLE_SECONDS });
    expect(MAX_WINDOW_SECONDS).toBe(30 * DAY);
    expect(reconcileWindow(now, HOUR).gte).toBe(now - HOUR);
    expect(reconcileWindow(now, 1).gte).toBe(now - SETTLE_SECONDS);
  });

  test("enqueue input mirrors the webhook endpoint's fields", () => {
    const e = event("invoice.paid", invoice({ id: "in_x", customer: "cus_x", subscription: "sub_x", status: "paid", billingReason: "subscription_cycle", price: proMonthly }), { created: T0 - 5 });
    expect(enqueueInputOf(e, "test")).toEqual({
      eventId: e.id,
      type: "invoice.paid",
      apiVersion: e.api_version,
      livemode: false,
      eventCreated: T0 - 5,
      payload: JSON.stringify(e),
      stripeCustomerId: "cus_x",
      ignoreReason: undefined,
    });
    expect(enqueueInputOf(e, "live").ignoreReason).toBe("test event on a live-mode deployment");
  });

  test("batches split by count and by payload bytes", () => {
    const input = (bytes: number, i: number): EventInput => ({
      eventId: `evt_${i}`,
      type: "customer.updated",
      livemode: false,
      eventCreated: T0,
      payload: "x".repeat(bytes),
    });
    const small = Array.from({ length: 250 }, (_, i) => input(10, i));
    expect(batchInputs(small, 100, 1_000_000).map((b) => b.length)).toEqual([100, 100, 50]);
    const big = Array.from({ length: 5 }, (_, i) => input(400, i));
    expect(batchInputs(big, 100, 1_000).map((b) => b.length)).toEqual([2, 2, 1]);
    expect(batchInputs([input(5_000, 0), input(10, 1)], 100, 1_000).map((b) => b.length)).toEqual([1, 1]);
    expect(batchInputs([], 100, 1_000)).toEqual([]);
  });
});

describe("reconcile against the Stripe simulator", () => {
  let sim: StripeSimulator;
  let receiver: Receiver;
  beforeEach(async () => {
    const secret = "whsec_test_reconcile_sim";
    receiver = await startReceiver(secret);
    // The webhook endpoint is up, but every event our handlers care about is
    // lost on the way (`delivery_success=false` in the simulator's listing).
    sim = await startStripeSimulator({
      port: 0,
      seeder: seedStripe,
      seed: true,
      webhookUrl: receiver.url,
      webhookSecret: secret,
      retryDelaysMs: [10],
      chaos: { dropTypes: [...RECONCILE_EVENT_TYPES] },
    });
    await sim.waitForDeliveries();
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_reconcile_sim");
    for (const [name, value] of Object.entries(stripeApiEnv(sim.url))) vi.stubEnv(name, value);
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await sim.close();
    await receiver.close();
  });

  test("a paid Checkout whose handled events were all dropped ends on the paid tier after one run", async () => {
    const t = makeTest();
    const accountId = await createAccount(t);
    const client = sim.stripe("sk_test_reconcile_sim");
    // A test clock a day back, so the events are inside the window and not
    // in the last 2 minutes left to the normal delivery.
    const clock = await client.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.now() / 1000) - DAY });
    const buyer = await client.customers.create({ email: "buyer@example.com", test_clock: clock.id });
    const proPrice = (await client.prices.list({ lookup_keys: ["pro_monthly"], active: true })).data[0]!;
    const session = await client.checkout.sessions.create({
      mode: "subscription",
      customer: buyer.id,
      client_reference_id: accountId,
      metadata: { accountId },
      line_items: [{ price: proPrice.id, quantity: 1 }],
      success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
      cancel_url: "http://127.0.0.1:5173/pricing",
    });
    expect((await payCheckout(sim, session, "4242424242424242")).status).toBe(303);
    await sim.waitForDeliveries();
    expect(receiver.types().filter((type) => RECONCILE_EVENT_TYPES.includes(type))).toEqual([]);
    const lost = await client.events.list({ delivery_success: false, types: [...RECONCILE_EVENT_TYPES], limit: 100 });
    expect(lost.data.map((e) => e.type)).toEqual(expect.arrayContaining(["checkout.session.completed", "invoice.paid"]));

    const result = await billing(t).action(billingInternal.reconcile.reconcileEvents, {});
    expect(result).toMatchObject({ listed: lost.data.length, enqueued: lost.data.length, alreadyKnown: 0 });
    await t.finishAllScheduledFunctions(() => {});

    const rows = await allEventRows(t);
    expect(rows.map((r) => r.status)).toEqual(rows.map(() => "succeeded"));
    const subscriptionId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;
    expect(await account(t, accountId)).toMatchObject({
      tier: "pro",
      stripeCustomerId: buyer.id,
      stripeSubscriptionId: subscriptionId,
    });
    const grants = (await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant");
    expect(grants.map((g) => g.amount)).toEqual([PLANS.pro.tokensPerPeriod]);

    expect(await billing(t).action(billingInternal.reconcile.reconcileEvents, {})).toMatchObject({ enqueued: 0, alreadyKnown: lost.data.length });
  });
});
