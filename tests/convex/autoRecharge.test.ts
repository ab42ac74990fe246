/**
 * Auto-recharge: a debit that leaves the balance below the customer's
 * threshold buys their pack off-session with the saved card — once per
 * trigger, tokens only once paid, a 3-D Secure request turned into a link,
 * off after three failures in a row, within the monthly cap, and a stalled
 * charge driven again without a second payment. Stripe is the recording
 * server (`tests/helpers/recordingStripeServer.ts`).
 */
import type Stripe from "stripe";
import { describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { TOKEN_PACKS } from "../../convex/billing/model/plans";
import type { PaymentOutcome } from "../helpers/recordingStripeServer";
import { useRecordingStripe } from "../helpers/recordingStripeSuite";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, permutations, seedAccount, type TestConvex } from "./billingFixtures";
import { charge, event } from "./fixtures/stripe";
import { deliverOk, SECRET } from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const NOW = Date.UTC(2026, 10, 10, 12);
const CUSTOMER = "cus_auto";
const CARD = "pm_card_saved";
/** Auto-recharge below 10 tokens: pack_100 (100 tokens, $10.00), at most $50.00 a month. */
const CHOICE = { enabled: true, thresholdTokens: 10, packId: "pack_100", monthlyCap: 5000 };

let keySeq = 0;
const server = useRecordingStripe({ nowMs: NOW, secretKey: "sk_test_auto_recharge", webhookSecret: SECRET });

/** Alice with a Stripe customer and 25 tokens (5 free allowance + 20 purchased); a saved card unless `card: null`. */
async function setUp(t: TestConvex, { card = CARD }: { card?: string | null } = {}): Promise<Id<"billingAccounts">> {
  const accountId = await seedAccount(t, alice, { stripeCustomerId: CUSTOMER });
  await runInBilling(t, async (ctx) => {
    await ledger.startPeriod(ctx, accountId, {
      sourceKey: "period:free:2026-11",
      tokens: 5,
      periodKey: "free:2026-11",
      periodStart: Date.UTC(2026, 10, 1),
      periodEnd: Date.UTC(2026, 11, 1),
    });
    await ledger.grant(ctx, accountId, { sourceKey: "checkout:cs_seed", amount: 20, reason: "top_up" });
  });
  server().setSavedCard(CUSTOMER, card);
  return accountId;
}

async function spend(t: TestConvex, times: number): Promise<void> {
  for (let i = 0; i < times; i += 1) {
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: `run-${++keySeq}` });
  }
}

async function runScheduled(t: TestConvex): Promise<void> {
  await t.finishAllScheduledFunctions(() => {});
}

const remaining = async (t: TestConvex) => (await t.withIdentity(alice).query(api.tokens.balance, {}))!.remaining;
const settings = async (t: TestConvex) => await t.withIdentity(alice).query(api.tokens.autoRecharge, {});
const alertIds = async (t: TestConvex) => (await t.withIdentity(alice).query(api.tokens.alerts, {})).map((a) => a.alertId);
const paymentIntentRequests = () => server().requestsTo("POST", "/v1/payment_intents");

async function attempts(t: TestConvex, accountId: Id<"billingAccounts">): Promise<Doc<"autoRechargeAttempts">[]> {
  return await runInBilling(t, async (ctx) =>
    await ctx.db.query("autoRechargeAttempts").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
  );
}

/** Alice set up with auto-recharge on, Stripe answering `outcome`, then 6 runs that cross the threshold (25 → 7) and their charge run. */
async function crossThreshold(outcome: PaymentOutcome = "succeeds") {
  const t = makeTest();
  const accountId = await setUp(t);
  await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
  server().setPaymentOutcome(outcome);
  await spend(t, 6);
  await runScheduled(t);
  const [attempt] = await attempts(t, accountId);
  return { t, accountId, attempt: attempt! };
}

async function expectInvariant(t: TestConvex, accountId: Id<"billingAccounts">) {
  expect((await billing(t).query(billingApi.tokens.checkInvariant, { accountId })).problems).toEqual([]);
}

describe("turning it on", () => {
  test("needs a saved card and a choice within bounds", async () => {
    const t = makeTest();
    await setUp(t, { card: null });
    const as = t.withIdentity(alice);
    await expectCode(as.action(api.tokens.setAutoRecharge, CHOICE), "NO_PAYMENT_METHOD");
    expect(await settings(t)).toBeNull();

    server().setSavedCard(CUSTOMER, CARD);
    await expectCode(as.action(api.tokens.setAutoRecharge, { ...CHOICE, thresholdTokens: 0 }), "INVALID_ARGUMENT");
    await expectCode(as.action(api.tokens.setAutoRecharge, { ...CHOICE, thresholdTokens: 2.5 }), "INVALID_ARGUMENT");
    await expectCode(as.action(api.tokens.setAutoRecharge, { ...CHOICE, monthlyCap: 999 }), "INVALID_ARGUMENT");
    await expectCode(as.action(api.tokens.setAutoRecharge, { ...CHOICE, packId: "pack_free" }), "INVALID_ARGUMENT");
    await expectCode(t.action(api.tokens.setAutoRecharge, CHOICE), "UNAUTHENTICATED");

    await as.action(api.tokens.setAutoRecharge, CHOICE);
    expect(await settings(t)).toMatchObject({ enabled: true, thresholdTokens: 10, packId: "pack_100", monthlyCap: 5000, currency: "usd" });
    // Turning it off needs no card.
    server().setSavedCard(CUSTOMER, null);
    await as.action(api.tokens.setAutoRecharge, { ...CHOICE, enabled: false });
    expect(await settings(t)).toMatchObject({ enabled: false });
  });

  test("another user sees none of it, and turning theirs on changes nothing of Alice's", async () => {
    const t = makeTest();
    await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    await seedAccount(t, bob);
    expect(await t.withIdentity(bob).query(api.tokens.autoRecharge, {})).toBeNull();
    await t.withIdentity(bob).action(api.tokens.setAutoRecharge, { ...CHOICE, enabled: false });
    expect(await t.withIdentity(bob).query(api.tokens.autoRecharge, {})).toMatchObject({ enabled: false });
    expect(await settings(t)).toMatchObject({ enabled: true, thresholdTokens: 10 });
  });

  test("an account without a Stripe customer is told to add a card first", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await expectCode(t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE), "NO_PAYMENT_METHOD");
  });
});

describe("buying the pack", () => {
  test("a debit below the threshold charges the saved card off-session once, and the tokens arrive when paid", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);

    await spend(t, 5); // 25 → 10: not below 10
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(0);

    await spend(t, 1); // 10 → 7
    expect(await remaining(t)).toBe(7); // nothing granted before the payment
    await runScheduled(t);

    const [request] = paymentIntentRequests();
    const [attempt] = await attempts(t, accountId);
    expect(request!.form).toMatchObject({
      amount: "1000",
      currency: "usd",
      customer: CUSTOMER,
      payment_method: CARD,
      off_session: "true",
      confirm: "true",
      "metadata[kind]": "top_up",
      "metadata[packId]": "pack_100",
      "metadata[autoRechargeAttemptId]": attempt!._id,
    });
    expect(request!.idempotencyKey).toBe(`auto-recharge:${attempt!._id}`);
    expect(attempt).toMatchObject({ status: "succeeded", tokens: 100, amount: 1000 });
    expect(await remaining(t)).toBe(107);
    expect(await settings(t)).toMatchObject({ spentThisMonth: 1000, consecutiveFailures: 0, lastAttempt: { status: "succeeded" } });
    const notices = await t.withIdentity(alice).query(api.tokens.alerts, {});
    expect(notices.find((n) => n.alertId === "auto_recharge_succeeded")?.message).toBe("Auto-recharge added 100 tokens for $10.00.");

    // The pack is a purchased grant carrying the PaymentIntent (refunds find it).
    const grant = await runInBilling(t, async (ctx) =>
      await ctx.db.query("tokenGrants").withIndex("by_stripePaymentIntentId", (q) => q.eq("stripePaymentIntentId", attempt!.stripePaymentIntentId)).unique(),
    );
    expect(grant).toMatchObject({ category: "purchased", amount: 100 });

    // A repeated debit key commits nothing, so it triggers nothing.
    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "standard_analysis", idempotencyKey: `run-${keySeq}` });
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(1);
    await expectInvariant(t, accountId);
  });

  test("an account billed in GBP is charged the pack's GBP price, and its cap is in GBP", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await runInBilling(t, async (ctx) => await ctx.db.patch("billingAccounts", accountId, { currency: "gbp" }));
    const gbpPack = TOKEN_PACKS.find((p) => p.id === CHOICE.packId)!.currencyOptions.gbp;
    const as = t.withIdentity(alice);
    // One GBP pack is the least a month may allow, in pence.
    await expectCode(as.action(api.tokens.setAutoRecharge, { ...CHOICE, monthlyCap: gbpPack - 1 }), "INVALID_ARGUMENT");
    await as.action(api.tokens.setAutoRecharge, { ...CHOICE, monthlyCap: gbpPack });
    expect(await settings(t)).toMatchObject({ monthlyCap: gbpPack, currency: "gbp" });

    await spend(t, 6);
    await runScheduled(t);
    const [request] = paymentIntentRequests();
    expect(request!.form).toMatchObject({ amount: String(gbpPack), currency: "gbp" });
    const [attempt] = await attempts(t, accountId);
    expect(attempt).toMatchObject({ status: "succeeded", amount: gbpPack, currency: "gbp" });
    expect(await settings(t)).toMatchObject({ spentThisMonth: gbpPack });
    const notices = await as.query(api.tokens.alerts, {});
    expect(notices.find((n) => n.alertId === "auto_recharge_succeeded")?.message).toBe(
      `Auto-recharge added 100 tokens for ${new Intl.NumberFormat("en-US", { style: "currency", currency: "GBP" }).format(gbpPack / 100)}.`,
    );
    // The cap (one pack) is spent: the next crossing buys nothing more this month.
    await spend(t, 15);
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(1);
  });

  test("concurrent debits crossing the threshold start one purchase", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    await spend(t, 5); // 10 left
    await Promise.all(
      ["a", "b", "c"].map((k) => t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: `par-${k}` })),
    );
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(1);
    expect(await attempts(t, accountId)).toHaveLength(1);
    expect(await remaining(t)).toBe(107);
  });

  test("the monthly cap stops a purchase that would pass it, and says so once", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, { ...CHOICE, monthlyCap: 1000 });
    await spend(t, 6);
    await runScheduled(t);
    expect(await remaining(t)).toBe(107);
    // Spend below 10 again: a second $10 would pass the $10 cap.
    await spend(t, 33); // 107 → 8
    await spend(t, 1);
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(1);
    expect(await attempts(t, accountId)).toHaveLength(1);
    const capNotices = (await alertIds(t)).filter((id) => id === "auto_recharge_cap");
    expect(capNotices).toHaveLength(1);
  });
});

describe("when the payment fails", () => {
  test("a declined card grants nothing, and three failures in a row turn it off and say so", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    server().setPaymentOutcome({ decline: "insufficient_funds" });

    await spend(t, 6); // 7 left: attempt 1
    await runScheduled(t);
    expect(await remaining(t)).toBe(7);
    expect(await settings(t)).toMatchObject({
      enabled: true,
      consecutiveFailures: 1,
      spentThisMonth: 0,
      lastAttempt: { status: "failed", failureMessage: "your card has insufficient funds." },
    });
    expect(await alertIds(t)).toContain("auto_recharge_failed");

    await spend(t, 1); // attempt 2
    await runScheduled(t);
    await spend(t, 1); // attempt 3: off
    await runScheduled(t);
    expect(await settings(t)).toMatchObject({ enabled: false, disabledReason: "failures", consecutiveFailures: 3 });
    expect(await alertIds(t)).toContain("auto_recharge_disabled");
    const balanceRow = await runInBilling(t, async (ctx) => await ledger.getBalance(ctx, accountId));
    expect(balanceRow!.autoRechargeBelow).toBeUndefined();

    await t.withIdentity(alice).mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: "off" }); // off: no attempt
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(3);
    expect(await remaining(t)).toBe(0);

    // Turning it back on starts the count again, and buys at once: the balance is already below the threshold.
    server().setPaymentOutcome("succeeds");
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    await runScheduled(t);
    expect(await settings(t)).toMatchObject({ enabled: true, disabledReason: null, consecutiveFailures: 0 });
    expect(await remaining(t)).toBe(100);
    await expectInvariant(t, accountId);
  });

  test("a bank asking for 3-D Secure gets the customer a Checkout link for the same pack, and no tokens yet", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    server().setPaymentOutcome("authentication_required");
    await spend(t, 6);
    await runScheduled(t);

    const [attempt] = await attempts(t, accountId);
    expect(attempt).toMatchObject({ status: "requires_action", failureCode: "authentication_required" });
    const [checkout] = server().requestsTo("POST", "/v1/checkout/sessions");
    expect(checkout!.form).toMatchObject({ mode: "payment", customer: CUSTOMER, "metadata[packId]": "pack_100", "metadata[kind]": "top_up" });
    expect(attempt!.actionUrl).toMatch(/^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_/);
    const notice = (await t.withIdentity(alice).query(api.tokens.alerts, {})).find((a) => a.alertId === "auto_recharge_action_required");
    expect(notice).toMatchObject({ actionUrl: attempt!.actionUrl });
    expect(notice!.message).toContain("confirm the $10.00 auto-recharge of 100 tokens");
    expect(await remaining(t)).toBe(7);
    expect(await settings(t)).toMatchObject({ enabled: true, consecutiveFailures: 1 });
  });

  test("no saved card any more: recorded as failed with a clear message", async () => {
    const t = makeTest();
    await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    server().setSavedCard(CUSTOMER, null);
    await spend(t, 6);
    await runScheduled(t);
    expect(paymentIntentRequests()).toHaveLength(0);
    expect(await settings(t)).toMatchObject({
      lastAttempt: { status: "failed", failureMessage: "there is no saved card to charge. Add one in the billing portal." },
    });
  });
});

describe("nothing paid lost, nothing paid twice", () => {
  test("a charge whose action died is driven again with the same idempotency key: one payment, one grant", async () => {
    const t = makeTest();
    const accountId = await setUp(t);
    await t.withIdentity(alice).action(api.tokens.setAutoRecharge, CHOICE);
    server().failNext("POST", "/v1/payment_intents", { status: 500, type: "api_error", message: "Stripe is down" });
    await spend(t, 6);
    await runScheduled(t).catch(() => undefined);
    const [pending] = await attempts(t, accountId);
    expect(pending!.status).toBe("pending");
    expect(await remaining(t)).toBe(7);

    vi.setSystemTime(Date.now() + 6 * 60_000);
    expect(await billing(t).mutation(billingInternal.autoRecharge.redriveStale, {})).toEqual({ redriven: 1, gaveUp: 0 });
    await runScheduled(t);
    const calls = paymentIntentRequests();
    expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([`auto-recharge:${pending!._id}`]));
    expect(calls.filter((c) => c.status === 200)).toHaveLength(1);
    expect(await remaining(t)).toBe(107);
    expect((await attempts(t, accountId))[0]!.tries).toBe(2);
  });

  test("after the last try it is recorded as failed, and a payment that did go through is still granted by its webhook", async () => {
    const { t, accountId, attempt } = await crossThreshold("processing");
    for (let i = 0; i < 5; i += 1) {
      vi.setSystemTime(Date.now() + 6 * 60_000);
      await billing(t).mutation(billingInternal.autoRecharge.redriveStale, {});
      await runScheduled(t);
    }
    expect((await attempts(t, accountId))[0]).toMatchObject({ status: "failed", failureCode: "stripe_unavailable" });
    expect(await remaining(t)).toBe(7);

    await deliverOk(t, event("payment_intent.succeeded", paymentIntent(attempt._id, "pi_late")));
    await runScheduled(t);
    expect(await remaining(t)).toBe(107);
    expect((await attempts(t, accountId))[0]).toMatchObject({ status: "succeeded", stripePaymentIntentId: "pi_late" });
    await expectInvariant(t, accountId);
  });

  test.each(permutations(["action", "webhook", "webhook again"]))(
    "the action's result and the webhook in any order (%s, %s, %s) grant the pack once",
    async (...order) => {
      const { t, accountId, attempt } = await crossThreshold("processing");
      const succeeded = event("payment_intent.succeeded", paymentIntent(attempt._id, "pi_once"), { id: "evt_pi_once" });
      for (const step of order) {
        if (step === "action") {
          await billing(t).mutation(billingInternal.autoRecharge.recordResult, {
            attemptId: attempt._id,
            outcome: { status: "succeeded", stripePaymentIntentId: "pi_once", amount: 1000, currency: "usd" },
          });
        } else {
          await deliverOk(t, succeeded);
        }
        await runScheduled(t);
      }
      expect(await remaining(t)).toBe(107);
      expect(await settings(t)).toMatchObject({ spentThisMonth: 1000, consecutiveFailures: 0 });
      await expectInvariant(t, accountId);
    },
  );

  test("a refunded auto-recharge takes its tokens back like a Checkout pack", async () => {
    const { t, accountId, attempt } = await crossThreshold();
    const paid = attempt.stripePaymentIntentId!;
    await deliverOk(t, event("charge.refunded", charge({ paymentIntent: paid, customer: CUSTOMER, amount: 1000, amountRefunded: 1000, metadata: { kind: "top_up" } })));
    await runScheduled(t);
    // Back to 7, below the threshold, yet no new purchase: a refund is not usage.
    expect(await remaining(t)).toBe(7);
    expect(paymentIntentRequests()).toHaveLength(1);
    await expectInvariant(t, accountId);
  });

  test("payment_intent.succeeded for anything else is ignored", async () => {
    const t = makeTest();
    await setUp(t);
    const other = { ...paymentIntent("", "pi_checkout"), metadata: { kind: "top_up", packId: "pack_100" } };
    await deliverOk(t, event("payment_intent.succeeded", other));
    await runScheduled(t);
    expect(await remaining(t)).toBe(25);
  });
});

/** A succeeded off-session PaymentIntent of attempt `attemptId` (the fields the handler reads, typed loosely). */
function paymentIntent(attemptId: string, id: string): Stripe.PaymentIntent {
  return {
    id,
    object: "payment_intent",
    amount: 1000,
    amount_received: 1000,
    currency: "usd",
    customer: CUSTOMER,
    payment_method: CARD,
    status: "succeeded",
    livemode: false,
    created: Math.floor(NOW / 1000),
    metadata: { kind: "top_up", packId: "pack_100", autoRechargeAttemptId: attemptId },
  } as Partial<Stripe.PaymentIntent> as Stripe.PaymentIntent;
}
