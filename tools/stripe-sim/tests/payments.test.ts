/** Charges: the Charge behind every succeeded PaymentIntent. */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, priceId, startHarness, subscribe, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

const TOP_UP = { kind: "top_up", packId: "pack_100", accountId: "acct_1" };

/** A paid token top-up (payment-mode Checkout, $10.00) like the app's; returns its PaymentIntent. */
async function topUp(): Promise<Stripe.PaymentIntent> {
  const customer = await h.stripe.customers.create({ email: "topup@example.com" });
  const session = await h.stripe.checkout.sessions.create({
    mode: "payment",
    customer: customer.id,
    client_reference_id: "acct_1",
    metadata: TOP_UP,
    payment_intent_data: { metadata: TOP_UP },
    line_items: [{ price: await priceId(h.stripe, "tokens_100"), quantity: 1 }],
    success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "http://127.0.0.1:5173/billing",
  });
  const res = await payCheckout(h.sim, session, "4242424242424242");
  expect(res.status).toBe(303);
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  const pi = await h.stripe.paymentIntents.retrieve(done.payment_intent as string);
  await h.sim.waitForDeliveries();
  h.receiver.events.length = 0;
  return pi;
}

async function stripeError(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) return err;
    throw err;
  }
  throw new Error("expected a Stripe error");
}

describe("charges", () => {
  it("a payment-mode Checkout leaves a succeeded Charge as the PaymentIntent's latest_charge, with its metadata", async () => {
    const pi = await topUp();
    expect(pi.latest_charge).toMatch(/^ch_/);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({
      object: "charge",
      amount: 1000,
      amount_captured: 1000,
      amount_refunded: 0,
      refunded: false,
      disputed: false,
      captured: true,
      paid: true,
      status: "succeeded",
      currency: "usd",
      customer: pi.customer,
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      metadata: TOP_UP,
      payment_method_details: { type: "card", card: { brand: "visa", last4: "4242" } },
    });
    expect(charge.created).toBe(pi.created);
    const expanded = await h.stripe.paymentIntents.retrieve(pi.id, { expand: ["latest_charge"] });
    expect((expanded.latest_charge as Stripe.Charge).id).toBe(charge.id);
    const listed = await h.stripe.charges.list({ payment_intent: pi.id });
    expect(listed.data.map((c) => c.id)).toEqual([charge.id]);
  });

  it("a paid subscription invoice's PaymentIntent has its Charge too", async () => {
    const { subscription } = await subscribe(h);
    const payments = await h.stripe.invoicePayments.list({ invoice: subscription.latest_invoice as string });
    const pi = await h.stripe.paymentIntents.retrieve(payments.data[0]?.payment.payment_intent as string);
    expect(pi.status).toBe("succeeded");
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount: 2900, amount_refunded: 0, payment_intent: pi.id, customer: subscription.customer, status: "succeeded" });
  });

  it("an unknown charge is Stripe's 404", async () => {
    const err = await stripeError(h.stripe.charges.retrieve("ch_nope"));
    expect(err).toMatchObject({ statusCode: 404, type: "StripeInvalidRequestError", code: "resource_missing", message: "No such charge: 'ch_nope'" });
  });
});
