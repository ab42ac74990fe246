/**
 * Subscription Schedules, Billing Portal configurations and the Portal page
 * that follows them, and Checkout's `invoice_creation`, through the SDK and
 * the hosted pages.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startStripeSimulator } from "../src/index.ts";
import {
  createPortalConfiguration,
  openPortal,
  payCheckout,
  postForm,
  priceId,
  simPost,
  startHarness,
  subscribe,
  type Harness,
} from "./harness.ts";

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

async function newClock(): Promise<Stripe.TestHelpers.TestClock> {
  return h.stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.UTC(2026, 0, 15) / 1000) });
}

async function advance(clock: Stripe.TestHelpers.TestClock, to: number): Promise<void> {
  await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to });
  await h.sim.waitForDeliveries();
}

function typesFor(id: string): string[] {
  return h.receiver.events.filter((e) => (e.data.object as { id: string }).id === id).map((e) => e.type);
}

describe("subscription schedules", () => {
  it("Elite → Starter at the period end: the renewal bills Starter, then the schedule is released", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id, lookupKey: "elite_monthly" });
    const item = subscription.items.data[0] as Stripe.SubscriptionItem;
    const elite = item.price.id;
    const starter = await priceId(h.stripe, "starter_monthly");

    const created = await h.stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
    expect(created).toMatchObject({ object: "subscription_schedule", status: "active", subscription: subscription.id, end_behavior: "release", test_clock: clock.id });
    expect(created.id).toMatch(/^sub_sched_/);
    expect(created.phases).toHaveLength(1);
    expect(created.phases[0]).toMatchObject({ start_date: item.current_period_start, end_date: item.current_period_end });
    expect(created.phases[0]?.items[0]).toMatchObject({ price: elite, quantity: 1 });
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).schedule).toBe(created.id);

    const updated = await h.stripe.subscriptionSchedules.update(created.id, {
      end_behavior: "release",
      phases: [
        { items: [{ price: elite, quantity: 1 }], start_date: item.current_period_start, end_date: item.current_period_end },
        { items: [{ price: starter, quantity: 1 }], duration: { interval: "month" }, metadata: { tier: "starter" } },
      ],
    });
    expect(updated.phases[1]).toMatchObject({ start_date: item.current_period_end, proration_behavior: "create_prorations" });
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).items.data[0]?.price.id).toBe(elite);
    const nextInvoice = await h.stripe.invoices.createPreview({ customer: customer.id, subscription: subscription.id });
    expect(nextInvoice.total).toBe(900);
    const listed = await h.stripe.subscriptionSchedules.list({ customer: customer.id });
    expect(listed.data.map((s) => s.id)).toEqual([created.id]);

    await advance(clock, item.current_period_end + 60);
    const renewed = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(renewed.items.data[0]?.price.id).toBe(starter);
    expect(renewed.metadata).toMatchObject({ tier: "starter" });
    const cycle = (await h.stripe.invoices.list({ subscription: subscription.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle).toMatchObject({ status: "paid", total: 900, amount_paid: 900 });
    expect(cycle?.lines.data.every((l) => !l.parent?.subscription_item_details?.proration)).toBe(true);
    expect((await h.stripe.subscriptionSchedules.retrieve(created.id)).current_phase).toEqual({
      start_date: item.current_period_end,
      end_date: renewed.items.data[0]?.current_period_end,
    });

    await advance(clock, (renewed.items.data[0]?.current_period_end ?? 0) + 60);
    const released = await h.stripe.subscriptionSchedules.retrieve(created.id);
    expect(released).toMatchObject({ status: "released", subscription: null, released_subscription: subscription.id });
    const after = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(after.schedule).toBeNull();
    expect(after.status).toBe("active");
    expect(after.items.data[0]?.price.id).toBe(starter);
    expect(typesFor(created.id)).toEqual([
      "subscription_schedule.created",
      "subscription_schedule.updated",
      "subscription_schedule.updated",
      "subscription_schedule.released",
    ]);
  });

  it("release keeps the subscription as it is; cancel cancels it", async () => {
    const { subscription } = await subscribe(h);
    const schedule = await h.stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
    const released = await h.stripe.subscriptionSchedules.release(schedule.id);
    expect(released).toMatchObject({ status: "released", released_subscription: subscription.id });
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub).toMatchObject({ status: "active", schedule: null });
    await h.sim.waitForDeliveries();
    const update = h.receiver.events.filter((e) => e.type === "customer.subscription.updated").at(-1);
    expect(update?.data.previous_attributes).toEqual({ schedule: schedule.id });

    const again = await h.stripe.subscriptionSchedules.create({ from_subscription: subscription.id });
    const canceled = await h.stripe.subscriptionSchedules.cancel(again.id);
    expect(canceled.status).toBe("canceled");
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).status).toBe("canceled");
    await h.sim.waitForDeliveries();
    expect(typesFor(again.id)).toContain("subscription_schedule.canceled");
  });
});

describe("Billing Portal configurations", () => {
  it("a fresh simulator has none: sessions need one, the first created is the default", async () => {
    const sim = await startStripeSimulator({ port: 0 });
    try {
      const stripe = sim.stripe();
      const customer = await stripe.customers.create({ email: "fresh@example.com" });
      const err = await stripe.billingPortal.sessions.create({ customer: customer.id }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect((err as Stripe.errors.StripeError).message).toContain("save your customer portal settings in test mode");

      const first = await stripe.billingPortal.configurations.create({
        features: { invoice_history: { enabled: true } },
        default_return_url: "http://127.0.0.1:5173/billing",
        metadata: { app: "test" },
      });
      expect(first).toMatchObject({ object: "billing_portal.configuration", is_default: true, active: true, metadata: { app: "test" } });
      expect(first.features.subscription_update).toMatchObject({ enabled: false, proration_behavior: "none" });
      const second = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: false } } });
      expect(second.is_default).toBe(false);
      const session = await stripe.billingPortal.sessions.create({ customer: customer.id });
      expect(session).toMatchObject({ configuration: first.id, return_url: "http://127.0.0.1:5173/billing" });
      expect((await stripe.billingPortal.sessions.create({ customer: customer.id, configuration: second.id })).configuration).toBe(second.id);

      const updated = await stripe.billingPortal.configurations.update(second.id, {
        active: false,
        features: { subscription_cancel: { enabled: true, mode: "immediately" } },
      });
      expect(updated).toMatchObject({ active: false, features: { subscription_cancel: { enabled: true, mode: "immediately" } } });
      expect((await stripe.billingPortal.configurations.list({ is_default: true })).data.map((c) => c.id)).toEqual([first.id]);
      expect((await stripe.billingPortal.configurations.list({ active: false })).data.map((c) => c.id)).toEqual([second.id]);
      expect((await stripe.billingPortal.configurations.retrieve(first.id)).id).toBe(first.id);
    } finally {
      await sim.close();
    }
  });
});

describe("hosted Portal follows its configuration", () => {
  it("shows only configured prices; a downgrade waits for the period end through a schedule that can be canceled", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id, lookupKey: "pro_monthly" });
    const [starter, elite, proYearly] = await Promise.all(["starter_monthly", "elite_monthly", "pro_yearly"].map((k) => priceId(h.stripe, k)));
    const proProduct = subscription.items.data[0]?.price.product as string;
    const starterProduct = (await h.stripe.prices.retrieve(starter as string)).product as string;
    const config = await createPortalConfiguration(h.stripe, {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ["price"],
        proration_behavior: "always_invoice",
        products: [
          { product: starterProduct, prices: [starter as string] },
          { product: proProduct, prices: [proYearly as string] },
        ],
        schedule_at_period_end: { conditions: [{ type: "decreasing_item_amount" }, { type: "shortening_interval" }] },
      },
    });
    const base = await openPortal(h, customer.id, config.id);
    const page = await (await fetch(base)).text();
    expect(page).toContain('data-testid="portal-switch-starter_monthly"');
    expect(page).toContain('data-testid="portal-switch-pro_yearly"');
    expect(page).not.toContain('data-testid="portal-switch-elite_monthly"');
    const refused = await postForm(`${base}/switch`, { subscription: subscription.id, price: elite as string });
    expect(refused.headers.get("location")).toContain("error=");

    const res = await postForm(`${base}/switch`, { subscription: subscription.id, price: starter as string });
    expect(res.headers.get("location")).toContain("msg=plan_scheduled");
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.items.data[0]?.price.lookup_key).toBe("pro_monthly");
    expect(sub.schedule).toMatch(/^sub_sched_/);
    const schedule = await h.stripe.subscriptionSchedules.retrieve(sub.schedule as string);
    expect(schedule.phases.map((p) => p.items[0]?.price)).toEqual([subscription.items.data[0]?.price.id, starter]);
    const withNotice = await (await fetch(base)).text();
    expect(withNotice).toContain('data-testid="portal-scheduled-change"');

    const undo = await postForm(`${base}/release`, { subscription: subscription.id });
    expect(undo.headers.get("location")).toContain("msg=change_canceled");
    expect((await h.stripe.subscriptions.retrieve(subscription.id)).schedule).toBeNull();
    expect(await (await fetch(base)).text()).not.toContain('data-testid="portal-scheduled-change"');

    // Scheduled again, the renewal bills Starter.
    await postForm(`${base}/switch`, { subscription: subscription.id, price: starter as string });
    await advance(clock, (subscription.items.data[0]?.current_period_end ?? 0) + 60);
    const renewed = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(renewed.items.data[0]?.price.id).toBe(starter);
    const cycle = (await h.stripe.invoices.list({ subscription: subscription.id })).data.find((i) => i.billing_reason === "subscription_cycle");
    expect(cycle?.total).toBe(900);
  });

  it("an upgrade applies now with always_invoice; a failing card leaves the change applied and the invoice open", async () => {
    const { customer, subscription } = await subscribe(h, { lookupKey: "starter_monthly", card: "4000000000000341" });
    const base = await openPortal(h, customer.id);
    const pro = await priceId(h.stripe, "pro_monthly");
    const res = await postForm(`${base}/switch`, { subscription: subscription.id, price: pro });
    expect(res.headers.get("location")).toContain("error=");
    const sub = await h.stripe.subscriptions.retrieve(subscription.id, { expand: ["latest_invoice"] });
    expect(sub.items.data[0]?.price.id).toBe(pro);
    expect((sub.latest_invoice as Stripe.Invoice)).toMatchObject({ status: "open", billing_reason: "subscription_update" });
  });

  it("cancel shows the reasons and records the chosen one; mode immediately cancels now; disabled features are hidden", async () => {
    const { customer, subscription } = await subscribe(h);
    const config = await createPortalConfiguration(h.stripe, {
      subscription_cancel: {
        enabled: true,
        mode: "immediately",
        cancellation_reason: { enabled: true, options: ["too_expensive", "unused", "other"] },
      },
      payment_method_update: { enabled: false },
      invoice_history: { enabled: false },
    });
    const base = await openPortal(h, customer.id, config.id);
    const page = await (await fetch(base)).text();
    expect(page).toContain('data-testid="portal-cancel-reason-too_expensive"');
    expect(page).not.toContain('data-testid="portal-update-card"');
    expect(page).not.toContain('data-testid="portal-invoices"');
    const res = await postForm(`${base}/cancel`, { subscription: subscription.id, reason: "too_expensive" });
    expect(res.headers.get("location")).toContain("msg=canceled_now");
    const sub = await h.stripe.subscriptions.retrieve(subscription.id);
    expect(sub.status).toBe("canceled");
    expect(sub.cancellation_details).toMatchObject({ feedback: "too_expensive", reason: "cancellation_requested" });
  });
});

describe("Checkout invoice_creation", () => {
  it("payment mode with invoice_creation creates a paid manual invoice; without it, none", async () => {
    const customer = await h.stripe.customers.create({ email: "pack@example.com" });
    const price = await priceId(h.stripe, "tokens_100");
    const session = await h.stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price, quantity: 1 }],
      invoice_creation: { enabled: true, invoice_data: { description: "100 tokens", metadata: { accountId: "acct_1", pack: "pack_100" } } },
      success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
    });
    expect(session.invoice_creation?.enabled).toBe(true);
    expect((await payCheckout(h.sim, session, "4242424242424242")).status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["invoice"] });
    const invoice = done.invoice as Stripe.Invoice;
    expect(invoice).toMatchObject({
      status: "paid",
      billing_reason: "manual",
      parent: null,
      description: "100 tokens",
      metadata: { accountId: "acct_1", pack: "pack_100" },
      total: 1000,
      amount_paid: 1000,
    });
    expect(invoice.lines.data).toHaveLength(1);
    expect(invoice.lines.data[0]?.pricing?.price_details?.price).toBe(price);
    await h.sim.waitForDeliveries();
    expect(typesFor(invoice.id)).toEqual(["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]);

    const plain = await h.stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price, quantity: 1 }],
      success_url: "http://127.0.0.1:5173/billing/success",
    });
    await payCheckout(h.sim, plain, "4242424242424242");
    expect((await h.stripe.checkout.sessions.retrieve(plain.id)).invoice).toBeNull();
  });
});

describe("test clocks", () => {
  it("advance emits advancing then ready; customers and subscriptions carry the clock", async () => {
    const clock = await newClock();
    const { customer, subscription } = await subscribe(h, { testClock: clock.id });
    expect(((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).test_clock).toBe(clock.id);
    expect(subscription.test_clock).toBe(clock.id);
    h.receiver.events.length = 0;
    await advance(clock, clock.frozen_time + 3600);
    const clockEvents = h.receiver.events.filter((e) => e.type.startsWith("test_helpers.test_clock."));
    expect(clockEvents.map((e) => e.type)).toEqual(["test_helpers.test_clock.advancing", "test_helpers.test_clock.ready"]);
    expect((clockEvents[1]?.data.object as Stripe.TestHelpers.TestClock).frozen_time).toBe(clock.frozen_time + 3600);
  });

  it("/_sim/advance for a customer on a test clock advances that clock", async () => {
    const clock = await newClock();
    const { subscription } = await subscribe(h, { testClock: clock.id });
    const end = subscription.items.data[0]?.current_period_end ?? 0;
    const out = (await simPost(h.sim, "/_sim/advance", { subscription: subscription.id, to: "period_end" })) as { clock: string; now: number };
    expect(out).toEqual({ clock: clock.id, now: end + 1 });
    expect((await h.stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time).toBe(end + 1);
    expect((await h.stripe.invoices.list({ subscription: subscription.id })).data.map((i) => i.billing_reason)).toEqual([
      "subscription_cycle",
      "subscription_create",
    ]);
  });
});
