/**
 * Coupons and promotion codes through the SDK: CRUD, a promotion code typed
 * on the hosted Checkout page (the discounted first invoice), an invalid
 * code, `discounts` at create, once / repeating / forever on renewals (test
 * clock), a customer-level coupon, and the plan-change preview.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, postForm, priceId, startHarness, subscriptionCheckout, type Harness } from "./harness.ts";

let h: Harness;
/** 2026-01-15T00:00:00Z. */
const T0 = Math.floor(Date.UTC(2026, 0, 15) / 1000);
const month = (n: number) => Math.floor(Date.UTC(2026, n, 15) / 1000);

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

async function promo(code: string, coupon: Stripe.CouponCreateParams, extra: Partial<Stripe.PromotionCodeCreateParams> = {}) {
  const c = await h.stripe.coupons.create(coupon);
  const p = await h.stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: c.id }, code, ...extra });
  return { coupon: c, code: p };
}

async function clockCustomer() {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: T0 });
  const customer = await h.stripe.customers.create({ email: "promo@example.com", test_clock: clock.id });
  return { clock, customer };
}

/** Pays a Pro monthly Checkout with `code` typed in the promotion code field. */
async function subscribeWithCode(customer: string, code: string): Promise<Stripe.Subscription> {
  const session = await subscriptionCheckout(h.stripe, customer);
  const res = await payCheckout(h.sim, session, "4242424242424242", { promotionCode: code });
  expect(res.status).toBe(303);
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  return h.stripe.subscriptions.retrieve(done.subscription as string);
}

async function invoiceAt(clock: Stripe.TestHelpers.TestClock, sub: string, at: number): Promise<Stripe.Invoice> {
  await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: at + 60 });
  const renewed = await h.stripe.subscriptions.retrieve(sub);
  return h.stripe.invoices.retrieve(renewed.latest_invoice as string);
}

describe("coupons and promotion codes", () => {
  it("creates, retrieves, lists and deletes coupons; promotion codes list by code, case-insensitively", async () => {
    const coupon = await h.stripe.coupons.create({ id: "SPRING", percent_off: 20, duration: "repeating", duration_in_months: 3, name: "Spring" });
    expect(coupon).toMatchObject({ id: "SPRING", object: "coupon", percent_off: 20, amount_off: null, duration: "repeating", duration_in_months: 3, valid: true, times_redeemed: 0 });
    expect((await h.stripe.coupons.retrieve("SPRING")).name).toBe("Spring");
    const code = await h.stripe.promotionCodes.create({ promotion: { type: "coupon", coupon: "SPRING" }, code: "Spring20", max_redemptions: 5 });
    expect(code).toMatchObject({ object: "promotion_code", code: "Spring20", active: true, promotion: { type: "coupon", coupon: "SPRING" } });
    const found = await h.stripe.promotionCodes.list({ code: "SPRING20" });
    expect(found.data.map((p) => p.id)).toEqual([code.id]);
    await expect(h.stripe.coupons.create({ amount_off: 500, duration: "once" })).rejects.toThrow(/currency/);
    await expect(h.stripe.coupons.create({ percent_off: 10, duration: "repeating" })).rejects.toThrow(/duration_in_months/);
    expect(await h.stripe.coupons.del("SPRING")).toMatchObject({ id: "SPRING", deleted: true });
    await expect(h.stripe.coupons.retrieve("SPRING")).rejects.toThrow(/No such coupon/);
  });

  it("hosted Checkout: a valid code shows the discount and new total; the first invoice and the charge are discounted", async () => {
    await promo("SAVE20", { percent_off: 20, duration: "once" });
    const customer = await h.stripe.customers.create({ email: "a@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    const page = await postForm(`${h.sim.url}/checkout/${session.id}/apply`, { promotionCode: "save20", cardNumber: "4242424242424242" });
    const html = await page.text();
    expect(html).toContain('data-testid="checkout-promotion-code-applied">SAVE20<');
    expect(html).toMatch(/data-testid="checkout-discount">−\$5\.80</);
    expect(html).toMatch(/data-testid="checkout-total">\$23\.20</);
    expect(html).toContain('value="4242424242424242"');
    const open = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(open).toMatchObject({ amount_subtotal: 2900, amount_total: 2320, total_details: { amount_discount: 580, amount_tax: 0 } });

    expect((await payCheckout(h.sim, session, "4242424242424242")).status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    const sub = await h.stripe.subscriptions.retrieve(done.subscription as string);
    const invoice = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ subtotal: 2900, total_excluding_tax: 2320, total: 2320, amount_due: 2320, amount_paid: 2320, status: "paid" });
    expect(invoice.total_discount_amounts).toEqual([{ amount: 580, discount: invoice.discounts[0] }]);
    expect(invoice.lines.data[0]?.discount_amounts).toEqual([{ amount: 580, discount: invoice.discounts[0] }]);
    const pi = await h.stripe.paymentIntents.list({ customer: customer.id });
    expect(pi.data[0]?.amount).toBe(2320);
    const code = (await h.stripe.promotionCodes.list({ code: "SAVE20" })).data[0];
    expect(code?.times_redeemed).toBe(1);
    // once: used up by the first invoice.
    expect(sub.discounts).toEqual([]);
  });

  it("an invalid or inactive code shows 'This code is invalid.' and changes nothing; paying with it charges nothing", async () => {
    const { code } = await promo("OLD", { percent_off: 50, duration: "forever" });
    await h.stripe.promotionCodes.update(code.id, { active: false });
    const customer = await h.stripe.customers.create({ email: "b@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    for (const typed of ["NOPE", "old"]) {
      const page = await postForm(`${h.sim.url}/checkout/${session.id}/apply`, { promotionCode: typed });
      const html = await page.text();
      expect(html).toContain('data-testid="checkout-promotion-code-error">This code is invalid.<');
      expect(html).toMatch(/data-testid="checkout-total">\$29\.00</);
    }
    const res = await payCheckout(h.sim, session, "4242424242424242", { promotionCode: "NOPE" });
    expect(res.status).toBe(400);
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe("open");
  });

  it("discounts at create (not with allow_promotion_codes); amount_off in the session currency", async () => {
    const coupon = await h.stripe.coupons.create({ amount_off: 500, currency: "usd", duration: "forever" });
    const customer = await h.stripe.customers.create({ email: "c@example.com" });
    await expect(subscriptionCheckout(h.stripe, customer.id, "pro_monthly", { discounts: [{ coupon: coupon.id }] })).rejects.toThrow(
      "You may only specify one of these parameters: allow_promotion_codes, discounts.",
    );
    const session = await subscriptionCheckout(h.stripe, customer.id, "pro_monthly", { discounts: [{ coupon: coupon.id }], allow_promotion_codes: undefined });
    expect(session).toMatchObject({ amount_total: 2400, discounts: [{ coupon: coupon.id, promotion_code: null }] });
    await payCheckout(h.sim, session, "4242424242424242");
    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    const sub = await h.stripe.subscriptions.retrieve(done.subscription as string);
    expect(sub.discounts).toHaveLength(1);
    expect((await h.stripe.invoices.retrieve(sub.latest_invoice as string)).amount_paid).toBe(2400);
  });

  it("durations on renewals: once (first invoice only), repeating (3 months), forever", async () => {
    await promo("ONCE", { percent_off: 50, duration: "once" });
    await promo("THREE", { percent_off: 10, duration: "repeating", duration_in_months: 3 });
    await promo("ALWAYS", { amount_off: 900, currency: "usd", duration: "forever" });
    const totals: Record<string, number[]> = {};
    for (const code of ["ONCE", "THREE", "ALWAYS"]) {
      const { clock, customer } = await clockCustomer();
      const sub = await subscribeWithCode(customer.id, code);
      const first = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
      totals[code] = [first.total];
      for (const n of [1, 2, 3]) totals[code].push((await invoiceAt(clock, sub.id, month(n))).total);
    }
    expect(totals).toEqual({ ONCE: [1450, 2900, 2900, 2900], THREE: [2610, 2610, 2610, 2900], ALWAYS: [2000, 2000, 2000, 2000] });
  });

  it("a customer-level coupon applies to the customer's later invoices and to the preview", async () => {
    const { clock, customer } = await clockCustomer();
    const sub = await subscribeWithCode(customer.id, "");
    const coupon = await h.stripe.coupons.create({ percent_off: 25, duration: "forever" });
    const updated = await h.stripe.customers.update(customer.id, { coupon: coupon.id } as Stripe.CustomerUpdateParams);
    expect(updated.discount).toMatchObject({ object: "discount", source: { type: "coupon", coupon: coupon.id }, customer: customer.id });
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(preview).toMatchObject({ subtotal: 2900, total: 2175 });
    const renewal = await invoiceAt(clock, sub.id, month(1));
    expect(renewal).toMatchObject({ subtotal: 2900, total: 2175, amount_paid: 2175 });
    await h.stripe.customers.deleteDiscount(customer.id);
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ discount: null });
  });

  it("a plan-change preview shows the subscription's discount", async () => {
    const { customer } = await clockCustomer();
    await promo("FOREVER10", { percent_off: 10, duration: "forever" });
    const sub = await subscribeWithCode(customer.id, "FOREVER10");
    const elite = await priceId(h.stripe, "elite_monthly");
    const preview = await h.stripe.invoices.createPreview({
      subscription: sub.id,
      subscription_details: { items: [{ id: sub.items.data[0]!.id, price: elite }], proration_behavior: "none" },
    });
    expect(preview).toMatchObject({ subtotal: 9900, total: 8910 });
    expect(preview.total_discount_amounts?.[0]?.amount).toBe(990);
  });
});
