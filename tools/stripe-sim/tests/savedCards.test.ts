/**
 * Which Checkout leaves a card to charge off-session, as in Stripe: a
 * subscription always (attached, the subscription's `default_payment_method`);
 * a payment only with `payment_intent_data.setup_future_usage` or when the
 * customer ticks "save" (`saved_payment_method_options`). Then the browser
 * journeys that make a later off-session charge decline (0341) or need
 * 3-D Secure (3184), and `invoice_creation` paid by the session's own payment.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, postForm, priceId, startHarness, subscribe, type Harness } from "./harness.ts";

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

/** A payment-mode top-up Checkout for a new customer, like the app's, with `extra` session params. */
async function topUpSession(extra: Partial<Stripe.Checkout.SessionCreateParams> = {}): Promise<{ customer: string; session: Stripe.Checkout.Session }> {
  const customer = await h.stripe.customers.create({ email: "buyer@example.com" });
  const session = await h.stripe.checkout.sessions.create({
    mode: "payment",
    customer: customer.id,
    metadata: TOP_UP,
    payment_intent_data: { metadata: TOP_UP },
    line_items: [{ price: await priceId(h.stripe, "tokens_100"), quantity: 1 }],
    success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "http://127.0.0.1:5173/billing",
    ...extra,
  });
  return { customer: customer.id, session };
}

/** Pays the hosted page (approving 3-D Secure when asked) and returns the completed session. */
async function pay(session: Stripe.Checkout.Session, card = "4242424242424242", extra: Record<string, string> = {}): Promise<Stripe.Checkout.Session> {
  let res = await payCheckout(h.sim, session, card, extra);
  const location = res.headers.get("location") ?? "";
  if (location.startsWith("/3ds/")) res = await postForm(`${h.sim.url}${location}`, { action: "approve" });
  expect(res.status).toBe(303);
  await h.sim.waitForDeliveries();
  return h.stripe.checkout.sessions.retrieve(session.id);
}

async function cardsOf(customer: string): Promise<Stripe.PaymentMethod[]> {
  return (await h.stripe.customers.listPaymentMethods(customer, { type: "card" })).data;
}

function offSession(customer: string, pm: string): Promise<Stripe.PaymentIntent> {
  return h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm, off_session: true, confirm: true });
}

async function cardError(p: Promise<unknown>): Promise<Stripe.errors.StripeCardError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeCardError) return err;
    throw err;
  }
  throw new Error("expected a card error");
}

describe("Checkout in subscription mode", () => {
  it("attaches the card and makes it the subscription's default_payment_method (not the customer's invoice default)", async () => {
    const { customer, subscription } = await subscribe(h);
    const cards = await cardsOf(customer.id);
    expect(cards).toHaveLength(1);
    expect(subscription.default_payment_method).toBe(cards[0]?.id);
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ invoice_settings: { default_payment_method: null } });
    expect((await offSession(customer.id, cards[0]?.id ?? "")).status).toBe("succeeded");
  });
});

describe("Checkout in payment mode", () => {
  it("without setup_future_usage the card pays but is not saved; events as an API PaymentIntent's", async () => {
    const { customer, session } = await topUpSession();
    h.receiver.events.length = 0;
    const done = await pay(session);
    expect(await cardsOf(customer)).toEqual([]);
    const pi = await h.stripe.paymentIntents.retrieve(done.payment_intent as string);
    expect(pi).toMatchObject({ status: "succeeded", setup_future_usage: null, metadata: TOP_UP });
    expect((await h.stripe.paymentMethods.retrieve(pi.payment_method as string)).customer).toBeNull();
    expect(h.receiver.types()).toEqual(["payment_intent.created", "charge.succeeded", "payment_intent.succeeded", "checkout.session.completed"]);
  });

  it("with payment_intent_data.setup_future_usage=off_session the card is saved and can be charged off-session", async () => {
    const { customer, session } = await topUpSession({ payment_intent_data: { metadata: TOP_UP, setup_future_usage: "off_session" } });
    h.receiver.events.length = 0;
    const done = await pay(session);
    const cards = await cardsOf(customer);
    expect(cards).toHaveLength(1);
    expect(cards[0]?.allow_redisplay).toBe("limited");
    const pi = await h.stripe.paymentIntents.retrieve(done.payment_intent as string);
    expect(pi).toMatchObject({ setup_future_usage: "off_session", payment_method: cards[0]?.id });
    expect(h.receiver.types()).toEqual([
      "payment_method.attached",
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.succeeded",
      "checkout.session.completed",
    ]);
    expect((await offSession(customer, cards[0]?.id ?? "")).status).toBe("succeeded");
  });

  it("saved_payment_method_options.payment_method_save=enabled offers a box: the card is saved only when ticked", async () => {
    const options = { saved_payment_method_options: { payment_method_save: "enabled" as const } };
    const first = await topUpSession(options);
    expect(first.session.saved_payment_method_options).toMatchObject({ payment_method_save: "enabled", allow_redisplay_filters: ["always"] });
    expect(await (await fetch(first.session.url ?? "")).text()).toContain('data-testid="checkout-save-card"');
    await pay(first.session);
    expect(await cardsOf(first.customer)).toEqual([]);

    const second = await topUpSession(options);
    await pay(second.session, "4242424242424242", { saveCard: "on" });
    const cards = await cardsOf(second.customer);
    expect(cards).toHaveLength(1);
    expect(cards[0]?.allow_redisplay).toBe("always");

    const plain = await topUpSession();
    expect(await (await fetch(plain.session.url ?? "")).text()).not.toContain("checkout-save-card");
  });

  it("invoice_creation: the invoice is paid by the session's PaymentIntent, one Charge in all", async () => {
    const { customer, session } = await topUpSession({ invoice_creation: { enabled: true, invoice_data: { description: "100 tokens" } } });
    const done = await pay(session);
    const payments = await h.stripe.invoicePayments.list({ invoice: done.invoice as string });
    expect(payments.data.map((p) => p.payment.payment_intent)).toEqual([done.payment_intent]);
    expect((await h.stripe.charges.list({ customer })).data).toHaveLength(1);
    expect((await h.stripe.paymentIntents.list({ customer })).data).toHaveLength(1);
  });
});

describe("browser journeys to a card that fails off-session", () => {
  const SAVE = { payment_intent_data: { metadata: TOP_UP, setup_future_usage: "off_session" as const } };

  it("4000 0000 0000 0341 pays at Checkout, then declines off-session", async () => {
    const { customer, session } = await topUpSession(SAVE);
    await pay(session, "4000 0000 0000 0341");
    const [card] = await cardsOf(customer);
    const err = await cardError(offSession(customer, card?.id ?? ""));
    expect(err).toMatchObject({ statusCode: 402, code: "card_declined", decline_code: "generic_decline" });
  });

  it("4000 0027 6000 3184 passes 3-D Secure at Checkout, then needs it again off-session (authentication_required)", async () => {
    const { customer, session } = await topUpSession(SAVE);
    await pay(session, "4000 0027 6000 3184");
    const [card] = await cardsOf(customer);
    const err = await cardError(offSession(customer, card?.id ?? ""));
    expect(err).toMatchObject({ statusCode: 402, code: "authentication_required", decline_code: "authentication_required" });
  });

  it("a subscription paid with 0341 leaves a card whose off-session charge declines", async () => {
    const { customer } = await subscribe(h, { card: "4000000000000341" });
    const [card] = await cardsOf(customer.id);
    expect((await cardError(offSession(customer.id, card?.id ?? ""))).code).toBe("card_declined");
  });
});
