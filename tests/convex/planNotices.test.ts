/**
 * Plan-change notifications (`model/planNotices.ts`, docs/NOTIFICATIONS.md):
 * `plan_changed` when a change takes effect (a paid upgrade, a scheduled
 * downgrade at the renewal, the subscription's end), `plan_scheduled` when
 * one is scheduled for the period end (a Subscription Schedule, a
 * cancellation). Raised from the applied webhook state: once, on replay and
 * in every delivery order of the events that decide it.
 */
import type Stripe from "stripe";
import { describe, expect, test, vi } from "vitest";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { settleAccount } from "../../convex/billing/model/access";
import { runInBilling } from "../lib/billingComponent";
import { permutations } from "./billingFixtures";
import { DAY, T0, event, invoice, price, subscription, subscriptionSchedule, type LineInput, type SubscriptionInput } from "./fixtures/stripe";
import { account, accountWithPrices, deliverAll, type TestConvex, useWebhookSuite } from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const starterMonthly = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const eliteMonthly = price({ id: "price_elite_m", lookupKey: "elite_monthly", unitAmount: 9900 });

const CUSTOMER = "cus_plan_notices";
const SUB = "sub_plan_notices";
const MS = 1000;
const PERIOD_END = T0 + 30 * DAY;

function sub(fields: Partial<SubscriptionInput> = {}): Stripe.Subscription {
  return subscription({ id: SUB, customer: CUSTOMER, status: "active", price: starterMonthly, periodStart: T0, ...fields });
}

function paid(id: string, billingReason: Stripe.Invoice.BillingReason, lines: LineInput[], created: number): Stripe.Event {
  return event(
    "invoice.paid",
    invoice({ id, customer: CUSTOMER, subscription: SUB, status: "paid", billingReason, price: lines[0]!.price, lines, created }),
    { created },
  );
}

const line = (p: Stripe.Price, amount: number, start: number, end: number): LineInput => ({ price: p, amount, start, end });

/** A subscription to `p` from T0, its first invoice paid. */
function subscribed(p: Stripe.Price, amount: number): Stripe.Event[] {
  return [
    event("customer.subscription.created", sub({ price: p }), { created: T0 }),
    paid("in_first", "subscription_create", [line(p, amount, T0, PERIOD_END)], T0 + 1),
  ];
}

type Notice = Pick<Doc<"notifications">, "kind" | "title" | "dedupeKey" | "critical" | "link">;

async function notices(t: TestConvex, accountId: Id<"billingAccounts">, kind: "plan_changed" | "plan_scheduled"): Promise<Notice[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("notifications").collect())
      .filter((row) => row.accountId === accountId && row.kind === kind)
      .map(({ kind, title, dedupeKey, critical, link }) => ({ kind, title, dedupeKey, critical, link })),
  );
}

const titles = (rows: Notice[]) => rows.map((r) => r.title);

describe("plan-change notifications", () => {
  useWebhookSuite();

  async function fresh(): Promise<{ t: TestConvex; accountId: Id<"billingAccounts"> }> {
    const t = makeTest();
    return { t, accountId: await accountWithPrices(t, CUSTOMER, [starterMonthly, proMonthly, eliteMonthly]) };
  }

  test("subscribing announces the plan once its first invoice is paid, not before, and never twice", async () => {
    const { t, accountId } = await fresh();
    const [created, firstPaid] = subscribed(starterMonthly, 900);
    await deliverAll(t, created!);
    expect(await notices(t, accountId, "plan_changed")).toEqual([]);
    await deliverAll(t, firstPaid!, firstPaid!, created!);
    expect(await notices(t, accountId, "plan_changed")).toEqual([
      {
        kind: "plan_changed",
        title: "You are now on Starter",
        dedupeKey: `plan_changed:${SUB}:starter:${T0 * MS}`,
        critical: false,
        link: "/billing",
      },
    ]);
  });

  test("an upgrade is announced once its proration invoice is paid, once, in every delivery order (replays included)", async () => {
    const upgrade = event("customer.subscription.updated", sub({ price: proMonthly }), { created: T0 + 10 * DAY });
    const proration = paid(
      "in_upgrade",
      "subscription_update",
      [line(starterMonthly, -600, T0 + 10 * DAY, PERIOD_END), line(proMonthly, 1933, T0 + 10 * DAY, PERIOD_END)],
      T0 + 10 * DAY + 1,
    );
    for (const order of permutations([upgrade, proration])) {
      const { t, accountId } = await fresh();
      vi.setSystemTime(T0 * MS);
      await deliverAll(t, ...subscribed(starterMonthly, 900));
      vi.setSystemTime((T0 + 10 * DAY) * MS + 5_000);
      await deliverAll(t, order[0]!);
      // Half the story (the plan moved unpaid, or money for a plan Stripe has not moved yet): nothing to announce.
      expect(titles(await notices(t, accountId, "plan_changed"))).toEqual(["You are now on Starter"]);
      await deliverAll(t, order[1]!, ...order);
      expect({ order: order.map((e) => e.type), rows: await notices(t, accountId, "plan_changed") }).toEqual({
        order: order.map((e) => e.type),
        rows: [
          expect.objectContaining({ title: "You are now on Starter" }),
          expect.objectContaining({ title: "You are now on Pro", dedupeKey: `plan_changed:${SUB}:pro:${T0 * MS}`, critical: false }),
        ],
      });
      expect(await account(t, accountId)).toMatchObject({ tier: "pro", planTier: "pro" });
    }
  });

  test("a downgrade via a schedule: 'scheduled' once when the schedule lands, 'changed' once at the renewal, whatever order the renewal's events come in", async () => {
    const schedule = (created: number) =>
      event(
        "subscription_schedule.updated",
        subscriptionSchedule({
          id: "sub_sched_down",
          customer: CUSTOMER,
          subscription: SUB,
          phases: [
            { price: eliteMonthly, start: T0, end: PERIOD_END },
            { price: starterMonthly, start: PERIOD_END, end: PERIOD_END + 30 * DAY },
          ],
        }),
        { created },
      );
    const renewed = event("customer.subscription.updated", sub({ price: starterMonthly, periodStart: PERIOD_END }), { created: PERIOD_END });
    const renewal = paid("in_renewal", "subscription_cycle", [line(starterMonthly, 900, PERIOD_END, PERIOD_END + 30 * DAY)], PERIOD_END + 1);
    for (const order of permutations([renewed, renewal])) {
      const { t, accountId } = await fresh();
      vi.setSystemTime(T0 * MS);
      await deliverAll(t, ...subscribed(eliteMonthly, 9900));
      vi.setSystemTime((T0 + 5 * DAY) * MS);
      // Stripe sends the schedule again (created, then updated at a later second): one notice.
      await deliverAll(t, schedule(T0 + 5 * DAY), schedule(T0 + 5 * DAY), schedule(T0 + 5 * DAY + 1));
      expect(await notices(t, accountId, "plan_scheduled")).toEqual([
        {
          kind: "plan_scheduled",
          title: "Plan change scheduled",
          dedupeKey: `plan_scheduled:${SUB}:starter_month:${PERIOD_END * MS}`,
          critical: false,
          link: "/billing",
        },
      ]);
      // Nothing changes before the period end: Elite stays, no plan_changed beyond the subscription's start.
      expect(titles(await notices(t, accountId, "plan_changed"))).toEqual(["You are now on Elite"]);

      vi.setSystemTime(PERIOD_END * MS + 60_000);
      await deliverAll(t, ...order, ...order);
      expect({ order: order.map((e) => e.type), rows: await notices(t, accountId, "plan_changed") }).toEqual({
        order: order.map((e) => e.type),
        rows: [
          expect.objectContaining({ title: "You are now on Elite" }),
          // The same key whichever event moved the plan: the period the change lands in.
          expect.objectContaining({ title: "Your plan is now Starter", dedupeKey: `plan_changed:${SUB}:starter:${PERIOD_END * MS}` }),
        ],
      });
      expect(await account(t, accountId)).toMatchObject({ tier: "starter" });
    }
  });

  test("a cancellation at the period end: 'scheduled' once, then 'now Free' once when it ends, in every order of the end's events", async () => {
    const cancelScheduled = event("customer.subscription.updated", sub({ price: proMonthly, cancelAtPeriodEnd: true, cancelAt: PERIOD_END }), {
      created: T0 + 3 * DAY,
    });
    const ended = sub({ price: proMonthly, status: "canceled", cancelAtPeriodEnd: true, cancelAt: PERIOD_END, canceledAt: T0 + 3 * DAY, endedAt: PERIOD_END });
    const deleted = event("customer.subscription.deleted", ended, { created: PERIOD_END });
    const lastUpdate = event("customer.subscription.updated", ended, { created: PERIOD_END, previousAttributes: { status: "active" } });

    const { t, accountId } = await fresh();
    await deliverAll(t, ...subscribed(proMonthly, 2900));
    vi.setSystemTime((T0 + 3 * DAY) * MS);
    await deliverAll(t, cancelScheduled, cancelScheduled);
    expect(await notices(t, accountId, "plan_scheduled")).toEqual([
      expect.objectContaining({ title: "Cancellation scheduled", dedupeKey: `plan_scheduled:${SUB}:cancel:${PERIOD_END * MS}`, critical: false }),
    ]);
    // Still Pro until the end.
    expect(titles(await notices(t, accountId, "plan_changed"))).toEqual(["You are now on Pro"]);

    for (const order of permutations([lastUpdate, deleted])) {
      const { t, accountId } = await fresh();
      vi.setSystemTime(T0 * MS);
      await deliverAll(t, ...subscribed(proMonthly, 2900));
      vi.setSystemTime((T0 + 3 * DAY) * MS);
      await deliverAll(t, cancelScheduled);
      vi.setSystemTime(PERIOD_END * MS + 60_000);
      await deliverAll(t, ...order, ...order, cancelScheduled);
      expect({ order: order.map((e) => e.type), changed: titles(await notices(t, accountId, "plan_changed")) }).toEqual({
        order: order.map((e) => e.type),
        changed: ["You are now on Pro", "Your plan is now Free"],
      });
      expect(titles(await notices(t, accountId, "plan_scheduled"))).toEqual(["Cancellation scheduled"]);
      expect(await account(t, accountId)).toMatchObject({ tier: "free" });
    }
  });

  test("a staff override moves the tier, not the plan: nothing announced", async () => {
    const { t, accountId } = await fresh();
    await deliverAll(t, ...subscribed(starterMonthly, 900));
    await runInBilling(t, async (ctx) => {
      const row = (await ctx.db.get("billingAccounts", accountId))!;
      await settleAccount(ctx, row, Date.now(), { changes: { tierOverride: "elite" } });
    });
    expect(await account(t, accountId)).toMatchObject({ tier: "elite", planTier: "starter" });
    await runInBilling(t, async (ctx) => {
      const row = (await ctx.db.get("billingAccounts", accountId))!;
      await settleAccount(ctx, row, Date.now(), { changes: { tierOverride: undefined } });
    });
    expect(await account(t, accountId)).toMatchObject({ tier: "starter" });
    expect(titles(await notices(t, accountId, "plan_changed"))).toEqual(["You are now on Starter"]);
  });

  test("an account settled before planTier existed does not announce the plan it already had", async () => {
    const { t, accountId } = await fresh();
    await deliverAll(t, ...subscribed(proMonthly, 2900));
    // As stored before the field: the tier, no planTier, no notice yet.
    await runInBilling(t, async (ctx) => {
      await ctx.db.patch("billingAccounts", accountId, { planTier: undefined });
      for (const row of await ctx.db.query("notifications").collect()) await ctx.db.delete("notifications", row._id);
    });
    await deliverAll(t, event("customer.subscription.updated", sub({ price: proMonthly }), { created: T0 + DAY }));
    expect(await account(t, accountId)).toMatchObject({ tier: "pro", planTier: "pro" });
    expect(await notices(t, accountId, "plan_changed")).toEqual([]);
  });
});
