/**
 * What the webhook pipeline costs per delivery, on a stream shaped like the
 * shared anchor stream (`../shared/bench/anchor-convex-stripe`): customers ×
 * 8 events (checkout, subscription created, first invoice paid, three
 * subscription updates, the renewal paid, deletion), customers interleaved
 * by event time, and 10 % of events redelivered a few positions later. Each
 * customer has an account (as `users.store` makes it) that its checkout
 * names. Counts, not times: the response and any scheduled work together.
 */
import { convexTest } from "convex-test";
import type Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import schema from "../../convex/schema";
import type { Id } from "../../convex/_generated/dataModel";
import { storeUser } from "../../convex/model/users";
import { DAY, T0, checkoutSession, event, invoice, price, subscription } from "./fixtures/stripe";
import { FunctionCounter, costBetween, zeroCost, type Cost } from "./fixtures/functionCounter";
import { allEventRows, deliver, restoreEnvironment, useWebhookEnvironment } from "./fixtures/webhookHarness";
import { modules } from "./setup";

const CUSTOMERS = 25;
/** A price outside the catalogue (it sells nothing), as the anchor stream's `basic_monthly`. */
const basicMonthly = price({ id: "price_bench_basic", lookupKey: "basic_monthly", unitAmount: 1000 });
const proMonthly = price({ id: "price_bench_pro", lookupKey: "pro_monthly", unitAmount: 2500 });

type Delivery = { step: string; event: Stripe.Event; redelivery: boolean };

/** The stream: one lifecycle per account, ordered by event time, with redeliveries. */
function lifecycleStream(accounts: readonly Id<"billingAccounts">[]): Delivery[] {
  const base: Array<{ step: string; event: Stripe.Event }> = [];
  accounts.forEach((accountId, c) => {
    const t = T0 + c * 36;
    const customer = `cus_bench_${c}`;
    const sub = `sub_bench_${c}`;
    const renewal = t + 30 * DAY;
    const subscriptionAt = (fields: Partial<Parameters<typeof subscription>[0]>) =>
      subscription({ id: sub, customer, status: "active", price: basicMonthly, periodStart: t, ...fields });
    const paid = (id: string, reason: Stripe.Invoice.BillingReason, plan: Stripe.Price, quantity: number, start: number) =>
      invoice({
        id,
        customer,
        subscription: sub,
        status: "paid",
        billingReason: reason,
        price: plan,
        lines: [{ price: plan, amount: (plan.unit_amount ?? 0) * quantity, start, end: start + 30 * DAY }],
        created: start,
      });
    base.push(
      { step: "checkout.session.completed", event: event("checkout.session.completed", checkoutSession({ mode: "subscription", customer, subscription: sub, clientReferenceId: accountId }), { created: t }) },
      { step: "customer.subscription.created", event: event("customer.subscription.created", subscriptionAt({}), { created: t + 1 }) },
      { step: "invoice.paid (first)", event: event("invoice.paid", paid(`in_bench_${c}_1`, "subscription_create", basicMonthly, 1, t), { created: t + 2 }) },
      { step: "customer.subscription.updated", event: event("customer.subscription.updated", subscriptionAt({ quantity: 2 }), { created: t + DAY }) },
      { step: "customer.subscription.updated", event: event("customer.subscription.updated", subscriptionAt({ quantity: 2, price: proMonthly }), { created: t + 5 * DAY }) },
      { step: "customer.subscription.updated", event: event("customer.subscription.updated", subscriptionAt({ quantity: 2, price: proMonthly, periodStart: renewal }), { created: renewal }) },
      { step: "invoice.paid (renewal)", event: event("invoice.paid", paid(`in_bench_${c}_2`, "subscription_cycle", proMonthly, 2, renewal), { created: renewal + 3600 }) },
      {
        step: "customer.subscription.deleted",
        event: event("customer.subscription.deleted", subscriptionAt({ quantity: 2, price: proMonthly, periodStart: renewal, status: "canceled", canceledAt: t + 45 * DAY, endedAt: t + 45 * DAY }), { created: t + 45 * DAY }),
      },
    );
  });
  const ordered = base.map((d, i) => ({ ...d, i })).sort((a, b) => a.event.created - b.event.created || a.i - b.i);
  const deliveries: Delivery[] = ordered.map(({ step, event: e }) => ({ step, event: e, redelivery: false }));
  // Every 10th event is delivered again 1–7 positions later (same id, same body).
  for (let k = ordered.length - 1; k >= 0; k--) {
    if (k % 10 !== 3) continue;
    const at = Math.min(deliveries.length, k + 1 + (k % 7) + 1);
    deliveries.splice(at, 0, { step: ordered[k]!.step, event: ordered[k]!.event, redelivery: true });
  }
  return deliveries;
}

describe("webhook cost on a lifecycle stream", () => {
  beforeEach(useWebhookEnvironment);
  afterEach(restoreEnvironment);

  test("one mutation per delivery, no Stripe calls, redeliveries one read, each event writes only what it changes", async () => {
    const counter = new FunctionCounter();
    const t = convexTest({ schema, modules: counter.instrument(modules), transactionLimits: true });
    const accounts: Id<"billingAccounts">[] = [];
    for (let c = 0; c < CUSTOMERS; c++) {
      accounts.push(
        await t.run(async (ctx) => {
          const identity = { issuer: "https://issuer.test", subject: `user_bench_${c}`, tokenIdentifier: `https://issuer.test|user_bench_${c}` };
          const userId = await storeUser(ctx, identity, Date.now());
          const account = await ctx.db
            .query("billingAccounts")
            .withIndex("by_ownerUserId", (q) => q.eq("ownerUserId", userId))
            .unique();
          return account!._id;
        }),
      );
    }
    const stream = lifecycleStream(accounts);
    expect(stream.filter((d) => d.redelivery).length).toBe(CUSTOMERS * 8 / 10);

    const byStep = new Map<string, { deliveries: number; cost: Cost }>();
    const start = counter.snapshot();
    for (const delivery of stream) {
      const before = counter.snapshot();
      expect((await deliver(t, delivery.event)).status).toBe(200);
      // Whatever the delivery scheduled runs now and counts with it.
      await t.finishAllScheduledFunctions(vi.runAllTimers);
      const cost = costBetween(before, counter.snapshot());
      const key = `${delivery.redelivery ? "redelivery " : ""}${delivery.step}`;
      const entry = byStep.get(key) ?? { deliveries: 0, cost: zeroCost() };
      entry.deliveries++;
      for (const field of ["query", "mutation", "action", "documentsRead", "documentsWritten", "bytesRead", "bytesWritten"] as const) {
        entry.cost[field] += cost[field];
      }
      byStep.set(key, entry);
    }
    const total = costBetween(start, counter.snapshot());

    // ≤ 1.25 mutations per delivery, nested calls included: here exactly one
    // (`webhooks.receive`), and nothing scheduled.
    expect(total.mutation).toBeLessThanOrEqual(1.25 * stream.length);
    expect(total.byFunction).toEqual({ "webhooks:receive": stream.length });
    // No action ran, so nothing called Stripe.
    expect(total.action).toBe(0);

    // A redelivery: one indexed read of the event row, nothing written.
    for (const [key, { deliveries, cost }] of byStep) {
      if (!key.startsWith("redelivery ")) continue;
      expect({ key, read: cost.documentsRead, written: cost.documentsWritten }).toEqual({ key, read: deliveries, written: 0 });
    }

    // First deliveries write their event row plus only what the event changes.
    const writesPerDelivery = (step: string) => {
      const entry = byStep.get(step)!;
      return entry.cost.documentsWritten / entry.deliveries;
    };
    // Event row + the account (customer link and subscription pointer, one patch).
    expect(writesPerDelivery("checkout.session.completed")).toBe(2);
    // Event row + the subscription mirror; the account is untouched (nothing on it changes).
    expect(writesPerDelivery("customer.subscription.created")).toBe(2);
    // The same per update, plus one `stripePrices` row, once: the catalogue
    // price the first switch to Pro teaches.
    const updates = byStep.get("customer.subscription.updated")!;
    expect(updates.cost.documentsWritten).toBe(2 * updates.deliveries + 1);
    // Event row + the invoice mirror (a price outside the catalogue pays for no tier).
    expect(writesPerDelivery("invoice.paid (first)")).toBe(2);
    // Event row, invoice, paid coverage, the free allowance's expiry and the
    // window's grant (ledger), the balance, the account's tier.
    expect(writesPerDelivery("invoice.paid (renewal)")).toBe(7);
    // Event row, the subscription mirror, the account's tier back to free.
    expect(writesPerDelivery("customer.subscription.deleted")).toBe(3);

    // Every event applied on receipt, and no payload kept for any of them.
    const rows = await allEventRows(t);
    expect(rows).toHaveLength(CUSTOMERS * 8);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(["succeeded"]));
    expect(await t.run(async (ctx) => await ctx.db.query("webhookPayloads").take(1))).toEqual([]);
  });
});
