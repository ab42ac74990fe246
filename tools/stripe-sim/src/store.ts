/**
 * The simulator's in-memory state. Every resource is stored as the Stripe
 * object itself (typed with the SDK's types), with ids as references
 * (`customer: "cus_…"`); expansion happens on the way out. Extra facts Stripe
 * keeps privately (card numbers, dunning progress, 3-D Secure attempts,
 * delivery status per endpoint) live next to them.
 *
 * The whole state is JSON-serialisable, which is what `--state-file` writes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type Stripe from "stripe";

/** A pending 3-D Secure challenge: started from a hosted page, or by confirming a PaymentIntent on-session. */
export type PendingAuth = {
  id: string;
  /** What approval completes: a Checkout Session, an invoice payment or a PaymentIntent (`next_action`). */
  kind: "checkout" | "invoice" | "payment_intent";
  targetId: string;
  cardNumber: string;
  email: string | null;
  name: string | null;
  /**
   * Where "deny" (and "approve" for invoices) sends the browser back to; for
   * a PaymentIntent its `return_url` ("" without one: the page shows the result).
   */
  returnPath: string;
  /** Checkout: the customer ticked "save my card" (`saved_payment_method_options`). */
  saveCard?: boolean;
};

export type DeliveryOutcome = "pending" | "succeeded" | "failed" | "dropped";

/** One delivery attempt (or a drop) of one event to one endpoint. */
export type DeliveryRecord = {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  url: string;
  /** 1 for the first attempt; retries count up. */
  attempt: number;
  /** True for a chaos duplicate of an already-sent delivery. */
  duplicate: boolean;
  outcome: DeliveryOutcome;
  httpStatus: number | null;
  error: string | null;
  /** Real time of the attempt, ms. */
  at: number;
};

/** What a trial ending with no payment method does (`trial_settings.end_behavior.missing_payment_method`). */
export type TrialMissingPaymentMethod = "cancel" | "pause" | "create_invoice";

export type CheckoutExtras = {
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
  trialPeriodDays: number | null;
  /** `subscription_data[trial_settings][end_behavior][missing_payment_method]` (absent: Stripe's `create_invoice`). */
  trialMissingPaymentMethod?: TrialMissingPaymentMethod;
  /** `payment_method_collection`: `if_required` asks for no card when nothing is due today (a trial). */
  paymentMethodCollection?: "always" | "if_required";
  paymentIntentMetadata: Record<string, string>;
  /** `invoice_creation` of a payment-mode session (`undefined` in states saved before it existed). */
  invoiceCreation?: { description: string | null; metadata: Record<string, string> } | null;
  /** Payment mode: `payment_intent_data.setup_future_usage` (the card is saved to the customer). */
  setupFutureUsage?: "on_session" | "off_session" | null;
  /** `automatic_tax[enabled]`: the page asks for an address and the first invoice (and renewals) are taxed. */
  automaticTax?: boolean;
  /** `customer_update[address]=auto`: the address typed at Checkout is saved to an existing customer. */
  customerUpdateAddress?: boolean;
};

/**
 * A plan change waiting for its invoice to be paid
 * (`payment_behavior=pending_if_incomplete`); mirrored in `subscription.pending_update`.
 */
export type PendingChange = {
  invoice: string;
  /** The item as it becomes once the invoice is paid (null for a trial ended early). */
  item: Stripe.SubscriptionItem | null;
  /** New billing cycle anchor when the change restarts the cycle. */
  billingCycleAnchor: number | null;
  /** `trial_end=now`: when the trial ends once paid, and each item's new period (see endTrial.ts). */
  trialEnd?: { at: number; periods: Record<string, { start: number; end: number }> };
};

/** Per-subscription facts that are not part of the Stripe object. */
export type SubscriptionInternal = {
  trialWillEndSent: boolean;
  /** Proration lines waiting for the next invoice (`proration_behavior=create_prorations`). */
  pendingLines: Stripe.InvoiceLineItem[];
  pendingChange?: PendingChange | null;
};

/**
 * One accepted meter event (`POST /v1/billing/meter_events`), as the
 * simulator aggregates it: the meter and customer it was mapped to and its
 * numeric value. `event` is the object the API returned.
 */
export type MeterEventRecord = {
  event: Stripe.Billing.MeterEvent;
  meter: string;
  customer: string;
  /** The payload value as a number (1 for `count` meters without one). */
  value: number;
  /** Simulator time (seconds, real time + global offset) it was accepted: the 24-hour `identifier` window runs from here. */
  receivedAt: number;
};

/** An idempotency record: the first response for a key (Stripe keeps 24 h+). */
export type IdempotencyRecord = {
  method: string;
  path: string;
  params: string;
  status: number;
  body: string;
  createdAt: number;
};

export type SimState = {
  customers: Record<string, Stripe.Customer>;
  products: Record<string, Stripe.Product>;
  prices: Record<string, Stripe.Price>;
  paymentMethods: Record<string, Stripe.PaymentMethod>;
  paymentIntents: Record<string, Stripe.PaymentIntent>;
  /** The payment of each charged invoice (`invoice_payment`, linking its PaymentIntent). */
  invoicePayments: Record<string, Stripe.InvoicePayment>;
  /** The charge of each succeeded PaymentIntent (its `latest_charge`), with refunds and disputes applied. */
  charges: Record<string, Stripe.Charge>;
  refunds: Record<string, Stripe.Refund>;
  disputes: Record<string, Stripe.Dispute>;
  checkoutSessions: Record<string, Stripe.Checkout.Session>;
  checkoutLineItems: Record<string, Stripe.LineItem[]>;
  /** `subscription_data` / `payment_intent_data` of each Checkout Session. */
  checkoutExtras: Record<string, CheckoutExtras>;
  portalSessions: Record<string, Stripe.BillingPortal.Session>;
  subscriptions: Record<string, Stripe.Subscription>;
  subscriptionInternal: Record<string, SubscriptionInternal>;
  invoices: Record<string, Stripe.Invoice>;
  subscriptionSchedules: Record<string, Stripe.SubscriptionSchedule>;
  portalConfigurations: Record<string, Stripe.BillingPortal.Configuration>;
  balanceTransactions: Record<string, Stripe.CustomerBalanceTransaction>;
  coupons: Record<string, Stripe.Coupon>;
  /** Deleted coupons: discounts already applied keep working, as in Stripe. */
  deletedCoupons: Record<string, Stripe.Coupon>;
  promotionCodes: Record<string, Stripe.PromotionCode>;
  /** Every discount ever applied (`di_…`), by id; subscriptions and invoices list their ids. */
  discounts: Record<string, Stripe.Discount>;
  /** Customers' tax ids (`txi_…`). */
  taxIds: Record<string, Stripe.TaxId>;
  /** Billing Meters by id (`mtr_test_…`). */
  meters: Record<string, Stripe.Billing.Meter>;
  /** Accepted meter events in arrival order. */
  meterEvents: MeterEventRecord[];
  events: Record<string, Stripe.Event>;
  /** Event ids in creation order (lists are newest first). */
  eventOrder: string[];
  testClocks: Record<string, Stripe.TestHelpers.TestClock>;
  webhookEndpoints: Record<string, Stripe.WebhookEndpoint & { secret: string }>;
  idempotency: Record<string, IdempotencyRecord>;
  /** Card number behind each payment method (test cards decide outcomes). */
  cardNumbers: Record<string, string>;
  pendingAuths: Record<string, PendingAuth>;
  /** Delivery status of each event per endpoint id. */
  eventDelivery: Record<string, Record<string, DeliveryOutcome>>;
  deliveries: DeliveryRecord[];
  /** Next invoice number per customer. */
  invoiceSeq: Record<string, number>;
  /** Seconds added to real time for everything without a test clock (`/_sim/advance {seconds}`). */
  timeOffsetSeconds: number;
  /**
   * Extra seconds per clock-less customer (`/_sim/advance {customer|subscription}`):
   * an implicit test clock, so one customer's renewal does not move anyone else.
   */
  customerOffsets: Record<string, number>;
};

export function emptyState(): SimState {
  return {
    customers: {},
    products: {},
    prices: {},
    paymentMethods: {},
    paymentIntents: {},
    invoicePayments: {},
    charges: {},
    refunds: {},
    disputes: {},
    checkoutSessions: {},
    checkoutLineItems: {},
    checkoutExtras: {},
    portalSessions: {},
    subscriptions: {},
    subscriptionInternal: {},
    invoices: {},
    subscriptionSchedules: {},
    portalConfigurations: {},
    balanceTransactions: {},
    coupons: {},
    deletedCoupons: {},
    promotionCodes: {},
    discounts: {},
    taxIds: {},
    meters: {},
    meterEvents: [],
    events: {},
    eventOrder: [],
    testClocks: {},
    webhookEndpoints: {},
    idempotency: {},
    cardNumbers: {},
    pendingAuths: {},
    eventDelivery: {},
    deliveries: [],
    invoiceSeq: {},
    timeOffsetSeconds: 0,
    customerOffsets: {},
  };
}

/**
 * Holds the state and answers "what time is it" for a customer: a customer
 * on a test clock lives at the clock's `frozen_time`; everyone else at real
 * time plus `timeOffsetSeconds` plus their own `customerOffsets` entry. While the clock engine replays due actions
 * it pins the time with `withTime` so objects and events carry the moment the
 * action happened, in Stripe seconds.
 */
export class Store {
  state: SimState = emptyState();
  private pinnedTime: number | null = null;

  realNow(): number {
    return Math.floor(Date.now() / 1000) + this.state.timeOffsetSeconds;
  }

  /** Current time in seconds for `customerId` (or the global time). */
  now(customerId?: string | null): number {
    if (this.pinnedTime !== null) return this.pinnedTime;
    const clockId = customerId ? this.clockOf(customerId) : null;
    const clock = clockId ? this.state.testClocks[clockId] : undefined;
    if (clock) return clock.frozen_time;
    return this.realNow() + (customerId ? (this.state.customerOffsets[customerId] ?? 0) : 0);
  }

  clockOf(customerId: string): string | null {
    const tc = this.state.customers[customerId]?.test_clock;
    if (!tc) return null;
    return typeof tc === "string" ? tc : tc.id;
  }

  withTime<T>(time: number, fn: () => T): T {
    const prev = this.pinnedTime;
    this.pinnedTime = time;
    try {
      return fn();
    } finally {
      this.pinnedTime = prev;
    }
  }

  reset(): void {
    this.state = emptyState();
    this.pinnedTime = null;
  }

  load(path: string): boolean {
    try {
      const text = readFileSync(path, "utf8");
      this.state = { ...emptyState(), ...(JSON.parse(text) as Partial<SimState>) };
      return true;
    } catch {
      return false;
    }
  }

  save(path: string): void {
    writeFileSync(path, JSON.stringify(this.state));
  }
}
