/**
 * Off-session PaymentIntents through the real SDK, the way the app's
 * auto-recharge charges a saved card: success with its Charge and events,
 * every declining test card as a `StripeCardError` carrying the
 * PaymentIntent, 3-D Secure off-session (`authentication_required`) and
 * on-session (`requires_action`, finished on the hosted challenge page),
 * Idempotency-Key replays, the payment method rules, confirm / cancel / list.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postForm, startHarness, subscribe, type Harness } from "./harness.ts";

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

const METADATA = { kind: "top_up", packId: "pack_100", accountId: "acct_1", autoRechargeAttemptId: "att_1" };

/** A customer with `magicPm` (e.g. `pm_card_visa`) attached, as a saved card; the receiver's log emptied. */
async function savedCard(magicPm = "pm_card_visa"): Promise<{ customer: string; pm: string }> {
  const customer = await h.stripe.customers.create({ email: "saver@example.com" });
  const pm = await h.stripe.paymentMethods.attach(magicPm, { customer: customer.id });
  await h.sim.waitForDeliveries();
  h.receiver.events.length = 0;
  return { customer: customer.id, pm: pm.id };
}

/** The app's auto-recharge call. */
function offSessionCharge(customer: string, pm: string, idempotencyKey?: string, amount = 1000): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return h.stripe.paymentIntents.create(
    {
      amount,
      currency: "usd",
      customer,
      payment_method: pm,
      off_session: true,
      confirm: true,
      description: "Auto-recharge: 100 tokens",
      metadata: METADATA,
    },
    idempotencyKey ? { idempotencyKey } : {},
  );
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

async function delivered(): Promise<string[]> {
  await h.sim.waitForDeliveries();
  return h.receiver.types();
}

function received<T extends Stripe.Event["type"]>(type: T): Extract<Stripe.Event, { type: T }>[] {
  return h.receiver.events.filter((e): e is Extract<Stripe.Event, { type: T }> => e.type === type);
}

describe("off-session PaymentIntent with a saved card", () => {
  it("succeeds: one succeeded Charge with the metadata; payment_intent.created, charge.succeeded, payment_intent.succeeded", async () => {
    const { customer, pm } = await savedCard();
    const pi = await offSessionCharge(customer, pm, "autorecharge:att_1");
    expect(pi).toMatchObject({
      object: "payment_intent",
      status: "succeeded",
      amount: 1000,
      amount_received: 1000,
      currency: "usd",
      customer,
      payment_method: pm,
      description: "Auto-recharge: 100 tokens",
      metadata: METADATA,
      last_payment_error: null,
      next_action: null,
    });
    expect(pi.latest_charge).toMatch(/^ch_/);
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: "succeeded", paid: true, amount: 1000, payment_intent: pi.id, customer, payment_method: pm, metadata: METADATA, description: "Auto-recharge: 100 tokens" });
    expect(await delivered()).toEqual(["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]);
    const [succeeded] = received("payment_intent.succeeded");
    expect(succeeded?.data.object).toMatchObject({ id: pi.id, status: "succeeded", metadata: METADATA, latest_charge: charge.id });
    expect(succeeded?.request?.idempotency_key).toBe("autorecharge:att_1");
    expect(received("charge.succeeded")[0]?.data.object).toMatchObject({ id: charge.id, status: "succeeded" });
  });

  it("finds the saved card the ways the app looks: customers.listPaymentMethods and paymentMethods.list", async () => {
    const { customer, pm } = await savedCard();
    const viaCustomer = await h.stripe.customers.listPaymentMethods(customer, { type: "card", limit: 1 });
    expect(viaCustomer.data.map((p) => p.id)).toEqual([pm]);
    const viaList = await h.stripe.paymentMethods.list({ customer, type: "card" });
    expect(viaList.data.map((p) => p.id)).toEqual([pm]);
    expect((await h.stripe.customers.listPaymentMethods(customer, { type: "sepa_debit" })).data).toEqual([]);
  });

  const DECLINES = [
    { card: "pm_card_chargeDeclined", code: "card_declined", decline: "generic_decline", message: "Your card was declined." },
    { card: "pm_card_chargeDeclinedInsufficientFunds", code: "card_declined", decline: "insufficient_funds", message: "Your card has insufficient funds." },
    { card: "pm_card_chargeDeclinedExpiredCard", code: "expired_card", decline: "expired_card", message: "Your card has expired." },
    { card: "pm_card_chargeCustomerFail", code: "card_declined", decline: "generic_decline", message: "Your card was declined." },
  ];

  for (const d of DECLINES) {
    it(`${d.card}: a 402 StripeCardError ${d.code}/${d.decline} carrying the PaymentIntent (requires_payment_method) and a failed Charge`, async () => {
      const { customer, pm } = await savedCard(d.card);
      const err = await stripeError(offSessionCharge(customer, pm));
      expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(err).toMatchObject({ statusCode: 402, type: "StripeCardError", rawType: "card_error", code: d.code, decline_code: d.decline, message: d.message });
      expect(err.doc_url).toBe(`https://stripe.com/docs/error-codes/${d.code.replaceAll("_", "-")}`);
      const pi = err.payment_intent as Stripe.PaymentIntent;
      expect((err.raw as { payment_intent?: Stripe.PaymentIntent }).payment_intent?.id).toBe(pi.id);
      expect(pi).toMatchObject({
        object: "payment_intent",
        status: "requires_payment_method",
        customer,
        payment_method: null,
        metadata: METADATA,
        last_payment_error: { type: "card_error", code: d.code, decline_code: d.decline, message: d.message, charge: err.charge, payment_method: { id: pm } },
      });
      expect(err.payment_method?.id).toBe(pm);
      expect(await h.stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: "requires_payment_method", latest_charge: err.charge });
      const charge = await h.stripe.charges.retrieve(err.charge as string);
      expect(charge).toMatchObject({ status: "failed", paid: false, captured: false, amount_captured: 0, failure_code: d.code, payment_intent: pi.id, outcome: { type: "issuer_declined", reason: d.decline } });
      expect(await delivered()).toEqual(["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]);
      expect(received("payment_intent.payment_failed")[0]?.data.object.last_payment_error).toMatchObject({ code: d.code, decline_code: d.decline });
      // A failed charge moved no money.
      const refused = await stripeError(h.stripe.refunds.create({ charge: charge.id }));
      expect(refused).toMatchObject({ statusCode: 400, code: "charge_not_refundable" });
    });
  }

  it("a 3-D Secure card off-session: 402 authentication_required, the PaymentIntent requires_payment_method", async () => {
    const { customer, pm } = await savedCard("pm_card_authenticationRequired");
    const err = await stripeError(offSessionCharge(customer, pm));
    expect(err).toMatchObject({
      statusCode: 402,
      type: "StripeCardError",
      code: "authentication_required",
      decline_code: "authentication_required",
      message: "Your card was declined. This transaction requires authentication.",
    });
    expect(err.payment_intent).toMatchObject({
      status: "requires_payment_method",
      next_action: null,
      last_payment_error: { type: "card_error", code: "authentication_required", decline_code: "authentication_required" },
    });
    expect(await delivered()).toEqual(["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]);
  });

  it("off_session: 'recurring' and 'one_off' are accepted like true", async () => {
    const { customer, pm } = await savedCard();
    for (const offSession of ["recurring", "one_off"] as const) {
      const pi = await h.stripe.paymentIntents.create({ amount: 500, currency: "usd", customer, payment_method: pm, off_session: offSession, confirm: true });
      expect(pi.status).toBe("succeeded");
    }
  });
});

describe("3-D Secure on-session", () => {
  it("requires_action with use_stripe_sdk; completing the hosted challenge makes it succeed", async () => {
    const { customer, pm } = await savedCard("pm_card_threeDSecure2Required");
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm, confirm: true, metadata: METADATA });
    expect(pi.status).toBe("requires_action");
    expect(pi.next_action?.type).toBe("use_stripe_sdk");
    const challenge = (pi.next_action?.use_stripe_sdk as { stripe_js: string }).stripe_js;
    expect(challenge).toMatch(new RegExp(`^${h.sim.url}/3ds/3ds_`));
    const page = await fetch(challenge);
    expect(await page.text()).toContain('data-testid="3ds-approve"');
    const res = await postForm(challenge, { action: "approve" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data-status="succeeded"');
    const done = await h.stripe.paymentIntents.retrieve(pi.id);
    expect(done).toMatchObject({ status: "succeeded", amount_received: 1000, next_action: null, payment_method: pm });
    expect((await h.stripe.charges.retrieve(done.latest_charge as string)).status).toBe("succeeded");
    expect(await delivered()).toEqual(["payment_intent.created", "payment_intent.requires_action", "charge.succeeded", "payment_intent.succeeded"]);
    // The challenge is spent.
    expect((await postForm(challenge, { action: "approve" })).status).toBe(404);
  });

  it("with return_url: redirect_to_url; failing the challenge returns with redirect_status=failed, and another card then pays", async () => {
    const { customer, pm } = await savedCard("pm_card_threeDSecure2Required");
    const pi = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      customer,
      payment_method: pm,
      confirm: true,
      return_url: "http://127.0.0.1:5173/billing?after=3ds",
    });
    expect(pi.next_action).toMatchObject({ type: "redirect_to_url", redirect_to_url: { return_url: "http://127.0.0.1:5173/billing?after=3ds" } });
    const res = await postForm(pi.next_action?.redirect_to_url?.url ?? "", { action: "deny" });
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get("location") ?? "");
    expect(back.origin + back.pathname).toBe("http://127.0.0.1:5173/billing");
    expect(Object.fromEntries(back.searchParams)).toEqual({
      after: "3ds",
      payment_intent: pi.id,
      payment_intent_client_secret: pi.client_secret,
      redirect_status: "failed",
    });
    const failed = await h.stripe.paymentIntents.retrieve(pi.id);
    expect(failed).toMatchObject({
      status: "requires_payment_method",
      payment_method: null,
      latest_charge: null,
      last_payment_error: { type: "invalid_request_error", code: "payment_intent_authentication_failure" },
    });
    const other = await h.stripe.paymentMethods.attach("pm_card_visa", { customer });
    const paid = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: other.id });
    expect(paid).toMatchObject({ status: "succeeded", payment_method: other.id, last_payment_error: null });
    expect(await delivered()).toEqual([
      "payment_intent.created",
      "payment_intent.requires_action",
      "payment_intent.payment_failed",
      "payment_method.attached",
      "charge.succeeded",
      "payment_intent.succeeded",
    ]);
  });

  it("error_on_requires_action turns the challenge into the authentication_required decline", async () => {
    const { customer, pm } = await savedCard("pm_card_threeDSecure2Required");
    const err = await stripeError(h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm, confirm: true, error_on_requires_action: true }));
    expect(err).toMatchObject({ statusCode: 402, code: "authentication_required" });
  });
});

describe("Idempotency-Key", () => {
  it("the same key replays the first PaymentIntent: no second charge, no second event", async () => {
    const { customer, pm } = await savedCard();
    const a = await offSessionCharge(customer, pm, "autorecharge:att_1");
    const b = await offSessionCharge(customer, pm, "autorecharge:att_1");
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await h.stripe.charges.list({ customer })).data).toHaveLength(1);
    expect((await h.stripe.paymentIntents.list({ customer })).data).toHaveLength(1);
    expect(await delivered()).toEqual(["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]);
  });

  it("a declined request replays the same 402 with the same PaymentIntent", async () => {
    const { customer, pm } = await savedCard("pm_card_chargeDeclinedInsufficientFunds");
    const first = await stripeError(offSessionCharge(customer, pm, "autorecharge:att_2"));
    const again = await stripeError(offSessionCharge(customer, pm, "autorecharge:att_2"));
    expect(again).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(again.payment_intent?.id).toBe(first.payment_intent?.id);
    expect(again.decline_code).toBe("insufficient_funds");
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect((await h.stripe.charges.list({ customer })).data).toHaveLength(1);
    expect(received("payment_intent.payment_failed")).toHaveLength(0);
    expect(await delivered()).toEqual(["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]);
  });

  it("the same key with different parameters is an idempotency_error and charges nothing", async () => {
    const { customer, pm } = await savedCard();
    await offSessionCharge(customer, pm, "autorecharge:att_3");
    const err = await stripeError(offSessionCharge(customer, pm, "autorecharge:att_3", 5000));
    expect(err).toMatchObject({ statusCode: 400, type: "StripeIdempotencyError", rawType: "idempotency_error" });
    expect((await h.stripe.paymentIntents.list({ customer })).data.map((p) => p.amount)).toEqual([1000]);
  });

  it("keys expire after 24 hours, as Stripe's", async () => {
    const { customer, pm } = await savedCard();
    const a = await offSessionCharge(customer, pm, "autorecharge:old");
    const record = h.sim.state().idempotency["autorecharge:old"];
    if (!record) throw new Error("no idempotency record");
    record.createdAt -= 24 * 3600 * 1000 + 1;
    const b = await offSessionCharge(customer, pm, "autorecharge:old");
    expect(b.id).not.toBe(a.id);
  });
});

describe("payment method rules", () => {
  it("refuses a card not attached to the customer (another customer's, or detached), storing nothing", async () => {
    const { customer } = await savedCard();
    const other = await savedCard();
    let err = await stripeError(offSessionCharge(customer, other.pm));
    expect(err).toMatchObject({
      statusCode: 400,
      type: "StripeInvalidRequestError",
      param: "payment_method",
      message: `The customer does not have a payment method with the ID ${other.pm}. The payment method must be attached to the customer.`,
    });
    await h.stripe.paymentMethods.detach(other.pm);
    err = await stripeError(offSessionCharge(customer, other.pm));
    expect(err).toMatchObject({ statusCode: 400, param: "payment_method" });
    err = await stripeError(offSessionCharge(customer, "pm_nope"));
    expect(err).toMatchObject({ statusCode: 404, code: "resource_missing", param: "payment_method" });
    expect((await h.stripe.paymentIntents.list()).data).toEqual([]);
  });

  it("refuses a customer's card without the customer", async () => {
    const { customer, pm } = await savedCard();
    const err = await stripeError(h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", payment_method: pm, confirm: true }));
    expect(err).toMatchObject({ statusCode: 400, param: "payment_method" });
    expect(err.message).toContain(`belongs to the Customer ${customer}`);
  });

  it("setup_future_usage saves an unattached card to the customer once the payment succeeds", async () => {
    const customer = await h.stripe.customers.create({ email: "new@example.com" });
    const pi = await h.stripe.paymentIntents.create({
      amount: 2000,
      currency: "usd",
      customer: customer.id,
      payment_method: "pm_card_visa",
      setup_future_usage: "off_session",
      confirm: true,
    });
    expect(pi).toMatchObject({ status: "succeeded", setup_future_usage: "off_session" });
    const cards = await h.stripe.customers.listPaymentMethods(customer.id, { type: "card" });
    expect(cards.data.map((c) => c.id)).toEqual([pi.payment_method]);
    // Then charged off-session like any saved card.
    expect((await offSessionCharge(customer.id, pi.payment_method as string)).status).toBe("succeeded");
  });

  it("without setup_future_usage a magic test card pays once and is not saved", async () => {
    const customer = await h.stripe.customers.create({ email: "once@example.com" });
    const pi = await h.stripe.paymentIntents.create({ amount: 2000, currency: "usd", customer: customer.id, payment_method: "pm_card_visa", confirm: true });
    expect(pi.status).toBe("succeeded");
    expect((await h.stripe.customers.listPaymentMethods(customer.id)).data).toEqual([]);
  });
});

describe("parameters", () => {
  it("refuses amounts under Stripe's minimum and non-positive ones", async () => {
    const { customer, pm } = await savedCard();
    let err = await stripeError(offSessionCharge(customer, pm, undefined, 49));
    expect(err).toMatchObject({ statusCode: 400, code: "amount_too_small", param: "amount", message: "Amount must be at least $0.50 usd" });
    err = await stripeError(offSessionCharge(customer, pm, undefined, 0));
    expect(err).toMatchObject({ statusCode: 400, code: "parameter_invalid_integer", param: "amount" });
    err = await stripeError(h.stripe.paymentIntents.create({ currency: "usd" } as Stripe.PaymentIntentCreateParams));
    expect(err).toMatchObject({ statusCode: 400, code: "parameter_missing", param: "amount" });
  });

  it("off_session needs confirm=true and cannot go with setup_future_usage", async () => {
    const { customer, pm } = await savedCard();
    let err = await stripeError(h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm, off_session: true }));
    expect(err).toMatchObject({ statusCode: 400, param: "off_session" });
    err = await stripeError(
      h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm, off_session: true, confirm: true, setup_future_usage: "off_session" }),
    );
    expect(err).toMatchObject({ statusCode: 400, param: "off_session" });
    expect(err.message).toContain("cannot set up future usages when processing payments off-session");
    err = await stripeError(
      h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", allowed_payment_method_types: ["card"], automatic_payment_methods: { enabled: true } }),
    );
    expect(err).toMatchObject({ statusCode: 400, param: "automatic_payment_methods" });
    expect((await h.stripe.paymentIntents.list()).data).toEqual([]);
  });

  it("accepts allowed_payment_method_types, automatic_payment_methods, receipt_email and statement_descriptor_suffix", async () => {
    const { customer, pm } = await savedCard();
    const typed = await h.stripe.paymentIntents.create({ amount: 1000, currency: "USD", customer, allowed_payment_method_types: ["card", "link"] });
    expect(typed).toMatchObject({ currency: "usd", allowed_payment_method_types: ["card", "link"], payment_method_types: ["card"], automatic_payment_methods: null });
    const defaulted = await h.stripe.paymentIntents.create({ amount: 1000, currency: "usd" });
    expect(defaulted).toMatchObject({ allowed_payment_method_types: null, payment_method_types: ["card"], automatic_payment_methods: { enabled: true } });
    const auto = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      customer,
      payment_method: pm,
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: "never" },
      receipt_email: "r@example.com",
      statement_descriptor_suffix: "TOKENS",
    });
    expect(auto).toMatchObject({ status: "succeeded", automatic_payment_methods: { enabled: true, allow_redirects: "never" }, receipt_email: "r@example.com", statement_descriptor_suffix: "TOKENS" });
    expect(await h.stripe.charges.retrieve(auto.latest_charge as string)).toMatchObject({ receipt_email: "r@example.com", statement_descriptor_suffix: "TOKENS" });
  });
});

describe("confirm, cancel, list", () => {
  it("without confirm: requires_payment_method / requires_confirmation; confirm then pays once", async () => {
    const { customer, pm } = await savedCard();
    const bare = await h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer });
    expect(bare).toMatchObject({ status: "requires_payment_method", payment_method: null, latest_charge: null });
    const missing = await stripeError(h.stripe.paymentIntents.confirm(bare.id));
    expect(missing).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    const ready = await h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm });
    expect(ready.status).toBe("requires_confirmation");
    const paid = await h.stripe.paymentIntents.confirm(ready.id, { off_session: true });
    expect(paid.status).toBe("succeeded");
    const again = await stripeError(h.stripe.paymentIntents.confirm(ready.id));
    expect(again).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    expect(again.payment_intent?.status).toBe("succeeded");
    expect((await h.stripe.charges.list({ payment_intent: ready.id })).data).toHaveLength(1);
  });

  it("cancel: canceled with the reason and payment_intent.canceled; a succeeded one cannot be", async () => {
    const { customer, pm } = await savedCard();
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: "usd", customer, payment_method: pm });
    const canceled = await h.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: "abandoned" });
    expect(canceled).toMatchObject({ status: "canceled", cancellation_reason: "abandoned" });
    expect(canceled.canceled_at).toBeGreaterThan(0);
    expect(await stripeError(h.stripe.paymentIntents.confirm(pi.id))).toMatchObject({ code: "payment_intent_unexpected_state" });
    const paid = await offSessionCharge(customer, pm);
    expect(await stripeError(h.stripe.paymentIntents.cancel(paid.id))).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    expect(await delivered()).toEqual(["payment_intent.created", "payment_intent.canceled", "payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]);
  });

  it("lists by customer, newest first, with the invoice payments' PaymentIntents too", async () => {
    const { customer: subscriber } = await subscribe(h);
    const { customer, pm } = await savedCard();
    const a = await offSessionCharge(customer, pm);
    const b = await offSessionCharge(customer, pm);
    expect((await h.stripe.paymentIntents.list({ customer })).data.map((p) => p.id)).toEqual([b.id, a.id]);
    const theirs = await h.stripe.paymentIntents.list({ customer: subscriber.id });
    expect(theirs.data).toHaveLength(1);
    expect((await h.stripe.paymentIntents.list({ limit: 100 })).data).toHaveLength(3);
  });
});
