/** Customers and their cards: create, update, attach, default payment method. */
import type Stripe from "stripe";
import { buildCustomer, buildPaymentMethod } from "../builders.ts";
import { cardDetails, MAGIC_PAYMENT_METHODS, normaliseCardNumber } from "../cards.ts";
import type { SimContext } from "../context.ts";
import { invalid, missing } from "../errors.ts";
import { emit, snapshot } from "../events.ts";
import { randomToken } from "../ids.ts";
import { emitSubscriptionUpdated, getCustomer, idOf, previousAttributes, subCustomer } from "./lookups.ts";

export function createCustomer(
  ctx: SimContext,
  input: {
    email?: string | null;
    name?: string | null;
    description?: string | null;
    phone?: string | null;
    metadata?: Record<string, string>;
    testClock?: string | null;
  },
): Stripe.Customer {
  const clock = input.testClock ? ctx.store.state.testClocks[input.testClock] : undefined;
  if (input.testClock && !clock) throw missing("test_helpers.test_clock", input.testClock, "test_clock");
  const customer = buildCustomer({
    created: clock ? clock.frozen_time : ctx.store.now(),
    email: input.email ?? null,
    name: input.name ?? null,
    description: input.description ?? null,
    phone: input.phone ?? null,
    metadata: input.metadata ?? {},
    testClock: input.testClock ?? null,
    invoicePrefix: randomToken(8).toUpperCase(),
  });
  ctx.store.state.customers[customer.id] = customer;
  emit(ctx, "customer.created", customer, { customer: customer.id });
  return customer;
}

export function updateCustomer(
  ctx: SimContext,
  customer: Stripe.Customer,
  apply: (c: Stripe.Customer) => void,
): Stripe.Customer {
  const before = snapshot(customer);
  apply(customer);
  const previous = previousAttributes(before, customer);
  if (Object.keys(previous).length > 0) {
    emit(ctx, "customer.updated", customer, { customer: customer.id, previous });
  }
  return customer;
}

/** Creates a card payment method from a test card number, attached to `customerId` when given. */
export function createCard(
  ctx: SimContext,
  cardNumber: string,
  customerId: string | null,
  billing: { email?: string | null; name?: string | null } = {},
): Stripe.PaymentMethod {
  const number = normaliseCardNumber(cardNumber);
  const pm = buildPaymentMethod({
    created: ctx.store.now(customerId),
    customer: customerId,
    card: cardDetails(number),
    email: billing.email ?? null,
    name: billing.name ?? null,
  });
  ctx.store.state.paymentMethods[pm.id] = pm;
  ctx.store.state.cardNumbers[pm.id] = number;
  if (customerId) emit(ctx, "payment_method.attached", pm, { customer: customerId });
  return pm;
}

/** A stored payment method id, or one of Stripe's magic test ids (`pm_card_visa`), attached to the customer. */
export function resolvePaymentMethod(ctx: SimContext, id: string, customerId: string, param = "payment_method"): Stripe.PaymentMethod {
  const magic = MAGIC_PAYMENT_METHODS[id];
  if (magic) return createCard(ctx, magic, customerId);
  const pm = ctx.store.state.paymentMethods[id];
  if (!pm) throw missing("payment_method", id, param);
  if (pm.customer === null) {
    pm.customer = customerId;
    emit(ctx, "payment_method.attached", pm, { customer: customerId });
  } else if (idOf(pm.customer) !== customerId) {
    throw invalid(`The payment method ${id} belongs to a different customer.`, param);
  }
  return pm;
}

/** Makes `pmId` the customer's default and the default of their live subscriptions (what the Portal does). */
export function setDefaultPaymentMethod(ctx: SimContext, customerId: string, pmId: string): void {
  const customer = getCustomer(ctx, customerId);
  updateCustomer(ctx, customer, (c) => {
    c.invoice_settings.default_payment_method = pmId;
  });
  for (const sub of Object.values(ctx.store.state.subscriptions)) {
    if (subCustomer(sub) !== customerId || sub.status === "canceled" || sub.status === "incomplete_expired") continue;
    const before = snapshot(sub);
    sub.default_payment_method = pmId;
    emitSubscriptionUpdated(ctx, sub, before);
  }
}
