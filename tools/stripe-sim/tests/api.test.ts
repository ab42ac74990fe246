/**
 * The simulator's API surface and hosted Checkout, driven with the official
 * stripe SDK and plain form posts, with webhooks verified by a receiver
 * using `stripe.webhooks.constructEvent`.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseForm } from "../src/form.ts";
import { payCheckout, postForm, priceId, startHarness, subscriptionCheckout, type Harness } from "./harness.ts";

/** A key of live mode's shape that is no key (assembled so no string looks like a committed secret). */
const fakeLiveKey = () => ["sk", "live", "not", "a", "real", "key"].join("_");

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

describe("wire format", () => {
  it("decodes bracketed form keys into nested objects and arrays", () => {
    expect(
      parseForm(
        "line_items[0][price]=price_1&line_items[0][quantity]=2&metadata[accountId]=a1&expand[]=customer&expand[]=subscription&lookup_keys[0]=pro_monthly",
      ),
    ).toEqual({
      line_items: [{ price: "price_1", quantity: "2" }],
      metadata: { accountId: "a1" },
      expand: ["customer", "subscription"],
      lookup_keys: ["pro_monthly"],
    });
  });

  it("answers unknown resources with Stripe's error shape and a 404", async () => {
    const res = await fetch(`${h.sim.url}/v1/customers/cus_missing`, { headers: { authorization: "Bearer sk_test_x" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: expect.objectContaining({
        type: "invalid_request_error",
        code: "resource_missing",
        message: "No such customer: 'cus_missing'",
        param: "id",
      }) as unknown,
    });
    await expect(h.stripe.subscriptions.retrieve("sub_missing")).rejects.toMatchObject({
      type: "StripeInvalidRequestError",
      code: "resource_missing",
      statusCode: 404,
    });
  });

  it("rejects requests without a test secret key", async () => {
    const none = await fetch(`${h.sim.url}/v1/customers`);
    expect(none.status).toBe(401);
    const live = await fetch(`${h.sim.url}/v1/customers`, { headers: { authorization: `Bearer ${fakeLiveKey()}` } });
    expect(live.status).toBe(401);
    expect(((await live.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("returns list objects and pages with starting_after", async () => {
    for (let i = 0; i < 3; i++) await h.stripe.customers.create({ email: `p${i}@example.com` });
    const first = await h.stripe.customers.list({ limit: 2 });
    expect(first).toMatchObject({ object: "list", has_more: true, url: "/v1/customers" });
    expect(first.data.map((c) => c.email)).toEqual(["p2@example.com", "p1@example.com"]);
    const next = await h.stripe.customers.list({ limit: 2, starting_after: first.data[1]?.id });
    expect(next.data.map((c) => c.email)).toEqual(["p0@example.com"]);
    expect(next.has_more).toBe(false);
  });
});

describe("customers", () => {
  it("creates one customer for a repeated Idempotency-Key with the same params", async () => {
    const params = { email: "same@example.com", metadata: { accountId: "acct_9" } };
    const a = await h.stripe.customers.create(params, { idempotencyKey: "customer-create:acct_9" });
    const b = await h.stripe.customers.create(params, { idempotencyKey: "customer-create:acct_9" });
    expect(b.id).toBe(a.id);
    const all = await h.stripe.customers.list({ email: "same@example.com" });
    expect(all.data).toHaveLength(1);
    expect(all.data[0]?.metadata).toEqual({ accountId: "acct_9" });
  });

  it("rejects a reused Idempotency-Key with different params (400 idempotency_error)", async () => {
    await h.stripe.customers.create({ email: "one@example.com" }, { idempotencyKey: "k-reuse" });
    await expect(h.stripe.customers.create({ email: "two@example.com" }, { idempotencyKey: "k-reuse" })).rejects.toMatchObject({
      type: "StripeIdempotencyError",
      statusCode: 400,
    });
    expect((await h.stripe.customers.list({ email: "two@example.com" })).data).toHaveLength(0);
  });

  it("retrieves and updates, merging metadata", async () => {
    const c = await h.stripe.customers.create({ email: "u@example.com", metadata: { a: "1", b: "2" } });
    await h.stripe.customers.update(c.id, { name: "Ada", metadata: { b: "", c: "3" } });
    const again = await h.stripe.customers.retrieve(c.id);
    expect(again).toMatchObject({ id: c.id, name: "Ada", metadata: { a: "1", c: "3" } });
  });
});

describe("prices", () => {
  it("finds seeded prices by lookup key with the product expanded", async () => {
    const list = await h.stripe.prices.list({ lookup_keys: ["pro_monthly"], active: true, expand: ["data.product"], limit: 1 });
    expect(list.data).toHaveLength(1);
    const price = list.data[0] as Stripe.Price;
    expect(price).toMatchObject({ lookup_key: "pro_monthly", unit_amount: 2900, currency: "usd", type: "recurring" });
    expect(price.recurring?.interval).toBe("month");
    expect((price.product as Stripe.Product).name).toBe("Pro");
    const packs = await h.stripe.prices.list({ lookup_keys: ["tokens_100"] });
    expect(packs.data[0]).toMatchObject({ type: "one_time", unit_amount: 1000, recurring: null });
  });
});

describe("hosted Checkout (subscription)", () => {
  it("4242 pays, redirects to success_url with the session id, and delivers signed events", async () => {
    const customer = await h.stripe.customers.create({ email: "buyer@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    expect(session.url).toBe(`${h.sim.url}/checkout/${session.id}`);

    const page = await fetch(session.url ?? "");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-testid="card-number"');
    expect(html).toContain('data-testid="checkout-total"');
    expect(html).toContain("$29.00");

    const res = await payCheckout(h.sim, session, "4242 4242 4242 4242");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`http://127.0.0.1:5173/billing/success?session_id=${session.id}`);

    expect(await h.sim.waitForDeliveries()).toBe(true);
    expect(h.receiver.requests.every((r) => r.verified)).toBe(true);
    const types = h.receiver.types();
    for (const t of [
      "checkout.session.completed",
      "customer.subscription.created",
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
    ]) {
      expect(types).toContain(t);
    }
    expect(types.indexOf("invoice.created")).toBeLessThan(types.indexOf("invoice.paid"));

    const completed = h.receiver.events.find((e) => e.type === "checkout.session.completed")?.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({
      client_reference_id: "acct_1",
      customer: customer.id,
      status: "complete",
      payment_status: "paid",
      metadata: { accountId: "acct_1", tier: "pro" },
    });
    expect(typeof completed.subscription).toBe("string");

    const sub = await h.stripe.subscriptions.retrieve(completed.subscription as string, { expand: ["latest_invoice"] });
    expect(sub.status).toBe("active");
    expect(sub.metadata).toMatchObject({ accountId: "acct_1", lookupKey: "pro_monthly" });
    const item = sub.items.data[0] as Stripe.SubscriptionItem;
    expect(item.price.lookup_key).toBe("pro_monthly");
    expect(item.current_period_end).toBeGreaterThan(item.current_period_start);
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ billing_reason: "subscription_create", status: "paid", amount_paid: 2900 });
    expect(invoice.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(invoice.lines.data[0]?.pricing?.price_details?.price).toBe(item.price.id);
    expect(invoice.hosted_invoice_url).toBe(`${h.sim.url}/invoice/${invoice.id}`);

    // The session is spent: its page says so.
    const after = await fetch(`${h.sim.url}/checkout/${session.id}`);
    expect(await after.text()).toContain('data-testid="checkout-inactive"');
  });

  it("4000 0000 0000 0002 is declined on the page; the session stays open and nothing is created", async () => {
    const customer = await h.stripe.customers.create({ email: "declined@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    const res = await payCheckout(h.sim, session, "4000 0000 0000 0002");
    expect(res.status).toBe(402);
    const html = await res.text();
    expect(html).toContain('data-testid="checkout-error"');
    expect(html).toContain("Your card was declined.");
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe("open");
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toHaveLength(0);
    await h.sim.waitForDeliveries();
    expect(h.receiver.types()).not.toContain("checkout.session.completed");
  });

  it("4000 0027 6000 3184 needs 3-D Secure; approving completes the payment", async () => {
    const customer = await h.stripe.customers.create({ email: "3ds@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    const res = await payCheckout(h.sim, session, "4000002760003184");
    expect(res.status).toBe(303);
    const challenge = res.headers.get("location") ?? "";
    expect(challenge).toMatch(/^\/3ds\//);
    const page = await (await fetch(`${h.sim.url}${challenge}`)).text();
    expect(page).toContain('data-testid="3ds-approve"');
    const approved = await postForm(`${h.sim.url}${challenge}`, { action: "approve" });
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toContain(`session_id=${session.id}`);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
    expect(done.status).toBe("complete");
    expect((done.subscription as Stripe.Subscription).status).toBe("active");
  });

  it("denying 3-D Secure shows the error on Checkout and creates nothing", async () => {
    const customer = await h.stripe.customers.create({ email: "3ds-deny@example.com" });
    const session = await subscriptionCheckout(h.stripe, customer.id);
    const res = await payCheckout(h.sim, session, "4000002760003184");
    const challenge = res.headers.get("location") ?? "";
    const denied = await postForm(`${h.sim.url}${challenge}`, { action: "deny" });
    expect(denied.status).toBe(303);
    const back = await fetch(`${h.sim.url}${denied.headers.get("location") ?? ""}`);
    const html = await back.text();
    expect(html).toContain('data-testid="checkout-error"');
    expect(html).toContain("unable to authenticate");
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe("open");
    expect((await h.stripe.subscriptions.list({ customer: customer.id, status: "all" })).data).toHaveLength(0);
  });

  it("rejects a one-off price in subscription mode like Stripe does", async () => {
    const customer = await h.stripe.customers.create({});
    await expect(
      h.stripe.checkout.sessions.create({
        mode: "subscription",
        customer: customer.id,
        line_items: [{ price: await priceId(h.stripe, "tokens_100"), quantity: 1 }],
        success_url: "http://127.0.0.1/ok",
      }),
    ).rejects.toMatchObject({ type: "StripeInvalidRequestError", statusCode: 400 });
  });
});

describe("hosted Checkout (payment mode top-up)", () => {
  it("completes with payment_status paid, the metadata, and a PaymentIntent carrying payment_intent_data.metadata", async () => {
    const customer = await h.stripe.customers.create({ email: "topup@example.com" });
    const metadata = { accountId: "acct_1", kind: "top_up", packId: "pack_100" };
    const session = await h.stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      client_reference_id: "acct_1",
      metadata,
      payment_intent_data: { metadata },
      line_items: [{ price: await priceId(h.stripe, "tokens_100"), quantity: 1 }],
      success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
      cancel_url: "http://127.0.0.1:5173/billing",
    });
    expect(session.amount_total).toBe(1000);
    const res = await payCheckout(h.sim, session, "4242424242424242");
    expect(res.status).toBe(303);
    await h.sim.waitForDeliveries();
    const completed = h.receiver.events.find((e) => e.type === "checkout.session.completed")?.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ mode: "payment", payment_status: "paid", metadata, amount_total: 1000, subscription: null });
    const pi = await h.stripe.paymentIntents.retrieve(completed.payment_intent as string);
    expect(pi).toMatchObject({ status: "succeeded", amount: 1000, metadata });
  });
});
