/**
 * The dunning timeline on a Stripe test clock (docs/DUNNING.md, "Test
 * clocks"): the hourly sweep reads the wall clock, which never reaches an
 * account whose subscription lives on a test clock days ahead, so
 * `test_helpers.test_clock.ready` fires the steps due at the clock's time.
 * Regression: before, a clock moved from day 0 to day 30 left the account
 * `overdue` with its plan (journey11-dunning saw no day-14 step).
 */
import { beforeEach, describe, expect, test } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { DAY, T0, event, invoice, price, subscription, testClock } from "./fixtures/stripe";
import {
  account,
  createAccount,
  deliverAll,
  notificationsOfKinds,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_clocked";
const SUB = "sub_clocked";
const CLOCK = "clock_dunning";
const RENEWAL_AT = T0 + 30 * DAY;
const FAILED_AT = RENEWAL_AT + 1;
/** Dunning kinds only: other notices (plan changes) are not this test's concern. */
const DUNNING_KINDS = new Set(["payment_failed", "dunning_reminder", "dunning_suspended", "dunning_restricted"]);

const clocked = (status: "active" | "past_due", periodStart: number) => ({
  ...subscription({ id: SUB, customer: CUSTOMER, status, price: proMonthly, periodStart }),
  test_clock: CLOCK,
});

const renewal = (status: "open" | "paid") =>
  invoice({
    id: "in_clocked",
    customer: CUSTOMER,
    subscription: SUB,
    status,
    billingReason: "subscription_cycle",
    price: proMonthly,
    created: RENEWAL_AT,
    linePeriodStart: RENEWAL_AT,
    linePeriodEnd: RENEWAL_AT + 30 * DAY,
  });

/** `test_helpers.test_clock.ready` with the clock at `day` days after the first failure (plus a minute). */
const clockAt = (day: number) =>
  event("test_helpers.test_clock.ready", testClock(CLOCK, FAILED_AT + day * DAY + 60), { created: FAILED_AT + day * DAY + 60 });

const dunningNotices = (t: TestConvex, accountId: Id<"billingAccounts">) => notificationsOfKinds(t, accountId, DUNNING_KINDS);

describe("dunning on a test clock", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
    await deliverAll(
      t,
      event("customer.subscription.created", clocked("active", T0), { created: T0 }),
      event(
        "invoice.paid",
        invoice({ id: "in_first", customer: CUSTOMER, subscription: SUB, status: "paid", billingReason: "subscription_create", price: proMonthly, linePeriodStart: T0, linePeriodEnd: RENEWAL_AT }),
        { created: T0 + 1 },
      ),
      event("invoice.finalized", renewal("open"), { created: RENEWAL_AT }),
      event("invoice.payment_failed", renewal("open"), { created: FAILED_AT }),
      event("customer.subscription.updated", clocked("past_due", RENEWAL_AT), { created: FAILED_AT + 1 }),
    );
  });

  test("the clock's ready event fires the steps due at its time, once each; paying restores", async () => {
    expect(await account(t, accountId)).toMatchObject({ dunningStage: "overdue", dunningStep: "day_0_payment_failed", tier: "pro" });

    await deliverAll(t, clockAt(14));
    expect(await account(t, accountId)).toMatchObject({ dunningStage: "overdue", dunningStep: "day_14_reminder", tier: "pro" });

    await deliverAll(t, clockAt(30));
    expect(await account(t, accountId)).toMatchObject({ dunningStage: "suspended", dunningStep: "day_30_suspended", tier: "free" });

    await deliverAll(t, clockAt(45));
    // The same clock time again (a redelivery) and a later one: nothing fires twice.
    await deliverAll(t, clockAt(45), clockAt(46));
    expect(await account(t, accountId)).toMatchObject({ dunningStage: "restricted", dunningStep: "day_45_restricted", tier: "free" });
    const notices = await dunningNotices(t, accountId);
    // Day 14 overtook the unsent 3 and 7 reminders (recorded as skipped, not sent).
    expect(notices.map((n) => [n.kind, n.title])).toEqual([
      ["payment_failed", "Your payment failed"],
      ["dunning_reminder", "Payment overdue for 14 days"],
      ["dunning_suspended", "Your account is suspended"],
      ["dunning_restricted", "Your account is restricted"],
    ]);

    await deliverAll(t, event("invoice.paid", renewal("paid"), { created: FAILED_AT + 46 * DAY }));
    const restored = await account(t, accountId);
    expect(restored.tier).toBe("pro");
    expect(restored.dunningStage).toBeUndefined();
  });

  test("an account not overdue is left alone by the clock", async () => {
    await deliverAll(t, event("invoice.paid", renewal("paid"), { created: FAILED_AT + 60 }));
    await deliverAll(t, clockAt(31));
    const row = await account(t, accountId);
    expect(row.tier).toBe("pro");
    expect(row.dunningStage).toBeUndefined();
    expect(await dunningNotices(t, accountId)).toHaveLength(1);
  });
});
