/**
 * Free trials in the simulator: Checkout with and without a card
 * (`payment_method_collection: if_required`), `trial_will_end` three days
 * before the end at the test clock's time, and the trial's end: with a card
 * the first cycle invoice is paid and the subscription is active; without
 * one, each `trial_settings.end_behavior.missing_payment_method`.
 */
import type Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openPortal, postForm, priceId, startHarness, type Harness } from "./harness.ts";

let h: Harness;
const DAY = 24 * 3600;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

type EndBehavior = "cancel" | "pause" | "create_invoice";

/** A customer on a new test clock and a 14-day trial Checkout for Starter, as the backend creates it. */
async function trialCheckout(opts: { cardless: boolean; endBehavior?: EndBehavior }) {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.UTC(2026, 0, 15) / 1000) });
  const customer = await h.stripe.customers.create({ email: "trial@example.com", test_clock: clock.id });
  const session = await h.stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: await priceId(h.stripe, "starter_monthly"), quantity: 1 }],
    subscription_data: {
      trial_period_days: 14,
      ...(opts.endBehavior ? { trial_settings: { end_behavior: { missing_payment_method: opts.endBehavior } } } : {}),
    },
    ...(opts.cardless ? { payment_method_collection: "if_required" as const } : {}),
    success_url: "http://127.0.0.1/ok",
  });
  return { clock, customer, session };
}

async function startTrial(opts: { cardless: boolean; endBehavior?: EndBehavior }) {
  const { clock, customer, session } = await trialCheckout(opts);
  const res = await postForm(`${h.sim.url}/checkout/${session.id}/pay`, opts.cardless ? { email: "trial@example.com" } : { cardNumber: "4242424242424242" });
  expect(res.status).toBe(303);
  const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
  return { clock, customer, session: done, sub: done.subscription as Stripe.Subscription };
}

async function advance(clock: Stripe.TestHelpers.TestClock, to: number): Promise<void> {
  const after = await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  expect(after.status).toBe("ready");
  await h.sim.waitForDeliveries();
}

function eventsOf(type: string, id: string): Stripe.Event[] {
  return h.receiver.events.filter((e) => e.type === type && (e.data.object as { id: string }).id === id);
}

describe("trials", () => {
  it("a card-less Checkout shows no card field, starts the trial with nothing due and no payment method", async () => {
    const { session } = await trialCheckout({ cardless: true, endBehavior: "cancel" });
    expect(session.payment_method_collection).toBe("if_required");
    const page = await (await fetch(`${h.sim.url}/checkout/${session.id}`)).text();
    expect(page).toContain('data-testid="checkout-no-card"');
    expect(page).not.toContain('data-testid="card-number"');
    expect(page).toContain("Start trial");

    const res = await postForm(`${h.sim.url}/checkout/${session.id}/pay`, { email: "trial@example.com" });
    expect(res.status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
    const sub = done.subscription as Stripe.Subscription;
    expect(done.payment_status).toBe("no_payment_required");
    expect(sub).toMatchObject({ status: "trialing", default_payment_method: null });
    expect(sub.trial_settings?.end_behavior.missing_payment_method).toBe("cancel");
    const first = (await h.stripe.invoices.list({ subscription: sub.id })).data[0];
    expect(first).toMatchObject({ billing_reason: "subscription_create", status: "paid", amount_paid: 0 });
    expect(first?.lines.data[0]?.amount).toBe(0);
    expect(first?.lines.data[0]?.description).toContain("Trial period");
  });

  it("a card Checkout still asks for a card (payment_method_collection defaults to always)", async () => {
    const { session } = await trialCheckout({ cardless: false });
    const page = await (await fetch(`${h.sim.url}/checkout/${session.id}`)).text();
    expect(page).toContain('data-testid="card-number"');
    const res = await postForm(`${h.sim.url}/checkout/${session.id}/pay`, { email: "trial@example.com" });
    expect(res.status).toBe(402);
  });

  it("trial_will_end fires once, 3 days before the end, stamped with the clock's time", async () => {
    const { clock, sub } = await startTrial({ cardless: false });
    const trialEnd = sub.trial_end!;
    await advance(clock, trialEnd - 3 * DAY - 60);
    expect(eventsOf("customer.subscription.trial_will_end", sub.id)).toHaveLength(0);
    await advance(clock, trialEnd - 3 * DAY + 60);
    const reminders = eventsOf("customer.subscription.trial_will_end", sub.id);
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.created).toBe(trialEnd - 3 * DAY);
    await advance(clock, trialEnd - DAY);
    expect(eventsOf("customer.subscription.trial_will_end", sub.id)).toHaveLength(1);
  });

  it("with a card: the trial end bills the first cycle invoice, paid, and the subscription is active", async () => {
    const { clock, sub } = await startTrial({ cardless: false });
    await advance(clock, sub.trial_end! + 60);
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect(after.status).toBe("active");
    const cycle = (await h.stripe.invoices.list({ subscription: sub.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle).toMatchObject({ status: "paid", amount_paid: 900 });
    expect(cycle?.lines.data[0]?.period.start).toBe(sub.trial_end);
  });

  it("without a card, end behaviour cancel: canceled at the trial end, no invoice", async () => {
    const { clock, sub } = await startTrial({ cardless: true, endBehavior: "cancel" });
    await advance(clock, sub.trial_end! + 60);
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect(after).toMatchObject({ status: "canceled", ended_at: sub.trial_end });
    expect(eventsOf("customer.subscription.deleted", sub.id)).toHaveLength(1);
    const invoices = (await h.stripe.invoices.list({ subscription: sub.id })).data;
    expect(invoices.map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  it("without a card, end behaviour pause: paused, no invoice, and no renewal while paused", async () => {
    const { clock, sub } = await startTrial({ cardless: true, endBehavior: "pause" });
    await advance(clock, sub.trial_end! + 60);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("paused");
    expect(eventsOf("customer.subscription.paused", sub.id)).toHaveLength(1);
    const updated = eventsOf("customer.subscription.updated", sub.id).at(-1);
    expect(updated?.data.previous_attributes).toMatchObject({ status: "trialing" });
    await advance(clock, sub.trial_end! + 40 * DAY);
    const invoices = (await h.stripe.invoices.list({ subscription: sub.id })).data;
    expect(invoices.map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  it("without a card, end behaviour create_invoice: the invoice stays open and the subscription goes past_due", async () => {
    const { clock, sub } = await startTrial({ cardless: true, endBehavior: "create_invoice" });
    await advance(clock, sub.trial_end! + 60);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("past_due");
    const cycle = (await h.stripe.invoices.list({ subscription: sub.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle).toMatchObject({ status: "open", amount_due: 900, attempt_count: 1 });
    expect(cycle?.next_payment_attempt).not.toBeNull();
  });

  it("a card added in the Portal during a card-less trial converts it at the end", async () => {
    const { clock, customer, sub } = await startTrial({ cardless: true, endBehavior: "cancel" });
    const portal = await openPortal(h, customer.id);
    const res = await postForm(`${portal}/card`, { cardNumber: "4242424242424242" });
    expect(res.status).toBe(303);
    const withCard = await h.stripe.subscriptions.retrieve(sub.id);
    expect(withCard.default_payment_method).not.toBeNull();
    await advance(clock, sub.trial_end! + 60);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("active");
    const cycle = (await h.stripe.invoices.list({ subscription: sub.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle).toMatchObject({ status: "paid", amount_paid: 900 });
  });

  it("an invalid end behaviour is a 400", async () => {
    await expect(
      h.stripe.checkout.sessions.create({
        mode: "subscription",
        line_items: [{ price: await priceId(h.stripe, "starter_monthly"), quantity: 1 }],
        subscription_data: { trial_period_days: 14, trial_settings: { end_behavior: { missing_payment_method: "explode" } } },
        success_url: "http://127.0.0.1/ok",
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: "subscription_data[trial_settings][end_behavior][missing_payment_method]" });
  });
});
