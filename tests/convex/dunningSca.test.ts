/**
 * A renewal that needs 3-D Secure is a confirmation to give, not a decline
 * (docs/DUNNING.md, "3-D Secure"). Stripe sends `invoice.payment_failed` and
 * `invoice.payment_action_required` for the same attempt in either order;
 * the simulator (like Stripe usually) sends `payment_failed` first.
 * Regression: in that order the customer got "Your payment failed" (bell and
 * email) next to "Confirm your payment" (journey11-sca saw both emails).
 * Now the day-0 email is held `PAYMENT_FAILED_EMAIL_HOLD_MS` and the
 * action-required notice withdraws the day-0 notice of the same invoice.
 */
import { beforeEach, describe, expect, test } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { PAYMENT_FAILED_EMAIL_HOLD_MS } from "../../convex/billing/model/dunning";
import { T0, DAY, event, invoice, price, subscription } from "./fixtures/stripe";
import {
  account,
  createAccount,
  deliverAll,
  notificationsOfKinds,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { permutations } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_sca";
const SUB = "sub_sca";
const RENEWAL_AT = T0 + 30 * DAY;
const FAILED_AT = RENEWAL_AT + 1;
const DUNNING_KINDS = new Set(["payment_failed", "action_required", "dunning_reminder", "dunning_suspended", "dunning_restricted"]);

const renewal = (status: "open" | "paid") =>
  invoice({
    id: "in_sca",
    customer: CUSTOMER,
    subscription: SUB,
    status,
    billingReason: "subscription_cycle",
    price: proMonthly,
    created: RENEWAL_AT,
    linePeriodStart: RENEWAL_AT,
    linePeriodEnd: RENEWAL_AT + 30 * DAY,
  });

const finalized = () => event("invoice.finalized", renewal("open"), { created: RENEWAL_AT });
const failed = () => event("invoice.payment_failed", renewal("open"), { created: FAILED_AT });
const actionRequired = () => event("invoice.payment_action_required", renewal("open"), { created: FAILED_AT });
const pastDue = () =>
  event("customer.subscription.updated", subscription({ id: SUB, customer: CUSTOMER, status: "past_due", price: proMonthly, periodStart: RENEWAL_AT }), {
    created: FAILED_AT + 1,
  });

const notices = (t: TestConvex, accountId: Id<"billingAccounts">) => notificationsOfKinds(t, accountId, DUNNING_KINDS);

describe("3-D Secure renewal: no 'payment failed' next to 'confirm your payment'", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
    await deliverAll(
      t,
      event("customer.subscription.created", subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proMonthly, periodStart: T0 }), { created: T0 }),
      event(
        "invoice.paid",
        invoice({ id: "in_first", customer: CUSTOMER, subscription: SUB, status: "paid", billingReason: "subscription_create", price: proMonthly, linePeriodStart: T0, linePeriodEnd: RENEWAL_AT }),
        { created: T0 + 1 },
      ),
    );
  });

  const ORDERED = [finalized, failed, actionRequired, pastDue] as const;
  test.each(permutations([0, 1, 2, 3]).map((order) => [order.join(",")]))(
    "delivery order %s of finalized / payment_failed / action_required / past_due: only 'Confirm your payment', the episode open",
    async (order) => {
      await deliverAll(t, ...order.split(",").map((i) => ORDERED[Number(i)]!()));
      // A replay of both changes nothing.
      await deliverAll(t, failed(), actionRequired());
      expect((await notices(t, accountId)).map((n) => [n.kind, n.title])).toEqual([["action_required", "Confirm your payment"]]);
      expect(await account(t, accountId)).toMatchObject({ dunningEpisode: "in_sca", dunningStep: "day_0_payment_failed", tier: "pro" });
    },
  );

  test("a plain decline keeps its day-0 notice, its email held for the SCA window", async () => {
    await deliverAll(t, finalized(), failed(), pastDue());
    const rows = await notices(t, accountId);
    expect(rows.map((n) => n.kind)).toEqual(["payment_failed"]);
    expect(PAYMENT_FAILED_EMAIL_HOLD_MS).toBeGreaterThanOrEqual(10_000);
    expect(PAYMENT_FAILED_EMAIL_HOLD_MS).toBeLessThanOrEqual(120_000);
  });

  test("a day-0 email already handed to Resend is not withdrawn (it was sent; the notice stays true to it)", async () => {
    await deliverAll(t, finalized(), failed());
    await runInBilling(t, async (ctx) => {
      const row = (await ctx.db.query("notifications").collect()).find((n) => n.kind === "payment_failed");
      if (!row) throw new Error("no payment_failed notice");
      await ctx.db.patch("notifications", row._id, { emailStatus: "queued" });
    });
    await deliverAll(t, actionRequired());
    expect((await notices(t, accountId)).map((n) => n.kind).sort()).toEqual(["action_required", "payment_failed"]);
  });
});
