/**
 * Ending a trial early (`subscriptions.update` with `trial_end=now`) and its
 * preview: the cycle re-anchors at the moment of the request, a
 * `subscription_update` invoice bills the full new period, and with
 * `payment_behavior=pending_if_incomplete` a failed payment keeps the trial
 * unchanged in `pending_update`.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postForm, priceId, startHarness, type Harness } from "./harness.ts";

let h: Harness;
const DAY = 24 * 3600;
const START = Math.floor(Date.UTC(2026, 0, 15) / 1000);

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

/** A 14-day Pro trial paid with `card` at Checkout, on a test clock at START, advanced `days` into the trial. */
async function trialWithCard(card: string, days = 3) {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: START });
  const customer = await h.stripe.customers.create({ email: "early@example.com", test_clock: clock.id });
  const session = await h.stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: await priceId(h.stripe, "pro_monthly"), quantity: 1 }],
    subscription_data: { trial_period_days: 14 },
    success_url: "http://127.0.0.1/ok",
  });
  const res = await postForm(`${h.sim.url}/checkout/${session.id}/pay`, { cardNumber: card });
  expect(res.status).toBe(303);
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  const now = START + days * DAY;
  await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: now });
  await h.sim.waitForDeliveries();
  h.receiver.events.length = 0;
  return { clock, customer, subId: done.subscription as string, now };
}

function types(): string[] {
  return h.receiver.events.map((e) => e.type).filter((t) => t.startsWith("invoice.") || t.startsWith("customer.subscription."));
}

describe("trial_end=now", () => {
  it("previews the full period charged now and the renewal a month from now, changing nothing", async () => {
    const { customer, subId, now } = await trialWithCard("4242424242424242");
    const preview = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: subId, subscription_details: { trial_end: "now" } });
    expect(preview).toMatchObject({ billing_reason: "subscription_update", amount_due: 2900, currency: "usd" });
    const line = preview.lines.data[0]!;
    expect(line.amount).toBe(2900);
    expect(line.period).toEqual({ start: now, end: Math.floor(Date.UTC(2026, 1, 18) / 1000) });
    const sub = await h.stripe.subscriptions.retrieve(subId);
    expect(sub.status).toBe("trialing");
    await h.sim.waitForDeliveries();
    expect(types()).toEqual([]);
  });

  it("with pending_if_incomplete and a good card: paid, active, re-anchored now, trial_end = now", async () => {
    const { subId, now } = await trialWithCard("4242424242424242");
    const updated = await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete", expand: ["latest_invoice"] });
    expect(updated).toMatchObject({ status: "active", trial_end: now, billing_cycle_anchor: now, pending_update: null });
    expect(updated.items.data[0]).toMatchObject({ current_period_start: now, current_period_end: Math.floor(Date.UTC(2026, 1, 18) / 1000) });
    const invoice = updated.latest_invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({ billing_reason: "subscription_update", status: "paid", amount_paid: 2900 });
    expect(invoice.lines.data[0]?.period).toEqual({ start: now, end: Math.floor(Date.UTC(2026, 1, 18) / 1000) });
    await h.sim.waitForDeliveries();
    expect(types()).toEqual(["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"]);
    const event = h.receiver.events.find((e) => e.type === "customer.subscription.updated")!;
    expect(event.data.previous_attributes).toMatchObject({ status: "trialing" });
  });

  it("the next renewal comes a month after the trial ended, not at the old trial end", async () => {
    const { clock, subId, now } = await trialWithCard("4242424242424242");
    await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete" });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: START + 15 * DAY });
    await h.sim.waitForDeliveries();
    expect((await h.stripe.invoices.list({ subscription: subId })).data.map((i) => i.billing_reason)).toEqual(["subscription_update", "subscription_create"]);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: now + 32 * DAY });
    await h.sim.waitForDeliveries();
    const cycle = (await h.stripe.invoices.list({ subscription: subId })).data[0]!;
    expect(cycle).toMatchObject({ billing_reason: "subscription_cycle", status: "paid" });
    expect(cycle.lines.data[0]?.period.start).toBe(Math.floor(Date.UTC(2026, 1, 18) / 1000));
  });

  it("with pending_if_incomplete and a failing card: the trial runs on unchanged, the update waits in pending_update", async () => {
    const { subId, now } = await trialWithCard("4000000000000341");
    const before = await h.stripe.subscriptions.retrieve(subId);
    const updated = await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete", expand: ["latest_invoice"] });
    expect(updated).toMatchObject({ status: "trialing", trial_end: before.trial_end, billing_cycle_anchor: before.billing_cycle_anchor });
    expect(updated.items.data[0]?.current_period_end).toBe(before.items.data[0]?.current_period_end);
    expect(updated.pending_update).toMatchObject({ trial_end: now, expires_at: now + 23 * 3600, subscription_items: null });
    expect(updated.latest_invoice).toMatchObject({ status: "open", billing_reason: "subscription_update", amount_remaining: 2900 });
    await h.sim.waitForDeliveries();
    expect(types()).toEqual(["invoice.created", "invoice.finalized", "invoice.payment_failed", "customer.subscription.updated"]);
  });

  it("a pending trial end expires after 23 hours: its invoice is voided and the trial still ends on its date", async () => {
    const { clock, subId, now } = await trialWithCard("4000000000000341");
    const updated = await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete", expand: ["latest_invoice"] });
    const invoiceId = (updated.latest_invoice as Stripe.Invoice).id;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: now + DAY });
    await h.sim.waitForDeliveries();
    const sub = await h.stripe.subscriptions.retrieve(subId);
    expect(sub).toMatchObject({ status: "trialing", pending_update: null, trial_end: START + 14 * DAY });
    expect((await h.stripe.invoices.retrieve(invoiceId)).status).toBe("void");
  });

  it("paying the pending invoice later ends the trial then", async () => {
    const { subId, now } = await trialWithCard("4000000000000341");
    const updated = await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete", expand: ["latest_invoice"] });
    const invoice = updated.latest_invoice as Stripe.Invoice;
    const hosted = await postForm(`${h.sim.url}/invoice/${invoice.id}/pay`, { cardNumber: "4242424242424242" });
    expect([200, 303]).toContain(hosted.status);
    const sub = await h.stripe.subscriptions.retrieve(subId);
    expect(sub).toMatchObject({ status: "active", trial_end: now, billing_cycle_anchor: now, pending_update: null });
  });

  it("without pending_if_incomplete a failing card still ends the trial: past_due with an open invoice", async () => {
    const { subId } = await trialWithCard("4000000000000341");
    const updated = await h.stripe.subscriptions.update(subId, { trial_end: "now" });
    expect(updated.status).toBe("past_due");
  });

  it("error_if_incomplete refuses a failing card with a 402 and changes nothing", async () => {
    const { subId } = await trialWithCard("4000000000000341");
    await expect(h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "error_if_incomplete" })).rejects.toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((await h.stripe.subscriptions.retrieve(subId)).status).toBe("trialing");
  });

  it("refuses trial_end=now on a subscription that is not trialing", async () => {
    const { subId } = await trialWithCard("4242424242424242");
    await h.stripe.subscriptions.update(subId, { trial_end: "now", payment_behavior: "pending_if_incomplete" });
    await expect(h.stripe.subscriptions.update(subId, { trial_end: "now" })).rejects.toThrow(/not trialing/);
    await expect(
      h.stripe.invoices.createPreview({ subscription: subId, subscription_details: { trial_end: "now" } }),
    ).rejects.toThrow(/not trialing/);
  });
});
