/**
 * Automatic tax (the simulator's deterministic rates: docs/STRIPE_SIMULATOR.md
 * "Tax") on Checkout and renewals, reverse charge, and currency options:
 * a EUR Checkout producing EUR invoices, a missing currency option, and the
 * one-currency-per-customer refusal.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, postForm, startHarness, subscriptionCheckout, type Harness } from "./harness.ts";

let h: Harness;
const T0 = Math.floor(Date.UTC(2026, 0, 15) / 1000);

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

async function clockCustomer(extra: Partial<Stripe.CustomerCreateParams> = {}) {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await h.stripe.customers.create({ email: "tax@example.com", test_clock: clock.id, ...extra });
  return { clock, customer };
}

/** A monthly price of 29.00 USD with EUR 27.00 and GBP 24.00 options. */
async function multiCurrencyPrice(): Promise<Stripe.Price> {
  return h.stripe.prices.create({
    product: "test_tier_pro",
    currency: "usd",
    unit_amount: 2900,
    recurring: { interval: "month" },
    currency_options: { eur: { unit_amount: 2700 }, gbp: { unit_amount: 2400 } },
  });
}

describe("automatic tax", () => {
  it("Checkout asks for the address, shows the tax, and the first and renewal invoices are taxed (GB 20%)", async () => {
    const { clock, customer } = await clockCustomer();
    const session = await subscriptionCheckout(h.stripe, customer.id, "pro_monthly", {
      automatic_tax: { enabled: true },
      billing_address_collection: "required",
      customer_update: { address: "auto" },
      tax_id_collection: { enabled: true },
    });
    const before = await (await fetch(session.url!)).text();
    expect(before).toContain('data-testid="checkout-country"');
    expect(before).toContain('data-testid="checkout-tax-pending"');
    // Paying without an address is refused.
    expect((await payCheckout(h.sim, session, "4242424242424242")).status).toBe(402);
    const page = await (await postForm(`${h.sim.url}/checkout/${session.id}/apply`, { billingCountry: "GB", billingPostalCode: "SW1A 1AA" })).text();
    expect(page).toMatch(/data-testid="checkout-tax" data-rate="20">\$5\.80</);
    expect(page).toMatch(/data-testid="checkout-total">\$34\.80</);
    expect(await h.stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ amount_total: 3480, total_details: { amount_tax: 580 } });

    expect((await payCheckout(h.sim, session, "4242424242424242", { billingCountry: "GB", billingPostalCode: "SW1A 1AA" })).status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    const sub = await h.stripe.subscriptions.retrieve(done.subscription as string);
    expect(sub.automatic_tax.enabled).toBe(true);
    const first = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(first).toMatchObject({ subtotal: 2900, total_excluding_tax: 2900, total: 3480, amount_paid: 3480 });
    expect(first.total_taxes).toEqual([
      { amount: 580, tax_behavior: "exclusive", taxability_reason: "standard_rated", taxable_amount: 2900, type: "tax_rate_details", tax_rate_details: { tax_rate: "txr_sim_GB" } },
    ]);
    expect(first.lines.data[0]?.taxes?.[0]?.amount).toBe(580);
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).address?.country).toBe("GB");

    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: Math.floor(Date.UTC(2026, 1, 15) / 1000) + 60 });
    const renewed = await h.stripe.subscriptions.retrieve(sub.id);
    const renewal = await h.stripe.invoices.retrieve(renewed.latest_invoice as string);
    expect(renewal).toMatchObject({ billing_reason: "subscription_cycle", subtotal: 2900, total: 3480, amount_paid: 3480 });
  });

  it("tax is on the discounted amount; an EU VAT id outside IE is reverse charged; the default rate is 10%", async () => {
    const coupon = await h.stripe.coupons.create({ percent_off: 50, duration: "forever" });
    const de = await h.stripe.customers.create({ email: "de@example.com", address: { country: "DE" } });
    const s1 = await subscriptionCheckout(h.stripe, de.id, "pro_monthly", { automatic_tax: { enabled: true }, discounts: [{ coupon: coupon.id }], allow_promotion_codes: undefined });
    expect(s1).toMatchObject({ amount_subtotal: 2900, total_details: { amount_discount: 1450, amount_tax: 276 }, amount_total: 1726 });

    const vat = await h.stripe.customers.create({ email: "fr@example.com", address: { country: "FR" }, tax_id_data: [{ type: "eu_vat", value: "FR12345678901" }] });
    const s2 = await subscriptionCheckout(h.stripe, vat.id, "pro_monthly", { automatic_tax: { enabled: true } });
    await payCheckout(h.sim, s2, "4242424242424242");
    const sub = await h.stripe.subscriptions.retrieve((await h.stripe.checkout.sessions.retrieve(s2.id)).subscription as string);
    const invoice = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice.total).toBe(2900);
    expect(invoice.total_taxes?.[0]).toMatchObject({ amount: 0, taxability_reason: "reverse_charge" });
    expect(invoice.customer_tax_ids).toEqual([{ type: "eu_vat", value: "FR12345678901" }]);

    const jp = await h.stripe.customers.create({ email: "jp@example.com", address: { country: "JP" } });
    const s3 = await subscriptionCheckout(h.stripe, jp.id, "pro_monthly", { automatic_tax: { enabled: true } });
    expect(s3.total_details?.amount_tax).toBe(290);
  });

  it("an existing customer without an address needs customer_update[address]=auto", async () => {
    const customer = await h.stripe.customers.create({ email: "x@example.com" });
    await expect(subscriptionCheckout(h.stripe, customer.id, "pro_monthly", { automatic_tax: { enabled: true } })).rejects.toThrow(
      /Automatic tax calculation in Checkout requires a valid address on the Customer/,
    );
  });
});

describe("currencies", () => {
  it("prices carry currency_options; a EUR Checkout bills the EUR amount on EUR invoices, and renewals stay in EUR", async () => {
    const price = await multiCurrencyPrice();
    expect(price.currency_options).toMatchObject({ usd: { unit_amount: 2900 }, eur: { unit_amount: 2700 }, gbp: { unit_amount: 2400 } });
    const { clock, customer } = await clockCustomer();
    const session = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      currency: "eur",
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "http://127.0.0.1:5173/billing/success",
    });
    expect(session).toMatchObject({ currency: "eur", amount_total: 2700 });
    const html = await (await fetch(session.url!)).text();
    expect(html).toMatch(/data-testid="checkout-total">EUR 27\.00</);
    await payCheckout(h.sim, session, "4242424242424242");
    const sub = await h.stripe.subscriptions.retrieve((await h.stripe.checkout.sessions.retrieve(session.id)).subscription as string);
    expect(sub.currency).toBe("eur");
    const first = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(first).toMatchObject({ currency: "eur", total: 2700, amount_paid: 2700 });
    expect(first.lines.data[0]).toMatchObject({ currency: "eur", amount: 2700 });
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).currency).toBe("eur");
    const pis = await h.stripe.paymentIntents.list({ customer: customer.id });
    expect(pis.data[0]).toMatchObject({ currency: "eur", amount: 2700 });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: Math.floor(Date.UTC(2026, 1, 15) / 1000) + 60 });
    const renewal = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(renewal).toMatchObject({ currency: "eur", total: 2700 });
  });

  it("refuses a currency a price lacks, and a second currency on a billed customer", async () => {
    const customer = await h.stripe.customers.create({ email: "usd@example.com" });
    await expect(subscriptionCheckout(h.stripe, customer.id, "pro_monthly", { currency: "eur" })).rejects.toThrow(/currency_options/);
    const session = await subscriptionCheckout(h.stripe, customer.id);
    await payCheckout(h.sim, session, "4242424242424242");
    const price = await multiCurrencyPrice();
    const err = await h.stripe.checkout.sessions
      .create({ mode: "subscription", customer: customer.id, currency: "eur", line_items: [{ price: price.id, quantity: 1 }], success_url: "http://127.0.0.1:5173/x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((err as Stripe.errors.StripeError).message).toBe(
      "You cannot combine currencies on a single customer. This customer has an active subscription, subscription schedule, discount, quote, or invoice item with currency usd.",
    );
    await expect(h.stripe.subscriptions.create({ customer: customer.id, currency: "gbp", items: [{ price: price.id }] })).rejects.toThrow(/combine currencies/);
  });
});
