/**
 * `npm run lifecycle [-- --seed N]`: one customer's whole billing life,
 * end to end, through the real functions.
 *
 * Every Stripe event goes through the real `POST /stripe/webhook` httpAction
 * (`t.fetch`), signed by the stripe SDK (`generateTestHeaderStringAsync`)
 * with `STRIPE_WEBHOOK_SECRET`, as typed `Stripe.Event` payloads at the pinned
 * API version (builders from `tests/convex/fixtures/stripe.ts`). Checkout runs
 * the real `billing.createCheckoutSession` action against a local recording
 * Stripe server. Each step's deliveries arrive shuffled and partly duplicated,
 * from a seeded PRNG, so a run is reproducible from its printed seed.
 *
 * The story: sign-in, Checkout, spending, a renewal, a failed renewal and
 * its recovery, then plan changes — a paid upgrade to Elite (allowance
 * raised, not refilled), a downgrade to Starter scheduled for the period end
 * (Elite kept until then), the renewal at Starter, an interval round trip
 * (monthly → yearly → monthly) that yields no extra tokens — and finally a
 * cancellation at period end and the deletion.
 *
 * After each step the scheduled functions are run to completion, the
 * account's state (tier, allowance, balance) is printed, and invariants are
 * checked: the ledger sums to the balance, no event is left
 * pending/failed/waiting/dead, the tier, status and token figures the step
 * should produce, one subscription row, each monthly allowance window opened
 * exactly once. Exits 1 with the broken checks listed if any fails.
 *
 * Stripe times are seconds; Convex times are milliseconds.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import Stripe from "stripe";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { getCaller } from "../../convex/model/auth";
import { windowContaining } from "../../convex/model/allowance";
import { PLANS } from "../../convex/model/plans";
import type { WebhookEventStatus } from "../../convex/model/validators";
import { WEBHOOK_EVENT_STATUSES } from "../../convex/model/validators";
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
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { drainScheduled, formatTable, makeHarness, seededRandom, shuffle, type Harness } from "../lib/convexHarness";
import { withEnv } from "@offline/local-backend";

export type LifecycleOptions = {
  /** PRNG seed for delivery order and duplicates. */
  seed: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
  /**
   * Runs after a step's events have settled and before its checks, with the
   * deployment and the account. For tests that need a broken state to prove
   * the checks catch it.
   */
  afterStep?: (step: number, t: Harness, accountId: Id<"billingAccounts">) => Promise<void>;
};

export type StepState = {
  step: number;
  name: string;
  tier: string;
  status: string;
  cancelScheduled: boolean;
  graceEndsAt: number | null;
  allowance: number;
  purchased: number;
  used: number;
  remaining: number;
  invoices: string[];
  /** Tier of the scheduled change, or null. */
  scheduled: string | null;
  events: Record<WebhookEventStatus, number>;
  deliveries: string[];
};

export type LifecycleResult = {
  ok: boolean;
  seed: number;
  steps: StepState[];
  /** Broken checks, `step N: …`. Empty when `ok`. */
  failures: string[];
  /** The state table as printed. */
  table: string;
};

const ISSUER = "https://clerk.lifecycle.test";
const IDENTITY = { subject: "user_lifecycle", issuer: ISSUER, name: "Ada Lovelace", email: "ada@example.com" };
const WEBHOOK_SECRET = "whsec_lifecycle_local_only";
const PRO = PLANS.pro.tokensPerPeriod;
const ELITE = PLANS.elite.tokensPerPeriod;
const STARTER = PLANS.starter.tokensPerPeriod;
const FREE = PLANS.free.tokensPerPeriod;

type Expectation = {
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
};

type Step = {
  name: string;
  /** Events to deliver (each maybe twice, in shuffled order), or an action. */
  events?: () => Stripe.Event[];
  run?: () => Promise<string[]>;
  expect: Expectation;
};

/** Runs the lifecycle; never throws for a broken check (see `failures`). */
export async function runLifecycle(options: LifecycleOptions): Promise<LifecycleResult> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const server = await startRecordingStripeServer();
  try {
    return await withEnv(
      {
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_SECRET_KEY: "sk_test_lifecycle",
        ...stripeApiEnv(server.url),
        SITE_URL: "http://127.0.0.1:5173",
      },
      () => drive(options, server, random, log),
    );
  } finally {
    await server.close();
  }
}

async function drive(
  options: LifecycleOptions,
  server: RecordingStripeServer,
  random: () => number,
  log: (line: string) => void,
): Promise<LifecycleResult> {
  const t = makeHarness();
  const asUser = t.withIdentity(IDENTITY);
  const failures: string[] = [];
  const states: StepState[] = [];

  // Stripe-side facts, filled in as the story goes.
  let accountId: Id<"billingAccounts"> | null = null;
  let customerId = "";
  let sessionId = "";
  const subId = "sub_lifecycle_0001";
  const proMonthly = price({ id: "price_pro_monthly", lookupKey: "pro_monthly", unitAmount: 2900, interval: "month" });
  const eliteMonthly = price({ id: "price_elite_monthly", lookupKey: "elite_monthly", unitAmount: 9900, interval: "month" });
  const starterMonthly = price({ id: "price_starter_monthly", lookupKey: "starter_monthly", unitAmount: 900, interval: "month" });
  const starterYearly = price({ id: "price_starter_yearly", lookupKey: "starter_yearly", unitAmount: 9000, interval: "year" });
  // Periods in Stripe seconds: P0 starts now; monthly on its day of month, as Stripe bills.
  const base = Math.floor(Date.now() / 1000);
  const period = (n: number) => {
    let start = base * 1000;
    for (let i = 0; i < n; i++) start = windowContaining(base * 1000, start).end;
    return { periodStart: start / 1000, periodEnd: windowContaining(base * 1000, start).end / 1000 };
  };
  /** A paid `subscription_update` invoice with the given lines (a plan change). */
  const changeInvoice = (id: string, lines: LineInput[], created: number) =>
    invoice({ id, customer: customerId, subscription: subId, status: "paid", billingReason: "subscription_update", price: lines[0]!.price, lines, created });
  let eventCounter = 0;
  const evt = <T extends Stripe.Event["type"]>(type: T, object: Parameters<typeof event<T>>[1], created: number) =>
    event(type, object, { id: `evt_lifecycle_${String(++eventCounter).padStart(4, "0")}`, created });
  const sub = (status: Stripe.Subscription.Status, n: number, extra: Partial<Parameters<typeof subscription>[0]> = {}) =>
    subscription({
      id: subId,
      customer: customerId,
      status,
      price: proMonthly,
      ...period(n),
      metadata: accountId ? { accountId } : {},
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
      customer: customerId,
      subscription: subId,
      status,
      billingReason: reason,
      price: plan,
      amountDue: plan.unit_amount ?? 0,
      linePeriodStart: period(n).periodStart,
      linePeriodEnd: period(n).periodEnd,
      created,
    });

  const steps: Step[] = [
    {
      name: "sign-in",
      run: async () => {
        await asUser.mutation(api.users.store, {});
        accountId = (await asUser.run((ctx) => getCaller(ctx)))?.account._id ?? null;
        if (!accountId) throw new Error("users.store created no billing account");
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
    },
    {
      name: "checkout",
      run: async () => {
        const { url } = await asUser.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
        const customer = server.customers[0];
        if (!customer || typeof customer.id !== "string") throw new Error("checkout created no Stripe customer");
        customerId = customer.id;
        sessionId = url.slice(url.lastIndexOf("/") + 1);
        const form = server.requestsTo("POST", "/v1/checkout/sessions")[0]?.form ?? {};
        if (form.client_reference_id !== accountId) {
          throw new Error(`checkout session names account ${form.client_reference_id}, expected ${accountId}`);
        }
        return [`createCheckoutSession → ${sessionId} for ${customerId} (${form["line_items[0][price]"]})`];
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
    },
    {
      name: "completion events",
      events: () => [
        evt(
          "checkout.session.completed",
          checkoutSession({
            id: sessionId,
            mode: "subscription",
            customer: customerId,
            subscription: subId,
            clientReferenceId: accountId,
            metadata: { accountId: accountId ?? "" },
          }),
          base + 2,
        ),
        evt("customer.subscription.created", sub("incomplete", 0), base + 1),
        evt("invoice.finalized", inv("in_lifecycle_create", "open", "subscription_create", 0, base + 1), base + 1),
        evt("invoice.paid", inv("in_lifecycle_create", "paid", "subscription_create", 0, base + 1), base + 2),
        evt("invoice.payment_succeeded", inv("in_lifecycle_create", "paid", "subscription_create", 0, base + 1), base + 2),
        evt("customer.subscription.updated", sub("active", 0), base + 2),
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
    },
    {
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
          const r = await asUser.mutation(api.tokens.consume, use);
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
    },
    {
      name: "renewal",
      events: () => {
        const at = period(1).periodStart;
        return [
          evt("invoice.paid", inv("in_lifecycle_renew1", "paid", "subscription_cycle", 1, at), at + 1),
          evt("customer.subscription.updated", sub("active", 1), at + 1),
        ];
      },
      expect: {
        tier: "pro",
        status: "active",
        cancelScheduled: false,
        grace: false,
        // A new period: the unused allowance expired, a fresh one granted.
        tokens: { allowance: PRO, used: 0, remaining: PRO },
        invoices: ["paid", "paid"],
        subscriptions: 1,
        windows: [0, 1],
      },
    },
    {
      name: "failed renewal → past_due",
      events: () => {
        const at = period(2).periodStart;
        return [
          evt("invoice.payment_failed", inv("in_lifecycle_renew2", "open", "subscription_cycle", 2, at), at + 1),
          evt("customer.subscription.updated", sub("past_due", 2), at + 2),
        ];
      },
      expect: {
        tier: "pro",
        status: "past_due",
        cancelScheduled: false,
        grace: true,
        // No payment, no new allowance: the previous one stays.
        tokens: { allowance: PRO, used: 0, remaining: PRO },
        invoices: ["open", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1],
      },
    },
    {
      name: "recovery",
      events: () => {
        const at = period(2).periodStart + 3 * DAY;
        return [
          evt("invoice.paid", inv("in_lifecycle_renew2", "paid", "subscription_cycle", 2, period(2).periodStart), at),
          evt("customer.subscription.updated", sub("active", 2), at),
        ];
      },
      expect: {
        tier: "pro",
        status: "active",
        cancelScheduled: false,
        grace: false,
        tokens: { allowance: PRO, used: 0, remaining: PRO },
        invoices: ["paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2],
      },
    },
    {
      name: "upgrade to Elite (paid)",
      events: () => {
        const at = period(2).periodStart + 5 * DAY;
        const end = period(2).periodEnd;
        return [
          evt("customer.subscription.updated", sub("active", 2, { price: eliteMonthly }), at),
          evt(
            "invoice.paid",
            changeInvoice(
              "in_lifecycle_upgrade",
              [
                { price: proMonthly, amount: -2417, start: at, end, proration: true },
                { price: eliteMonthly, amount: 8250, start: at, end, proration: true },
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
        tokens: { allowance: ELITE, used: 0, remaining: ELITE },
        invoices: ["paid", "paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2],
      },
    },
    {
      name: "downgrade to Starter scheduled",
      events: () => {
        const at = period(2).periodStart + 6 * DAY;
        const { periodStart, periodEnd } = period(2);
        // As `billing.changePlan` writes it: the next phase names its plan in metadata.
        const schedule = subscriptionSchedule({
          id: "sub_sched_lifecycle",
          customer: customerId,
          subscription: subId,
          phases: [
            { price: eliteMonthly, start: periodStart, end: periodEnd },
            {
              price: starterMonthly,
              start: periodEnd,
              end: period(3).periodEnd,
              metadata: { tier: "starter", interval: "month", lookupKey: "starter_monthly" },
            },
          ],
        });
        return [
          evt("subscription_schedule.created", schedule, at),
          evt("customer.subscription.updated", { ...sub("active", 2, { price: eliteMonthly }), schedule: schedule.id }, at),
        ];
      },
      expect: {
        tier: "elite",
        status: "active",
        cancelScheduled: false,
        grace: false,
        // The paid Elite window runs to its end.
        tokens: { allowance: ELITE, used: 0, remaining: ELITE },
        invoices: ["paid", "paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2],
        scheduled: "starter",
      },
    },
    {
      name: "renewal at Starter",
      events: () => {
        const at = period(3).periodStart;
        return [
          evt("customer.subscription.updated", sub("active", 3, { price: starterMonthly }), at),
          evt("invoice.paid", inv("in_lifecycle_renew3", "paid", "subscription_cycle", 3, at, starterMonthly), at + 1),
        ];
      },
      expect: {
        tier: "starter",
        status: "active",
        cancelScheduled: false,
        grace: false,
        tokens: { allowance: STARTER, used: 0, remaining: STARTER },
        invoices: ["paid", "paid", "paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2, 3],
      },
    },
    {
      name: "spend, then monthly → yearly → monthly",
      run: async () => {
        const r = await asUser.mutation(api.tokens.consume, { feature: "bulk_analysis", idempotencyKey: "use-round-trip" });
        const at = period(3).periodStart + 2 * DAY;
        const back = at + 3600;
        const { periodEnd } = period(3);
        const yearEnd = at + 365 * DAY;
        const events = [
          evt("invoice.paid", changeInvoice("in_lifecycle_to_yearly", [
            { price: starterMonthly, amount: -840, start: at, end: periodEnd, proration: true },
            { price: starterYearly, amount: 9000, start: at, end: yearEnd },
          ], at), at),
          evt("customer.subscription.updated", sub("active", 3, { price: starterYearly, periodStart: at, periodEnd: yearEnd }), at),
          evt("invoice.paid", changeInvoice("in_lifecycle_to_monthly", [
            { price: starterYearly, amount: -8999, start: back, end: yearEnd, proration: true },
            { price: starterMonthly, amount: 900, start: back, end: windowContaining(back * 1000, back * 1000).end / 1000 },
          ], back), back),
          evt("customer.subscription.updated", sub("active", 3, { price: starterMonthly, periodStart: back }), back),
        ];
        for (const e of deliveryPlan(events, random)) {
          const status = await deliver(t, e);
          deliveredIds.add(e.id);
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
        tokens: { allowance: STARTER, used: 10, remaining: STARTER - 10 },
        invoices: ["paid", "paid", "paid", "paid", "paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2, 3],
      },
    },
    {
      name: "cancel at period end",
      events: () => {
        const at = period(3).periodStart + 10 * DAY;
        return [
          evt(
            "customer.subscription.updated",
            sub("active", 3, { price: starterMonthly, cancelAtPeriodEnd: true, cancelAt: period(3).periodEnd, canceledAt: at }),
            at,
          ),
        ];
      },
      expect: {
        tier: "starter",
        status: "active",
        cancelScheduled: true,
        grace: false,
        tokens: { allowance: STARTER, used: 10, remaining: STARTER - 10 },
        invoices: ["paid", "paid", "paid", "paid", "paid", "paid", "paid"],
        subscriptions: 1,
        windows: [0, 1, 2, 3],
      },
    },
    {
      name: "deletion",
      events: () => {
        const at = period(3).periodEnd;
        return [
          evt(
            "customer.subscription.deleted",
            sub("canceled", 3, {
              price: starterMonthly,
              cancelAtPeriodEnd: true,
              cancelAt: period(3).periodEnd,
              canceledAt: period(3).periodStart + 10 * DAY,
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
    },
  ];

  const deliveredIds = new Set<string>();
  for (const [index, step] of steps.entries()) {
    const number = index + 1;
    const problems: string[] = [];
    let deliveries: string[] = [];
    try {
      if (step.run) deliveries = await step.run();
      if (step.events) {
        const events = step.events();
        const plan = deliveryPlan(events, random);
        for (const e of plan) {
          const status = await deliver(t, e);
          deliveredIds.add(e.id);
          if (status !== 200) problems.push(`delivery of ${e.type} (${e.id}) answered ${status}, expected 200`);
        }
        deliveries = plan.map((e) => `${e.type}${plan.filter((x) => x.id === e.id).length > 1 ? "*" : ""}`);
      }
      await settle(t);
      if (accountId && options.afterStep) await options.afterStep(number, t, accountId);
    } catch (error) {
      problems.push(`step threw: ${error instanceof Error ? error.message : String(error)}`);
    }

    if (!accountId) {
      failures.push(`step ${number} (${step.name}): no account; cannot continue`, ...problems.map((p) => `step ${number}: ${p}`));
      break;
    }
    const state = await readState(t, accountId, customerId);
    const stepState: StepState = { step: number, name: step.name, deliveries, ...state.view };
    states.push(stepState);
    problems.push(...checkStep(step.expect, state, deliveredIds.size, (n) => period(n).periodStart * 1000));

    log(`\nstep ${number}: ${step.name}`);
    if (deliveries.length > 0) log(`  ${step.events ? "delivered" : "called"}: ${deliveries.join(", ")}`);
    log("  " + formatTable(stateHeaders, [stateRow(stepState)]).split("\n").join("\n  "));
    log(problems.length === 0 ? "  checks: ok" : problems.map((p) => `  FAILED: ${p}`).join("\n"));
    failures.push(...problems.map((p) => `step ${number} (${step.name}): ${p}`));
  }

  const table = formatTable(stateHeaders, states.map(stateRow));
  return { ok: failures.length === 0 && states.length === steps.length, seed: options.seed, steps: states, failures, table };
}

// ---------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------

/** Every event once, about half of them twice (at least one), shuffled. */
function deliveryPlan(events: Stripe.Event[], random: () => number): Stripe.Event[] {
  const plan = [...events];
  const repeats = events.filter(() => random() < 0.5);
  if (repeats.length === 0 && events.length > 0) repeats.push(events[Math.floor(random() * events.length)]!);
  plan.push(...repeats);
  return shuffle(plan, random);
}

/** POSTs one event to the webhook route, signed now like Stripe does; returns the HTTP status. */
async function deliver(t: Harness, e: Stripe.Event): Promise<number> {
  const payload = JSON.stringify(e, null, 2);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: WEBHOOK_SECRET,
    timestamp: Math.floor(Date.now() / 1000),
  });
  const response = await t.fetch("/stripe/webhook", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": signature },
    body: payload,
  });
  await response.text();
  return response.status;
}

/**
 * Runs scheduled work until no event is `pending` or `failed_retrying`, or
 * `maxWaitMs` has passed. Retries scheduled with backoff run on real timers,
 * so this waits for their `nextAttemptAt`.
 */
async function settle(t: Harness, maxWaitMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    await drainScheduled(t);
    const waiting = await t.run(async (ctx) => {
      const rows = [];
      for (const status of ["pending", "failed_retrying"] as const) {
        rows.push(
          ...(await ctx.db
            .query("webhookEvents")
            .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
            .take(100)),
        );
      }
      return rows.map((r) => r.nextAttemptAt ?? 0);
    });
    if (waiting.length === 0 || Date.now() - start > maxWaitMs) return;
    const wait = Math.min(...waiting) - Date.now();
    await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(20, wait + 20))));
  }
}

// ---------------------------------------------------------------------------
// State and checks
// ---------------------------------------------------------------------------

type ReadState = Awaited<ReturnType<typeof readState>>;

async function readState(t: Harness, accountId: Id<"billingAccounts">, customerId: string) {
  const asUser = t.withIdentity(IDENTITY);
  const subscriptionView = await asUser.query(api.billing.subscription, {});
  const balance = await asUser.query(api.tokens.balance, {});
  const invoices = await asUser.query(api.billing.invoices, { limit: 24 });
  const invariant = await t.query(internal.tokens.checkInvariant, { accountId });
  const db = await t.run(async (ctx) => {
    const events = {} as Record<WebhookEventStatus, number>;
    for (const status of WEBHOOK_EVENT_STATUSES) {
      events[status] = customerId
        ? (
            await ctx.db
              .query("webhookEvents")
              .withIndex("by_stripeCustomerId_and_status", (q) =>
                q.eq("stripeCustomerId", customerId).eq("status", status),
              )
              .take(1000)
          ).length
        : 0;
    }
    // Events without a customer (none expected) would escape the count above.
    let allEvents = 0;
    for (const status of WEBHOOK_EVENT_STATUSES) {
      allEvents += (
        await ctx.db
          .query("webhookEvents")
          .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
          .take(1000)
      ).length;
    }
    const subscriptions = await ctx.db
      .query("subscriptions")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .take(100);
    const ledger = await ctx.db
      .query("tokenLedger")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .take(1000);
    return { events, allEvents, subscriptions: subscriptions.length, ledger };
  });
  return {
    view: {
      tier: subscriptionView?.tier ?? "signed-out",
      status: subscriptionView?.status ?? "signed-out",
      cancelScheduled: subscriptionView?.cancelScheduled ?? false,
      graceEndsAt: subscriptionView?.graceEndsAt ?? null,
      allowance: balance?.allowance ?? -1,
      purchased: balance?.purchased ?? -1,
      used: balance?.used ?? -1,
      remaining: balance?.remaining ?? -1,
      invoices: invoices.map((i) => i.status),
      scheduled: subscriptionView?.scheduledChange?.tier ?? null,
      events: db.events,
    },
    invariant,
    allEvents: db.allEvents,
    subscriptions: db.subscriptions,
    ledger: db.ledger,
  };
}

function checkStep(
  want: Expectation,
  state: ReadState,
  distinctEventsDelivered: number,
  windowStart: (n: number) => number,
): string[] {
  const problems: string[] = [];
  const v = state.view;
  const expectEq = (what: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      problems.push(`${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
  };

  if (!state.invariant.ok) {
    problems.push(`ledger invariant broken: ${state.invariant.problems.join("; ") || "not ok"}`);
  }
  expectEq("ledger sum", state.invariant.ledgerSum, v.remaining);

  const stuck = v.events.pending + v.events.failed_retrying + v.events.waiting + v.events.dead;
  if (stuck > 0) {
    problems.push(
      `events left unprocessed: ${v.events.pending} pending, ${v.events.failed_retrying} failed_retrying, ${v.events.waiting} waiting, ${v.events.dead} dead`,
    );
  }
  // Duplicates are recorded once: one row per distinct event id.
  expectEq("webhook event rows", state.allEvents, distinctEventsDelivered);

  expectEq("tier", v.tier, want.tier);
  expectEq("subscription status", v.status, want.status);
  expectEq("cancelScheduled", v.cancelScheduled, want.cancelScheduled);
  if (want.grace !== (v.graceEndsAt !== null)) {
    problems.push(want.grace ? "no grace period while past_due" : `unexpected grace period (until ${v.graceEndsAt})`);
  }
  for (const [field, expected] of Object.entries(want.tokens ?? {})) {
    expectEq(`tokens.${field}`, v[field as "allowance" | "purchased" | "used" | "remaining"], expected);
  }
  expectEq("invoice statuses", v.invoices, want.invoices);
  expectEq("subscription rows", state.subscriptions, want.subscriptions);

  expectEq("scheduled change", v.scheduled, want.scheduled ?? null);
  // Each paid monthly window opens once: grants keyed `window:<start ms>`.
  const grants = new Map<string, number>();
  for (const row of state.ledger) {
    if (row.reason === "period_grant" && row.sourceKey.startsWith("window:")) {
      grants.set(row.sourceKey, (grants.get(row.sourceKey) ?? 0) + 1);
    }
  }
  const expectedKeys = want.windows.map((n) => `window:${windowStart(n)}`);
  for (const key of expectedKeys) expectEq(`grants for ${key}`, grants.get(key) ?? 0, 1);
  for (const [key, n] of grants) {
    if (!expectedKeys.includes(key)) problems.push(`unexpected grant for ${key} (${n}×)`);
  }
  // The account's own view of its ledger agrees with the audit query.
  const sum = state.ledger.reduce((s, r) => s + r.amount, 0);
  expectEq("ledger rows sum", sum, state.invariant.ledgerSum);
  return problems;
}

const stateHeaders = ["step", "tier", "status", "cancel", "next", "grace", "allow", "purch", "used", "left", "invoices", "events ok/ign/pend/fail/wait/dead"];

function stateRow(s: StepState): (string | number)[] {
  const e = s.events;
  return [
    `${s.step} ${s.name}`,
    s.tier,
    s.status,
    s.cancelScheduled ? "at end" : "-",
    s.scheduled ?? "-",
    s.graceEndsAt === null ? "-" : new Date(s.graceEndsAt).toISOString().slice(0, 10),
    s.allowance,
    s.purchased,
    s.used,
    s.remaining,
    s.invoices.length === 0 ? "0" : `${s.invoices.length} ${s.invoices.join(",")}`,
    `${e.succeeded}/${e.ignored}/${e.pending}/${e.failed_retrying}/${e.waiting}/${e.dead}`,
  ];
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function parseSeed(): number {
  const raw = parseArgs({ options: { seed: { type: "string" } } }).values.seed;
  if (raw === undefined) return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got "${raw}"`);
  return seed;
}

async function main() {
  const seed = parseSeed();
  const started = Date.now();
  console.log(`lifecycle: seed ${seed} (rerun with: npm run lifecycle -- --seed ${seed})`);
  const result = await runLifecycle({ seed, log: (line) => console.log(line) });
  console.log(`\nsummary (seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n${result.table}`);
  if (!result.ok) {
    console.error(`\nlifecycle FAILED (${result.failures.length} broken checks, seed ${seed}):`);
    for (const f of result.failures) console.error(`  - ${f}`);
    process.exit(1);
  }
  console.log("\nlifecycle ok: every check passed");
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error("lifecycle crashed:", error);
    process.exit(1);
  });
}
