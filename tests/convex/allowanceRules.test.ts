/**
 * The allowance rules of docs/ARCHITECTURE.md ("Money before entitlement"),
 * one `describe` per rule. Where delivery order could matter, every order of
 * the scenario's events is delivered to a fresh deployment (duplicates
 * included) and must end in the same tier, allowance and balance.
 */
import type Stripe from "stripe";
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { windowContaining } from "../../convex/billing/model/allowance";
import * as ledger from "../../convex/billing/model/ledger";
import { billingOwnerKey } from "../../convex/model/auth";
import { billing, billingInternal, runInBilling } from "../lib/billingComponent";
import { permutations } from "./billingFixtures";
import {
  DAY,
  T0,
  customer,
  event,
  invoice,
  price,
  subscription,
  subscriptionSchedule,
  testClock,
  type LineInput,
  type SubscriptionInput,
} from "./fixtures/stripe";
import {
  account,
  balance,
  accountWithPrices,
  deliverAll,
  deliverOk,
  drain,
  eventRow,
  ledgerRows,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const starterMonthly = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const starterYearly = price({ id: "price_starter_y", lookupKey: "starter_yearly", unitAmount: 9000, interval: "year" });
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const proYearly = price({ id: "price_pro_y", lookupKey: "pro_yearly", unitAmount: 29000, interval: "year" });
const eliteMonthly = price({ id: "price_elite_m", lookupKey: "elite_monthly", unitAmount: 9900 });

const CUSTOMER = "cus_rules";
const SUB = "sub_rules";
const MS = 1000;


function sub(fields: Partial<SubscriptionInput> = {}): Stripe.Subscription {
  return subscription({ id: SUB, customer: CUSTOMER, status: "active", price: starterMonthly, periodStart: T0, ...fields });
}

let invoiceCounter = 0;
function paid(billingReason: Stripe.Invoice.BillingReason, lines: LineInput[], created: number): Stripe.Event {
  invoiceCounter += 1;
  return event(
    "invoice.paid",
    invoice({
      id: `in_rules_${invoiceCounter}`,
      customer: CUSTOMER,
      subscription: SUB,
      status: "paid",
      billingReason,
      price: lines[0]!.price,
      lines,
      created,
    }),
    { created },
  );
}

const line = (p: Stripe.Price, amount: number, start: number, end: number): LineInput => ({
  price: p,
  amount,
  start,
  end,
  proration: amount < 0 || start !== T0,
});

type Outcome = { tier: string; allowance: number; balance: number; used: number; periodKey: string | undefined };

describe("allowance rules", () => {
  useWebhookSuite();
  beforeEach(() => {
    vi.spyOn(console, "error").mockImplementation(() => {});
  });

  /** A deployment whose price cache knows the catalogue prices, as Checkout and plan changes record them. */
  async function fresh(): Promise<{ t: TestConvex; accountId: Id<"billingAccounts"> }> {
    const t = makeTest();
    return { t, accountId: await accountWithPrices(t, CUSTOMER, [starterMonthly, starterYearly, proMonthly, proYearly, eliteMonthly]) };
  }

  async function outcome(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Outcome> {
    const b = await balance(t, accountId);
    const invariant = await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId));
    expect(invariant.problems).toEqual([]);
    return {
      tier: (await account(t, accountId)).tier,
      allowance: b?.allowance ?? 0,
      balance: b?.balance ?? 0,
      used: b?.used ?? 0,
      periodKey: b?.periodKey,
    };
  }

  async function spend(t: TestConvex, accountId: Id<"billingAccounts">, cost: number, key: string) {
    await runInBilling(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: key, cost, feature: "standard_analysis" }));
  }

  /** Delivers `events` in every order (each also redelivered once) and expects one outcome. */
  async function everyOrderEndsIn(events: Stripe.Event[], expected: Outcome, before?: (t: TestConvex, id: Id<"billingAccounts">) => Promise<void>) {
    const orders = permutations(events);
    // Deliveries come after the events they carry.
    const deliveredAt = (Math.max(...events.map((e) => e.created)) + 60) * MS;
    for (const order of orders) {
      vi.setSystemTime(deliveredAt);
      const { t, accountId } = await fresh();
      if (before) await before(t, accountId);
      await deliverAll(t, ...order, order[0]!);
      expect({ order: order.map((e) => e.type), ...(await outcome(t, accountId)) }).toEqual({
        order: order.map((e) => e.type),
        ...expected,
      });
    }
  }

  describe("paid before granted", () => {
    test("a subscription whose first invoice is not paid grants no tier and no tokens", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(t, event("customer.subscription.created", sub({ price: proMonthly })));
      expect(await outcome(t, accountId)).toMatchObject({ tier: "free", allowance: 0 });
    });

    test("a Portal upgrade whose proration fails while past due keeps the paid tier and allowance, in every order", async () => {
      // Pro paid; the renewal-time switch to Elite is applied by Stripe but its invoice stays open.
      const created = event("customer.subscription.created", sub({ price: proMonthly }), { created: T0 });
      const first = paid("subscription_create", [line(proMonthly, 2900, T0, T0 + 30 * DAY)], T0 + 1);
      const switched = event("customer.subscription.updated", sub({ price: eliteMonthly, status: "past_due" }), {
        created: T0 + 5 * DAY,
        previousAttributes: { status: "active" },
      });
      const failed = event(
        "invoice.payment_failed",
        invoice({
          id: "in_unpaid_upgrade",
          customer: CUSTOMER,
          subscription: SUB,
          status: "open",
          billingReason: "subscription_update",
          price: eliteMonthly,
          lines: [line(proMonthly, -2417, T0 + 5 * DAY, T0 + 30 * DAY), line(eliteMonthly, 8250, T0 + 5 * DAY, T0 + 30 * DAY)],
        }),
        { created: T0 + 5 * DAY },
      );
      await everyOrderEndsIn([created, first, switched, failed], {
        tier: "pro",
        allowance: 150,
        balance: 150,
        used: 0,
        periodKey: `window:${T0 * MS}`,
      });
    });

    test("paying the held upgrade's invoice then raises tier and allowance", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: proMonthly }), { created: T0 }),
        paid("subscription_create", [line(proMonthly, 2900, T0, T0 + 30 * DAY)], T0 + 1),
      );
      await spend(t, accountId, 40, "used-before");
      await deliverAll(
        t,
        paid("subscription_update", [line(proMonthly, -2417, T0 + 5 * DAY, T0 + 30 * DAY), line(eliteMonthly, 8250, T0 + 5 * DAY, T0 + 30 * DAY)], T0 + 5 * DAY),
        event("customer.subscription.updated", sub({ price: eliteMonthly }), { created: T0 + 5 * DAY + 1 }),
      );
      // Raised to Elite's 500, never refilled: the 40 used stay used.
      expect(await outcome(t, accountId)).toEqual({ tier: "elite", allowance: 500, balance: 460, used: 40, periodKey: `window:${T0 * MS}` });
    });
  });

  describe("order-independent", () => {
    test("checkout then an immediate upgrade ends with Elite's allowance in every delivery order", async () => {
      const events = [
        event("customer.subscription.created", sub({ price: starterMonthly }), { created: T0 }),
        paid("subscription_create", [line(starterMonthly, 900, T0, T0 + 30 * DAY)], T0 + 1),
        event("customer.subscription.updated", sub({ price: eliteMonthly }), { created: T0 + 60 }),
        paid("subscription_update", [line(starterMonthly, -898, T0 + 60, T0 + 30 * DAY), line(eliteMonthly, 9897, T0 + 60, T0 + 30 * DAY)], T0 + 61),
      ];
      await everyOrderEndsIn(events, { tier: "elite", allowance: 500, balance: 500, used: 0, periodKey: `window:${T0 * MS}` });
    });
  });

  describe("once per window", () => {
    test("an interval round trip (monthly → yearly → monthly) yields no extra tokens, in every order", async () => {
      const toYearly = T0 + 10 * DAY;
      const back = T0 + 12 * DAY;
      const events = [
        event("customer.subscription.created", sub(), { created: T0 }),
        paid("subscription_create", [line(starterMonthly, 900, T0, T0 + 30 * DAY)], T0 + 1),
        paid("subscription_update", [line(starterMonthly, -600, toYearly, T0 + 30 * DAY), line(starterYearly, 9000, toYearly, toYearly + 365 * DAY)], toYearly),
        // Back to monthly: a credit for the unused year, more than the new month costs (a credit invoice).
        paid("subscription_update", [line(starterYearly, -8950, back, toYearly + 365 * DAY), line(starterMonthly, 900, back, back + 30 * DAY)], back),
      ];
      // The allowance was spent before the round trip; it is not refilled.
      await everyOrderEndsIn(
        events,
        { tier: "starter", allowance: 50, balance: 0, used: 50, periodKey: `window:${T0 * MS}` },
        async (t, accountId) => {
          await deliverAll(t, events[0]!, events[1]!);
          await spend(t, accountId, 50, "spent-first");
        },
      );
    });

    test("Starter → Elite → Starter applied at once ends on Starter's allowance minus what was used, in every order", async () => {
      const up = T0 + 5 * DAY;
      const down = T0 + 6 * DAY;
      const events = [
        paid("subscription_update", [line(starterMonthly, -750, up, T0 + 30 * DAY), line(eliteMonthly, 8250, up, T0 + 30 * DAY)], up),
        paid("subscription_update", [line(eliteMonthly, -7920, down, T0 + 30 * DAY), line(starterMonthly, 720, down, T0 + 30 * DAY)], down),
        event("customer.subscription.updated", sub({ price: starterMonthly }), { created: down + 1 }),
      ];
      await everyOrderEndsIn(
        events,
        // 30 used before the round trip: Starter's 50 − 30 = 20 remain.
        { tier: "starter", allowance: 50, balance: 20, used: 30, periodKey: `window:${T0 * MS}` },
        async (t, accountId) => {
          await deliverAll(t, event("customer.subscription.created", sub(), { created: T0 }), paid("subscription_create", [line(starterMonthly, 900, T0, T0 + 30 * DAY)], T0 + 1));
          await spend(t, accountId, 30, "spent-first");
        },
      );
    });

    test("a downgrade applied at once after heavy use leaves nothing more of the window", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: eliteMonthly }), { created: T0 }),
        paid("subscription_create", [line(eliteMonthly, 9900, T0, T0 + 30 * DAY)], T0 + 1),
      );
      await spend(t, accountId, 100, "heavy");
      await deliverAll(
        t,
        paid("subscription_update", [line(eliteMonthly, -6600, T0 + 10 * DAY, T0 + 30 * DAY), line(starterMonthly, 600, T0 + 10 * DAY, T0 + 30 * DAY)], T0 + 10 * DAY),
      );
      // Starter's 50 − the 100 used is below zero: nothing remains, and nothing used is taken back.
      expect(await outcome(t, accountId)).toEqual({ tier: "starter", allowance: 100, balance: 0, used: 100, periodKey: `window:${T0 * MS}` });
    });
  });

  describe("downgrades wait for the period end", () => {
    test("a scheduled downgrade keeps this window's tier and allowance; the renewal at the new price starts the next", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: eliteMonthly }), { created: T0 }),
        paid("subscription_create", [line(eliteMonthly, 9900, T0, T0 + 30 * DAY)], T0 + 1),
        event(
          "subscription_schedule.updated",
          subscriptionSchedule({
            customer: CUSTOMER,
            subscription: SUB,
            phases: [
              { price: eliteMonthly, start: T0, end: T0 + 30 * DAY },
              { price: starterMonthly, start: T0 + 30 * DAY, end: T0 + 60 * DAY },
            ],
          }),
          { created: T0 + DAY },
        ),
      );
      expect(await outcome(t, accountId)).toMatchObject({ tier: "elite", allowance: 500 });
      const view = await subscriptionView(t, accountId);
      expect(view?.scheduledChange).toEqual({ tier: "starter", interval: "month", effectiveAt: (T0 + 30 * DAY) * MS });

      await deliverAll(
        t,
        event("customer.subscription.updated", sub({ price: starterMonthly, periodStart: T0 + 30 * DAY }), { created: T0 + 30 * DAY }),
        paid("subscription_cycle", [line(starterMonthly, 900, T0 + 30 * DAY, T0 + 60 * DAY)], T0 + 30 * DAY),
      );
      // Starter's 50, plus the Elite window's unused 500 rolled over (Elite's rollover policy).
      expect(await outcome(t, accountId)).toEqual({
        tier: "starter",
        allowance: 50,
        balance: 550,
        used: 0,
        periodKey: `window:${(T0 + 30 * DAY) * MS}`,
      });
    });
  });

  describe("allowance is monthly on every plan", () => {
    test("a yearly subscriber gets the monthly allowance at each monthly anchor, once, from the cron", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: proYearly, periodEnd: T0 + 365 * DAY }), { created: T0 }),
        paid("subscription_create", [line(proYearly, 29000, T0, T0 + 365 * DAY)], T0 + 1),
      );
      expect(await outcome(t, accountId)).toMatchObject({ tier: "pro", allowance: 150, balance: 150 });
      await spend(t, accountId, 100, "month-1");
      // Each month the last month's rollover ends and up to 75 unused tokens roll over:
      // 50 after the first month (100 spent), then 75 of each untouched 150.
      for (const [month, rolled] of [
        [1, 50],
        [2, 75],
        [3, 75],
      ] as const) {
        const window = windowContaining(T0 * MS, T0 * MS + month * 31 * DAY * MS);
        vi.setSystemTime(window.start + 1000);
        await billing(t).mutation(billingInternal.tokens.resetFreeTier, {});
        await billing(t).mutation(billingInternal.tokens.resetFreeTier, {});
        expect(await outcome(t, accountId)).toEqual({ tier: "pro", allowance: 150, balance: 150 + rolled, used: 0, periodKey: `window:${window.start}` });
      }
      const grants = (await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant");
      expect(grants).toHaveLength(4);
    });

    test("a subscriber on a test clock gets the next month's allowance when the clock moves past the anchor", async () => {
      const { t, accountId } = await fresh();
      const clocked = { ...sub({ price: proYearly, periodEnd: T0 + 365 * DAY }), test_clock: "clock_rules" };
      await deliverAll(t, event("customer.subscription.created", clocked, { created: T0 }), paid("subscription_create", [line(proYearly, 29000, T0, T0 + 365 * DAY)], T0 + 1));
      const next = windowContaining(T0 * MS, (T0 + 31 * DAY) * MS);
      await deliverAll(t, event("test_helpers.test_clock.ready", testClock("clock_rules", next.start / MS + 60)));
      // The unused 150 of the first month expires, 75 of it rolling over; the new month brings 150.
      expect(await outcome(t, accountId)).toMatchObject({ allowance: 150, balance: 225, periodKey: `window:${next.start}` });
    });

    test("windows follow the anchor day, clamped in short months (Jan 31 → Feb 28 → Mar 31)", () => {
      const jan31 = Date.UTC(2027, 0, 31, 9, 30);
      expect(windowContaining(jan31, Date.UTC(2027, 1, 15))).toEqual({ start: jan31, end: Date.UTC(2027, 1, 28, 9, 30) });
      expect(windowContaining(jan31, Date.UTC(2027, 2, 1))).toEqual({ start: Date.UTC(2027, 1, 28, 9, 30), end: Date.UTC(2027, 2, 31, 9, 30) });
      expect(windowContaining(jan31, Date.UTC(2027, 11, 31, 10))).toEqual({ start: Date.UTC(2027, 11, 31, 9, 30), end: Date.UTC(2028, 0, 31, 9, 30) });
    });
  });

  describe("waiting is not failing", () => {
    test("an invoice.paid that waits for its subscription past every retry is applied when the subscription comes 10 minutes later", async () => {
      const { t, accountId } = await fresh();
      const invoicePaid = paid("subscription_create", [line(proMonthly, 2900, T0, T0 + 30 * DAY)], T0 + 1);
      await deliverOk(t, invoicePaid);
      await drain(t);
      expect(await eventRow(t, invoicePaid.id)).toMatchObject({ status: "waiting", waitingFor: `subscription:${SUB}` });
      vi.advanceTimersByTime(10 * 60 * 1000);
      await deliverAll(t, event("customer.subscription.created", sub({ price: proMonthly }), { created: T0 }));
      expect((await eventRow(t, invoicePaid.id))?.status).toBe("succeeded");
      expect(await outcome(t, accountId)).toMatchObject({ tier: "pro", allowance: 150 });
    });

    test("reconciliation revives an event parked waiting", async () => {
      const { t } = await fresh();
      const invoicePaid = paid("subscription_create", [line(proMonthly, 2900, T0, T0 + 30 * DAY)], T0 + 1);
      await deliverOk(t, invoicePaid);
      await drain(t);
      const lookup = await billing(t).query(billingInternal.reconcile.knownEventIds, { eventIds: [invoicePaid.id] });
      expect(lookup).toEqual({ known: [invoicePaid.id], waiting: [invoicePaid.id] });
      expect(await billing(t).mutation(billingInternal.reconcile.reviveEvents, { eventIds: [invoicePaid.id] })).toBe(1);
      // Queued to run now; reviving costs it no attempt.
      expect(await eventRow(t, invoicePaid.id)).toMatchObject({ status: "pending", attempts: 0 });
    });
  });

  describe("unknown prices don't stall", () => {
    test("a price first seen in the Portal is learned from the subscription event's price object", async () => {
      const { t, accountId } = await fresh();
      const portalPrice = price({ id: "price_new_elite", lookupKey: "elite_monthly", unitAmount: 9900 });
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: portalPrice }), { created: T0 }),
        paid("subscription_create", [line(portalPrice, 9900, T0, T0 + 30 * DAY)], T0 + 1),
      );
      expect(await outcome(t, accountId)).toMatchObject({ tier: "elite", allowance: 500 });
    });

    test("an invoice naming a price nobody has seen waits for it, fetches it, and applies once it is recorded", async () => {
      const { t, accountId } = await fresh();
      await deliverAll(t, event("customer.subscription.created", sub({ price: proMonthly }), { created: T0 }));
      const mystery = price({ id: "price_mystery", lookupKey: null, unitAmount: 2900 });
      const invoicePaid = paid("subscription_create", [line(mystery, 2900, T0, T0 + 30 * DAY)], T0 + 1);
      await deliverOk(t, invoicePaid);
      // Parked at once (no attempt spent); `stripePrices.learn` is scheduled to fetch the price.
      expect(await eventRow(t, invoicePaid.id)).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "price:price_mystery" });
      // What `stripePrices.learn` records after fetching it from Stripe: a Pro price under another id.
      await billing(t).mutation(billingInternal.stripePrices.record, {
        stripePriceId: "price_mystery",
        lookupKey: "pro_monthly",
        currency: "usd",
        stripeCustomerId: CUSTOMER,
      });
      await drain(t);
      expect((await eventRow(t, invoicePaid.id))?.status).toBe("succeeded");
      expect(await outcome(t, accountId)).toMatchObject({ tier: "pro", allowance: 150 });
    });
  });

  describe("money shown honestly", () => {
    test("a downgrade's credit invoice and the customer's credit balance are shown as they are", async () => {
      const { t, accountId } = await fresh();
      const userId = await linkUser(t, accountId, "user_rules");
      expect(userId).toBeTruthy();
      await deliverAll(
        t,
        event("customer.subscription.created", sub({ price: eliteMonthly }), { created: T0 }),
        paid("subscription_create", [line(eliteMonthly, 9900, T0, T0 + 30 * DAY)], T0 + 1),
        paid("subscription_update", [line(eliteMonthly, -6600, T0 + 10 * DAY, T0 + 30 * DAY), line(starterMonthly, 600, T0 + 10 * DAY, T0 + 30 * DAY)], T0 + 10 * DAY),
        event("customer.updated", { ...customer(CUSTOMER), balance: -6000, currency: "usd" }, { created: T0 + 10 * DAY }),
      );
      const asUser = t.withIdentity({ issuer: "https://issuer.test", subject: "user_rules" });
      const invoices = await asUser.query(api.billing.invoices, {});
      expect(invoices[0]).toMatchObject({ total: -6000, amountDue: 0, creditAdded: 6000, creditApplied: 0, kind: "subscription" });
      expect(await asUser.query(api.billing.subscription, {})).toMatchObject({ creditBalance: 6000, creditCurrency: "usd" });
    });
  });
});

async function subscriptionView(t: TestConvex, accountId: Id<"billingAccounts">) {
  const id = await linkUser(t, accountId, "user_view");
  expect(id).toBeTruthy();
  return await t.withIdentity({ issuer: "https://issuer.test", subject: "user_view" }).query(api.billing.subscription, {});
}

/** Inserts the user `subject` (issuer https://issuer.test) and makes `accountId` their personal account. */
async function linkUser(t: TestConvex, accountId: Id<"billingAccounts">, subject: string) {
  const userId = await t.run(
    async (ctx) => await ctx.db.insert("users", { tokenIdentifier: `https://issuer.test|${subject}`, clerkUserId: subject }),
  );
  await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { ownerKey: billingOwnerKey(userId) }));
  return userId;
}
