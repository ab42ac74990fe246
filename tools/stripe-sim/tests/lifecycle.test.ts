/**
 * Subscription lifecycle in the simulator: Billing Portal actions, test
 * clock renewals, failed renewals with dunning and recovery, plan changes
 * with prorations, and the `/_sim/advance` shortcut.
 */
import type Stripe from "stripe";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openPortal, postForm, simPost, startHarness, subscribe, type Harness } from "./harness.ts";

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
afterEach(async () => {
  // A reset keeps the config; the dunning tests change it.
  await simPost(h.sim, "/_sim/config", { dunning: { retryDays: [3, 5, 7], finalAction: "cancel" } });
});

/** The hosted portal page's URL for `customer`. */
async function portal(customer: string): Promise<string> {
  const url = await openPortal(h, customer);
  expect(url).toMatch(new RegExp(`^${h.sim.url}/portal/bps_`));
  return url;
}

function eventsFor(type: string, objectId: string): Stripe.Event[] {
  return h.receiver.events.filter((e) => e.type === type && (e.data.object as { id: string }).id === objectId);
}

async function newClock(): Promise<Stripe.TestHelpers.TestClock> {
  return h.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.UTC(2026, 0, 15) / 1000) });
}

async function advance(clock: Stripe.TestHelpers.TestClock, to: number): Promise<void> {
  const after = await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  expect(after.status).toBe("ready");
  expect(after.frozen_time).toBe(to);
  await h.sim.waitForDeliveries();
}

describe("Billing Portal", () => {
  it("cancels at period end, resumes, and the cancel takes effect at the period end", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id });
    const base = await portal(customer.id);

    const page = await (await fetch(base)).text();
    expect(page).toContain('data-testid="portal-cancel"');
    expect(page).toContain('data-testid="portal-subscription-status">active<');

    const cancel = await postForm(`${base}/cancel`, { subscription: subscription.id });
    expect(cancel.status).toBe(303);
    const canceled = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(canceled.cancel_at_period_end).toBe(true);
    expect(canceled.cancel_at).toBe(canceled.items.data[0]?.current_period_end);
    expect(canceled.status).toBe("active");
    await h.sim.waitForDeliveries();
    const update = eventsFor("customer.subscription.updated", subscription.id).at(-1);
    expect((update?.data.object as Stripe.Subscription).cancel_at_period_end).toBe(true);
    expect(update?.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    expect(await (await fetch(base)).text()).toContain('data-testid="portal-cancel-notice"');

    await postForm(`${base}/resume`, { subscription: subscription.id });
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).cancel_at_period_end).toBe(false);

    await postForm(`${base}/cancel`, { subscription: subscription.id });
    const end = canceled.items.data[0]?.current_period_end ?? 0;
    await advance(clock, end + 60);
    const ended = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(ended.status).toBe("canceled");
    expect(ended.ended_at).toBe(end);
    expect(eventsFor("customer.subscription.deleted", subscription.id)).toHaveLength(1);
    // No renewal invoice for a subscription that ended.
    const invoices = await h.stripe.invoices.list({ subscription: subscription.id });
    expect(invoices.data.map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  it("in cancel_at style sets cancel_at only (flexible billing mode)", async () => {
    h.sim.configure({ portalCancelStyle: "cancel_at" });
    try {
      const { customer, subscription } = await subscribe(h);
      const base = await portal(customer.id);
      await postForm(`${base}/cancel`, { subscription: subscription.id });
      const sub = await h.stripe.subscriptions.retrieve(subscription.id);
      expect(sub.cancel_at_period_end).toBe(false);
      expect(sub.cancel_at).toBe(sub.items.data[0]?.current_period_end);
    } finally {
      h.sim.configure({ portalCancelStyle: "at_period_end" });
    }
  });

  it("switches plan with prorations invoiced now (subscription_update)", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id, lookupKey: "starter_monthly" });
    const start = subscription.items.data[0]?.current_period_start ?? 0;
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    // Halfway through the period.
    await advance(clock, start + Math.floor((end - start) / 2));
    const base = await portal(customer.id);
    const page = await (await fetch(base)).text();
    expect(page).toContain('data-testid="portal-switch-pro_monthly"');
    const pro = (await h.stripe.prices.list({ lookup_keys: ["pro_monthly"] })).data[0] as Stripe.Price;

    const res = await postForm(`${base}/switch`, { subscription: subscription.id, price: pro.id });
    expect(res.headers.get("location")).toContain("msg=plan_updated");
    const sub = await h.stripe.subscriptions.retrieve(subscription.id, { expand: ["latest_invoice"] });
    expect(sub.items.data[0]?.price.id).toBe(pro.id);
    expect(sub.items.data[0]?.current_period_end).toBe(end);
    const invoice = sub.latest_invoice as Stripe.Invoice;
    expect(invoice.billing_reason).toBe("subscription_update");
    expect(invoice.status).toBe("paid");
    const lines = invoice.lines.data;
    expect(lines.every((l) => l.parent?.subscription_item_details?.proration === true)).toBe(true);
    // Credit ~half of $9, charge ~half of $29: about +$10.
    expect(invoice.amount_paid).toBeGreaterThan(900);
    expect(invoice.amount_paid).toBeLessThan(1100);
    await h.sim.waitForDeliveries();
    const updated = eventsFor("customer.subscription.updated", subscription.id).at(-1);
    expect(updated?.data.previous_attributes).toHaveProperty("items");
  });

  it("updates the card and pays an open invoice", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id, card: "4000000000000341" });
    await advance(clock, (subscription.items.data[0]?.current_period_end ?? 0) + 60);
    const open = (await h.stripe.invoices.list({ subscription: subscription.id, status: "open" })).data[0] as Stripe.Invoice;
    expect(open).toBeDefined();

    const base = await portal(customer.id);
    expect(await (await fetch(base)).text()).toContain(`data-invoice-id="${open.id}"`);
    const declined = await postForm(`${base}/card`, { cardNumber: "4000000000000002" });
    expect(declined.headers.get("location")).toContain("error=");
    await postForm(`${base}/card`, { cardNumber: "4242424242424242" });
    const page = await (await fetch(base)).text();
    expect(page).toContain("•••• 4242");

    const paid = await postForm(`${base}/pay`, { invoice: open.id });
    expect(paid.headers.get("location")).toContain("msg=invoice_paid");
    expect((await h.stripe.invoices.retrieve(open.id)).status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("active");
  });
});

describe("test clocks", () => {
  it("renewal: advancing past the period end creates a paid subscription_cycle invoice and moves the period", async () => {
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id });
    const item = subscription.items.data[0] as Stripe.SubscriptionItem;
    expect(subscription.test_clock).toBe(clock.id);
    expect(item.current_period_start).toBe(clock.frozen_time);
    h.receiver.events.length = 0;

    await advance(clock, item.current_period_end + 3600);
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.status).toBe("active");
    expect(sub.items.data[0]?.current_period_start).toBe(item.current_period_end);
    // Jan 15 → Feb 15 → Mar 15.
    expect(new Date((sub.items.data[0]?.current_period_end ?? 0) * 1000).toISOString().slice(0, 10)).toBe("2026-03-15");

    const cycle = (await h.stripe.invoices.list({ subscription: subscription.id })).data.find(
      (i) => i.billing_reason === "subscription_cycle",
    ) as Stripe.Invoice;
    expect(cycle).toMatchObject({ status: "paid", amount_paid: 2900, period_start: item.current_period_start, period_end: item.current_period_end });
    expect(cycle.lines.data[0]?.period).toEqual({ start: item.current_period_end, end: sub.items.data[0]?.current_period_end });

    const types = h.receiver.types().filter((t) => t.startsWith("invoice.") || t.startsWith("customer.subscription."));
    expect(types.slice(0, 3)).toEqual(["invoice.created", "customer.subscription.updated", "invoice.finalized"]);
    expect(types).toContain("invoice.paid");
    const paid = h.receiver.events.find((e) => e.type === "invoice.paid")?.data.object as Stripe.Invoice;
    expect(paid.id).toBe(cycle.id);
    expect(paid.billing_reason).toBe("subscription_cycle");
  });

  it("0341 failed renewal: payment_failed, past_due, retries, then recovery by paying the hosted invoice", async () => {
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id, card: "4000 0000 0000 0341" });
    expect(subscription.status).toBe("active");
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    h.receiver.events.length = 0;

    await advance(clock, end + 60);
    let sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.status).toBe("past_due");
    const invoice = (await h.stripe.invoices.list({ subscription: subscription.id, status: "open" })).data[0] as Stripe.Invoice;
    expect(invoice).toMatchObject({ billing_reason: "subscription_cycle", attempt_count: 1, next_payment_attempt: end + 3 * DAY });
    const failed = h.receiver.events.filter((e) => e.type === "invoice.payment_failed");
    expect(failed).toHaveLength(1);
    const pastDue = eventsFor("customer.subscription.updated", subscription.id).find(
      (e) => (e.data.object as Stripe.Subscription).status === "past_due",
    );
    expect(pastDue?.data.previous_attributes).toMatchObject({ status: "active" });

    // Smart-Retries-like: a second attempt three days later also fails.
    await advance(clock, end + 3 * DAY + 60);
    expect((await h.stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(2);
    expect(h.receiver.events.filter((e) => e.type === "invoice.payment_failed")).toHaveLength(2);

    // The customer pays on the hosted invoice page with a working card.
    const page = await (await fetch(invoice.hosted_invoice_url ?? "")).text();
    expect(page).toContain('data-testid="invoice-pay"');
    const res = await postForm(`${h.sim.url}/invoice/${invoice.id}/pay`, { cardNumber: "4242424242424242" });
    expect(res.headers.get("location")).toContain("msg=invoice_paid");
    await h.sim.waitForDeliveries();
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("paid");
    sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.status).toBe("active");
    expect(eventsFor("invoice.paid", invoice.id)).toHaveLength(1);
  });

  it("0341 with every retry failing ends canceled after the last attempt", async () => {
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id, card: "4000000000000341" });
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    await advance(clock, end + 20 * DAY);
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.status).toBe("canceled");
    expect(sub.cancellation_details?.reason).toBe("payment_failed");
    const invoice = (await h.stripe.invoices.list({ subscription: subscription.id, status: "open" })).data[0];
    // First attempt + retries after 3, 5 and 7 more days.
    expect(invoice?.attempt_count).toBe(4);
    expect(h.receiver.types().filter((t) => t === "invoice.payment_failed")).toHaveLength(4);
    expect(eventsFor("customer.subscription.deleted", subscription.id)).toHaveLength(1);
  });

  it("0341 with finalAction past_due stays past_due after the last retry, the invoice open and payable", async () => {
    await simPost(h.sim, "/_sim/config", { dunning: { finalAction: "past_due" } });
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id, card: "4000000000000341" });
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    h.receiver.events.length = 0;
    // Past the last retry (3 + 5 + 7 days), before the next renewal.
    await advance(clock, end + 20 * DAY);
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("past_due");
    const invoice = (await h.stripe.invoices.list({ subscription: subscription.id, status: "open" })).data[0] as Stripe.Invoice;
    expect(invoice).toMatchObject({ attempt_count: 4, next_payment_attempt: null, auto_advance: false });
    expect(h.receiver.types().filter((t) => t === "invoice.payment_failed")).toHaveLength(4);
    expect(eventsFor("customer.subscription.deleted", subscription.id)).toHaveLength(0);
    // Renewed (period moved) and set past_due; nothing after the last retry.
    const statuses = eventsFor("customer.subscription.updated", subscription.id).map((e) => (e.data.object as Stripe.Subscription).status);
    expect(statuses.at(-1)).toBe("past_due");
    expect(statuses).not.toContain("unpaid");

    const res = await postForm(`${h.sim.url}/invoice/${invoice.id}/pay`, { cardNumber: "4242424242424242" });
    expect(res.headers.get("location")).toContain("msg=invoice_paid");
    await h.sim.waitForDeliveries();
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("active");
  });

  it("0341 with finalAction unpaid ends unpaid after the last retry", async () => {
    await simPost(h.sim, "/_sim/config", { dunning: { finalAction: "unpaid" } });
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id, card: "4000000000000341" });
    await advance(clock, (subscription.items.data[0]?.current_period_end ?? 0) + 20 * DAY);
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("unpaid");
  });

  it("3-D Secure on renewal: payment_action_required, then paid after authenticating on the invoice page", async () => {
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id, card: "4000002760003184" });
    await advance(clock, (subscription.items.data[0]?.current_period_end ?? 0) + 60);
    expect(h.receiver.types()).toContain("invoice.payment_action_required");
    const invoice = (await h.stripe.invoices.list({ subscription: subscription.id, status: "open" })).data[0] as Stripe.Invoice;
    const res = await postForm(`${h.sim.url}/invoice/${invoice.id}/pay`, { cardNumber: "" });
    const challenge = res.headers.get("location") ?? "";
    expect(challenge).toMatch(/^\/3ds\//);
    const approved = await postForm(`${h.sim.url}${challenge}`, { action: "approve" });
    expect(approved.headers.get("location")).toBe(`/invoice/${invoice.id}?msg=invoice_paid`);
    expect((await h.stripe.invoices.retrieve(invoice.id)).status).toBe("paid");
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("active");
  });

  it("trial: trial_will_end three days before, then the first paid cycle invoice", async () => {
    const clock = await newClock();
    const customer = await h.stripe.customers.create({ email: "trial@example.com", test_clock: clock.id });
    const price = (await h.stripe.prices.list({ lookup_keys: ["pro_monthly"] })).data[0] as Stripe.Price;
    const session = await h.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      subscription_data: { trial_period_days: 7 },
      success_url: "http://127.0.0.1/ok",
    });
    expect(session.amount_total).toBe(0);
    const res = await postForm(`${h.sim.url}/checkout/${session.id}/pay`, { cardNumber: "4242424242424242" });
    expect(res.status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
    const sub = done.subscription as Stripe.Subscription;
    expect(done.payment_status).toBe("no_payment_required");
    expect(sub.status).toBe("trialing");
    expect(sub.trial_end).toBe(clock.frozen_time + 7 * DAY);

    await advance(clock, clock.frozen_time + 5 * DAY);
    expect(h.receiver.types()).toContain("customer.subscription.trial_will_end");
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe("trialing");

    await advance(clock, clock.frozen_time + 8 * DAY);
    const after = await h.stripe.subscriptions.retrieve(sub.id);
    expect(after.status).toBe("active");
    const cycle = (await h.stripe.invoices.list({ subscription: sub.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle).toMatchObject({ status: "paid", amount_paid: 2900 });
  });
});

describe("/_sim/advance", () => {
  it("renews one clock-less customer's subscription and leaves other customers' time alone", async () => {
    const other = await subscribe(h);
    const { subscription } = await subscribe(h);
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    const out = (await simPost(h.sim, "/_sim/advance", { subscription: subscription.id, to: "period_end" })) as { now: number };
    expect(out.now).toBeGreaterThan(end);
    await h.sim.waitForDeliveries();
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.items.data[0]?.current_period_start).toBe(end);
    const reasons = (await h.stripe.invoices.list({ subscription: subscription.id })).data.map((i) => i.billing_reason);
    expect(reasons).toEqual(["subscription_cycle", "subscription_create"]);
    const renewal = h.receiver.events.find((e) => e.type === "invoice.paid" && (e.data.object).billing_reason === "subscription_cycle");
    expect(renewal?.created).toBe(end);

    const untouched = await h.stripe.invoices.list({ subscription: other.subscription.id });
    expect(untouched.data.map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  it("without a scope moves everyone without a test clock", async () => {
    const a = await subscribe(h);
    const b = await subscribe(h);
    await simPost(h.sim, "/_sim/advance", { seconds: 32 * DAY });
    for (const s of [a.subscription, b.subscription]) {
      const reasons = (await h.stripe.invoices.list({ subscription: s.id })).data.map((i) => i.billing_reason);
      expect(reasons).toEqual(["subscription_cycle", "subscription_create"]);
    }
  });
});
