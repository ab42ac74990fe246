/**
 * Tax and discounts (issue 12, parts 3 and 4): every Checkout Session
 * collects a billing address and tax IDs, saves them onto the customer and
 * asks Stripe for automatic tax per `BILLING_CONFIG.automaticTax`; mirrored
 * invoices keep their subtotal, discount and tax (integers in minor units,
 * each omitted when it is 0) and `billing.invoices` returns them to the
 * owner only, adding up to the total.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { invoiceAdjustments } from "../../convex/billing/model/invoiceSync";
import { BILLING_CONFIG } from "../../convex/billing/model/plans";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { T0, event, invoice, price, subscription } from "./fixtures/stripe";
import { deliverAll, invoiceRows, restoreEnvironment, useWebhookEnvironment } from "./fixtures/webhookHarness";
import { alice, bob, seedAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

describe("Checkout collects tax details", () => {
  let stripe: RecordingStripeServer;
  beforeEach(async () => {
    stripe = await startRecordingStripeServer();
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_tax");
    for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
    vi.stubEnv("SITE_URL", "https://app.example.test");
  });
  afterEach(async () => {
    await stripe.close();
    vi.unstubAllEnvs();
  });

  const TAX_FORM = {
    billing_address_collection: "required",
    "tax_id_collection[enabled]": "true",
    "customer_update[address]": "auto",
    "customer_update[name]": "auto",
    "automatic_tax[enabled]": "true",
    allow_promotion_codes: "true",
  };

  test("a subscription Checkout: required address, tax IDs, address and name saved on the customer, automatic tax, promotion codes", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    const [session] = stripe.requestsTo("POST", "/v1/checkout/sessions");
    expect(session!.form).toMatchObject({ mode: "subscription", ...TAX_FORM });
    // customer_update is only valid with an existing customer: one was passed.
    expect(session!.form.customer).toMatch(/^cus_test_/);
  });

  test("a token-pack Checkout asks the same (no promotion codes there)", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await t.withIdentity(alice).action(api.billing.createTopUpCheckoutSession, { packId: "pack_500" });
    const [session] = stripe.requestsTo("POST", "/v1/checkout/sessions");
    const { allow_promotion_codes: _promo, ...tax } = TAX_FORM;
    expect(session!.form).toMatchObject({ mode: "payment", ...tax });
    expect(session!.form.customer).toMatch(/^cus_test_/);
  });

  test("BILLING_CONFIG.automaticTax = false turns automatic tax off and still collects the address", async () => {
    const config = BILLING_CONFIG as { automaticTax: boolean };
    config.automaticTax = false;
    try {
      const t = makeTest();
      await seedAccount(t, alice);
      await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month" });
      const [session] = stripe.requestsTo("POST", "/v1/checkout/sessions");
      expect(session!.form).toMatchObject({ "automatic_tax[enabled]": "false", billing_address_collection: "required" });
    } finally {
      config.automaticTax = true;
    }
  });
});

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const ALICE_CUSTOMER = "cus_alice_tax";
const ALICE_SUB = "sub_alice_tax";

type Adjust = { discount?: number; exclusiveTax?: number; inclusiveTax?: number };

/**
 * Alice's first Pro invoice (2,900) as Stripe renders it with a discount and
 * taxes: `subtotal` before the invoice-level discount and exclusive tax,
 * `total` after both, amounts due and paid = total.
 */
function taxedInvoice(adjust: Adjust, fields: { id?: string; status?: "open" | "paid" } = {}): Stripe.Invoice {
  const { discount = 0, exclusiveTax = 0, inclusiveTax = 0 } = adjust;
  const status = fields.status ?? "paid";
  const base = invoice({
    id: fields.id ?? "in_taxed",
    customer: ALICE_CUSTOMER,
    subscription: ALICE_SUB,
    status,
    billingReason: "subscription_create",
    price: proMonthly,
    created: T0,
  });
  const subtotal = 2900;
  const total = subtotal - discount + exclusiveTax;
  const tax = (amount: number, behavior: "exclusive" | "inclusive"): Stripe.Invoice.TotalTax => ({
    amount,
    tax_behavior: behavior,
    tax_rate_details: { tax_rate: "txr_test" },
    taxability_reason: "standard_rated",
    taxable_amount: subtotal - discount,
    type: "tax_rate_details",
  });
  return {
    ...base,
    subtotal,
    subtotal_excluding_tax: subtotal - inclusiveTax,
    total,
    total_excluding_tax: total - exclusiveTax,
    total_discount_amounts: discount ? [{ amount: discount, discount: "di_test_welcome" }] : [],
    total_taxes: [...(exclusiveTax ? [tax(exclusiveTax, "exclusive")] : []), ...(inclusiveTax ? [tax(inclusiveTax, "inclusive")] : [])],
    amount_due: total,
    amount_paid: status === "paid" ? total : 0,
    amount_remaining: status === "paid" ? 0 : total,
  };
}

describe("invoices mirror discounts and tax", () => {
  let t: TestConvex;
  let aliceAccount: Id<"billingAccounts">;
  beforeEach(async () => {
    useWebhookEnvironment();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    t = makeTest();
    aliceAccount = await seedAccount(t, alice, { stripeCustomerId: ALICE_CUSTOMER });
    await seedAccount(t, bob, { stripeCustomerId: "cus_bob_tax" });
    await deliverAll(
      t,
      event("customer.subscription.created", subscription({ id: ALICE_SUB, customer: ALICE_CUSTOMER, status: "active", price: proMonthly, periodStart: T0 }), {
        created: T0 - 10,
      }),
    );
  });
  afterEach(() => {
    vi.restoreAllMocks();
    restoreEnvironment();
  });

  test("invoice.paid with a 20% discount and 10% tax: subtotal, discount and tax stored; the owner sees them adding up to the total", async () => {
    // 2,900 − 580 (20% off) = 2,320; + 232 tax (10%) = 2,552.
    await deliverAll(t, event("invoice.paid", taxedInvoice({ discount: 580, exclusiveTax: 232 }), { created: T0 + 2 }));
    const [row] = await invoiceRows(t, "in_taxed");
    expect(row).toMatchObject({ accountId: aliceAccount, subtotal: 2900, discount: 580, tax: 232, total: 2552, amountPaid: 2552 });
    expect(row!.taxIncluded).toBeUndefined();

    const [view] = await t.withIdentity(alice).query(api.billing.invoices, {});
    expect(view).toMatchObject({ id: "in_taxed", subtotal: 2900, discount: 580, tax: 232, total: 2552, amountPaid: 2552 });
    // Honest money: what the rows show adds up to what was charged.
    expect(view!.subtotal! - view!.discount! + view!.tax!).toBe(view!.total);
    expect(view!.total).toBe(view!.amountPaid);
    for (const amount of [view!.subtotal, view!.discount, view!.tax]) expect(Number.isInteger(amount)).toBe(true);

    // Another user sees none of it.
    expect(await t.withIdentity(bob).query(api.billing.invoices, {})).toEqual([]);
  });

  test("an invoice without discount or tax stores none of the fields (rows stay small)", async () => {
    await deliverAll(t, event("invoice.paid", taxedInvoice({}), { created: T0 + 2 }));
    const [row] = await invoiceRows(t, "in_taxed");
    expect(row!.total).toBe(2900);
    for (const field of ["subtotal", "discount", "tax", "taxIncluded"] as const) expect(row![field]).toBeUndefined();
    const [view] = await t.withIdentity(alice).query(api.billing.invoices, {});
    expect(view).not.toHaveProperty("subtotal");
    expect(view).not.toHaveProperty("discount");
    expect(view).not.toHaveProperty("tax");
  });

  test("inclusive tax is kept apart (taxIncluded): it is already inside the subtotal", async () => {
    // A price that includes 20% VAT: 2,900 of which 483 is tax; nothing is added on top.
    await deliverAll(t, event("invoice.paid", taxedInvoice({ inclusiveTax: 483 }), { created: T0 + 2 }));
    const [row] = await invoiceRows(t, "in_taxed");
    expect(row).toMatchObject({ total: 2900, taxIncluded: 483 });
    expect(row!.tax).toBeUndefined();
    expect(row!.subtotal).toBeUndefined();
  });

  test("the discount and tax follow the accepted snapshot, and an unchanged redelivery writes nothing", async () => {
    await deliverAll(t, event("invoice.finalized", taxedInvoice({ discount: 580 }, { status: "open" }), { created: T0 + 1 }));
    expect((await invoiceRows(t, "in_taxed"))[0]).toMatchObject({ status: "open", subtotal: 2900, discount: 580, total: 2320 });

    await deliverAll(t, event("invoice.paid", taxedInvoice({ discount: 580, exclusiveTax: 232 }), { created: T0 + 2 }));
    const paid = (await invoiceRows(t, "in_taxed"))[0]!;
    expect(paid).toMatchObject({ status: "paid", discount: 580, tax: 232, total: 2552 });

    // The same snapshot again (another event of the same payment): the row is untouched.
    await deliverAll(t, event("invoice.payment_succeeded", taxedInvoice({ discount: 580, exclusiveTax: 232 }), { created: T0 + 2 }));
    expect((await invoiceRows(t, "in_taxed"))[0]).toStrictEqual(paid);
  });

  test("invoiceAdjustments sums every discount and tax entry, exclusive and inclusive apart", () => {
    const base = taxedInvoice({});
    expect(
      invoiceAdjustments({
        ...base,
        subtotal: 10_000,
        total: 9_350,
        total_discount_amounts: [
          { amount: 1_000, discount: "di_1" },
          { amount: 500, discount: "di_2" },
        ],
        total_taxes: [
          ...taxedInvoice({ exclusiveTax: 510 }).total_taxes!,
          ...taxedInvoice({ exclusiveTax: 340 }).total_taxes!,
          ...taxedInvoice({ inclusiveTax: 99 }).total_taxes!,
        ],
      }),
    ).toStrictEqual({ subtotal: 10_000, discount: 1_500, tax: 850, taxIncluded: 99 });
    expect(invoiceAdjustments({ ...base, total_discount_amounts: null, total_taxes: null })).toStrictEqual({});
  });
});
