/**
 * A trial ended early (`trial_end: "now"`, docs/TRIALS.md "Ending a trial
 * early"), webhook side: Stripe re-anchors billing at the moment the trial
 * ended and bills the first paid period on a `subscription_update` invoice.
 * Every delivery order of the events it produces ends the same: one paid
 * grant, the trial allowance expired, the tier the plan's, the paid window
 * anchored at the early trial end (not the trial's start, not its planned end).
 */
import type Stripe from "stripe";
import { describe, expect, test, vi } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { windowContaining } from "../../convex/billing/model/allowance";
import * as ledger from "../../convex/billing/model/ledger";
import { PLANS } from "../../convex/billing/model/plans";
import { runInBilling } from "../lib/billingComponent";
import { permutations } from "./billingFixtures";
import { DAY, T0, event, invoice, price, subscription, type SubscriptionInput } from "./fixtures/stripe";
import { account, balance, accountWithPrices, deliverAll, ledgerRows, type TestConvex, useWebhookSuite } from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_early";
const SUB = "sub_early";
const MS = 1000;
const TRIAL_END = T0 + 14 * DAY;
/** The customer starts the paid plan on day 3 of the trial. */
const EARLY = T0 + 3 * DAY + 3600;
const PAID_END = EARLY + 31 * DAY;
const TRIAL_TOKENS = PLANS.pro.trial!.tokens;
const PAID_TOKENS = PLANS.pro.tokensPerPeriod;

function sub(fields: Partial<SubscriptionInput> = {}): Stripe.Subscription {
  const built = subscription({
    id: SUB,
    customer: CUSTOMER,
    status: "trialing",
    price: proMonthly,
    periodStart: T0,
    periodEnd: TRIAL_END,
    trialStart: T0,
    trialEnd: TRIAL_END,
    ...fields,
  });
  return { ...built, start_date: T0, default_payment_method: "pm_card_visa" };
}

const created = () => event("customer.subscription.created", sub(), { created: T0 });
const trialInvoice = () =>
  event(
    "invoice.paid",
    invoice({
      id: "in_trial_0",
      customer: CUSTOMER,
      subscription: SUB,
      status: "paid",
      billingReason: "subscription_create",
      price: proMonthly,
      lines: [{ price: proMonthly, amount: 0, start: T0, end: TRIAL_END }],
      created: T0,
    }),
    { created: T0 },
  );
/** `customer.subscription.updated` of the early end: active, re-anchored, `trial_end` = now. */
const ended = () => {
  const s = sub({ status: "active", periodStart: EARLY, periodEnd: PAID_END, trialEnd: EARLY });
  return event("customer.subscription.updated", { ...s, billing_cycle_anchor: EARLY }, {
    created: EARLY,
    previousAttributes: { status: "trialing", trial_end: TRIAL_END, billing_cycle_anchor: TRIAL_END },
  });
};
const paidInvoice = (type: "invoice.finalized" | "invoice.paid") =>
  event(
    type,
    invoice({
      id: "in_early_1",
      customer: CUSTOMER,
      subscription: SUB,
      status: type === "invoice.paid" ? "paid" : "open",
      billingReason: "subscription_update",
      price: proMonthly,
      lines: [{ price: proMonthly, amount: 2900, start: EARLY, end: PAID_END }],
      created: EARLY,
    }),
    { created: EARLY },
  );

async function fresh(): Promise<{ t: TestConvex; accountId: Id<"billingAccounts"> }> {
  const t = makeTest();
  return { t, accountId: await accountWithPrices(t, CUSTOMER, [proMonthly]) };
}

async function state(t: TestConvex, accountId: Id<"billingAccounts">) {
  const b = await balance(t, accountId);
  const invariant = await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId));
  expect(invariant.problems).toEqual([]);
  const rows = await ledgerRows(t, accountId);
  return {
    tier: (await account(t, accountId)).tier,
    allowance: b?.allowance ?? 0,
    periodKey: b?.periodKey,
    periodStart: b?.periodStart,
    periodEnd: b?.periodEnd,
    grants: rows.filter((row) => row.reason === "period_grant").map((row) => row.amount),
    expired: rows.filter((row) => row.reason === "period_expire").map((row) => row.amount),
  };
}

const EXPECTED = {
  tier: "pro",
  allowance: PAID_TOKENS,
  // The first paid window starts where Stripe re-anchored billing: the early trial end.
  periodKey: `window:${EARLY * MS}`,
  periodStart: EARLY * MS,
  // A month on the anchor's grid, as Stripe renews.
  periodEnd: windowContaining(EARLY * MS, EARLY * MS).end,
  grants: [TRIAL_TOKENS, PAID_TOKENS],
  expired: [-TRIAL_TOKENS],
};

describe("a trial ended early", () => {
  useWebhookSuite();

  test("every delivery order of subscription.updated, invoice.finalized and invoice.paid, replayed, ends the same", async () => {
    for (const order of permutations([ended(), paidInvoice("invoice.finalized"), paidInvoice("invoice.paid")])) {
      vi.setSystemTime((T0 + 60) * MS);
      const { t, accountId } = await fresh();
      await deliverAll(t, created(), trialInvoice());
      expect((await state(t, accountId)).allowance).toBe(TRIAL_TOKENS);
      vi.setSystemTime((EARLY + 5) * MS);
      await deliverAll(t, ...order, ...order);
      expect({ order: order.map((e) => e.type), ...(await state(t, accountId)) }).toEqual({ order: order.map((e) => e.type), ...EXPECTED });
    }
  });

  test("before the paid invoice arrives nothing is granted: the trial allowance and tier stay", async () => {
    vi.setSystemTime((T0 + 60) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, created(), trialInvoice());
    vi.setSystemTime((EARLY + 5) * MS);
    await deliverAll(t, ended(), paidInvoice("invoice.finalized"));
    expect(await state(t, accountId)).toMatchObject({ tier: "pro", allowance: TRIAL_TOKENS, periodKey: `trial:${SUB}`, grants: [TRIAL_TOKENS], expired: [] });
  });

  test("the trial's $0 invoice delivered after the early end is still a trial line: no paid coverage from the trial's start", async () => {
    vi.setSystemTime((EARLY + 5) * MS);
    const { t, accountId } = await fresh();
    await deliverAll(t, created(), ended(), paidInvoice("invoice.paid"), trialInvoice());
    const got = await state(t, accountId);
    expect(got).toMatchObject({ tier: "pro", allowance: PAID_TOKENS, periodKey: `window:${EARLY * MS}`, grants: [PAID_TOKENS] });
    const coverage = await runInBilling(t, async (ctx) =>
      await ctx.db.query("paidCoverage").withIndex("by_accountId_and_end", (q) => q.eq("accountId", accountId)).collect(),
    );
    expect(coverage.map((row) => ({ start: row.start / MS, trial: row.trial ?? false }))).toEqual(
      expect.arrayContaining([
        { start: EARLY, trial: false },
        { start: T0, trial: true },
      ]),
    );
  });
});
