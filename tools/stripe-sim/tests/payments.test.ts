/**
 * Charges, refunds and disputes: the Charge behind every succeeded
 * PaymentIntent, `POST /v1/refunds` (full, partial, refused, idempotent) and
 * disputes opened and decided through `/_sim/disputes`, each with its events
 * delivered signed to the receiver and listed by `GET /v1/events`.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, priceId, simPost, startHarness, startReceiver, subscribe, type Harness } from "./harness.ts";

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

/** Events the receiver got (verified signatures) of `type`, in delivery order. */
function received<T extends Stripe.Event["type"]>(type: T): Extract<Stripe.Event, { type: T }>[] {
  return h.receiver.events.filter((e): e is Extract<Stripe.Event, { type: T }> => e.type === type);
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

describe("refunds", () => {
  it("refunds the whole charge by default: charge.refunded carries the refunded charge, refund.created the Refund", async () => {
    const pi = await topUp();
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, reason: "requested_by_customer" });
    expect(refund).toMatchObject({
      object: "refund",
      amount: 1000,
      charge: pi.latest_charge,
      payment_intent: pi.id,
      currency: "usd",
      status: "succeeded",
      reason: "requested_by_customer",
    });
    expect(refund.id).toMatch(/^re_/);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 1000, refunded: true });
    await h.sim.waitForDeliveries();
    expect(h.receiver.types()).toEqual(["charge.refunded", "refund.created"]);
    const [event] = received("charge.refunded");
    expect(event?.data.object).toMatchObject({
      id: charge.id,
      object: "charge",
      amount: 1000,
      amount_refunded: 1000,
      refunded: true,
      payment_intent: pi.id,
      metadata: TOP_UP,
    });
    expect(event?.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
    expect(received("refund.created")[0]?.data.object).toMatchObject({ id: refund.id, amount: 1000, charge: charge.id });
    // Listed by the events API like every other event.
    const listed = await h.stripe.events.list({ type: "charge.refunded" });
    expect(listed.data.map((e) => e.id)).toEqual([event?.id]);
    expect((await h.stripe.refunds.retrieve(refund.id)).amount).toBe(1000);
  });

  it("partial refunds add up: each charge.refunded carries the cumulative amount_refunded", async () => {
    const pi = await topUp();
    const first = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    const second = await h.stripe.refunds.create({ charge: pi.latest_charge as string, amount: 200 });
    expect([first.amount, second.amount]).toEqual([300, 200]);
    let charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 500, refunded: false });
    await h.sim.waitForDeliveries();
    const events = received("charge.refunded");
    expect(events.map((e) => [e.data.object.amount_refunded, e.data.object.refunded])).toEqual([
      [300, false],
      [500, false],
    ]);
    expect(events.map((e) => e.data.previous_attributes)).toEqual([{ amount_refunded: 0 }, { amount_refunded: 300 }]);
    // Without an amount: the rest.
    const rest = await h.stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(500);
    charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ amount_refunded: 1000, refunded: true });
    const all = await h.stripe.refunds.list({ payment_intent: pi.id });
    expect(all.data.map((r) => r.id)).toEqual([rest.id, second.id, first.id]);
  });

  it("refuses to refund more than is left, and anything once refunded in full, changing nothing", async () => {
    const pi = await topUp();
    let err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id, amount: 1200 }));
    expect(err).toMatchObject({ statusCode: 400, type: "StripeInvalidRequestError", param: "amount", message: "Refund amount ($12.00) is greater than charge amount ($10.00)" });
    await h.stripe.refunds.create({ payment_intent: pi.id, amount: 600 });
    err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id, amount: 500 }));
    expect(err).toMatchObject({ statusCode: 400, param: "amount", message: "Refund amount ($5.00) is greater than unrefunded amount on charge ($4.00)" });
    await h.stripe.refunds.create({ payment_intent: pi.id });
    err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    expect(err).toMatchObject({ statusCode: 400, type: "StripeInvalidRequestError", code: "charge_already_refunded", message: `Charge ${pi.latest_charge as string} has already been refunded.` });
    err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id, amount: 0 }));
    expect(err).toMatchObject({ statusCode: 400, code: "parameter_invalid_integer", param: "amount" });
    err = await stripeError(h.stripe.refunds.create({}));
    expect(err).toMatchObject({ statusCode: 400, code: "parameter_missing" });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.amount_refunded).toBe(1000);
    await h.sim.waitForDeliveries();
    expect(received("charge.refunded").map((e) => e.data.object.amount_refunded)).toEqual([600, 1000]);
  });

  it("a repeated Idempotency-Key replays the first refund: one Refund, one charge.refunded", async () => {
    const pi = await topUp();
    const params = { payment_intent: pi.id, amount: 400 };
    const a = await h.stripe.refunds.create(params, { idempotencyKey: "refund-once" });
    const b = await h.stripe.refunds.create(params, { idempotencyKey: "refund-once" });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await h.stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(400);
    const err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id, amount: 100 }, { idempotencyKey: "refund-once" }));
    expect(err).toMatchObject({ statusCode: 400, type: "StripeIdempotencyError" });
    await h.sim.waitForDeliveries();
    expect(received("charge.refunded")).toHaveLength(1);
    expect(received("charge.refunded")[0]?.request?.idempotency_key).toBe("refund-once");
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data).toHaveLength(1);
  });
});

describe("disputes", () => {
  type SimDispute = Stripe.Dispute;

  it("opened through /_sim/disputes, closed won: created + funds_withdrawn, then closed + funds_reinstated", async () => {
    const pi = await topUp();
    const dispute = (await simPost(h.sim, "/_sim/disputes", { payment_intent: pi.id })) as SimDispute;
    expect(dispute).toMatchObject({
      object: "dispute",
      amount: 1000,
      charge: pi.latest_charge,
      payment_intent: pi.id,
      currency: "usd",
      status: "needs_response",
      reason: "fraudulent",
      is_charge_refundable: false,
    });
    expect(dispute.id).toMatch(/^dp_/);
    expect(await h.stripe.disputes.retrieve(dispute.id)).toMatchObject({ id: dispute.id, status: "needs_response" });
    expect((await h.stripe.charges.retrieve(pi.latest_charge as string)).disputed).toBe(true);
    // A disputed charge cannot be refunded.
    const err = await stripeError(h.stripe.refunds.create({ payment_intent: pi.id }));
    expect(err).toMatchObject({ statusCode: 400, code: "charge_disputed" });

    const closed = (await simPost(h.sim, `/_sim/disputes/${dispute.id}/close`, { outcome: "won" })) as SimDispute;
    expect(closed.status).toBe("won");
    expect((await h.stripe.disputes.retrieve(dispute.id)).status).toBe("won");
    await h.sim.waitForDeliveries();
    expect(h.receiver.types()).toEqual([
      "charge.dispute.created",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.closed",
      "charge.dispute.funds_reinstated",
    ]);
    const [created] = received("charge.dispute.created");
    expect(created?.data.object).toMatchObject({ id: dispute.id, status: "needs_response", payment_intent: pi.id, charge: pi.latest_charge, amount: 1000 });
    const [close] = received("charge.dispute.closed");
    expect(close?.data.object).toMatchObject({ id: dispute.id, status: "won", payment_intent: pi.id });
    expect(close?.data.previous_attributes).toEqual({ status: "needs_response" });
    const listed = await h.stripe.events.list({ type: "charge.dispute.*" });
    expect(listed.data.map((e) => e.type)).toEqual([
      "charge.dispute.funds_reinstated",
      "charge.dispute.closed",
      "charge.dispute.funds_withdrawn",
      "charge.dispute.created",
    ]);
  });

  it("closed lost: charge.dispute.closed with status lost; a closed dispute cannot be closed again", async () => {
    const pi = await topUp();
    const dispute = (await simPost(h.sim, "/_sim/disputes", { charge: pi.latest_charge })) as SimDispute;
    const closed = (await simPost(h.sim, `/_sim/disputes/${dispute.id}/close`, { outcome: "lost" })) as SimDispute;
    expect(closed.status).toBe("lost");
    await expect(simPost(h.sim, `/_sim/disputes/${dispute.id}/close`, { outcome: "won" })).rejects.toThrow(/already closed/);
    await expect(simPost(h.sim, "/_sim/disputes", { payment_intent: pi.id })).rejects.toThrow(/already disputed/);
    await h.sim.waitForDeliveries();
    expect(h.receiver.types()).toEqual(["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"]);
    expect(received("charge.dispute.closed")[0]?.data.object).toMatchObject({ id: dispute.id, status: "lost" });
    expect((await h.stripe.disputes.list({ payment_intent: pi.id })).data.map((d) => d.status)).toEqual(["lost"]);
  });

  it("POST /v1/disputes/:id/close accepts the dispute (lost)", async () => {
    const pi = await topUp();
    const dispute = (await simPost(h.sim, "/_sim/disputes", { payment_intent: pi.id })) as SimDispute;
    expect((await h.stripe.disputes.close(dispute.id)).status).toBe("lost");
  });

  it("after a partial refund the dispute is for what is left", async () => {
    const pi = await topUp();
    await h.stripe.refunds.create({ payment_intent: pi.id, amount: 250 });
    const dispute = (await simPost(h.sim, "/_sim/disputes", { payment_intent: pi.id })) as SimDispute;
    expect(dispute.amount).toBe(750);
  });
});

describe("webhook endpoints subscribed to these types", () => {
  it("receive only them, signed with their own secret", async () => {
    const endpoint = await h.stripe.webhookEndpoints.create({
      url: "http://127.0.0.1:9/placeholder",
      enabled_events: ["charge.refunded", "charge.dispute.created", "charge.dispute.closed"],
    });
    const own = await startReceiver(endpoint.secret ?? "");
    try {
      await h.stripe.webhookEndpoints.update(endpoint.id, { url: own.url });
      const pi = await topUp();
      await h.stripe.refunds.create({ payment_intent: pi.id, amount: 100 });
      const dispute = (await simPost(h.sim, "/_sim/disputes", { payment_intent: pi.id })) as Stripe.Dispute;
      await simPost(h.sim, `/_sim/disputes/${dispute.id}/close`, { outcome: "won" });
      await h.sim.waitForDeliveries();
      expect(own.requests.every((r) => r.verified)).toBe(true);
      expect(own.types()).toEqual(["charge.refunded", "charge.dispute.created", "charge.dispute.closed"]);
    } finally {
      await own.close();
    }
  });
});
