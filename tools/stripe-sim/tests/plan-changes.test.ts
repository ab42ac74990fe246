/**
 * Plan changes in the simulator, through the SDK: `payment_behavior`
 * (`pending_if_incomplete` → `pending_update`, `error_if_incomplete` → 402),
 * proration credit landing in the customer balance and paying later
 * invoices, `invoices.createPreview` agreeing with the update that follows,
 * and `cancellation_details`.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, postForm, priceId, startHarness, subscribe, subscriptionCheckout, type Harness } from "./harness.ts";

let h: Harness;
const HOUR = 3600;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

async function newClock(): Promise<Stripe.TestHelpers.TestClock> {
  return h.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.UTC(2026, 0, 15) / 1000) });
}

async function advance(clock: Stripe.TestHelpers.TestClock, to: number): Promise<void> {
  await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  await h.sim.waitForDeliveries();
}

/** A subscription on a fresh clock, moved to the middle of its first period. */
async function midPeriod(opts: { lookupKey: string; card?: string }) {
  const clock = await newClock();
  const { customer, subscription } = await subscribe(h, { testClock: clock.id, ...opts });
  const item = subscription.items.data[0] as Stripe.SubscriptionItem;
  const now = item.current_period_start + Math.floor((item.current_period_end - item.current_period_start) / 2);
  await advance(clock, now);
  h.receiver.events.length = 0;
  const fraction = (item.current_period_end - now) / (item.current_period_end - item.current_period_start);
  return { clock, customer, subscription, item, now, fraction };
}

function eventsOf(type: string, id: string): Stripe.Event[] {
  return h.receiver.events.filter((e) => e.type === type && (e.data.object as { id: string }).id === id);
}

describe("subscriptions.update payment_behavior", () => {
  it("pending_if_incomplete: a failed payment leaves the old items and a pending_update; paying the invoice applies it", async () => {
    const { customer, subscription, item, now, fraction } = await midPeriod({ lookupKey: "starter_monthly", card: "4000000000000341" });
    const pro = await priceId(h.stripe, "pro_monthly");

    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
      expand: ["latest_invoice"],
    });
    expect(sub.items.data[0]?.price.id).toBe(item.price.id);
    expect(sub.pending_update).toMatchObject({ expires_at: now + 23 * HOUR, billing_cycle_anchor: null, trial_end: null, trial_from_plan: null });
    expect(sub.pending_update?.subscription_items?.[0]).toMatchObject({ id: item.id, quantity: 1, price: { id: pro } });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ status: "open", billing_reason: "subscription_update" });
    expect(invoice.lines.data.map((l) => l.amount)).toEqual([-Math.round(900 * fraction), Math.round(2900 * fraction)]);
    await h.sim.waitForDeliveries();
    expect(eventsOf("invoice.payment_failed", invoice.id)).toHaveLength(1);
    const pendingEvent = eventsOf("customer.subscription.updated", subscription.id).at(-1);
    expect((pendingEvent?.data.object as Stripe.Subscription).pending_update).not.toBeNull();
    expect(sub.status).toBe("active");
    // The invoice's payment says why: a decline, not a confirmation to make.
    const [declined] = (await h.stripe.invoicePayments.list({ invoice: invoice.id })).data;
    expect(declined).toMatchObject({ status: "open", payment: { type: "payment_intent" } });
    const intent = await h.stripe.paymentIntents.retrieve(declined!.payment.payment_intent as string);
    expect(intent).toMatchObject({ status: "requires_payment_method", last_payment_error: { type: "card_error" } });

    // The customer pays with a working card: the change applies.
    const paid = await h.stripe.invoices.pay(invoice.id, { payment_method: "pm_card_visa" });
    expect(paid.status).toBe("paid");
    const [settled] = (await h.stripe.invoicePayments.list({ invoice: invoice.id })).data;
    expect(settled).toMatchObject({ id: declined!.id, status: "paid", amount_paid: invoice.amount_due });
    expect((await h.stripe.paymentIntents.retrieve(intent.id)).status).toBe("succeeded");
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.items.data[0]?.price.id).toBe(pro);
    expect(after.pending_update).toBeNull();
    expect(after.items.data[0]?.current_period_end).toBe(item.current_period_end);
    await h.sim.waitForDeliveries();
    const applied = eventsOf("customer.subscription.updated", subscription.id).at(-1);
    expect((applied?.data.object as Stripe.Subscription).items.data[0]?.price.id).toBe(pro);
    expect((applied?.data.object as Stripe.Subscription).pending_update).toBeNull();
    expect(applied?.data.previous_attributes).toHaveProperty("items");
    expect(applied?.data.previous_attributes).toHaveProperty("pending_update");
    expect(customer.id).toBe(after.customer);
  });

  it("pending_if_incomplete: the pending update expires after 23 hours and its invoice is voided", async () => {
    const { clock, subscription, item, now } = await midPeriod({ lookupKey: "starter_monthly", card: "4000000000000341" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
    });
    const invoiceId = sub.latest_invoice as string;
    await advance(clock, now + 22 * HOUR);
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).pending_update).not.toBeNull();
    await advance(clock, now + 24 * HOUR);
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.pending_update).toBeNull();
    expect(after.items.data[0]?.price.id).toBe(item.price.id);
    expect(after.status).toBe("active");
    expect((await h.stripe.invoices.retrieve(invoiceId)).status).toBe("void");
    expect(eventsOf("invoice.voided", invoiceId)).toHaveLength(1);
  });

  it("pending_if_incomplete with a 3-D Secure card: payment_action_required, then the hosted invoice's challenge applies the change", async () => {
    const { subscription, item } = await midPeriod({ lookupKey: "starter_monthly", card: "4000002760003184" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
    });
    const invoiceId = sub.latest_invoice as string;
    expect(sub.pending_update).not.toBeNull();
    await h.sim.waitForDeliveries();
    expect(eventsOf("invoice.payment_action_required", invoiceId)).toHaveLength(1);

    const pay = await postForm(`${h.sim.url}/invoice/${invoiceId}/pay`, { cardNumber: "" });
    const challenge = pay.headers.get("location") ?? "";
    expect(challenge).toMatch(/^\/3ds\//);
    await postForm(`${h.sim.url}${challenge}`, { action: "approve" });
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.items.data[0]?.price.id).toBe(pro);
    expect(after.pending_update).toBeNull();
  });

  it("pending_if_incomplete with a good card applies the change at once", async () => {
    const { subscription, item } = await midPeriod({ lookupKey: "starter_monthly" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      payment_behavior: "pending_if_incomplete",
      expand: ["latest_invoice"],
    });
    expect(sub.items.data[0]?.price.id).toBe(pro);
    expect(sub.pending_update).toBeNull();
    expect((sub.latest_invoice as Stripe.Invoice).status).toBe("paid");
  });

  it("pending_if_incomplete refuses parameters pending updates do not support", async () => {
    const { subscription, item } = await midPeriod({ lookupKey: "starter_monthly" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const err = await h.stripe.subscriptions
      .update(subscription.id, { items: [{ id: item.id, price: pro }], payment_behavior: "pending_if_incomplete", cancel_at_period_end: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(400);
    expect((err as Stripe.errors.StripeError).param).toBe("cancel_at_period_end");
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.items.data[0]?.price.id).toBe(item.price.id);
    expect(after.cancel_at_period_end).toBe(false);
  });

  it("error_if_incomplete: a declined payment is a 402 and nothing changes", async () => {
    const { subscription, item } = await midPeriod({ lookupKey: "starter_monthly", card: "4000000000000341" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const before = await h.stripe.invoices.list({ subscription: subscription.id });
    const err = await h.stripe.subscriptions
      .update(subscription.id, { items: [{ id: item.id, price: pro }], proration_behavior: "always_invoice", payment_behavior: "error_if_incomplete" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((err as Stripe.errors.StripeError).statusCode).toBe(402);
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.items.data[0]?.price.id).toBe(item.price.id);
    expect((await h.stripe.invoices.list({ subscription: subscription.id })).data).toHaveLength(before.data.length);
    await h.sim.waitForDeliveries();
    expect(eventsOf("customer.subscription.updated", subscription.id)).toHaveLength(0);
  });

  it("allow_incomplete (default): a declined payment leaves the change applied, the invoice open and the subscription past_due", async () => {
    const { subscription, item } = await midPeriod({ lookupKey: "starter_monthly", card: "4000000000000341" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      expand: ["latest_invoice"],
    });
    expect(sub.items.data[0]?.price.id).toBe(pro);
    expect((sub.latest_invoice as Stripe.Invoice).status).toBe("open");
    expect(sub.status).toBe("past_due");
  });
});

describe("customer balance", () => {
  it("a downgrade invoiced now credits the balance, and the credit pays the next renewal", async () => {
    const { clock, customer, subscription, item, fraction } = await midPeriod({ lookupKey: "elite_monthly" });
    const starter = await priceId(h.stripe, "starter_monthly");
    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: starter }],
      proration_behavior: "always_invoice",
      expand: ["latest_invoice"],
    });
    const invoice = sub.latest_invoice as Stripe.Invoice;
    const credit = -Math.round(9900 * fraction) + Math.round(900 * fraction);
    expect(invoice).toMatchObject({
      billing_reason: "subscription_update",
      status: "paid",
      total: credit,
      amount_due: 0,
      amount_paid: 0,
      starting_balance: 0,
      ending_balance: credit,
    });
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ balance: credit });
    await h.sim.waitForDeliveries();
    const updated = h.receiver.events.filter((e) => e.type === "customer.updated").at(-1);
    expect(updated?.data.previous_attributes).toEqual({ balance: 0 });
    expect((updated?.data.object as Stripe.Customer).balance).toBe(credit);
    const txns = await h.stripe.customers.listBalanceTransactions(customer.id);
    expect(txns.data[0]).toMatchObject({ amount: credit, ending_balance: credit, invoice: invoice.id, type: "applied_to_invoice" });

    // The renewal ($9) is paid by the credit (about $45) in full.
    await advance(clock, item.current_period_end + 60);
    const renewal = (await h.stripe.invoices.list({ subscription: subscription.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(renewal).toMatchObject({
      status: "paid",
      total: 900,
      amount_due: 0,
      amount_paid: 0,
      starting_balance: credit,
      ending_balance: credit + 900,
    });
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance).toBe(credit + 900);
  });

  it("customers.update balance and balance transactions; Checkout's total due today is net of the credit", async () => {
    const customer = await h.stripe.customers.create({ email: "credit@example.com" });
    await h.stripe.customers.update(customer.id, { balance: -1000 });
    const txn = await h.stripe.customers.createBalanceTransaction(customer.id, { amount: -500, currency: "usd", description: "goodwill" });
    expect(txn).toMatchObject({ object: "customer_balance_transaction", amount: -500, ending_balance: -1500, type: "adjustment" });
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).balance).toBe(-1500);
    expect((await h.stripe.customers.listBalanceTransactions(customer.id)).data.map((t) => t.amount).sort()).toEqual([-1000, -500].sort());

    const session = await subscriptionCheckout(h.stripe, customer.id, "pro_monthly");
    const page = await (await fetch(session.url ?? "")).text();
    expect(page).toContain('data-testid="checkout-total">$14.00<');
    expect(page).toContain('data-testid="checkout-credit"');
    expect((await payCheckout(h.sim, session, "4242424242424242")).status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["invoice"] });
    expect(done.invoice as Stripe.Invoice).toMatchObject({ total: 2900, amount_due: 1400, amount_paid: 1400, starting_balance: -1500, ending_balance: 0 });
  });
});

describe("invoices.createPreview", () => {
  it("previews the proration invoice the update then charges, writing nothing", async () => {
    const { customer, subscription, item, now, fraction } = await midPeriod({ lookupKey: "starter_monthly" });
    const pro = await priceId(h.stripe, "pro_monthly");
    const eventsBefore = (await h.stripe.events.list({ limit: 100 })).data.length;
    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: subscription.id,
      subscription_details: { items: [{ id: item.id, price: pro }], proration_behavior: "always_invoice", proration_date: now },
    });
    expect(preview.id).toMatch(/^upcoming_in_/);
    expect(preview).toMatchObject({ object: "invoice", status: "draft", billing_reason: "subscription_update", customer: customer.id });
    expect(preview.lines.data.map((l) => l.amount)).toEqual([-Math.round(900 * fraction), Math.round(2900 * fraction)]);
    expect(preview.lines.data.every((l) => l.parent?.subscription_item_details?.proration)).toBe(true);
    expect((await h.stripe.events.list({ limit: 100 })).data.length).toBe(eventsBefore);
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).items.data[0]?.price.id).toBe(item.price.id);

    const sub = await h.stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro }],
      proration_behavior: "always_invoice",
      proration_date: now,
      expand: ["latest_invoice"],
    });
    const charged = sub.latest_invoice as Stripe.Invoice;
    expect(charged.lines.data.map((l) => [l.amount, l.description])).toEqual(preview.lines.data.map((l) => [l.amount, l.description]));
    expect(charged.total).toBe(preview.total);
    expect(charged.amount_due).toBe(preview.amount_due);
    expect(charged.amount_paid).toBe(preview.amount_due);
  });

  it("an interval change previews the credit and the new full period; credit is applied to amount_due", async () => {
    const { customer, subscription, item, now, fraction } = await midPeriod({ lookupKey: "pro_monthly" });
    await h.stripe.customers.update(customer.id, { balance: -1000 });
    const yearly = await priceId(h.stripe, "pro_yearly");
    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: subscription.id,
      subscription_details: { items: [{ id: item.id, price: yearly }], proration_behavior: "always_invoice" },
    });
    const total = -Math.round(2900 * fraction) + 29000;
    expect(preview.lines.data.map((l) => l.amount)).toEqual([-Math.round(2900 * fraction), 29000]);
    expect(preview.lines.data[1]?.period.start).toBe(now);
    expect(preview).toMatchObject({ total, starting_balance: -1000, amount_due: total - 1000, ending_balance: 0 });
  });

  it("without changes previews the next renewal", async () => {
    const { customer, subscription, item } = await midPeriod({ lookupKey: "pro_monthly" });
    const preview = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: subscription.id });
    expect(preview).toMatchObject({
      billing_reason: "subscription_cycle",
      total: 2900,
      amount_due: 2900,
      period_start: item.current_period_start,
      period_end: item.current_period_end,
      next_payment_attempt: item.current_period_end,
    });
    expect(preview.lines.data[0]?.period.start).toBe(item.current_period_end);
  });
});

describe("cancellation_details", () => {
  it("are stored with cancel_at_period_end, cleared on resume, and taken by DELETE", async () => {
    const { subscription } = await subscribe(h);
    const canceled = await h.stripe.subscriptions.update(subscription.id, {
      cancel_at_period_end: true,
      cancellation_details: { comment: "Too pricey for now", feedback: "too_expensive" },
    });
    expect(canceled.cancellation_details).toMatchObject({ comment: "Too pricey for now", feedback: "too_expensive", reason: "cancellation_requested" });
    const resumed = await h.stripe.subscriptions.update(subscription.id, { cancel_at_period_end: false });
    expect(resumed.cancellation_details).toMatchObject({ comment: null, feedback: null, reason: null });

    const ended = await h.stripe.subscriptions.cancel(subscription.id, { cancellation_details: { feedback: "unused" }, prorate: true });
    expect(ended.status).toBe("canceled");
    expect(ended.cancellation_details).toMatchObject({ feedback: "unused", reason: "cancellation_requested" });
  });
});
