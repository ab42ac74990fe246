/**
 * Operators attach a coupon (issue 12, part 4): `coupons.attachToAccount`
 * adds it to the account's current subscription's `discounts` (customers take
 * no coupon in API 2026-10-28), once, keeping the discounts it has; refuses
 * an account without a customer or subscription and a coupon Stripe does not
 * know; logs and returns who and why. The plan-change preview then shows the
 * discount (and tax).
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { billing, billingApi, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const CUSTOMER = "cus_alice_coupon";
const SUB = "sub_alice_coupon";
const NOW = Date.UTC(2026, 10, 15);

let stripe: RecordingStripeServer;
let t: TestConvex;
let accountId: Id<"billingAccounts">;

/** Runs `coupons.attachToAccount` the way `npx convex run --component billing` does. */
async function attach(args: { accountId: Id<"billingAccounts">; couponId: string; reason: string; operator?: string }) {
  return await billing(t).action(billingApi.coupons.attachToAccount, args);
}

/** Alice on Pro monthly: the subscription mirror and the same subscription on the Stripe server. */
async function seedSubscriber(): Promise<void> {
  accountId = await seedAccount(t, alice, { stripeCustomerId: CUSTOMER, tier: "pro", stripeSubscriptionId: SUB });
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("subscriptions", {
      accountId,
      stripeSubscriptionId: SUB,
      stripeCustomerId: CUSTOMER,
      stripeSubscriptionItemId: "si_alice_coupon",
      stripePriceId: "price_pro_monthly",
      lookupKey: "pro_monthly",
      status: "active",
      tier: "pro",
      interval: "month",
      quantity: 1,
      currentPeriodStart: NOW - 15 * 86_400_000,
      currentPeriodEnd: NOW + 15 * 86_400_000,
      cancelAtPeriodEnd: false,
      eventCreated: Math.floor(NOW / 1000),
    });
  });
  stripe.putSubscription({
    id: SUB,
    customer: CUSTOMER,
    itemId: "si_alice_coupon",
    lookupKey: "pro_monthly",
    periodStart: Math.floor(NOW / 1000) - 15 * 86_400,
    periodEnd: Math.floor(NOW / 1000) + 15 * 86_400,
  });
}

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
  stripe = await startRecordingStripeServer();
  vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_coupons");
  for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
  vi.stubEnv("SITE_URL", "https://app.example.test");
  vi.spyOn(console, "info").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation(() => {});
  t = makeTest();
  stripe.putCoupon({ id: "WELCOME20", percentOff: 20, name: "Welcome 20%" });
  stripe.putCoupon({ id: "LOYAL5", amountOff: 500, name: "Loyalty $5" });
});
afterEach(async () => {
  await stripe.close();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("coupons.attachToAccount", () => {
  test("adds the coupon to the current subscription's discounts with an account+coupon idempotency key, logs and returns who and why", async () => {
    await seedSubscriber();
    const result = await attach({ accountId, couponId: "WELCOME20", reason: "Support ticket 1234", operator: "ada@example.com" });
    expect(result).toMatchObject({
      status: "attached",
      accountId,
      couponId: "WELCOME20",
      couponName: "Welcome 20%",
      percentOff: 20,
      amountOff: null,
      stripeCustomerId: CUSTOMER,
      stripeSubscriptionId: SUB,
      operator: "ada@example.com",
      reason: "Support ticket 1234",
      at: NOW,
    });
    expect(result.discountId).toMatch(/^di_test_/);

    const [update] = stripe.requestsTo("POST", `/v1/subscriptions/${SUB}`);
    expect(update!.body.discounts).toEqual([{ coupon: "WELCOME20" }]);
    expect(update!.idempotencyKey).toBe(`coupon:${accountId}:WELCOME20:${SUB}`);
    const audit = await runInBilling(t, async (ctx) =>
      await ctx.db.query("auditLog").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
    );
    expect(audit.map((a) => [a.action, a.actorKind, a.actor, a.reason])).toEqual([
      ["coupon.attach", "staff", "ada@example.com", "Support ticket 1234"],
    ]);
    expect(JSON.parse(audit[0]!.after!)).toMatchObject({ couponId: "WELCOME20", percentOff: 20, stripeSubscriptionId: SUB });
  });

  test("staff attach from the console (admin.attachCoupon), audited under them; anyone else is refused", async () => {
    await seedSubscriber();
    vi.stubEnv("STAFF_USER_IDS", "user_sam_staff");
    const sam = { ...alice, subject: "user_sam_staff", name: "Sam Staff", email: "sam@example.com" };
    await expectCode(t.withIdentity(alice).action(api.admin.attachCoupon, { accountId, couponId: "WELCOME20", reason: "me" }), "FORBIDDEN");
    const result = await t.withIdentity(sam).action(api.admin.attachCoupon, { accountId, couponId: "WELCOME20", reason: "Ticket 77" });
    expect(result).toEqual({ status: "attached", couponId: "WELCOME20", couponName: "Welcome 20%", percentOff: 20, amountOff: null, currency: null });
    const again = await t.withIdentity(sam).action(api.admin.attachCoupon, { accountId, couponId: "WELCOME20", reason: "Ticket 77" });
    expect(again.status).toBe("already_attached");
    const audit = await runInBilling(t, async (ctx) =>
      await ctx.db.query("auditLog").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
    );
    expect(audit.map((a) => [a.action, a.actor, a.reason])).toEqual([["coupon.attach", "user_sam_staff", "Ticket 77"]]);
  });

  test("a second coupon keeps the first discount; attaching the same coupon again changes nothing", async () => {
    await seedSubscriber();
    const first = await attach({ accountId, couponId: "WELCOME20", reason: "welcome" });
    const second = await attach({ accountId, couponId: "LOYAL5", reason: "loyalty" });
    expect(second).toMatchObject({ status: "attached", amountOff: 500, currency: "usd" });
    const updates = stripe.requestsTo("POST", `/v1/subscriptions/${SUB}`);
    expect(updates[1]!.body.discounts).toEqual([{ discount: first.discountId }, { coupon: "LOYAL5" }]);

    const again = await attach({ accountId, couponId: "WELCOME20", reason: "retry" });
    expect(again).toMatchObject({ status: "already_attached", discountId: first.discountId });
    expect(stripe.requestsTo("POST", `/v1/subscriptions/${SUB}`)).toHaveLength(2);
  });

  test("refuses an account without a Stripe customer (NO_CUSTOMER) or without a live subscription (NO_SUBSCRIPTION)", async () => {
    const noCustomer = await seedAccount(t, bob);
    await expectCode(attach({ accountId: noCustomer, couponId: "WELCOME20", reason: "x" }), "NO_CUSTOMER");
    const customerOnly = await seedAccount(t, alice, { stripeCustomerId: CUSTOMER });
    await expectCode(attach({ accountId: customerOnly, couponId: "WELCOME20", reason: "x" }), "NO_SUBSCRIPTION");
    expect(stripe.requests).toHaveLength(0);
  });

  test("refuses a coupon Stripe does not know (its 404 → INVALID_ARGUMENT), an invalid one, and a blank reason", async () => {
    await seedSubscriber();
    await expectCode(attach({ accountId, couponId: "NOPE", reason: "x" }), "INVALID_ARGUMENT");
    stripe.putCoupon({ id: "EXPIRED", percentOff: 10, valid: false });
    await expectCode(attach({ accountId, couponId: "EXPIRED", reason: "x" }), "INVALID_ARGUMENT");
    await expectCode(attach({ accountId, couponId: "WELCOME20", reason: "   " }), "INVALID_ARGUMENT");
    expect(stripe.requestsTo("POST", `/v1/subscriptions/${SUB}`)).toHaveLength(0);
  });

  test("the plan-change preview shows the coupon's discount and the tax on the discounted amount", async () => {
    await seedSubscriber();
    await attach({ accountId, couponId: "WELCOME20", reason: "welcome" });
    stripe.setPreviewTaxPercent(10);
    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "elite", interval: "month" });
    expect(preview.kind).toBe("upgrade");
    const adjustments = preview.adjustments!;
    expect(adjustments.discount).toBeGreaterThan(0);
    expect(adjustments.tax).toBeGreaterThan(0);
    // The preview's own arithmetic: the subtotal less the discount plus tax is the invoice total.
    expect(adjustments.subtotal - adjustments.discount + adjustments.tax).toBe(adjustments.total);
    for (const amount of Object.values(adjustments)) expect(Number.isInteger(amount)).toBe(true);
    // Without a coupon or tax the preview carries no adjustments.
    stripe.setPreviewTaxPercent(0);
  });

  test("a preview without discount or tax has no adjustments", async () => {
    await seedSubscriber();
    const preview = await t.withIdentity(alice).action(api.billing.previewPlanChange, { tier: "elite", interval: "month" });
    expect(preview).not.toHaveProperty("adjustments");
  });
});
