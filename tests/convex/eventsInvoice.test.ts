/**
 * invoice.* handlers: the invoice mirror (forward-only status, both API
 * shapes, credit and balance fields) and the allowance window opened by a
 * paid invoice, exactly once.
 */
import { beforeEach, describe, expect, test } from "vitest";
import type Stripe from "stripe";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { DAY, T0, event, invoice, price, subscription, type InvoiceInput } from "./fixtures/stripe";
import {
  balance,
  createAccount,
  deliverAll,
  deliverOk,
  drain,
  eventRow,
  invoiceRows,
  ledgerRows,
  runDueNow,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { runInBilling } from "../lib/billingComponent";
import { consume } from "../../convex/billing/model/ledger";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_invoices";
const SUB = "sub_inv";

function inv(fields: Partial<InvoiceInput> = {}) {
  return invoice({
    id: "in_main",
    customer: CUSTOMER,
    subscription: SUB,
    status: "paid",
    billingReason: "subscription_create",
    price: proMonthly,
    linePeriodStart: T0,
    linePeriodEnd: T0 + 30 * DAY,
    ...fields,
  });
}

/** The subscription mirror (and the price id → tier record) the invoices rely on. */
function subscriptionCreated(created = T0) {
  return event(
    "customer.subscription.created",
    subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proMonthly, periodStart: T0 }),
    { created },
  );
}

describe("invoice events", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
  });

  async function send(...events: Stripe.Event[]) {
    await deliverAll(t, ...events);
  }

  test("mirrors the invoice: minor units, ms times, URLs, subscription from parent", async () => {
    const paid = inv({ amountDue: 2900, created: T0 });
    await send(subscriptionCreated(), event("invoice.paid", paid, { created: T0 + 2 }));
    const rows = await invoiceRows(t, "in_main");
    expect(rows).toHaveLength(1);
    // The customer is the account's (`accountId`); the mirror no longer repeats it.
    expect(rows[0]).toMatchObject({
      accountId,
      stripeSubscriptionId: SUB,
      status: "paid",
      billingReason: "subscription_create",
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt: T0 * 1000,
      periodStart: paid.period_start * 1000,
      periodEnd: paid.period_end * 1000,
      hostedInvoiceUrl: paid.hosted_invoice_url,
      invoicePdf: paid.invoice_pdf,
      number: paid.number,
    });
  });

  test("reads the subscription id from pre-2025 payloads (invoice.subscription)", async () => {
    const modern = inv({ status: "open", billingReason: "manual" });
    const legacy = { ...modern, parent: null, subscription: SUB } as Stripe.Invoice;
    await send(event("invoice.finalized", legacy));
    expect((await invoiceRows(t, "in_main"))[0]?.stripeSubscriptionId).toBe(SUB);
  });

  test("status only moves forward: open → paid, then late open / failed / void changes nothing", async () => {
    const manual = (fields: Partial<InvoiceInput>) => inv({ subscription: null, billingReason: "manual", ...fields });
    await send(
      event("invoice.finalized", manual({ status: "open" }), { created: T0 }),
      event("invoice.paid", manual({ status: "paid" }), { created: T0 + 10 }),
      event("invoice.finalized", manual({ status: "open" }), { created: T0 + 5 }),
      event("invoice.payment_failed", manual({ status: "open", amountPaid: 0 }), {
        created: T0 + 10,
      }),
      event("invoice.voided", manual({ status: "void" }), { created: T0 + 20 }),
    );
    const rows = await invoiceRows(t, "in_main");
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe("paid");
    expect(rows[0]?.amountPaid).toBe(2900);
  });

  test("an older event carrying a later status still moves the status forward", async () => {
    await send(
      event("invoice.payment_failed", inv({ status: "open", billingReason: "manual", amountPaid: 0 }), { created: T0 + 10 }),
      event("invoice.marked_uncollectible", inv({ status: "uncollectible", billingReason: "manual", amountPaid: 0 }), {
        created: T0 + 5,
      }),
    );
    expect((await invoiceRows(t, "in_main"))[0]?.status).toBe("uncollectible");
  });

  test("invoice.paid delivered twice (two event ids) opens the window once", async () => {
    await send(subscriptionCreated());
    const first = event("invoice.paid", inv(), { created: T0 + 2 });
    const second = event("invoice.paid", inv(), { created: T0 + 2 });
    await send(first, first, second);
    expect(await eventRow(t, second.id)).toMatchObject({ status: "succeeded" });
    const grants = (await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant");
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ amount: 150, sourceKey: `window:${T0 * 1000}` });
    expect(await balance(t, accountId)).toMatchObject({
      allowance: 150,
      balance: 150,
      periodKey: `window:${T0 * 1000}`,
      windowAnchor: T0 * 1000,
      windowTier: "pro",
      periodStart: T0 * 1000,
      periodEnd: (T0 + 30 * DAY) * 1000,
    });
  });

  test("a renewal (subscription_cycle) starts a new period and expires the unused allowance", async () => {
    await send(subscriptionCreated(), event("invoice.paid", inv(), { created: T0 + 2 }));
    // 40 tokens used during the first period.
    await runInBilling(t, async (ctx) => await consume(ctx, accountId, { sourceKey: "use1", cost: 40, feature: "chat" }));
    const renewal = inv({
      id: "in_renewal",
      billingReason: "subscription_cycle",
      created: T0 + 30 * DAY,
      linePeriodStart: T0 + 30 * DAY,
      linePeriodEnd: T0 + 60 * DAY,
    });
    await send(event("invoice.paid", renewal, { created: T0 + 30 * DAY }));
    // The unused 110 expire; Pro rolls 75 of them over as a grant to the end of the new window.
    expect(await balance(t, accountId)).toMatchObject({
      allowance: 150,
      used: 0,
      balance: 225,
      periodKey: `window:${(T0 + 30 * DAY) * 1000}`,
    });
    const rows = await ledgerRows(t, accountId);
    expect(rows.filter((r) => r.reason === "period_expire").map((r) => r.amount)).toEqual([-110]);
    expect(rows.filter((r) => r.reason === "rollover").map((r) => r.amount)).toEqual([75]);
  });

  test("a same-tier proration invoice (subscription_update) in the window grants nothing more", async () => {
    await send(
      subscriptionCreated(),
      event("invoice.paid", inv(), { created: T0 + 2 }),
      event(
        "invoice.paid",
        inv({ id: "in_proration", billingReason: "subscription_update", proration: true, linePeriodStart: T0 + DAY }),
        { created: T0 + DAY },
      ),
    );
    expect((await invoiceRows(t, "in_proration"))[0]?.status).toBe("paid");
    expect((await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant")).toHaveLength(1);
    expect((await ledgerRows(t, accountId)).filter((r) => r.reason === "plan_change")).toHaveLength(0);
  });

  test("a billing-interval change (monthly → yearly, a full new-period line) keeps this window's allowance", async () => {
    // Monthly → yearly resets Stripe's billing cycle: one subscription_update
    // invoice credits the unused month and bills the new year. The window
    // and its allowance stay: switching interval never opens one early.
    const proYearly = price({ id: "price_pro_y", lookupKey: "pro_yearly", unitAmount: 29000, interval: "year" });
    await send(subscriptionCreated(), event("invoice.paid", inv(), { created: T0 + 2 }));
    const switchAt = T0 + 10 * DAY;
    const switched = inv({
      id: "in_switch",
      billingReason: "subscription_update",
      price: proYearly,
      created: switchAt,
      lines: [
        { price: proMonthly, amount: -1933, start: switchAt, end: T0 + 30 * DAY, proration: true },
        { price: proYearly, amount: 29000, start: switchAt, end: switchAt + 365 * DAY },
      ],
    });
    await send(
      event(
        "customer.subscription.updated",
        subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proYearly, periodStart: switchAt }),
        { created: switchAt },
      ),
      event("invoice.paid", switched, { created: switchAt }),
    );
    expect(await balance(t, accountId)).toMatchObject({
      allowance: 150,
      used: 0,
      periodKey: `window:${T0 * 1000}`,
      periodStart: T0 * 1000,
      periodEnd: (T0 + 30 * DAY) * 1000,
    });
    const grants = (await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant");
    expect(grants.map((r) => r.sourceKey)).toEqual([`window:${T0 * 1000}`]);
    expect((await invoiceRows(t, "in_switch"))[0]).toMatchObject({ total: 27067, amountDue: 27067 });
  });

  test("invoice.paid before its subscription is known waits, then grants once the subscription arrives", async () => {
    const paid = event("invoice.paid", inv(), { created: T0 + 2 });
    await deliverOk(t, paid);
    const waiting = await eventRow(t, paid.id);
    expect(waiting).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "subscription:sub_inv" });
    expect(waiting?.lastError).toMatch(/subscription sub_inv of invoice in_main is not known yet/);
    // Decided before writing: no half-written invoice mirror.
    expect(await invoiceRows(t, "in_main")).toHaveLength(0);

    await deliverOk(t, subscriptionCreated()); // applied on receipt; wakes the invoice
    await runDueNow(t);
    expect(await eventRow(t, paid.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(await balance(t, accountId)).toMatchObject({ allowance: 150, periodKey: `window:${T0 * 1000}` });
    await drain(t);
    expect((await ledgerRows(t, accountId)).filter((r) => r.reason === "period_grant")).toHaveLength(1);
  });

  test("an invoice of a customer with no account waits for that customer", async () => {
    const e = event("invoice.finalized", inv({ customer: "cus_nobody", status: "open" }));
    await deliverOk(t, e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", waitingFor: "customer:cus_nobody" });
    expect(await invoiceRows(t, "in_main")).toHaveLength(0);
  });
});
