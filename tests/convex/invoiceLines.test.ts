/**
 * Invoice lines (issue 12, "Usage invoices"): every mirrored `invoice.*`
 * snapshot keeps the invoice's lines — description, quantity, amount (minor
 * units) and `usage` for the metered overage line, recognised through the
 * subscription mirror's `overagePriceId` / `overageItemId` — and
 * `billing.invoices` returns them to the invoice's owner only.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import { api } from "../../convex/_generated/api";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { MAX_STORED_LINES, storedLines } from "../../convex/billing/model/invoiceSync";
import { DAY, T0, event, invoice, price, subscription, type InvoiceInput } from "./fixtures/stripe";
import { deliverAll, eventRow, invoiceRows, restoreEnvironment, useWebhookEnvironment } from "./fixtures/webhookHarness";
import { alice, bob, seedAccount, type TestConvex } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
/** The metered overage price: no lookup key our catalogue sells, unknown to the price cache. */
const overage = price({ id: "price_overage_m", lookupKey: null, unitAmount: 12 });
const OVERAGE_ITEM = "si_overage";
const ALICE_CUSTOMER = "cus_alice_lines";
const ALICE_SUB = "sub_alice_lines";
const BOB_CUSTOMER = "cus_bob_lines";
const BOB_SUB = "sub_bob_lines";

type LinePatch = { description?: string | null; quantity?: number | null; subscriptionItem?: string; priceId?: string };

/** `line` with its description, quantity, subscription item or price id replaced (as Stripe would send them). */
function patchLine(line: Stripe.InvoiceLineItem, patch: LinePatch): Stripe.InvoiceLineItem {
  const details = line.parent?.subscription_item_details;
  return {
    ...line,
    ...(patch.description !== undefined ? { description: patch.description } : {}),
    ...(patch.quantity !== undefined ? { quantity: patch.quantity } : {}),
    parent:
      details && patch.subscriptionItem
        ? { ...line.parent!, subscription_item_details: { ...details, subscription_item: patch.subscriptionItem } }
        : line.parent,
    pricing:
      patch.priceId && line.pricing?.price_details
        ? { ...line.pricing, price_details: { ...line.pricing.price_details, price: patch.priceId } }
        : line.pricing,
  };
}

/**
 * Alice's monthly invoice: the Pro base fee and, when `withUsage`, 240
 * overage tokens at 12¢ (2,880), billed on the overage price through
 * `usageItem` (the overage item by default).
 */
function monthly(fields: Partial<InvoiceInput> & { withUsage?: boolean; usageItem?: string } = {}): Stripe.Invoice {
  const { withUsage = true, usageItem = OVERAGE_ITEM, ...rest } = fields;
  const base = { price: proMonthly, amount: 2900, start: T0, end: T0 + 30 * DAY };
  const usage = { price: overage, amount: 2880, start: T0 - 30 * DAY, end: T0 };
  const built = invoice({
    id: "in_monthly",
    customer: ALICE_CUSTOMER,
    subscription: ALICE_SUB,
    status: "paid",
    billingReason: "subscription_cycle",
    price: proMonthly,
    lines: withUsage ? [base, usage] : [base],
    created: T0,
    ...rest,
  });
  const [first, second] = built.lines.data;
  const data = [patchLine(first!, { description: "1 × Pro (at $29.00 / month)" })];
  if (second) data.push(patchLine(second, { description: "Overage tokens (240 × $0.12)", quantity: 240, subscriptionItem: usageItem }));
  return { ...built, lines: { ...built.lines, data } };
}

const BASE_LINE = { description: "1 × Pro (at $29.00 / month)", quantity: 1, amount: 2900 };
const USAGE_LINE = { description: "Overage tokens (240 × $0.12)", quantity: 240, amount: 2880, usage: true };

/** `customer.subscription.created` for the Pro subscription `id` of `customer`. */
function subscriptionCreated(id: string, customer: string) {
  return event("customer.subscription.created", subscription({ id, customer, status: "active", price: proMonthly, periodStart: T0 }), {
    created: T0 - 10,
  });
}

/** Sets the mirror's overage item and price, as the subscription sync does for a subscription carrying one. */
async function setOverage(t: TestConvex, stripeSubscriptionId: string, fields: Pick<Doc<"subscriptions">, "overageItemId" | "overagePriceId">) {
  await runInBilling(t, async (ctx) => {
    const row = await ctx.db
      .query("subscriptions")
      .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", stripeSubscriptionId))
      .unique();
    if (!row) throw new Error(`no mirror for ${stripeSubscriptionId}`);
    await ctx.db.patch("subscriptions", row._id, fields);
  });
}

async function storedLinesOf(t: TestConvex, stripeInvoiceId: string) {
  const rows = await invoiceRows(t, stripeInvoiceId);
  expect(rows).toHaveLength(1);
  return rows[0]!.lines;
}

describe("invoice lines", () => {
  let t: TestConvex;
  let aliceAccount: Id<"billingAccounts">;
  beforeEach(async () => {
    useWebhookEnvironment();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    t = makeTest();
    aliceAccount = await seedAccount(t, alice, { stripeCustomerId: ALICE_CUSTOMER });
    await deliverAll(t, subscriptionCreated(ALICE_SUB, ALICE_CUSTOMER));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    restoreEnvironment();
  });

  test("invoice.paid stores the base fee and the usage line, recognised by the mirror's overagePriceId", async () => {
    await setOverage(t, ALICE_SUB, { overagePriceId: overage.id });
    // The usage line's subscription item is not the mirror's (it names none): the price decides.
    const paid = event("invoice.paid", monthly({ usageItem: "si_other" }), { created: T0 + 2 });
    await deliverAll(t, paid);
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([BASE_LINE, USAGE_LINE]);
    // The usage line buys no plan: the event neither waited for its price nor failed.
    expect(await eventRow(t, paid.id)).toMatchObject({ status: "succeeded" });
    const coverage = await runInBilling(t, async (ctx) =>
      await ctx.db
        .query("paidCoverage")
        .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", "in_monthly"))
        .collect(),
    );
    expect(coverage.map((row) => row.stripePriceId)).toEqual([proMonthly.id]);
  });

  test("a usage line is recognised by the mirror's overageItemId too", async () => {
    await setOverage(t, ALICE_SUB, { overageItemId: OVERAGE_ITEM, overagePriceId: "price_overage_new" });
    await deliverAll(t, event("invoice.finalized", monthly({ status: "open" }), { created: T0 + 1 }));
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([BASE_LINE, USAGE_LINE]);
  });

  test("without an overage item on the mirror, no line is usage", async () => {
    await deliverAll(t, event("invoice.finalized", monthly({ status: "open" }), { created: T0 + 1 }));
    const { usage: _usage, ...plain } = USAGE_LINE;
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([BASE_LINE, plain]);
  });

  test("lines follow the accepted snapshots: finalized → newer open snapshot → paid; a late finalized changes nothing", async () => {
    await setOverage(t, ALICE_SUB, { overageItemId: OVERAGE_ITEM, overagePriceId: overage.id });
    const baseOnly = monthly({ status: "open", withUsage: false });
    await deliverAll(t, event("invoice.finalized", baseOnly, { created: T0 }));
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([BASE_LINE]);

    // A newer snapshot of the same status carries other lines: they replace the stored ones.
    await deliverAll(t, event("invoice.payment_failed", monthly({ status: "open", amountPaid: 0 }), { created: T0 + 1 }));
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([BASE_LINE, USAGE_LINE]);

    await deliverAll(
      t,
      event("invoice.paid", monthly({ status: "paid" }), { created: T0 + 3600 }),
      // A late redelivery of the first snapshot (a new event id): an earlier state, ignored.
      event("invoice.finalized", baseOnly, { created: T0 }),
    );
    const rows = await invoiceRows(t, "in_monthly");
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "paid", amountPaid: 5780 });
    expect(rows[0]!.lines).toStrictEqual([BASE_LINE, USAGE_LINE]);
  });

  test("a later snapshot with the same lines leaves them, and one without a line list keeps them", async () => {
    await setOverage(t, ALICE_SUB, { overagePriceId: overage.id });
    await deliverAll(t, event("invoice.paid", monthly(), { created: T0 + 2 }));
    const before = (await invoiceRows(t, "in_monthly"))[0]!;

    // Same snapshot, same second (another event of the same payment): nothing to write.
    await deliverAll(t, event("invoice.payment_succeeded", monthly(), { created: T0 + 2 }));
    expect((await invoiceRows(t, "in_monthly"))[0]).toStrictEqual(before);

    const { lines: _lines, ...withoutLines } = monthly();
    await deliverAll(t, event("invoice.paid", withoutLines as Stripe.Invoice, { created: T0 + 5 }));
    const after = (await invoiceRows(t, "in_monthly"))[0]!;
    expect(after.eventCreated).toBe(T0 + 5);
    expect(after.lines).toStrictEqual([BASE_LINE, USAGE_LINE]);
  });

  test("Stripe's nulls: a missing description falls back, a missing quantity is left out", async () => {
    await setOverage(t, ALICE_SUB, { overagePriceId: overage.id });
    const paid = monthly();
    const [base, usage] = paid.lines.data;
    const lines = [patchLine(base!, { description: null, quantity: null }), patchLine(usage!, { description: null })];
    await deliverAll(t, event("invoice.paid", { ...paid, lines: { ...paid.lines, data: lines } }, { created: T0 + 2 }));
    expect(await storedLinesOf(t, "in_monthly")).toStrictEqual([
      { description: "Invoice item", amount: 2900 },
      { description: "Overage tokens", quantity: 240, amount: 2880, usage: true },
    ]);
  });

  test("a one-off invoice (no subscription) keeps its lines, none of them usage; a credit line stays negative", async () => {
    const oneOff = invoice({
      id: "in_one_off",
      customer: ALICE_CUSTOMER,
      subscription: null,
      status: "open",
      billingReason: "manual",
      price: proMonthly,
      lines: [
        { price: proMonthly, amount: 2900, start: T0, end: T0 + 30 * DAY },
        { price: proMonthly, amount: -1000, start: T0, end: T0 + 30 * DAY, proration: true },
      ],
    });
    await deliverAll(t, event("invoice.finalized", oneOff, { created: T0 + 1 }));
    expect(await storedLinesOf(t, "in_one_off")).toStrictEqual([
      { description: "1 × plan (at $29)", quantity: 1, amount: 2900 },
      { description: "1 × plan (at $-10)", quantity: 1, amount: -1000 },
    ]);
  });

  test("billing.invoices returns the caller's lines and never another user's invoices", async () => {
    await setOverage(t, ALICE_SUB, { overagePriceId: overage.id });
    const bobAccount = await seedAccount(t, bob, { stripeCustomerId: BOB_CUSTOMER });
    expect(bobAccount).not.toBe(aliceAccount);
    await deliverAll(t, subscriptionCreated(BOB_SUB, BOB_CUSTOMER));
    await deliverAll(
      t,
      event("invoice.paid", monthly(), { created: T0 + 2 }),
      event("invoice.paid", monthly({ id: "in_bob", customer: BOB_CUSTOMER, subscription: BOB_SUB, withUsage: false }), {
        created: T0 + 3,
      }),
    );

    const alices = await t.withIdentity(alice).query(api.billing.invoices, {});
    expect(alices.map((view) => view.id)).toEqual(["in_monthly"]);
    expect(alices[0]!.lines).toStrictEqual([BASE_LINE, USAGE_LINE]);

    const bobs = await t.withIdentity(bob).query(api.billing.invoices, {});
    expect(bobs.map((view) => view.id)).toEqual(["in_bob"]);
    expect(bobs[0]!.lines).toStrictEqual([BASE_LINE]);

    expect(await t.query(api.billing.invoices, {})).toEqual([]);
  });

  test("an invoice mirrored before lines were kept has none in the view", async () => {
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("invoices", {
        stripeInvoiceId: "in_legacy",
        accountId: aliceAccount,
        status: "paid",
        amountDue: 2900,
        amountPaid: 2900,
        amountRemaining: 0,
        currency: "usd",
        createdAt: T0 * 1000,
        eventCreated: T0,
      });
    });
    const [view] = await t.withIdentity(alice).query(api.billing.invoices, {});
    expect(view?.id).toBe("in_legacy");
    expect(view?.lines).toBeUndefined();
  });
});

describe("storedLines", () => {
  test("keeps the first 20 lines and stores nothing for none", () => {
    const many = invoice({
      id: "in_many",
      customer: ALICE_CUSTOMER,
      subscription: null,
      status: "open",
      billingReason: "manual",
      price: proMonthly,
      lines: Array.from({ length: 25 }, (_, i) => ({ price: proMonthly, amount: 100 + i, start: T0, end: T0 + DAY })),
    });
    const stored = storedLines(many.lines.data, null);
    expect(stored).toHaveLength(MAX_STORED_LINES);
    expect(stored?.at(-1)?.amount).toBe(119);
    expect(storedLines([], null)).toBeUndefined();
  });
});
