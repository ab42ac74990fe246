/**
 * Free trials (docs/TRIALS.md, `model/trials.ts`): the trial allowance once
 * at the start, the paid allowance once at conversion in every delivery
 * order, one trial per account, the `trial_will_end` notification once, and
 * each card-less end behaviour leaving no paid access.
 */
import type Stripe from "stripe";
import { describe, expect, test, vi } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { assertTrialAvailable, trialCheckoutParams } from "../../convex/billing/model/billingActions";
import type { CallerAccount } from "../../convex/billing/model/billingModel";
import * as ledger from "../../convex/billing/model/ledger";
import { PLANS } from "../../convex/billing/model/plans";
import { runInBilling } from "../lib/billingComponent";
import { expectCode, permutations } from "./billingFixtures";
import { DAY, T0, event, invoice, price, subscription, type SubscriptionInput } from "./fixtures/stripe";
import {
  account,
  balance,
  accountWithPrices,
  deliverAll,
  ledgerRows,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const starterMonthly = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const CUSTOMER = "cus_trial";
const SUB = "sub_trial";
const MS = 1000;
const TRIAL_END = T0 + 14 * DAY;
const PAID_END = TRIAL_END + 31 * DAY;

/** The trial subscription as Stripe sends it: trialing over [T0, TRIAL_END), no card unless `card`. */
function sub(fields: Partial<SubscriptionInput> = {}, card = false): Stripe.Subscription {
  const built = subscription({
    id: SUB,
    customer: CUSTOMER,
    status: "trialing",
    price: starterMonthly,
    periodStart: T0,
    periodEnd: TRIAL_END,
    trialStart: T0,
    trialEnd: TRIAL_END,
    ...fields,
  });
  return { ...built, start_date: T0, default_payment_method: card ? "pm_card_visa" : null };
}

const created = (card = false) => event("customer.subscription.created", sub({}, card), { created: T0 });
/** Stripe's first invoice of a trial: paid, $0, one line "Trial period for Starter" over the trial. */
const trialInvoice = () =>
  event(
    "invoice.paid",
    invoice({
      id: "in_trial_0",
      customer: CUSTOMER,
      subscription: SUB,
      status: "paid",
      billingReason: "subscription_create",
      price: starterMonthly,
      lines: [{ price: starterMonthly, amount: 0, start: T0, end: TRIAL_END }],
      created: T0,
    }),
    { created: T0 },
  );
const converted = () =>
  event("customer.subscription.updated", sub({ status: "active", periodStart: TRIAL_END, periodEnd: PAID_END }, true), {
    created: TRIAL_END,
    previousAttributes: { status: "trialing" },
  });
const firstPaid = () =>
  event(
    "invoice.paid",
    invoice({
      id: "in_trial_1",
      customer: CUSTOMER,
      subscription: SUB,
      status: "paid",
      billingReason: "subscription_cycle",
      price: starterMonthly,
      lines: [{ price: starterMonthly, amount: 900, start: TRIAL_END, end: PAID_END }],
      created: TRIAL_END,
    }),
    { created: TRIAL_END },
  );

async function fresh(): Promise<{ t: TestConvex; accountId: Id<"billingAccounts"> }> {
  const t = makeTest();
  return { t, accountId: await accountWithPrices(t, CUSTOMER, [starterMonthly]) };
}

async function state(t: TestConvex, accountId: Id<"billingAccounts">) {
  const b = await balance(t, accountId);
  const invariant = await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId));
  expect(invariant.problems).toEqual([]);
  const grants = (await ledgerRows(t, accountId)).filter((row) => row.reason === "period_grant").map((row) => row.amount);
  return { tier: (await account(t, accountId)).tier, allowance: b?.allowance ?? 0, periodKey: b?.periodKey, grants };
}

async function notifications(t: TestConvex, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) =>
    await ctx.db
      .query("notifications")
      .withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", accountId))
      .collect(),
  );
}

describe("trials", () => {
  useWebhookSuite();

  test("the plan config: Starter a 14-day card-less trial with a smaller allowance; Checkout's parameters follow it", () => {
    const trial = PLANS.starter.trial!;
    expect(trial).toMatchObject({ days: 14, cardRequired: false });
    expect(trial.tokens).toBeLessThan(PLANS.starter.tokensPerPeriod);
    expect(trialCheckoutParams(trial)).toEqual({
      subscription_data: { trial_period_days: 14, trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } } },
      payment_method_collection: "if_required",
    });
    expect(trialCheckoutParams(PLANS.pro.trial!)).not.toHaveProperty("payment_method_collection");
  });

  test("trial start grants the trial allowance once and the plan's tier, in every order and on replay", async () => {
    for (const order of permutations([created(), trialInvoice()])) {
      vi.setSystemTime((T0 + 60) * MS);
      const { t, accountId } = await fresh();
      await deliverAll(t, ...order, ...order);
      expect(await state(t, accountId)).toEqual({
        tier: "starter",
        allowance: PLANS.starter.trial!.tokens,
        periodKey: `trial:${SUB}`,
        grants: [PLANS.starter.trial!.tokens],
      });
      expect((await account(t, accountId)).trialUsedAt).toBe(T0 * MS);
    }
  });

  test("conversion grants the paid allowance once, in every delivery order of subscription.updated and invoice.paid", async () => {
    const events = [converted(), firstPaid()];
    for (const order of permutations(events)) {
      vi.setSystemTime((T0 + 60) * MS);
      const { t, accountId } = await fresh();
      await deliverAll(t, created(), trialInvoice());
      vi.setSystemTime((TRIAL_END + 60) * MS);
      await deliverAll(t, ...order, ...order);
      expect({ order: order.map((e) => e.type), ...(await state(t, accountId)) }).toEqual({
        order: order.map((e) => e.type),
        tier: "starter",
        allowance: PLANS.starter.tokensPerPeriod,
        // The paid windows are anchored at the trial end, where Stripe re-anchors billing.
        periodKey: `window:${TRIAL_END * MS}`,
        grants: [PLANS.starter.trial!.tokens, PLANS.starter.tokensPerPeriod],
      });
    }
  });

  test("the bell says the trial started; the conversion never says 'your plan is now Free' in between, in every delivery order", async () => {
    for (const order of permutations([converted(), firstPaid()])) {
      vi.setSystemTime((T0 + 60) * MS);
      const { t, accountId } = await fresh();
      await deliverAll(t, created(), trialInvoice());
      const started = (await notifications(t, accountId)).filter((n) => n.kind === "plan_changed");
      expect(started.map((n) => n.title)).toEqual(["Your Starter trial has started"]);
      expect(started[0]!.body).toContain("trial allowance");
      vi.setSystemTime((TRIAL_END + 60) * MS);
      await deliverAll(t, ...order, ...order);
      const titles = (await notifications(t, accountId)).filter((n) => n.kind === "plan_changed").map((n) => n.title);
      expect({ order: order.map((e) => e.type), titles }).toEqual({
        order: order.map((e) => e.type),
        // Subscription first, the account reads Free until the money arrives (docs/TRIALS.md): not an ending to announce.
        titles: ["Your Starter trial has started"],
      });
    }
  });

  test("a trial invoice delivered after the conversion grants nothing more", async () => {
    vi.setSystemTime((TRIAL_END + 60) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, converted(), firstPaid(), created(), trialInvoice());
    expect(await state(t, accountId)).toMatchObject({
      tier: "starter",
      allowance: PLANS.starter.tokensPerPeriod,
      grants: [PLANS.starter.tokensPerPeriod],
    });
  });

  test("trial_will_end notifies once, even when Stripe sends it again", async () => {
    vi.setSystemTime((T0 + 60) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, created(), trialInvoice());
    const reminder = (id: string) => event("customer.subscription.trial_will_end", sub(), { id, created: TRIAL_END - 3 * DAY });
    vi.setSystemTime((TRIAL_END - 3 * DAY + 60) * MS);
    await deliverAll(t, reminder("evt_twe_1"), reminder("evt_twe_1"), reminder("evt_twe_2"));
    // (The trial's start has its own plan_changed notice.)
    const rows = (await notifications(t, accountId)).filter((n) => n.kind === "trial_ending");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "trial_ending", dedupeKey: `trial_ending:${SUB}`, critical: false, link: "/billing" });
    expect(rows[0]!.body).toContain("Add a card");
  });

  test("trial_will_end with a card on file says the card will be charged", async () => {
    vi.setSystemTime((T0 + 60) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, created(true), trialInvoice());
    await deliverAll(t, event("customer.subscription.trial_will_end", sub({}, true), { created: TRIAL_END - 3 * DAY }));
    const rows = (await notifications(t, accountId)).filter((n) => n.kind === "trial_ending");
    expect(rows.map((r) => r.body)).toEqual([expect.stringContaining("card on file will then be charged")]);
  });

  describe("a card-less trial that ends leaves no paid access and grants no paid allowance", () => {
    async function endWith(...events: Stripe.Event[]) {
      vi.setSystemTime((T0 + 60) * MS);
      const { t, accountId } = await fresh();
      await deliverAll(t, created(), trialInvoice());
      vi.setSystemTime((TRIAL_END + 60) * MS);
      await deliverAll(t, ...events);
      return await state(t, accountId);
    }
    const trialOnly = { allowance: PLANS.starter.trial!.tokens, grants: [PLANS.starter.trial!.tokens] };

    test("cancel: canceled, free", async () => {
      const ended = event("customer.subscription.deleted", sub({ status: "canceled", endedAt: TRIAL_END, canceledAt: TRIAL_END }), {
        created: TRIAL_END,
      });
      expect(await endWith(ended)).toMatchObject({ tier: "free", ...trialOnly });
    });

    test("pause: paused, free", async () => {
      const paused = event("customer.subscription.updated", sub({ status: "paused" }), {
        created: TRIAL_END,
        previousAttributes: { status: "trialing" },
      });
      expect(await endWith(paused, event("customer.subscription.paused", sub({ status: "paused" }), { created: TRIAL_END }))).toMatchObject({
        tier: "free",
        ...trialOnly,
      });
    });

    test("create_invoice: past_due with the invoice open, free (a trial leaves no grace), in either order", async () => {
      const pastDue = event("customer.subscription.updated", sub({ status: "past_due", periodStart: TRIAL_END, periodEnd: PAID_END }), {
        created: TRIAL_END,
        previousAttributes: { status: "trialing" },
      });
      const failed = event(
        "invoice.payment_failed",
        invoice({
          id: "in_trial_1",
          customer: CUSTOMER,
          subscription: SUB,
          status: "open",
          billingReason: "subscription_cycle",
          price: starterMonthly,
          lines: [{ price: starterMonthly, amount: 900, start: TRIAL_END, end: PAID_END }],
          created: TRIAL_END,
        }),
        { created: TRIAL_END },
      );
      for (const order of permutations([pastDue, failed])) {
        expect(await endWith(...order)).toMatchObject({ tier: "free", ...trialOnly });
      }
    });
  });

  test("a second trial that slips past Checkout (a stale session completed later) grants no second trial allowance", async () => {
    vi.setSystemTime((T0 + 60) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, created(), trialInvoice());
    // The first trial ends without a card (cancelled); an older Checkout session for another trial is completed later.
    const SECOND = "sub_trial_again";
    const start = TRIAL_END + DAY;
    const end = start + 14 * DAY;
    vi.setSystemTime((start + 60) * MS);
    const again = subscription({ id: SECOND, customer: CUSTOMER, status: "trialing", price: starterMonthly, periodStart: start, periodEnd: end, trialStart: start, trialEnd: end });
    await deliverAll(
      t,
      event("customer.subscription.deleted", sub({ status: "canceled", canceledAt: TRIAL_END, endedAt: TRIAL_END }), { created: TRIAL_END }),
      event("customer.subscription.created", { ...again, default_payment_method: null }, { created: start }),
      event(
        "invoice.paid",
        invoice({
          id: "in_trial_again",
          customer: CUSTOMER,
          subscription: SECOND,
          status: "paid",
          billingReason: "subscription_create",
          price: starterMonthly,
          lines: [{ price: starterMonthly, amount: 0, start, end }],
          created: start,
        }),
        { created: start },
      ),
    );
    const { grants, tier } = await state(t, accountId);
    expect(grants).toEqual([PLANS.starter.trial!.tokens]);
    // Nor the plan's tier: the second trial's $0 lines are not coverage.
    expect(tier).toBe("free");
    expect((await account(t, accountId)).trialUsedAt).toBe(T0 * MS);
  });

  test("a second trial is refused with TRIAL_ALREADY_USED; a plan without a trial with INVALID_ARGUMENT", async () => {
    const caller: CallerAccount = {
      accountId: "acct" as Id<"billingAccounts">,
      tier: "free",
      stripeCustomerId: null,
      deletedCustomerId: null,
      email: null,
      name: null,
      hasBillableSubscription: false,
      trialUsedAt: null,
    };
    expect(assertTrialAvailable(caller, "starter")).toEqual(PLANS.starter.trial);
    await expectCode(Promise.resolve().then(() => assertTrialAvailable({ ...caller, trialUsedAt: T0 * MS }, "starter")), "TRIAL_ALREADY_USED");
    await expectCode(Promise.resolve().then(() => assertTrialAvailable(caller, "elite")), "INVALID_ARGUMENT");
  });
});
