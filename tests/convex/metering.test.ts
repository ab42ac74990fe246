/**
 * Overage billed through Stripe Billing Meters: every overage token a debit
 * records is reported as a meter event exactly once (identifier = the
 * ledger row), whatever the failures, crashes and overlapping runs; overage
 * is allowed only while Stripe can bill it; and reconciliation finds a
 * difference between the ledger and Stripe. Stripe is the recording server
 * (`tests/helpers/recordingStripeServer.ts`).
 */
import { describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { backoffMs, CLAIM_LEASE_MS, METER_WINDOW_MS, RECONCILE_DELAY_MS, REPORT_DELAY_MS } from "../../convex/billing/model/metering";
import { OVERAGE_METER, PLANS } from "../../convex/billing/model/plans";
import { OVERAGE_METER_ID } from "../helpers/recordingStripeServer";
import { useRecordingStripe } from "../helpers/recordingStripeSuite";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, getAccount, permutations, seedAccount, type TestConvex } from "./billingFixtures";
import { event, price, subscription } from "./fixtures/stripe";
import { deliverOk, SECRET } from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
const PERIOD_START = Date.UTC(2026, 10, 1);
const PERIOD_END = Date.UTC(2026, 11, 1);
const CUSTOMER = "cus_meter";
/** Pro's shipped policy: up to 100 overage tokens a period at the meter's price. */
const CAP = PLANS.pro.overage!.capTokens;

let keySeq = 0;
const server = useRecordingStripe({ nowMs: NOW, secretKey: "sk_test_metering", webhookSecret: SECRET });

/** Alice on Pro, billable overage, `tokens` in this period's allowance. */
async function proAccount(t: TestConvex, tokens = 0, identity = alice, customer = CUSTOMER): Promise<Id<"billingAccounts">> {
  const accountId = await seedAccount(t, identity, { tier: "pro", stripeCustomerId: customer, overageBillable: true });
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: "window:nov",
      tokens,
      periodKey: "window:nov",
      periodStart: PERIOD_START,
      periodEnd: PERIOD_END,
    });
  });
  return accountId;
}

/** One run of `feature` (bulk_analysis costs 10) for `identity`. */
async function run(t: TestConvex, feature = "bulk_analysis", identity = alice) {
  return await t.withIdentity(identity).mutation(api.tokens.consume, { feature, idempotencyKey: `run-${++keySeq}` });
}

const report = async (t: TestConvex) => await billing(t).action(billingInternal.metering.report, {});

async function reports(t: TestConvex): Promise<Doc<"meterReports">[]> {
  return await runInBilling(t, async (ctx) => await ctx.db.query("meterReports").collect());
}

async function overageRows(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"tokenLedger">[]> {
  return await runInBilling(t, async (ctx) =>
    (await ctx.db.query("tokenLedger").collect()).filter((r) => r.accountId === accountId && (r.overage ?? 0) > 0),
  );
}

/** Each ledger row with overage reached Stripe exactly once, as that many tokens, for the account's customer. */
async function expectReportedOnce(t: TestConvex, accountId: Id<"billingAccounts">, customer = CUSTOMER) {
  const rows = await overageRows(t, accountId);
  expect(rows.length).toBeGreaterThan(0);
  const events = server().meterEvents.filter((e) => e.customer === customer);
  expect(events.map((e) => e.identifier).sort()).toEqual(rows.map((r) => r._id).sort());
  for (const row of rows) expect(events.find((e) => e.identifier === row._id)!.value).toBe(row.overage);
}

describe("reporting overage to the meter", () => {
  test("a run past the balance is reported as one meter event: the ledger row's id, its overage tokens, the customer, the time used", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 4);
    expect(await run(t)).toMatchObject({ remaining: 0, overage: 6 });
    const [row] = await overageRows(t, accountId);
    expect(await reports(t)).toMatchObject([{ ledgerId: row!._id, tokens: 6, status: "pending", usedAt: NOW }]);

    expect(await report(t)).toEqual({ sent: 1, failed: 0, unbillable: 0 });
    expect(server().meterEvents).toEqual([{ identifier: row!._id, customer: CUSTOMER, value: 6, timestamp: NOW / 1000 }]);
    const post = server().requestsTo("POST", "/v1/billing/meter_events")[0]!;
    expect(post.form).toMatchObject({ event_name: OVERAGE_METER.eventName, "payload[value]": "6" });
    expect(post.idempotencyKey).toBe(`meter-event:${row!._id}`);
    expect(await reports(t)).toMatchObject([{ status: "sent", sentAt: NOW }]);

    // Nothing is sent twice.
    expect(await report(t)).toEqual({ sent: 0, failed: 0, unbillable: 0 });
    expect(server().requestsTo("POST", "/v1/billing/meter_events")).toHaveLength(1);
  });

  test("a debit within the balance reports nothing; the customer sees this period's overage and its estimated amount", async () => {
    const t = makeTest();
    await proAccount(t, 25);
    await run(t);
    await run(t);
    expect(await reports(t)).toEqual([]);
    await run(t); // 5 left: 5 overage
    expect(await t.withIdentity(alice).query(api.tokens.balance, {})).toMatchObject({
      remaining: 0,
      overage: 5,
      overageAmount: 5 * OVERAGE_METER.price.unitAmount,
      overageCurrency: "usd",
      overageCap: CAP,
    });
  });

  test("a debit schedules the reporter once per burst; the scheduled run sends everything due", async () => {
    const t = makeTest();
    await proAccount(t, 0);
    await run(t);
    await run(t);
    await run(t);
    const scheduled = await runInBilling(t, async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
    expect(scheduled.filter((s) => s.name.includes("metering")).map((s) => [s.name, s.scheduledTime])).toEqual([
      ["metering:report", NOW + REPORT_DELAY_MS],
    ]);
    // That one run (the same action) sends the whole burst.
    expect(await report(t)).toEqual({ sent: 3, failed: 0, unbillable: 0 });
    expect(server().meterEvents.map((e) => e.value)).toEqual([10, 10, 10]);
    // Once its time has passed, the next debit schedules a new run.
    vi.setSystemTime(NOW + REPORT_DELAY_MS + 1);
    await run(t);
    const later = await runInBilling(t, async (ctx) => await ctx.db.system.query("_scheduled_functions").collect());
    expect(later.filter((s) => s.name.includes("metering"))).toHaveLength(2);
  });

  test("a Stripe failure backs off and is retried until sent: once", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 0);
    await run(t);
    server().failNext("POST", "/v1/billing/meter_events", { status: 500, type: "api_error", message: "Stripe is down" });
    expect(await report(t)).toEqual({ sent: 0, failed: 1, unbillable: 0 });
    expect(await reports(t)).toMatchObject([{ status: "pending", attempts: 1, nextAttemptAt: NOW + backoffMs(1), lastError: "Stripe is down" }]);
    // Not due yet: nothing is sent.
    expect(await report(t)).toEqual({ sent: 0, failed: 0, unbillable: 0 });
    vi.setSystemTime(NOW + backoffMs(1));
    expect(await report(t)).toEqual({ sent: 1, failed: 0, unbillable: 0 });
    await expectReportedOnce(t, accountId);
  });

  test("a crash after Stripe took the event (never recorded) is not billed twice: Stripe's duplicate answer counts as sent", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 0);
    await run(t);
    const [row] = await overageRows(t, accountId);
    // The earlier run reached Stripe, then died before recording (its idempotency key long expired).
    const accepted = await fetch(`${server().url}/v1/billing/meter_events`, {
      method: "POST",
      headers: { Authorization: "Bearer sk_test_metering", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        event_name: OVERAGE_METER.eventName,
        identifier: row!._id,
        "payload[stripe_customer_id]": CUSTOMER,
        "payload[value]": "10",
        timestamp: String(NOW / 1000),
      }),
    });
    expect(accepted.status).toBe(200);
    expect(await report(t)).toEqual({ sent: 1, failed: 0, unbillable: 0 });
    expect(server().requestsTo("POST", "/v1/billing/meter_events").map((r) => r.status)).toEqual([200, 400]);
    expect(await reports(t)).toMatchObject([{ status: "sent" }]);
    await expectReportedOnce(t, accountId);
  });

  test("overlapping runs, random failures and retries: every overage token reaches Stripe exactly once", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 3);
    for (let i = 0; i < 10; i++) await run(t, i % 2 ? "bulk_analysis" : "standard_analysis");
    for (const i of [0, 1, 2]) {
      server().failNext("POST", "/v1/billing/meter_events", { status: 429, type: "rate_limit_error", message: `busy ${i}` });
    }
    await Promise.all([report(t), report(t), report(t)]);
    for (let round = 1; round <= 4; round++) {
      vi.setSystemTime(NOW + backoffMs(round) * 2);
      await report(t);
    }
    expect((await reports(t)).every((r) => r.status === "sent")).toBe(true);
    await expectReportedOnce(t, accountId);
    // Overlapping runs claim disjoint batches: besides the 3 failures, each report was posted once.
    const posts = server().requestsTo("POST", "/v1/billing/meter_events");
    expect(posts).toHaveLength((await overageRows(t, accountId)).length + 3);
    const total = (await overageRows(t, accountId)).reduce((sum, r) => sum + r.overage!, 0);
    expect(server().meterEvents.reduce((sum, e) => sum + e.value, 0)).toBe(total);
  });

  test("a settled hold reports the overage it charged; a reserve alone and a released hold report nothing", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 5);
    const ownerKey = (await getAccount(t, accountId))!.ownerKey;
    const tokens = billingApi.tokens;
    const held = await billing(t).mutation(tokens.reserve, { ownerKey, feature: "bulk_analysis", estimate: 20, idempotencyKey: "job-1" });
    const released = await billing(t).mutation(tokens.reserve, { ownerKey, feature: "bulk_analysis", estimate: 10, idempotencyKey: "job-2" });
    expect(await reports(t)).toEqual([]);
    await billing(t).mutation(tokens.release, { ownerKey, holdId: released.holdId });
    await billing(t).mutation(tokens.settle, { ownerKey, holdId: held.holdId, actual: 12 });
    await report(t);
    expect(server().meterEvents.map((e) => e.value)).toEqual([7]);
    await expectReportedOnce(t, accountId);
  });

  test("a run that died after claiming its batch leaves it to the next run once the claim lapses", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 0);
    await run(t);
    const claimed = await billing(t).mutation(billingInternal.metering.claimDueReports, { nowMs: NOW, limit: 100 });
    expect(claimed).toHaveLength(1);
    // The run died here: another run finds nothing to send while the claim holds…
    expect(await report(t)).toEqual({ sent: 0, failed: 0, unbillable: 0 });
    // …and sends it once the claim has lapsed.
    vi.setSystemTime(NOW + CLAIM_LEASE_MS);
    expect(await report(t)).toEqual({ sent: 1, failed: 0, unbillable: 0 });
    await expectReportedOnce(t, accountId);
  });

  test("a report Stripe can no longer take (older than its 35-day window) is marked unbillable, not sent", async () => {
    const t = makeTest();
    await proAccount(t, 0);
    await run(t);
    server().failNext("POST", "/v1/billing/meter_events", { status: 500, type: "api_error", message: "down" });
    await report(t);
    vi.setSystemTime(NOW + METER_WINDOW_MS + 1);
    expect(await report(t)).toEqual({ sent: 0, failed: 0, unbillable: 1 });
    expect(await reports(t)).toMatchObject([{ status: "unbillable", lastError: "older than Stripe's 35-day meter event window" }]);
    expect(server().meterEvents).toEqual([]);
  });
});

describe("overage is allowed only while Stripe can bill it", () => {
  const proMonthly = price({ lookupKey: "pro_monthly", unitAmount: 2900 });
  const metered = (): typeof proMonthly => {
    const p = price({ id: "price_overage", lookupKey: OVERAGE_METER.price.lookupKey, unitAmount: OVERAGE_METER.price.unitAmount });
    return { ...p, recurring: { ...p.recurring!, usage_type: "metered", meter: OVERAGE_METER_ID } };
  };
  /** Pro monthly for Alice's customer, with the metered overage item unless `withMeter` is false. */
  const sub = (status: "active" | "past_due" | "trialing", withMeter = true) => {
    const s = subscription({ id: "sub_meter", customer: CUSTOMER, status, price: proMonthly });
    if (withMeter) s.items.data.push({ ...s.items.data[0]!, id: "si_overage", price: metered(), quantity: undefined });
    return s;
  };

  test("an active subscription with the metered price makes overage billable; past due, trialing or without it blocks", async () => {
    const t = makeTest();
    const accountId = await seedAccount(t, alice, { stripeCustomerId: CUSTOMER });
    const created = Math.floor(NOW / 1000);
    const cases: Array<[ReturnType<typeof sub>, boolean]> = [
      [sub("active"), true],
      [sub("past_due"), false],
      [sub("active", false), false],
      [sub("trialing"), false],
      [sub("active"), true],
    ];
    for (const [i, [s, billable]] of cases.entries()) {
      await deliverOk(t, event(i === 0 ? "customer.subscription.created" : "customer.subscription.updated", s, { created: created + i }));
      expect((await getAccount(t, accountId))!.overageBillable ?? false).toBe(billable);
    }
    const mirror = await runInBilling(t, async (ctx) => await ctx.db.query("subscriptions").first());
    expect(mirror).toMatchObject({ stripeSubscriptionItemId: "si_meter", overageItemId: "si_overage", overagePriceId: "price_overage", tier: "pro" });
  });

  test("the metered item never decides the plan, whichever order Stripe lists the items in", async () => {
    for (const order of permutations([0, 1])) {
      const t = makeTest();
      await seedAccount(t, alice, { stripeCustomerId: CUSTOMER });
      const s = sub("active");
      s.items.data = order.map((i) => s.items.data[i]!);
      await deliverOk(t, event("customer.subscription.created", s));
      const mirror = await runInBilling(t, async (ctx) => await ctx.db.query("subscriptions").first());
      expect(mirror).toMatchObject({ tier: "pro", stripePriceId: proMonthly.id, overageItemId: "si_overage" });
    }
  });
});

describe("reconciliation against Stripe's meter event summaries", () => {
  /** Alice spends into overage, everything is reported, and the period closes. */
  async function closedPeriod(t: TestConvex): Promise<Id<"billingAccounts">> {
    const accountId = await proAccount(t, 0);
    await run(t);
    await run(t, "standard_analysis");
    await report(t);
    await closeNovember(t, accountId);
    return accountId;
  }
  /** A minute after November ends, December's window opens (as the allowance rollover does). */
  async function closeNovember(t: TestConvex, accountId: Id<"billingAccounts">) {
    vi.setSystemTime(PERIOD_END + 60_000);
    await runInBilling(t, async (ctx) => {
      await ledger.startPeriod(ctx, accountId, {
        sourceKey: "window:dec",
        tokens: 150,
        periodKey: "window:dec",
        periodStart: PERIOD_END,
        periodEnd: Date.UTC(2027, 0, 1),
      });
    });
  }
  const periods = async (t: TestConvex) => await runInBilling(t, async (ctx) => await ctx.db.query("meterPeriods").collect());
  const reconcile = async (t: TestConvex) => await billing(t).action(billingInternal.metering.reconcile, {});

  test("a closed period whose reports Stripe summed the same is matched, after Stripe's invoice grace", async () => {
    const t = makeTest();
    const accountId = await closedPeriod(t);
    expect(await periods(t)).toMatchObject([{ accountId, periodKey: "window:nov", tokens: 13, status: "open" }]);
    expect(await reconcile(t)).toEqual({ matched: 0, mismatched: 0, deferred: 0 });
    vi.setSystemTime(PERIOD_END + 60_000 + RECONCILE_DELAY_MS);
    expect(await reconcile(t)).toEqual({ matched: 1, mismatched: 0, deferred: 0 });
    expect(await periods(t)).toMatchObject([{ status: "matched", tokens: 13, stripeTokens: 13 }]);
    const asked = server().requestsTo("GET", `/v1/billing/meters/${OVERAGE_METER_ID}/event_summaries`)[0]!;
    expect(asked.form).toMatchObject({ customer: CUSTOMER, start_time: String(PERIOD_START / 1000), end_time: String(PERIOD_END / 1000) });
  });

  test("a planted difference (an event the ledger never recorded) is found and kept for staff", async () => {
    const t = makeTest();
    await closedPeriod(t);
    server().meterEvents.push({ identifier: "planted", customer: CUSTOMER, value: 4, timestamp: NOW / 1000 + 60 });
    vi.setSystemTime(PERIOD_END + 60_000 + RECONCILE_DELAY_MS);
    expect(await reconcile(t)).toEqual({ matched: 0, mismatched: 1, deferred: 0 });
    const staffView = await billing(t).query(billingApi.metering.reconciliation, {});
    expect(staffView.mismatches).toMatchObject([{ periodKey: "window:nov", tokens: 13, stripeTokens: 17 }]);
    expect(staffView.open).toEqual([]);
  });

  test("a period with reports still pending waits for them instead of reporting a false difference", async () => {
    const t = makeTest();
    const accountId = await proAccount(t, 0);
    await run(t);
    await closeNovember(t, accountId);
    vi.setSystemTime(PERIOD_END + 60_000 + RECONCILE_DELAY_MS);
    expect(await reconcile(t)).toEqual({ matched: 0, mismatched: 0, deferred: 1 });
    expect(await periods(t)).toMatchObject([{ status: "open", lastError: "10 tokens not yet reported" }]);
    await report(t);
    vi.setSystemTime(Date.now() + backoffMs(1));
    expect(await reconcile(t)).toEqual({ matched: 1, mismatched: 0, deferred: 0 });
  });

  test("another account's overage is reported for its own customer and never reconciled against Alice's", async () => {
    const t = makeTest();
    const aliceId = await proAccount(t, 0);
    const bobId = await proAccount(t, 0, bob, "cus_bob");
    await run(t);
    await run(t, "bulk_analysis", bob);
    await run(t, "standard_analysis", bob);
    await report(t);
    await expectReportedOnce(t, aliceId);
    await expectReportedOnce(t, bobId, "cus_bob");
    expect(server().meterEvents.filter((e) => e.customer === CUSTOMER).map((e) => e.value)).toEqual([10]);
  });
});
