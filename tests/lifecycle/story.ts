/**
 * The lifecycle's story: the customer, the Stripe objects and events it
 * meets, and the steps in order. Each step is a named function returning
 * what it does (events to deliver, or an action to run) and what it must
 * leave (`Expectation`); `runLifecycle` (./lifecycle.ts) drives them.
 *
 * Stripe times are seconds; Convex times are milliseconds.
 */
import type Stripe from "stripe";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { windowContaining } from "../../convex/billing/model/allowance";
import { getCaller } from "../../convex/model/auth";
import { PLANS } from "../../convex/billing/model/plans";
import {
  checkoutSession,
  DAY,
  event,
  invoice,
  price,
  subscription,
  subscriptionSchedule,
  type LineInput,
} from "../convex/fixtures/stripe";
import type { RecordingStripeServer } from "../helpers/recordingStripeServer";
import { accountOf } from "../lib/billingComponent";
import type { Harness } from "../lib/convexHarness";
import { deliver, deliveryPlan } from "./deliveries";

const ISSUER = "https://clerk.lifecycle.test";
export const IDENTITY = { subject: "user_lifecycle", issuer: ISSUER, name: "Ada Lovelace", email: "ada@example.com" };

/**
 * Who a story is about: the signed-in user, their Stripe subscription's id,
 * and how many days after the story's start its paid periods begin
 * (`paidFromDay`; a trial's length, else 0).
 */
export type Customer = { identity: typeof IDENTITY; subId: string; paidFromDay?: number };
export const ADA: Customer = { identity: IDENTITY, subId: "sub_lifecycle_0001" };
const PRO = PLANS.pro.tokensPerPeriod;
const ELITE = PLANS.elite.tokensPerPeriod;
const STARTER = PLANS.starter.tokensPerPeriod;
const FREE = PLANS.free.tokensPerPeriod;
/** Unused allowance a Pro window carries into the next (`rollover.maxTokens`), and an Elite one. */
const PRO_ROLLOVER = PLANS.pro.rollover!.maxTokens;
const ELITE_ROLLOVER = PLANS.elite.rollover!.maxTokens;

/** The dunning view (`billing.subscription`'s `dunning`) a step must leave. */
export type DunningExpectation = { stage: "overdue" | "suspended" | "restricted"; stepDay: number; adminBanner: boolean };

export type Expectation = {
  tier: string;
  status: string;
  cancelScheduled: boolean;
  grace: boolean;
  /** Token figures the step must leave; omitted ones are not checked. */
  tokens?: Partial<{ allowance: number; purchased: number; used: number; remaining: number }>;
  /** Invoice statuses, newest first. */
  invoices: string[];
  /** Subscription rows the account has. */
  subscriptions: number;
  /** Monthly allowance windows opened so far (their number, from 0), each exactly once. */
  windows: number[];
  /** The tier a scheduled change switches to, when one is expected. */
  scheduled?: string;
  /** The overdue episode the account is in; omitted = none (`dunning: null`). */
  dunning?: DunningExpectation;
  /** Trial allowances granted (ledger `trial:<sub>` grants, each once); omitted = 0. */
  trialGrants?: number;
  /** Notifications of these kinds the account has, by count (other kinds are not checked). */
  notified?: Record<string, number>;
};

export type Step = {
  name: string;
  /** Events to deliver (each maybe twice, in shuffled order), or an action. */
  events?: () => Stripe.Event[];
  run?: () => Promise<string[]>;
  expect: Expectation;
};

/** What the steps share: the deployment, the Stripe server, and the story's Stripe objects. */
export type Story = ReturnType<typeof newStory>;

/**
 * A story on deployment `t` whose Checkout goes to `server`; `random` orders
 * deliveries. Periods start now (`base`, Stripe seconds) and follow calendar
 * months, as Stripe bills.
 */
export function newStory(t: Harness, server: RecordingStripeServer, random: () => number, customer: Customer = ADA) {
  const asUser = t.withIdentity(customer.identity);
  // Stripe-side facts, filled in as the story goes.
  const facts: { accountId: Id<"billingAccounts"> | null; customerId: string; sessionId: string } = {
    accountId: null,
    customerId: "",
    sessionId: "",
  };
  const subId = customer.subId;
  const proMonthly = price({ id: "price_pro_monthly", lookupKey: "pro_monthly", unitAmount: 2900, interval: "month" });
  const eliteMonthly = price({ id: "price_elite_monthly", lookupKey: "elite_monthly", unitAmount: 9900, interval: "month" });
  const starterMonthly = price({ id: "price_starter_monthly", lookupKey: "starter_monthly", unitAmount: 900, interval: "month" });
  const starterYearly = price({ id: "price_starter_yearly", lookupKey: "starter_yearly", unitAmount: 9000, interval: "year" });
  // Periods in Stripe seconds: P0 starts now (after a trial: at its end); monthly on its day of month, as Stripe bills.
  const base = Math.floor(Date.now() / 1000);
  const anchor = base + (customer.paidFromDay ?? 0) * DAY;
  const period = (n: number) => {
    let start = anchor * 1000;
    for (let i = 0; i < n; i++) start = windowContaining(anchor * 1000, start).end;
    return { periodStart: start / 1000, periodEnd: windowContaining(anchor * 1000, start).end / 1000 };
  };
  /** A paid `subscription_update` invoice with the given lines (a plan change). */
  const changeInvoice = (id: string, lines: LineInput[], created: number) =>
    invoice({ id, customer: facts.customerId, subscription: subId, status: "paid", billingReason: "subscription_update", price: lines[0]!.price, lines, created });
  let eventCounter = 0;
  const evt = <T extends Stripe.Event["type"]>(type: T, object: Parameters<typeof event<T>>[1], created: number) =>
    event(type, object, { id: `evt_lifecycle_${String(++eventCounter).padStart(4, "0")}`, created });
  const sub = (status: Stripe.Subscription.Status, n: number, extra: Partial<Parameters<typeof subscription>[0]> = {}) =>
    subscription({
      id: subId,
      customer: facts.customerId,
      status,
      price: proMonthly,
      ...period(n),
      metadata: facts.accountId ? { accountId: facts.accountId } : {},
      ...extra,
    });
  const inv = (
    id: string,
    status: Stripe.Invoice.Status,
    reason: Stripe.Invoice.BillingReason,
    n: number,
    created: number,
    plan: Stripe.Price = proMonthly,
  ) =>
    invoice({
      id,
      customer: facts.customerId,
      subscription: subId,
      status,
      billingReason: reason,
      price: plan,
      amountDue: plan.unit_amount ?? 0,
      linePeriodStart: period(n).periodStart,
      linePeriodEnd: period(n).periodEnd,
      created,
    });
  /** Ids of the events delivered so far (each once). */
  const deliveredIds = new Set<string>();
  return {
    t,
    customer,
    asUser,
    server,
    random,
    facts,
    subId,
    prices: { proMonthly, eliteMonthly, starterMonthly, starterYearly },
    base,
    period,
    changeInvoice,
    evt,
    sub,
    inv,
    deliveredIds,
  };
}

/** "sign-in" */
export function signIn(s: Story): Step {
  return {
    name: "sign-in",
    run: async () => {
      await s.asUser.mutation(api.users.store, {});
      const caller = await s.asUser.run((ctx) => getCaller(ctx));
      s.facts.accountId = caller ? ((await accountOf(s.t, caller.ownerKey))?._id ?? null) : null;
      if (!s.facts.accountId) throw new Error("users.store created no billing account");
      return ["users.store"];
    },
    expect: {
      tier: "free",
      status: "none",
      cancelScheduled: false,
      grace: false,
      tokens: { allowance: FREE, purchased: 0, used: 0, remaining: FREE },
      invoices: [],
      subscriptions: 0,
      windows: [],
    },
  };
}

/**
 * Runs `billing.createCheckoutSession` as the story's user and records the
 * Stripe customer it created (the newest: the recording server is shared by
 * the stories) and the session; returns the session's URL and form.
 */
export async function startCheckout(
  s: Story,
  args: { tier: "starter" | "pro"; interval: "month"; trial?: boolean },
): Promise<{ url: string; form: Record<string, string> }> {
  const { url } = await s.asUser.action(api.billing.createCheckoutSession, args);
  const customer = s.server.customers.at(-1);
  if (!customer || typeof customer.id !== "string") throw new Error("checkout created no Stripe customer");
  s.facts.customerId = customer.id;
  s.facts.sessionId = url.slice(url.lastIndexOf("/") + 1);
  const form = s.server.requestsTo("POST", "/v1/checkout/sessions").at(-1)?.form ?? {};
  return { url, form };
}

/** "checkout" */
export function checkout(s: Story): Step {
  return {
    name: "checkout",
    run: async () => {
      const { form } = await startCheckout(s, { tier: "pro", interval: "month" });
      if (form.client_reference_id !== s.facts.accountId) {
        throw new Error(`checkout session names account ${form.client_reference_id}, expected ${s.facts.accountId}`);
      }
      return [`createCheckoutSession → ${s.facts.sessionId} for ${s.facts.customerId} (${form["line_items[0][price]"]})`];
    },
    expect: {
      tier: "free",
      status: "none",
      cancelScheduled: false,
      grace: false,
      tokens: { allowance: FREE, used: 0, remaining: FREE },
      invoices: [],
      subscriptions: 0,
      windows: [],
    },
  };
}

/** "completion events" */
export function completionEvents(s: Story): Step {
  return {
    name: "completion events",
    events: () => [
      s.evt(
        "checkout.session.completed",
        checkoutSession({
          id: s.facts.sessionId,
          mode: "subscription",
          customer: s.facts.customerId,
          subscription: s.subId,
          clientReferenceId: s.facts.accountId,
          metadata: { accountId: s.facts.accountId ?? "" },
        }),
        s.base + 2,
      ),
      s.evt("customer.subscription.created", s.sub("incomplete", 0), s.base + 1),
      s.evt("invoice.finalized", s.inv("in_lifecycle_create", "open", "subscription_create", 0, s.base + 1), s.base + 1),
      s.evt("invoice.paid", s.inv("in_lifecycle_create", "paid", "subscription_create", 0, s.base + 1), s.base + 2),
      s.evt("invoice.payment_succeeded", s.inv("in_lifecycle_create", "paid", "subscription_create", 0, s.base + 1), s.base + 2),
      s.evt("customer.subscription.updated", s.sub("active", 0), s.base + 2),
    ],
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      tokens: { allowance: PRO, purchased: 0, used: 0, remaining: PRO },
      invoices: ["paid"],
      subscriptions: 1,
      windows: [0],
    },
  };
}

/** "spend tokens" */
function spendTokens(s: Story): Step {
  return {
    name: "spend tokens",
    run: async () => {
      const lines: string[] = [];
      const uses = [
        { feature: "quick_analysis", idempotencyKey: "use-1" },
        { feature: "standard_analysis", idempotencyKey: "use-2" },
        { feature: "deep_analysis", idempotencyKey: "use-3" },
        // A retried request: same key, must not charge again.
        { feature: "standard_analysis", idempotencyKey: "use-2" },
      ];
      for (const [i, use] of uses.entries()) {
        const r = await s.asUser.mutation(api.tokens.consume, use);
        lines.push(`consume ${use.feature} [${use.idempotencyKey}] → cost ${r.cost}${r.duplicate ? " (duplicate)" : ""}`);
        const repeat = uses.findIndex((u) => u.idempotencyKey === use.idempotencyKey) < i;
        if (repeat !== r.duplicate) {
          throw new Error(`consume [${use.idempotencyKey}] reported duplicate=${r.duplicate}, expected ${repeat}`);
        }
      }
      return lines;
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // quick 1 + standard 3 + deep 20; the repeat costs nothing.
      tokens: { allowance: PRO, used: 24, remaining: PRO - 24 },
      invoices: ["paid"],
      subscriptions: 1,
      windows: [0],
    },
  };
}

/** "renewal" */
function renewal(s: Story): Step {
  return {
    name: "renewal",
    events: () => {
      const at = s.period(1).periodStart;
      return [
        s.evt("invoice.paid", s.inv("in_lifecycle_renew1", "paid", "subscription_cycle", 1, at), at + 1),
        s.evt("customer.subscription.updated", s.sub("active", 1), at + 1),
      ];
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // A new period: the unused allowance expired, a fresh one granted.
      // Pro rolls up to 75 of the 126 unused over (a rollover grant to the end of this window).
      tokens: { allowance: PRO, used: 0, remaining: PRO + PRO_ROLLOVER },
      invoices: ["paid", "paid"],
      subscriptions: 1,
      windows: [0, 1],
    },
  };
}

/** "failed renewal → past_due" */
function failedRenewal(s: Story): Step {
  return {
    name: "failed renewal → past_due",
    events: () => {
      const at = s.period(2).periodStart;
      return [
        s.evt("invoice.payment_failed", s.inv("in_lifecycle_renew2", "open", "subscription_cycle", 2, at), at + 1),
        s.evt("customer.subscription.updated", s.sub("past_due", 2), at + 2),
      ];
    },
    expect: {
      tier: "pro",
      status: "past_due",
      cancelScheduled: false,
      grace: true,
      // No payment, no new allowance: the previous one stays.
      tokens: { allowance: PRO, used: 0, remaining: PRO + PRO_ROLLOVER },
      invoices: ["open", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1],
      // The overdue timeline's day 0 (docs/DUNNING.md).
      dunning: { stage: "overdue", stepDay: 0, adminBanner: false },
    },
  };
}

/** "recovery" */
function recovery(s: Story): Step {
  return {
    name: "recovery",
    events: () => {
      const at = s.period(2).periodStart + 3 * DAY;
      return [
        s.evt("invoice.paid", s.inv("in_lifecycle_renew2", "paid", "subscription_cycle", 2, s.period(2).periodStart), at),
        s.evt("customer.subscription.updated", s.sub("active", 2), at),
      ];
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // The last rollover ended with its window; 75 of this window's unused 150 roll over.
      tokens: { allowance: PRO, used: 0, remaining: PRO + PRO_ROLLOVER },
      invoices: ["paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2],
    },
  };
}

/** "upgrade to Elite (paid)" */
function upgradeToElite(s: Story): Step {
  return {
    name: "upgrade to Elite (paid)",
    events: () => {
      const at = s.period(2).periodStart + 5 * DAY;
      const end = s.period(2).periodEnd;
      return [
        s.evt("customer.subscription.updated", s.sub("active", 2, { price: s.prices.eliteMonthly }), at),
        s.evt(
          "invoice.paid",
          s.changeInvoice(
            "in_lifecycle_upgrade",
            [
              { price: s.prices.proMonthly, amount: -2417, start: at, end, proration: true },
              { price: s.prices.eliteMonthly, amount: 8250, start: at, end, proration: true },
            ],
            at,
          ),
          at + 1,
        ),
      ];
    },
    expect: {
      tier: "elite",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // Raised to Elite's allowance for the rest of this window, not refilled on top.
      tokens: { allowance: ELITE, used: 0, remaining: ELITE + PRO_ROLLOVER },
      invoices: ["paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2],
    },
  };
}

/** "downgrade to Starter scheduled" */
function scheduleDowngradeToStarter(s: Story): Step {
  return {
    name: "downgrade to Starter scheduled",
    events: () => {
      const at = s.period(2).periodStart + 6 * DAY;
      const { periodStart, periodEnd } = s.period(2);
      // As `billing.changePlan` writes it: the next phase names its plan in metadata.
      const schedule = subscriptionSchedule({
        id: "sub_sched_lifecycle",
        customer: s.facts.customerId,
        subscription: s.subId,
        phases: [
          { price: s.prices.eliteMonthly, start: periodStart, end: periodEnd },
          {
            price: s.prices.starterMonthly,
            start: periodEnd,
            end: s.period(3).periodEnd,
            metadata: { tier: "starter", interval: "month", lookupKey: "starter_monthly" },
          },
        ],
      });
      return [
        s.evt("subscription_schedule.created", schedule, at),
        s.evt("customer.subscription.updated", { ...s.sub("active", 2, { price: s.prices.eliteMonthly }), schedule: schedule.id }, at),
      ];
    },
    expect: {
      tier: "elite",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // The paid Elite window runs to its end.
      tokens: { allowance: ELITE, used: 0, remaining: ELITE + PRO_ROLLOVER },
      invoices: ["paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2],
      scheduled: "starter",
    },
  };
}

/** "renewal at Starter" */
function renewalAtStarter(s: Story): Step {
  return {
    name: "renewal at Starter",
    events: () => {
      const at = s.period(3).periodStart;
      return [
        s.evt("customer.subscription.updated", s.sub("active", 3, { price: s.prices.starterMonthly }), at),
        s.evt("invoice.paid", s.inv("in_lifecycle_renew3", "paid", "subscription_cycle", 3, at, s.prices.starterMonthly), at + 1),
      ];
    },
    expect: {
      tier: "starter",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // The Elite window rolls all 500 unused over (Elite's policy); the Pro rollover ended.
      tokens: { allowance: STARTER, used: 0, remaining: STARTER + ELITE_ROLLOVER },
      invoices: ["paid", "paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2, 3],
    },
  };
}

/** "spend, then monthly → yearly → monthly" */
function intervalRoundTrip(s: Story): Step {
  return {
    name: "spend, then monthly → yearly → monthly",
    run: async () => {
      const r = await s.asUser.mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: "use-round-trip" });
      const at = s.period(3).periodStart + 2 * DAY;
      const back = at + 3600;
      const { periodEnd } = s.period(3);
      const yearEnd = at + 365 * DAY;
      const events = [
        s.evt("invoice.paid", s.changeInvoice("in_lifecycle_to_yearly", [
          { price: s.prices.starterMonthly, amount: -840, start: at, end: periodEnd, proration: true },
          { price: s.prices.starterYearly, amount: 9000, start: at, end: yearEnd },
        ], at), at),
        s.evt("customer.subscription.updated", s.sub("active", 3, { price: s.prices.starterYearly, periodStart: at, periodEnd: yearEnd }), at),
        s.evt("invoice.paid", s.changeInvoice("in_lifecycle_to_monthly", [
          { price: s.prices.starterYearly, amount: -8999, start: back, end: yearEnd, proration: true },
          { price: s.prices.starterMonthly, amount: 900, start: back, end: windowContaining(back * 1000, back * 1000).end / 1000 },
        ], back), back),
        s.evt("customer.subscription.updated", s.sub("active", 3, { price: s.prices.starterMonthly, periodStart: back }), back),
      ];
      for (const e of deliveryPlan(events, s.random)) {
        const status = await deliver(s.t, e);
        s.deliveredIds.add(e.id);
        if (status !== 200) throw new Error(`delivery of ${e.type} answered ${status}`);
      }
      return [`consume bulk_analysis → cost ${r.cost}`, ...events.map((e) => e.type)];
    },
    expect: {
      tier: "starter",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // The round trip's credits and charges open no new window: 10 used stay used.
      tokens: { allowance: STARTER, used: 10, remaining: STARTER + ELITE_ROLLOVER - 10 },
      invoices: ["paid", "paid", "paid", "paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2, 3],
    },
  };
}

/** "cancel at period end" */
function cancelAtPeriodEnd(s: Story): Step {
  return {
    name: "cancel at period end",
    events: () => {
      const at = s.period(3).periodStart + 10 * DAY;
      return [
        s.evt(
          "customer.subscription.updated",
          s.sub("active", 3, { price: s.prices.starterMonthly, cancelAtPeriodEnd: true, cancelAt: s.period(3).periodEnd, canceledAt: at }),
          at,
        ),
      ];
    },
    expect: {
      tier: "starter",
      status: "active",
      cancelScheduled: true,
      grace: false,
      tokens: { allowance: STARTER, used: 10, remaining: STARTER + ELITE_ROLLOVER - 10 },
      invoices: ["paid", "paid", "paid", "paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2, 3],
    },
  };
}

/** "deletion" */
function deletion(s: Story): Step {
  return {
    name: "deletion",
    events: () => {
      const at = s.period(3).periodEnd;
      return [
        s.evt(
          "customer.subscription.deleted",
          s.sub("canceled", 3, {
            price: s.prices.starterMonthly,
            cancelAtPeriodEnd: true,
            cancelAt: s.period(3).periodEnd,
            canceledAt: s.period(3).periodStart + 10 * DAY,
            endedAt: at,
          }),
          at,
        ),
      ];
    },
    expect: {
      tier: "free",
      status: "canceled",
      cancelScheduled: false,
      grace: false,
      invoices: ["paid", "paid", "paid", "paid", "paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 1, 2, 3],
    },
  };
}

/** The steps in order. */
export const STORY: ((s: Story) => Step)[] = [
  signIn,
  checkout,
  completionEvents,
  spendTokens,
  renewal,
  failedRenewal,
  recovery,
  upgradeToElite,
  scheduleDowngradeToStarter,
  renewalAtStarter,
  intervalRoundTrip,
  cancelAtPeriodEnd,
  deletion,
];
