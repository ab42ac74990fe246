/**
 * What the webhook pipeline costs per delivery, on the shared anchor stream
 * (`tests/bench/anchor`: customers × 8 events — checkout, subscription
 * created, first invoice paid, three subscription updates, the renewal paid,
 * deletion — interleaved by event time, 10 % redelivered later), seeded and
 * linked as `npm run bench:anchor` does, counted with the same
 * instrumentation: every registered function call, nested ones included,
 * and each transaction's documents. The response and any scheduled work
 * together. Counts, not times.
 */
import { convexTest } from "convex-test";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import schema from "../../convex/schema";
import { generateStream, linkCheckoutSessions, seedStreamAccounts, seedStreamPrices } from "../bench/anchor/appStream";
import { FunctionCounters, instrumentModules, type CounterSnapshot } from "../bench/anchor/instrument";
import { allEventRows, deliver, restoreEnvironment, useWebhookEnvironment } from "./fixtures/webhookHarness";
import { registerBilling, runInBilling } from "../lib/billingComponent";
import { billingModules, modules } from "./setup";

/** A quarter of the bench's 100 customers: the same shape, a quicker test. */
const CUSTOMERS = 25;

type StepCost = { deliveries: number; mutations: number; actions: number; read: number; written: number };

describe("webhook cost on the anchor stream", () => {
  beforeEach(useWebhookEnvironment);
  afterEach(restoreEnvironment);

  test("one mutation per delivery, no Stripe calls, redeliveries one read, each event writes only what it changes", async () => {
    const counters = new FunctionCounters();
    const t = convexTest({ schema, modules: instrumentModules(modules, "app", counters), transactionLimits: true });
    registerBilling(t, instrumentModules(billingModules, "billing", counters));
    const stream = generateStream({ customers: CUSTOMERS });
    await runInBilling(t, (ctx) => seedStreamPrices(ctx, stream));
    const accounts = await t.run((ctx) => seedStreamAccounts(ctx, stream));
    const link = linkCheckoutSessions(accounts);

    const byStep = new Map<string, StepCost>();
    const start: CounterSnapshot = counters.snapshot();
    for (const delivery of stream.deliveries.map(link)) {
      const before = counters.snapshot();
      expect((await deliver(t, delivery.body)).status).toBe(200);
      // Whatever the delivery scheduled runs now and counts with it.
      await t.finishAllScheduledFunctions(vi.runAllTimers);
      const cost = FunctionCounters.diff(counters.snapshot(), before);
      const key = `${delivery.duplicate ? "redelivery " : ""}${delivery.step}`;
      const entry = byStep.get(key) ?? { deliveries: 0, mutations: 0, actions: 0, read: 0, written: 0 };
      entry.deliveries++;
      entry.mutations += cost.mutation;
      entry.actions += cost.action;
      entry.read += cost.documentsRead;
      entry.written += cost.documentsWritten;
      byStep.set(key, entry);
    }
    const total = FunctionCounters.diff(counters.snapshot(), start);
    const deliveries = stream.deliveries.length;
    const firsts = CUSTOMERS * 8;
    expect(deliveries).toBeGreaterThan(firsts);

    // ≤ 1.25 function calls per delivery, nested ones included: here exactly
    // one (the component's `webhooks.receive`, called by the app's route), nothing scheduled, and no action, so no Stripe call.
    expect(total.mutation + total.query + total.action).toBeLessThanOrEqual(1.25 * deliveries);
    expect(total.byFunction).toEqual({ "billing/webhooks:receive": deliveries });
    expect(total.action).toBe(0);

    // A redelivery: one indexed read of the event row, nothing written.
    for (const [key, cost] of byStep) {
      if (!key.startsWith("redelivery ")) continue;
      expect({ key, read: cost.read, written: cost.written }).toEqual({ key, read: cost.deliveries, written: 0 });
    }

    // A first delivery writes its event row plus exactly what the event changes.
    const writes = (step: string) => byStep.get(step)!.written / byStep.get(step)!.deliveries;
    // The account: customer link and subscription pointer, one patch.
    expect(writes("checkout.session.completed")).toBe(2);
    // The subscription mirror; the account only if something on it changes (nothing does).
    expect(writes("customer.subscription.created")).toBe(2);
    expect(writes("customer.subscription.updated#1")).toBe(2);
    expect(writes("customer.subscription.updated#2")).toBe(2);
    expect(writes("customer.subscription.updated#3")).toBe(2);
    // Paid invoices (Starter, then Pro at the renewal): the invoice, its paid
    // coverage, the old allowance's expiry and the new window's grant
    // (two ledger rows, the old grant marked expired and the new grant), the
    // balance, the account's tier, two audit entries (the tier change and
    // the paid grant, docs/AUDIT_LOG.md) and the `plan_changed` notification
    // (docs/NOTIFICATIONS.md; no email is scheduled without RESEND_API_KEY).
    expect(writes("invoice.paid#1")).toBe(12);
    expect(writes("invoice.paid#2")).toBe(12);
    // The subscription mirror, the account's tier back to free, its audit entry and the `plan_changed` notification.
    expect(writes("customer.subscription.deleted")).toBe(5);
    expect(total.documentsWritten).toBe(39 * CUSTOMERS);
    // The same 39, by table (docs/BENCHMARKS.md, "Where the written documents go").
    const perCustomer = Object.fromEntries(Object.entries(total.writesByTable).map(([table, n]) => [table, n / CUSTOMERS]));
    expect(perCustomer).toEqual({
      billingAccounts: 4, // checkout, both paid invoices (tier), deletion
      subscriptions: 5, // created, three updates, deleted
      invoices: 2,
      webhookEvents: 8,
      tokenLedger: 4, // per paid invoice: the old allowance expired, the new one granted
      tokenGrants: 4,
      tokenBalances: 2,
      paidCoverage: 2,
      auditLog: 5,
      notifications: 3,
    });

    // Every event applied on receipt, and no payload kept for any of them.
    const rows = await allEventRows(t);
    expect(rows).toHaveLength(firsts);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(["succeeded"]));
    expect(await runInBilling(t, async (ctx) => await ctx.db.query("webhookPayloads").take(1))).toEqual([]);
  });
});
