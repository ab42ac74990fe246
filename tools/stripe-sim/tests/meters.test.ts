/**
 * Billing Meters through the SDK: meters, meter events (validation, the
 * 24-hour identifier dedupe, the timestamp window, Idempotency-Key),
 * event summaries, metered prices, and a metered subscription item bought
 * at Checkout whose usage is billed on the renewal invoice on a test clock.
 */
import Stripe from "stripe";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { payCheckout, priceId, startHarness, subscriptionCheckout, type Harness } from "./harness.ts";

let h: Harness;
const DAY = 24 * 3600;
/** 2026-01-15T00:00:00Z, on a minute (and day) boundary. */
const T0 = Math.floor(Date.UTC(2026, 0, 15) / 1000);

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.reset();
});

async function overageMeter(): Promise<Stripe.Billing.Meter> {
  return h.stripe.billing.meters.create({
    display_name: "Overage tokens",
    event_name: "overage_tokens",
    default_aggregation: { formula: "sum" },
  });
}

/** The meter and a monthly metered price of 12 cents a unit on it. */
async function meteredCatalog(): Promise<{ meter: Stripe.Billing.Meter; price: Stripe.Price }> {
  const meter = await overageMeter();
  const product = await h.stripe.products.create({ id: "test_overage", name: "Overage tokens" });
  const price = await h.stripe.prices.create({
    product: product.id,
    currency: "usd",
    unit_amount: 12,
    recurring: { interval: "month", usage_type: "metered", meter: meter.id },
    lookup_key: "overage_monthly",
  });
  return { meter, price };
}

/** A 400 from the SDK call, with its message. */
async function refused(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeError) {
      expect(err.statusCode).toBe(400);
      expect(err.type).toBe("StripeInvalidRequestError");
      return err;
    }
    throw err;
  }
  throw new Error("expected a 400");
}

async function clockCustomer(frozen = T0): Promise<{ clock: Stripe.TestHelpers.TestClock; customer: Stripe.Customer }> {
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: frozen });
  const customer = await h.stripe.customers.create({ email: "meter@example.com", test_clock: clock.id });
  return { clock, customer };
}

function usage(customer: string, value: number, extra: Partial<Stripe.Billing.MeterEventCreateParams> = {}) {
  return h.stripe.billing.meterEvents.create({
    event_name: "overage_tokens",
    payload: { stripe_customer_id: customer, value: String(value) },
    ...extra,
  });
}

describe("meters", () => {
  it("creates, retrieves and lists meters; an active meter's event name is taken", async () => {
    const meter = await overageMeter();
    expect(meter).toMatchObject({
      object: "billing.meter",
      status: "active",
      event_name: "overage_tokens",
      display_name: "Overage tokens",
      default_aggregation: { formula: "sum" },
      customer_mapping: { event_payload_key: "stripe_customer_id", type: "by_id" },
      value_settings: { event_payload_key: "value" },
      status_transitions: { deactivated_at: null },
    });
    expect(meter.id).toMatch(/^mtr_test_/);
    expect((await h.stripe.billing.meters.retrieve(meter.id)).id).toBe(meter.id);
    expect((await h.stripe.billing.meters.list({ status: "active" })).data.map((m) => m.id)).toEqual([meter.id]);

    const taken = await refused(overageMeter());
    expect(taken.param).toBe("event_name");

    const off = await h.stripe.billing.meters.deactivate(meter.id);
    expect(off.status).toBe("inactive");
    expect(off.status_transitions.deactivated_at).not.toBeNull();
    const second = await overageMeter();
    await refused(h.stripe.billing.meters.reactivate(meter.id));
    await h.stripe.billing.meters.deactivate(second.id);
    expect((await h.stripe.billing.meters.reactivate(meter.id)).status).toBe("active");
    expect((await h.stripe.billing.meters.list({ status: "inactive" })).data.map((m) => m.id)).toEqual([second.id]);
    await refused(h.stripe.billing.meters.create({ display_name: "x", event_name: "y", default_aggregation: { formula: "max" } }));
  });

  it("metered prices need an existing meter; a meter needs usage_type metered", async () => {
    const { meter, price } = await meteredCatalog();
    expect(price.recurring).toMatchObject({ usage_type: "metered", meter: meter.id, interval: "month" });
    expect(price.billing_scheme).toBe("per_unit");
    const listed = await h.stripe.prices.list({ lookup_keys: ["overage_monthly"] });
    expect(listed.data.map((p) => p.id)).toEqual([price.id]);
    await refused(h.stripe.prices.create({ product: "test_overage", currency: "usd", unit_amount: 12, recurring: { interval: "month", usage_type: "metered" } }));
    await refused(h.stripe.prices.create({ product: "test_overage", currency: "usd", unit_amount: 12, recurring: { interval: "month", meter: meter.id } }));
    const missingMeter = await h.stripe.prices
      .create({ product: "test_overage", currency: "usd", unit_amount: 12, recurring: { interval: "month", usage_type: "metered", meter: "mtr_test_nope" } })
      .then(() => null, (err: unknown) => err as Stripe.errors.StripeError);
    expect(missingMeter?.statusCode).toBe(404);
  });
});

describe("meter events", () => {
  it("accepts an event and refuses the same identifier again with Stripe's message", async () => {
    await overageMeter();
    const { clock, customer } = await clockCustomer();
    const event = await usage(customer.id, 3, { identifier: "ledger_1" });
    expect(event).toMatchObject({
      object: "billing.meter_event",
      event_name: "overage_tokens",
      identifier: "ledger_1",
      payload: { stripe_customer_id: customer.id, value: "3" },
      timestamp: T0,
    });
    const generated = await usage(customer.id, 1);
    expect(generated.identifier).toBeTruthy();

    const dup = await refused(usage(customer.id, 3, { identifier: "ledger_1" }));
    expect(dup.message).toBe("An event already exists with identifier ledger_1.");
    // Advancing a test clock does not age the 24-hour window (it runs on wall time).
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: T0 + 2 * DAY });
    expect((await refused(usage(customer.id, 3, { identifier: "ledger_1" }))).message).toBe("An event already exists with identifier ledger_1.");
  });

  it("replays an Idempotency-Key instead of refusing the identifier", async () => {
    await overageMeter();
    const { customer } = await clockCustomer();
    const first = await usage(customer.id, 2, { identifier: "ledger_2" });
    const again = await h.stripe.billing.meterEvents.create(
      { event_name: "overage_tokens", payload: { stripe_customer_id: customer.id, value: "5" }, identifier: "ledger_3" },
      { idempotencyKey: "report-ledger_3" },
    );
    const replay = await h.stripe.billing.meterEvents.create(
      { event_name: "overage_tokens", payload: { stripe_customer_id: customer.id, value: "5" }, identifier: "ledger_3" },
      { idempotencyKey: "report-ledger_3" },
    );
    expect(replay.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(replay.identifier).toBe(again.identifier);
    expect(first.identifier).toBe("ledger_2");
    const meter = (await h.stripe.billing.meters.list()).data[0]!;
    const summary = await h.stripe.billing.meters.listEventSummaries(meter.id, { customer: customer.id, start_time: T0, end_time: T0 + 60 });
    expect(summary.data.map((s) => s.aggregated_value)).toEqual([7]);
  });

  it("refuses bad events with a 400", async () => {
    await overageMeter();
    const { customer } = await clockCustomer();
    expect((await refused(h.stripe.billing.meterEvents.create({ event_name: "nobody_listens", payload: { stripe_customer_id: customer.id, value: "1" } }))).param).toBe("event_name");
    expect((await refused(h.stripe.billing.meterEvents.create({ event_name: "overage_tokens", payload: { value: "1" } }))).param).toBe("payload[stripe_customer_id]");
    expect((await refused(usage("cus_nobody", 1))).message).toContain("cus_nobody");
    for (const value of ["1.5", "abc", "-2"]) {
      const err = await refused(h.stripe.billing.meterEvents.create({ event_name: "overage_tokens", payload: { stripe_customer_id: customer.id, value } }));
      expect(err.param).toBe("payload[value]");
    }
    // The window is the customer's now (their test clock): 35 days back, 5 minutes ahead.
    expect((await usage(customer.id, 1, { timestamp: T0 - 35 * DAY })).timestamp).toBe(T0 - 35 * DAY);
    expect((await refused(usage(customer.id, 1, { timestamp: T0 - 35 * DAY - 1 }))).param).toBe("timestamp");
    expect((await usage(customer.id, 1, { timestamp: T0 + 300 })).timestamp).toBe(T0 + 300);
    expect((await refused(usage(customer.id, 1, { timestamp: T0 + 301 }))).param).toBe("timestamp");
  });

  it("summarises a customer's usage over [start, end), whole or by hour", async () => {
    const meter = await overageMeter();
    const { customer } = await clockCustomer(T0 + 3 * 3600);
    const { customer: other } = await clockCustomer(T0 + 3 * 3600);
    await usage(customer.id, 4, { timestamp: T0 + 10 });
    await usage(customer.id, 5, { timestamp: T0 + 3600 + 59 });
    await usage(customer.id, 6, { timestamp: T0 + 2 * 3600 });
    await usage(other.id, 100, { timestamp: T0 + 10 });
    const whole = await h.stripe.billing.meters.listEventSummaries(meter.id, { customer: customer.id, start_time: T0, end_time: T0 + 2 * 3600 });
    expect(whole.data).toHaveLength(1);
    expect(whole.data[0]).toMatchObject({ object: "billing.meter_event_summary", aggregated_value: 9, meter: meter.id, start_time: T0, end_time: T0 + 7200 });
    const hourly = await h.stripe.billing.meters.listEventSummaries(meter.id, {
      customer: customer.id,
      start_time: T0,
      end_time: T0 + 3 * 3600,
      value_grouping_window: "hour",
    });
    expect(hourly.data.map((s) => [s.start_time - T0, s.aggregated_value])).toEqual([[7200, 6], [3600, 5], [0, 4]]);
    await refused(h.stripe.billing.meters.listEventSummaries(meter.id, { customer: customer.id, start_time: T0 + 1, end_time: T0 + 60 }));
    await refused(h.stripe.billing.meters.listEventSummaries(meter.id, { customer: customer.id, start_time: T0 + 60, end_time: T0 + 3600, value_grouping_window: "hour" }));
  });
});

/** Pays a subscription Checkout for pro_monthly plus the metered price (no quantity). */
async function subscribeWithOverage(customer: Stripe.Customer, metered: Stripe.Price): Promise<Stripe.Subscription> {
  const session = await subscriptionCheckout(h.stripe, customer.id, "pro_monthly", {
    line_items: [{ price: await priceId(h.stripe, "pro_monthly"), quantity: 1 }, { price: metered.id }],
  });
  expect(session.amount_total).toBe(2900);
  const page = await (await fetch(session.url ?? "")).text();
  expect(page).toContain("$0.12 per unit, billed by usage per month");
  expect(page).toMatch(/data-testid="checkout-total">\$29\.00</);
  const res = await payCheckout(h.sim, session, "4242424242424242");
  expect(res.status).toBe(303);
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  return h.stripe.subscriptions.retrieve(done.subscription as string);
}

function usageLineOf(invoice: Stripe.Invoice, price: Stripe.Price): Stripe.InvoiceLineItem | undefined {
  return invoice.lines.data.find((l) => l.pricing?.price_details?.price === price.id);
}

describe("metered subscriptions", () => {
  it("bills the ended period's usage on the renewal invoice; later usage lands on the next one", async () => {
    const { price } = await meteredCatalog();
    const { clock, customer } = await clockCustomer();
    const sub = await subscribeWithOverage(customer, price);
    expect(sub.status).toBe("active");
    expect(sub.items.data).toHaveLength(2);
    const item = sub.items.data.find((i) => i.price.id === price.id)!;
    expect(item).not.toHaveProperty("quantity");
    expect(sub.items.data[0]?.quantity).toBe(1);
    const end = item.current_period_end;

    const first = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(first.amount_paid).toBe(2900);
    expect(usageLineOf(first, price)).toMatchObject({ quantity: 0, amount: 0, description: "0 × Overage tokens (at $0.12 / month)" });

    await usage(customer.id, 3, { identifier: "e1" });
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: end - 120 });
    await usage(customer.id, 4, { identifier: "e2", timestamp: end - 60 });
    // The upcoming invoice shows the usage so far.
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(usageLineOf(preview, price)).toMatchObject({ quantity: 7, amount: 84, period: { start: item.current_period_start, end } });
    expect(preview.total).toBe(2984);
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: end + 60 });
    await h.sim.waitForDeliveries();

    const renewed = await h.stripe.subscriptions.retrieve(sub.id);
    const cycle = await h.stripe.invoices.retrieve(renewed.latest_invoice as string);
    expect(cycle.billing_reason).toBe("subscription_cycle");
    const line = usageLineOf(cycle, price)!;
    expect(line).toMatchObject({
      quantity: 7,
      amount: 84,
      description: "7 × Overage tokens (at $0.12 / month)",
      period: { start: item.current_period_start, end },
      parent: { subscription_item_details: { subscription_item: item.id, proration: false, subscription: sub.id } },
      pricing: { price_details: { price: price.id, product: "test_overage" } },
    });
    expect(cycle.total).toBe(2900 + 84);
    expect(cycle.amount_paid).toBe(2984);
    expect(cycle.status).toBe("paid");
    const paid = h.receiver.events.find((e) => e.type === "invoice.paid" && e.data.object.id === cycle.id);
    expect((paid?.data.object as Stripe.Invoice).lines.data.some((l) => l.amount === 84)).toBe(true);

    // Usage after the period end belongs to the next period.
    await usage(customer.id, 5, { identifier: "e3", timestamp: end + 30 });
    await usage(customer.id, 2, { identifier: "e4" });
    const nextEnd = renewed.items.data.find((i) => i.id === item.id)!.current_period_end;
    await h.stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: nextEnd + 1 });
    const next = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(usageLineOf(next, price)).toMatchObject({ quantity: 7, amount: 84, period: { start: end, end: nextEnd } });
    expect(next.amount_due).toBe(2984);
  });

  it("refuses a quantity on a metered price at Checkout and on subscriptions", async () => {
    const { price } = await meteredCatalog();
    const { customer } = await clockCustomer();
    const err = await refused(
      subscriptionCheckout(h.stripe, customer.id, "pro_monthly", {
        line_items: [{ price: await priceId(h.stripe, "pro_monthly"), quantity: 1 }, { price: price.id, quantity: 1 }],
      }),
    );
    expect(err.param).toBe("line_items[1][quantity]");
    await refused(
      h.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: await priceId(h.stripe, "pro_monthly") }, { price: price.id, quantity: 2 }],
        default_payment_method: "pm_card_visa",
      }),
    );
    // A yearly plan with a monthly metered price: one interval per subscription.
    await refused(
      h.stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: await priceId(h.stripe, "pro_yearly") }, { price: price.id }],
        default_payment_method: "pm_card_visa",
      }),
    );
  });

  it("subscriptions.update adds and deletes metered items; a plan change leaves the metered item alone", async () => {
    const { price } = await meteredCatalog();
    const { customer } = await clockCustomer();
    const sub = await h.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: await priceId(h.stripe, "pro_monthly") }],
      default_payment_method: "pm_card_visa",
    });
    const added = await h.stripe.subscriptions.update(sub.id, { items: [{ price: price.id }] });
    expect(added.items.data.map((i) => [i.price.id, i.quantity])).toEqual([
      [sub.items.data[0]!.price.id, 1],
      [price.id, undefined],
    ]);
    const meteredItem = added.items.data[1]!;
    const plan = added.items.data[0]!;
    const upgraded = await h.stripe.subscriptions.update(sub.id, {
      items: [{ id: plan.id, price: await priceId(h.stripe, "elite_monthly") }],
      proration_behavior: "none",
    });
    expect(upgraded.items.data.map((i) => i.id)).toEqual([plan.id, meteredItem.id]);
    expect(upgraded.items.data[1]).toMatchObject({ price: { id: price.id } });
    expect(upgraded.items.data[1]).not.toHaveProperty("quantity");

    const schedule = await h.stripe.subscriptionSchedules.create({ from_subscription: sub.id });
    expect(schedule.phases[0]?.items.map((i) => i.quantity)).toEqual([1, undefined]);
    await h.stripe.subscriptionSchedules.release(schedule.id);

    const removed = await h.stripe.subscriptions.update(sub.id, { items: [{ id: meteredItem.id, deleted: true }] });
    expect(removed.items.data.map((i) => i.id)).toEqual([plan.id]);
    await refused(h.stripe.subscriptions.update(sub.id, { items: [{ id: plan.id, deleted: true }] }));
  });
});
