/**
 * `npm run bench`: documents read and written per function, at 10 and at
 * 10,000 accounts, and the monthly reset over 100,000 free accounts and over
 * 100,000 yearly subscribers.
 *
 * Figures come from `ctx.meta.getTransactionMetrics()` around one
 * `ctx.runQuery` / `ctx.runMutation` inside `t.run` (convex-test, limits on),
 * so they are the function's own reads and writes including its
 * sub-transactions: an app function's include the billing component's
 * functions it calls, and `webhooks.receive` is called from the app as the
 * webhook route calls it. The component's internal functions (crons, the
 * reset) are measured inside it (`measureInBilling`). A function whose figures grow with the size of the tables
 * is not using an index to bound its work: the bench flags it and exits 1.
 *
 * Measured for a fresh account driven through the real functions at each
 * scale, with the same events, so only the table sizes differ:
 * - webhook receipt (`webhooks.receive`, new and redelivered event);
 * - processing one event of each handled type (`webhooks.receive`, which
 *   records and applies it in one transaction), including the plan-change
 *   story: an in-app upgrade, a scheduled downgrade (Subscription Schedule
 *   events), a downgrade applied at once (a credit invoice), the customer's
 *   credit balance, the renewal at the new price and a test clock advancing;
 *   plan-change steps are compared with the most today's other handlers use;
 * - `tokens.consume`, and the billing page's queries;
 * - the crons' runs when nothing is due.
 * Then (`grantsBench.ts`) `tokens.consume`, `reserve`, `settle` and `release`
 * on accounts with 1, 10 and 1,000 historic (expired or depleted) grants:
 * the figures must be the same at each, or the bench fails.
 * Then the monthly reset (`tokens.resetFreeTier`, the allowance rollover):
 * batches, and the most documents and index ranges one batch reads and
 * writes, for 100,000 free accounts and for 100,000 yearly subscribers whose
 * window has ended; each batch must stay under a quarter of Convex's
 * transaction limits. Yearly subscribers whose balances were written before
 * grants (converted by the reset) are measured too, reported but not failing.
 * Then the token sweeps (`grantsBench.ts`) over 100,000 accounts: the grant
 * expiry sweep, the hold sweep and the daily audit, each batch within a
 * quarter of the limits. Last, overage reporting to Stripe's meter
 * (`meterBench.ts`): an hour of 100,000 overage ledger entries claimed and
 * recorded in batches, each within a quarter of the limits, with documents
 * per reported event (`--meter-reports N`, of which the first
 * `--meter-batches N` batches are measured; 1,000 reports are drained whole
 * to show a batch costs the same at either size). Then the per-member usage
 * query (`memberUsageBench.ts`) at 10 and 10,000 accounts, reading only
 * pre-aggregated rows, and the operator console's reads (`consoleBench.ts`):
 * one list page, search and the account detail at 10 and 10,000 accounts.
 * Then the dunning sweep (`dunningBench.ts`, issue 11) at 1,000 and 100,000
 * accounts with 1% overdue: only due accounts read (`by_dunningNextAt`),
 * each batch within a quarter of the limits; and one notification send
 * (`notificationBench.ts`: `notify` and its email enqueue through the Resend
 * component) at 10 and 10,000 accounts, beside 0 and 1,000 prior
 * notifications: the same documents at each.
 *
 * Background accounts are inserted in bulk with `t.run` batches, each well
 * under Convex's per-transaction limits, shaped as the webhook handlers
 * leave them (paid coverage, window-keyed balances, allowance grants:
 * `tokenSeed.ts`). `--accounts N`, `--reset-accounts N` and
 * `--sweep-accounts N` change the sizes (defaults 10,000, 100,000 and
 * 100,000); `--audit-batches N` how many audit batches are measured (3);
 * `--dunning-accounts N` the larger dunning run (100,000). `--only a,b` runs
 * only the parts named (`suite`, `history`, `reset`, `sweeps`, `metering`,
 * `memberUsage`, `console`, `dunning`, `notifications`), e.g.
 * `npx tsx tests/bench/bench.ts --only dunning,notifications`.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { WithoutSystemFields } from "convex/server";
import type Stripe from "stripe";
import { api, components } from "../../convex/_generated/api";
import type { Id as AppId } from "../../convex/_generated/dataModel";
import type { Doc, Id, TableNames } from "../../convex/billing/_generated/dataModel";
import { windowContaining } from "../../convex/billing/model/allowance";
import { billingOwnerKey, getCaller } from "../../convex/model/auth";
import { freePeriod, freePeriodSourceKey } from "../../convex/billing/model/periods";
import { BILLING_CONFIG, PLANS, type Interval, type PaidTier } from "../../convex/billing/model/plans";
import { customerIdOfEvent } from "../../convex/billing/model/stripeShapes";
import { FREE_RESET_BATCH_SIZE } from "../../convex/billing/model/tokens";
import { checkoutSession, customer, DAY, event, invoice, price, subscription } from "../convex/fixtures/stripe";
import { accountOf, billing, billingApi, billingInternal, runInBilling, type BillingMutationCtx } from "../lib/billingComponent";
import {
  batchThatFits,
  benchGrantHistory,
  benchSweeps,
  checkHistoryFlat,
  checkSweeps,
  historyTable,
  HISTORY_SIZES,
  LIMITS,
  QUARTER,
  sweepFingerprint,
  sweepTable,
} from "./grantsBench";
import { benchMetering, checkMetering, meteringRates, meteringTable } from "./meterBench";
import { benchConsole, consoleTable } from "./consoleBench";
import { benchDunningSweep, checkDunningRuns, dunningSummary, dunningTable, type DunningSweepRun } from "./dunningBench";
import { benchNotifications, notificationTable } from "./notificationBench";
import { benchMemberUsage, memberUsageTable } from "./memberUsageBench";
import { allowanceGrantDoc, grantDoc, insertLedger, periodGrantRow, type LedgerRow } from "./tokenSeed";
import {
  drainScheduled,
  enableScaleIndexes,
  formatTable,
  makeHarness,
  measure,
  measureInBilling,
  withoutSchemaValidation,
  type Harness,
  type Metrics,
} from "../lib/convexHarness";

const ISSUER = "https://clerk.bench.test";
const SEED_BATCH = 500;
const RESET_SEED_BATCH = 1_000;
/** Free accounts of the reset run compared with and without the scale indexes. */
const FIDELITY_RESET_ACCOUNTS = 450;
/** Accounts of the sweep run compared with and without the scale indexes (full and partial batches of each sweep). */
const FIDELITY_SWEEP_ACCOUNTS = 900;
/**
 * Audit batches measured: it pages the whole balance table, each batch the
 * same way (the first, then continuations whose cursor the paginator
 * re-reads), and convex-test pages that table by scanning it: 500 batches
 * at 100,000 accounts would take about 20 minutes. `--audit-batches N`
 * measures more.
 */
const AUDIT_BATCHES = 3;
const FIDELITY_AUDIT_BATCHES = 2;
/** Yearly subscribers with balances from before grants: a batch costs the same at any table size (the runs above show it). */
const LEGACY_RESET_ACCOUNTS = 2_000;

type Figure = Pick<Metrics, "documentsRead" | "documentsWritten"> & {
  /** A step of the plan-change story (held to the budget of the other handlers). */
  planChange?: boolean;
};
type Suite = Map<string, Figure>;

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

/** The catalogue price of `tier` billed every `interval`, as the checkout action caches it. */
function cataloguePriceId(tier: PaidTier, interval: Interval): string {
  return `price_${tier}_${interval === "month" ? "monthly" : "yearly"}`;
}

async function seedCatalogue(t: Harness): Promise<void> {
  for (const tier of ["starter", "pro", "elite"] as const) {
    for (const interval of ["month", "year"] as const) {
      const p = PLANS[tier].prices![interval];
      await billing(t).mutation(billingInternal.accounts.upsertPrice, {
        stripePriceId: cataloguePriceId(tier, interval),
        lookupKey: p.lookupKey,
        tier,
        interval,
        unitAmount: p.displayAmount,
        currency: p.currency,
      });
    }
  }
}

/** Whole seconds, as Stripe's times are. */
function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** Monthly window starts on `anchor`'s grid from `anchor` up to the window containing `nowMs`, plus its end. */
function windowBoundaries(anchor: number, nowMs: number): number[] {
  const starts = [anchor];
  for (;;) {
    const end = windowContaining(anchor, starts[starts.length - 1]!).end;
    starts.push(end);
    if (end > nowMs) return starts;
  }
}

/** One calendar year after `ms` (a yearly price's period). */
function yearAfter(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear() + 1, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
}

/** One monthly allowance window of a subscriber's history. */
type HistoryWindow = { start: number; end: number; key: string; allowance: number; used: number };

/**
 * Subscriber token history: a window per month since the anchor, each with
 * its allowance grant and some use. `tierAt(k)` is the tier window `k` was
 * granted at.
 */
function windowPlan(starts: number[], tierAt: (k: number) => PaidTier, usedAt: (k: number) => number): HistoryWindow[] {
  return starts.slice(0, -1).map((start, k) => {
    const allowance = PLANS[tierAt(k)].tokensPerPeriod;
    return { start, end: starts[k + 1]!, key: `window:${start}`, allowance, used: Math.min(allowance, usedAt(k)) };
  });
}

/**
 * The ledger of `windows`, as `startPeriod` and `consume` write it: per
 * window its grant (`grantIds[k]`) and use, and the unused allowance expired
 * when the next window opens.
 */
function windowHistory(windows: HistoryWindow[], grantIds: Id<"tokenGrants">[], tag: string): LedgerRow[] {
  const rows: LedgerRow[] = [];
  for (const [k, w] of windows.entries()) {
    const previous = windows[k - 1];
    const left = previous ? previous.allowance - previous.used : 0;
    if (left > 0) {
      rows.push({ amount: -left, reason: "period_expire", sourceKey: `${w.key}:expire`, grantId: grantIds[k - 1]!, note: `Unused allowance of ${previous!.key}` });
    }
    rows.push(periodGrantRow(grantIds[k]!, w.allowance, w.key, w.key));
    if (w.used > 0) {
      rows.push({ amount: -w.used, reason: "consume", sourceKey: `consume:${tag}_${k}`, feature: "standard_analysis", drawnFrom: [{ grantId: grantIds[k]!, amount: w.used }] });
    }
  }
  return rows;
}

type PaidKind = "monthly" | "yearly" | "upgraded";

/** Background account `i`'s plan: half monthly Pro, a quarter yearly Pro, a quarter Starter upgraded to Pro this month. */
function paidKindOf(i: number): PaidKind {
  return i % 4 === 2 ? "yearly" : i % 4 === 3 ? "upgraded" : "monthly";
}

/** Background account `i`'s tag in its ids (`cus_bg000042`, …). */
function backgroundTag(i: number): string {
  return String(i).padStart(6, "0");
}

/**
 * Inserts accounts `from … to-1` as paying customers as the webhook handlers
 * leave them: each batch's users in the app, then their billing rows in the
 * component (see `insertPaidAccount`). Returns the documents inserted.
 */
async function seedPaidAccounts(t: Harness, from: number, to: number, nowMs: number): Promise<number> {
  if (from === 0) await seedCatalogue(t);
  let documents = 0;
  for (let start = from; start < to; start += SEED_BATCH) {
    const end = Math.min(to, start + SEED_BATCH);
    const run = async () => {
      const userIds = await t.run(async (ctx) => {
        const ids: AppId<"users">[] = [];
        for (let i = start; i < end; i++) {
          const n = backgroundTag(i);
          ids.push(await ctx.db.insert("users", { tokenIdentifier: `${ISSUER}|bg_${n}`, clerkUserId: `bg_${n}` }));
        }
        return ids;
      });
      const billingDocuments = await runInBilling(t, async (ctx) => {
        let n = 0;
        for (let i = start; i < end; i++) n += await insertPaidAccount(ctx, i, billingOwnerKey(userIds[i - start]!), nowMs);
        return n;
      });
      return userIds.length + billingDocuments;
    };
    // The first batch is checked against the schema; the rest are the same shapes.
    documents += start === 0 ? await run() : await withoutSchemaValidation(t, run);
  }
  return documents;
}

/**
 * One paying account with a few months of history, shaped as the handlers
 * write it (its user, named by `ownerKey`, is in the app): account,
 * subscription mirror (with `startDate`), an invoice, its `paidCoverage` rows
 * and its processed `invoice.paid` event per paid invoice, a window-keyed
 * balance (`window:<start ms>`, `windowAnchor`, `windowTier`) and the ledger
 * of every window so far.
 * - `monthly`: Pro monthly for 2–3 months, one cycle invoice per window.
 * - `yearly`: Pro yearly for 1–10 months, one invoice with a yearly line;
 *   the windows were opened by the monthly cron.
 * - `upgraded`: Starter monthly, upgraded to Pro in the current window (a
 *   `subscription_update` invoice with a credit line and a charge line,
 *   allowance raised by a `plan_change` row).
 * Returns the number of documents inserted.
 */
async function insertPaidAccount(ctx: BillingMutationCtx, i: number, ownerKey: string, nowMs: number): Promise<number> {
  const n = backgroundTag(i);
  const kind = paidKindOf(i);
  const customerId = `cus_bg${n}`;
  const subId = `sub_bg${n}`;
  const daysAgo = kind === "yearly" ? 40 + ((i * 37) % 280) : 62 + (i % 25);
  const anchor = wholeSeconds(nowMs - daysAgo * DAY * 1000 - (i % 86_400) * 1000);
  const starts = windowBoundaries(anchor, nowMs);
  const current = starts.length - 2;
  const windowStart = starts[current]!;
  const windowEnd = starts[current + 1]!;
  const upgradeAt = wholeSeconds(windowStart + (nowMs - windowStart) / 2);
  const tier: PaidTier = "pro";
  const interval: Interval = kind === "yearly" ? "year" : "month";
  const priceId = cataloguePriceId(tier, interval);
  let documents = 0;
  const insert = async <T extends TableNames>(table: T, doc: WithoutSystemFields<Doc<T>>) => {
    documents += 1;
    return await ctx.db.insert(table, doc);
  };

  const accountId = await insert("billingAccounts", {
    kind: "personal",
    ownerKey,
    tier,
    stripeCustomerId: customerId,
    stripeSubscriptionId: subId,
    customerBalance: 0,
    balanceCurrency: "usd",
  });
  await insert("subscriptions", {
    stripeSubscriptionId: subId,
    stripeCustomerId: customerId,
    accountId,
    status: "active",
    stripePriceId: priceId,
    stripeSubscriptionItemId: `si_bg${n}`,
    lookupKey: PLANS[tier].prices![interval].lookupKey,
    tier,
    interval,
    quantity: 1,
    currentPeriodStart: kind === "yearly" ? anchor : windowStart,
    currentPeriodEnd: kind === "yearly" ? yearAfter(anchor) : windowEnd,
    cancelAtPeriodEnd: false,
    startDate: anchor,
    eventCreated: Math.floor((kind === "upgraded" ? upgradeAt : kind === "yearly" ? anchor : windowStart) / 1000),
  });

  // Paid invoices and what they paid for.
  type Line = { priceId: string; tier: PaidTier; amount: number; start: number; end: number };
  const invoices: { reason: string; created: number; lines: Line[] }[] = [];
  if (kind === "yearly") {
    invoices.push({ reason: "subscription_create", created: anchor, lines: [{ priceId, tier, amount: 29000, start: anchor, end: yearAfter(anchor) }] });
  } else {
    const cyclePrice = kind === "upgraded" ? cataloguePriceId("starter", "month") : priceId;
    const cycleTier: PaidTier = kind === "upgraded" ? "starter" : tier;
    for (let k = 0; k <= current; k++) {
      invoices.push({
        reason: k === 0 ? "subscription_create" : "subscription_cycle",
        created: starts[k]!,
        lines: [{ priceId: cyclePrice, tier: cycleTier, amount: PLANS[cycleTier].prices!.month.displayAmount, start: starts[k]!, end: starts[k + 1]! }],
      });
    }
    if (kind === "upgraded") {
      invoices.push({
        reason: "subscription_update",
        created: upgradeAt,
        lines: [
          { priceId: cyclePrice, tier: "starter", amount: -450, start: upgradeAt, end: windowEnd },
          { priceId, tier, amount: 1450, start: upgradeAt, end: windowEnd },
        ],
      });
    }
  }
  for (const [k, inv] of invoices.entries()) {
    const stripeInvoiceId = `in_bg${n}_${k}`;
    const total = inv.lines.reduce((sum, l) => sum + l.amount, 0);
    await insert("invoices", {
      stripeInvoiceId,
      stripeCustomerId: customerId,
      accountId,
      stripeSubscriptionId: subId,
      number: `BG${n}-${k}`,
      status: "paid",
      billingReason: inv.reason,
      amountDue: total,
      amountPaid: total,
      amountRemaining: 0,
      currency: "usd",
      periodStart: inv.created,
      periodEnd: inv.created,
      total,
      startingBalance: 0,
      endingBalance: 0,
      createdAt: inv.created,
      eventCreated: Math.floor(inv.created / 1000),
    });
    for (const line of inv.lines) {
      await insert("paidCoverage", {
        accountId,
        stripeInvoiceId,
        stripeSubscriptionId: subId,
        stripePriceId: line.priceId,
        tier: line.tier,
        sign: line.amount < 0 ? -1 : 1,
        start: line.start,
        end: line.end,
      });
    }
    await insert("webhookEvents", {
      eventId: `evt_bg${n}_${k}`,
      type: "invoice.paid",
      livemode: false,
      eventCreated: Math.floor(inv.created / 1000),
      payload: "{}",
      stripeCustomerId: customerId,
      status: "succeeded",
      attempts: 1,
      receivedAt: inv.created,
      processedAt: inv.created,
    });
  }

  // Tokens: one window per month since the anchor, each with its allowance
  // grant; the past ones expired, the current one active (raised by the
  // upgrade for `upgraded`).
  const tierAt = (_k: number): PaidTier => (kind === "upgraded" ? "starter" : tier);
  const windows = windowPlan(starts, tierAt, (k) => 10 + ((i + k) % 30));
  const windowKey = `window:${windowStart}`;
  const used = windows[current]!.used;
  let allowance = windows[current]!.allowance;
  const raised = kind === "upgraded" ? PLANS[tier].tokensPerPeriod : allowance;
  const grantIds: Id<"tokenGrants">[] = [];
  for (const [k, w] of windows.entries()) {
    const open = k === current;
    const tokens = open ? raised : w.allowance;
    const grant = allowanceGrantDoc(accountId, { tokens, used: w.used, expired: !open, sourceKey: w.key, periodKey: w.key, start: w.start, end: w.end });
    grantIds.push(await insert("tokenGrants", grant));
  }
  const rows = windowHistory(windows, grantIds, `bg${n}`);
  if (raised !== allowance) {
    rows.push({
      amount: raised - allowance,
      reason: "plan_change",
      sourceKey: `${windowKey}:${tier}:evt_bg${n}_up`,
      note: `${PLANS[tier].name} allowance for this window (${allowance} → ${raised})`,
      grantId: grantIds[current]!,
    });
    allowance = raised;
  }
  const balance = await insertLedger(ctx, accountId, rows);
  documents += rows.length;
  await insert("tokenBalances", {
    accountId,
    allowance,
    purchased: 0,
    used,
    held: 0,
    balance,
    allowanceGrantId: grantIds[current]!,
    grantsVersion: 1,
    periodKey: windowKey,
    periodStart: windowStart,
    periodEnd: windowEnd,
    windowAnchor: anchor,
    windowTier: tier,
  });
  if (balance !== allowance - used) throw new Error(`seed ${n}: ledger ${balance} ≠ ${allowance} − ${used}`);
  if (nowMs >= windowEnd || windowStart > nowMs) throw new Error(`seed ${n}: window does not contain now`);
  return documents;
}

/** A Subscription Schedule with two phases: `current` until `end`, then `next` until `nextEnd` (seconds). */
function scheduleObject(input: {
  id: string;
  customer: string;
  subscription: string;
  status: Stripe.SubscriptionSchedule.Status;
  current: Stripe.Price;
  next: Stripe.Price;
  start: number;
  end: number;
  nextEnd: number;
}): Stripe.SubscriptionSchedule {
  const phase = (p: Stripe.Price, start: number, end: number) =>
    ({ items: [{ price: p.id, quantity: 1, metadata: {} }], start_date: start, end_date: end, metadata: {} }) as unknown as Stripe.SubscriptionSchedule.Phase;
  return {
    id: input.id,
    object: "subscription_schedule",
    customer: input.customer,
    subscription: input.subscription,
    status: input.status,
    end_behavior: "release",
    current_phase: { start_date: input.start, end_date: input.end },
    phases: [phase(input.current, input.start, input.end), phase(input.next, input.end, input.nextEnd)],
    released_subscription: null,
  } as unknown as Stripe.SubscriptionSchedule;
}

/** A test clock that has finished advancing to `frozenTime` (seconds). */
function testClockObject(id: string, frozenTime: number): Stripe.TestHelpers.TestClock {
  return {
    id,
    object: "test_helpers.test_clock",
    created: frozenTime - 60 * DAY,
    deletes_after: frozenTime + 30 * DAY,
    frozen_time: frozenTime,
    livemode: false,
    name: null,
    status: "ready",
    status_details: {},
  };
}

// ---------------------------------------------------------------------------
// The measured suite
// ---------------------------------------------------------------------------

/** The event as `webhooks.receive` receives it from the route. */
function enqueueArgs(e: Stripe.Event) {
  return {
    eventId: e.id,
    type: e.type,
    apiVersion: e.api_version ?? undefined,
    livemode: e.livemode,
    eventCreated: e.created,
    payload: JSON.stringify(e),
    stripeCustomerId: customerIdOfEvent(e),
  };
}

/**
 * Drives a fresh account (`tag` keeps its ids apart from other runs) through
 * checkout, renewal, dunning and cancellation, measuring each function.
 */
async function measureSuite(t: Harness, tag: string): Promise<Suite> {
  const figures: Suite = new Map();
  const record = (name: string, m: Metrics, planChange = false) =>
    figures.set(name, { documentsRead: m.documentsRead, documentsWritten: m.documentsWritten, ...(planChange ? { planChange } : {}) });
  const identity = { subject: `bench_${tag}`, issuer: ISSUER, name: "Bench User", email: "bench@example.com" };
  const asUser = t.withIdentity(identity);

  record("users.store (first sign-in)", (await measure(asUser, (ctx) => ctx.runMutation(api.users.store, {}))).metrics);
  const caller = await asUser.run((ctx) => getCaller(ctx));
  const account = caller ? await accountOf(t, caller.ownerKey) : null;
  if (!account) throw new Error("users.store created no billing account");
  const accountId = account._id;

  const customerId = `cus_m${tag}`;
  const subId = `sub_m${tag}`;
  const clockId = `clock_m${tag}`;
  const proMonthly = price({ id: cataloguePriceId("pro", "month"), lookupKey: "pro_monthly", unitAmount: 2900, interval: "month" });
  const eliteMonthly = price({ id: cataloguePriceId("elite", "month"), lookupKey: "elite_monthly", unitAmount: 9900, interval: "month" });
  const starterMonthly = price({ id: cataloguePriceId("starter", "month"), lookupKey: "starter_monthly", unitAmount: 900, interval: "month" });
  // Billing periods are calendar months from the subscription's start, as
  // Stripe's are; the allowance windows share that grid.
  const base = Math.floor(Date.now() / 1000);
  const boundaries = [base * 1000];
  for (let k = 0; k < 5; k++) boundaries.push(windowContaining(base * 1000, boundaries[k]!).end);
  const period = (n: number) => ({ periodStart: boundaries[n]! / 1000, periodEnd: boundaries[n + 1]! / 1000 });
  let counter = 0;
  const evt = <T extends Stripe.Event["type"]>(type: T, object: Parameters<typeof event<T>>[1], created: number) =>
    event(type, object, { id: `evt_m${tag}_${String(++counter).padStart(3, "0")}`, created });
  /** The subscription as Stripe renders it: `start_date` never moves, and it lives on a test clock. */
  const sub = (
    status: Stripe.Subscription.Status,
    n: number,
    extra: Partial<Parameters<typeof subscription>[0]> = {},
    plan: Stripe.Price = proMonthly,
  ): Stripe.Subscription => ({
    ...subscription({ id: subId, customer: customerId, status, price: plan, ...period(n), ...extra }),
    start_date: base,
    test_clock: clockId,
  });
  const inv = (id: string, status: Stripe.Invoice.Status, reason: Stripe.Invoice.BillingReason, n: number, plan: Stripe.Price = proMonthly) =>
    invoice({
      id: `in_m${tag}_${id}`,
      customer: customerId,
      subscription: subId,
      status,
      billingReason: reason,
      price: plan,
      linePeriodStart: period(n).periodStart,
      linePeriodEnd: period(n).periodEnd,
      created: period(n).periodStart,
    });
  /** A paid `subscription_update` invoice: a credit line for unused time and a charge line. */
  const planChangeInvoice = (id: string, from: Stripe.Price, credit: number, to: Stripe.Price, charge: number, at: number, end: number, startingBalance = 0) =>
    invoice({
      id: `in_m${tag}_${id}`,
      customer: customerId,
      subscription: subId,
      status: "paid",
      billingReason: "subscription_update",
      price: to,
      lines: [
        { price: from, amount: -credit, start: at, end, proration: true },
        { price: to, amount: charge, start: at, end, proration: true },
      ],
      startingBalance,
      created: at,
    });

  // Acknowledgement: the one mutation the webhook route runs, called from
  // the app into the component as the route calls it. The event it records
  // is processed by its scheduled run, like in production.
  const receive = (e: Stripe.Event) => measure(t, (ctx) => ctx.runMutation(components.billing.webhooks.receive, enqueueArgs(e)));
  const ack = evt("customer.updated", customer(customerId), base);
  record("webhooks.receive (new event)", (await receive(ack)).metrics);
  record("webhooks.receive (redelivery)", (await receive(ack)).metrics);
  await drainScheduled(t);

  // Processing: each event recorded and applied in the one mutation the
  // route runs (`webhooks.receive`).
  const processOne = async (label: string, e: Stripe.Event, planChange = false) => {
    const { metrics } = await receive(e);
    const row = await runInBilling(t, async (ctx) =>
      ctx.db
        .query("webhookEvents")
        .withIndex("by_eventId", (q) => q.eq("eventId", e.id))
        .unique(),
    );
    if (row?.status !== "succeeded" && row?.status !== "ignored") {
      throw new Error(`${label}: event ended ${row?.status} (${row?.lastError ?? "no error"})`);
    }
    record(`process ${label}`, metrics, planChange);
  };
  /** The account's balance and tier, to check the story does what it says. */
  const state = async () =>
    await runInBilling(t, async (ctx) => {
      const balance = await ctx.db
        .query("tokenBalances")
        .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
        .unique();
      const account = await ctx.db.get("billingAccounts", accountId);
      return { tier: account?.tier, allowance: balance?.allowance, periodKey: balance?.periodKey, customerBalance: account?.customerBalance };
    });
  const expectState = async (step: string, expected: Partial<Awaited<ReturnType<typeof state>>>) => {
    const got = await state();
    for (const [key, value] of Object.entries(expected)) {
      if (got[key as keyof typeof got] !== value) throw new Error(`bench story, ${step}: ${key} is ${String(got[key as keyof typeof got])}, expected ${String(value)}`);
    }
  };

  await processOne(
    "checkout.session.completed",
    evt(
      "checkout.session.completed",
      checkoutSession({
        id: `cs_m${tag}`,
        mode: "subscription",
        customer: customerId,
        subscription: subId,
        clientReferenceId: accountId,
        metadata: { accountId },
      }),
      base + 1,
    ),
  );
  await processOne("customer.subscription.created", evt("customer.subscription.created", sub("active", 0), base + 1));
  await processOne("invoice.finalized", evt("invoice.finalized", inv("1", "open", "subscription_create", 0), base + 1));
  await processOne("invoice.paid (subscription_create)", evt("invoice.paid", inv("1", "paid", "subscription_create", 0), base + 2));
  await processOne(
    "invoice.payment_succeeded (ignored)",
    evt("invoice.payment_succeeded", inv("1", "paid", "subscription_create", 0), base + 2),
  );
  await expectState("first invoice paid", { tier: "pro", allowance: PLANS.pro.tokensPerPeriod, periodKey: `window:${boundaries[0]}` });

  // The caller's side, on a paying account with history.
  for (const [i, feature] of ["quick_analysis", "standard_analysis", "deep_analysis"].entries()) {
    const { metrics } = await measure(asUser, (ctx) =>
      ctx.runMutation(api.tokens.consume, { feature, idempotencyKey: `bench-${i}` }),
    );
    if (i === 2) record("tokens.consume", metrics);
  }
  record(
    "tokens.consume (repeated key)",
    (await measure(asUser, (ctx) => ctx.runMutation(api.tokens.consume, { feature: "deep_analysis", idempotencyKey: "bench-2" })))
      .metrics,
  );
  record("query billing.subscription", (await measure(asUser, (ctx) => ctx.runQuery(api.billing.subscription, {}))).metrics);
  record("query billing.invoices", (await measure(asUser, (ctx) => ctx.runQuery(api.billing.invoices, {}))).metrics);
  record("query tokens.balance", (await measure(asUser, (ctx) => ctx.runQuery(api.tokens.balance, {}))).metrics);
  record(
    "query tokens.history (first page of 10)",
    (
      await measure(asUser, (ctx) =>
        ctx.runQuery(api.tokens.history, { paginationOpts: { numItems: 10, cursor: null } }),
      )
    ).metrics,
  );
  record(
    "query tokens.check",
    (await measure(asUser, (ctx) => ctx.runQuery(api.tokens.check, { feature: "deep_analysis" }))).metrics,
  );

  await processOne(
    "customer.subscription.updated (renewal)",
    evt("customer.subscription.updated", sub("active", 1), period(1).periodStart + 1),
  );
  await processOne(
    "invoice.paid (subscription_cycle)",
    evt("invoice.paid", inv("2", "paid", "subscription_cycle", 1), period(1).periodStart + 1),
  );
  await expectState("renewal paid", { tier: "pro", allowance: PLANS.pro.tokensPerPeriod, periodKey: `window:${boundaries[1]}` });

  // Plan changes in the second month (the plan-change issue's story).
  // An in-app upgrade Pro → Elite on day 5: the subscription moves to the
  // new price, then its `subscription_update` invoice is paid (credit for
  // unused Pro, charge for Elite over the rest of the period).
  const end1 = period(1).periodEnd;
  const upAt = period(1).periodStart + 5 * DAY;
  await processOne(
    "customer.subscription.updated (upgrade)",
    evt("customer.subscription.updated", sub("active", 1, {}, eliteMonthly), upAt),
    true,
  );
  await processOne(
    "invoice.paid (upgrade: credit + charge lines)",
    evt("invoice.paid", planChangeInvoice("up", proMonthly, 2400, eliteMonthly, 8200, upAt, end1), upAt + 1),
    true,
  );
  await expectState("upgrade paid", { tier: "elite", allowance: PLANS.elite.tokensPerPeriod });
  // A downgrade Elite → Pro scheduled for the period end: a Subscription
  // Schedule with the current phase and the next one.
  const schedule = (status: Stripe.SubscriptionSchedule.Status): Stripe.SubscriptionSchedule =>
    scheduleObject({
      id: `sub_sched_m${tag}`,
      customer: customerId,
      subscription: subId,
      status,
      current: eliteMonthly,
      next: proMonthly,
      start: upAt,
      end: end1,
      nextEnd: period(2).periodEnd,
    });
  await processOne(
    "subscription_schedule.created (2 phases)",
    evt("subscription_schedule.created", schedule("not_started"), upAt + 2 * DAY),
    true,
  );
  await processOne(
    "subscription_schedule.updated (2 phases)",
    evt("subscription_schedule.updated", schedule("active"), upAt + 2 * DAY + 1),
    true,
  );
  // Then a downgrade applied at once instead (Dashboard/API, Elite → Starter
  // on day 10): the schedule is released, and the credit for unused Elite is
  // more than Starter costs, so the invoice's total is negative and the rest
  // goes to the customer's balance.
  const downAt = period(1).periodStart + 10 * DAY;
  await processOne(
    "subscription_schedule.released",
    evt("subscription_schedule.released", { ...schedule("released"), subscription: null, released_subscription: subId }, downAt),
    true,
  );
  await processOne(
    "customer.subscription.updated (downgrade at once)",
    evt("customer.subscription.updated", sub("active", 1, {}, starterMonthly), downAt),
    true,
  );
  const credit = planChangeInvoice("down", eliteMonthly, 6600, starterMonthly, 600, downAt, end1);
  if (!(credit.total < 0)) throw new Error("bench story: the downgrade's invoice should be a credit");
  await processOne("invoice.paid (downgrade: credit invoice, negative total)", evt("invoice.paid", credit, downAt + 1), true);
  await processOne(
    "customer.updated (credit balance)",
    evt("customer.updated", { ...customer(customerId), balance: credit.total, currency: "usd" }, downAt + 2),
    true,
  );
  await expectState("downgrade at once", { tier: "starter", customerBalance: credit.total });
  // The renewal at the new price: the credit pays for it.
  await processOne(
    "customer.subscription.updated (renewal at new price)",
    evt("customer.subscription.updated", sub("active", 2, {}, starterMonthly), period(2).periodStart),
    true,
  );
  const renewal = invoice({
    id: `in_m${tag}_3`,
    customer: customerId,
    subscription: subId,
    status: "paid",
    billingReason: "subscription_cycle",
    price: starterMonthly,
    lines: [{ price: starterMonthly, amount: 900, start: period(2).periodStart, end: period(2).periodEnd }],
    startingBalance: credit.total,
    created: period(2).periodStart,
  });
  await processOne("invoice.paid (renewal at new price)", evt("invoice.paid", renewal, period(2).periodStart + 1), true);
  await expectState("renewal at the new price", { tier: "starter", allowance: PLANS.starter.tokensPerPeriod, periodKey: `window:${boundaries[2]}` });
  // The subscription lives on a test clock: the clock moved on.
  await processOne(
    "test_helpers.test_clock.ready",
    evt("test_helpers.test_clock.ready", testClockObject(clockId, period(2).periodStart + DAY), period(2).periodStart + DAY),
    true,
  );

  await processOne(
    "invoice.payment_failed",
    evt("invoice.payment_failed", inv("4", "open", "subscription_cycle", 3, starterMonthly), period(3).periodStart + 1),
  );
  await processOne(
    "customer.subscription.updated (past_due)",
    evt("customer.subscription.updated", sub("past_due", 3, {}, starterMonthly), period(3).periodStart + 2),
  );
  await processOne(
    "customer.subscription.updated (cancel at end)",
    evt(
      "customer.subscription.updated",
      sub("past_due", 3, { cancelAtPeriodEnd: true, cancelAt: period(3).periodEnd }, starterMonthly),
      period(3).periodStart + 3,
    ),
  );
  await processOne(
    "customer.subscription.deleted",
    evt(
      "customer.subscription.deleted",
      sub("canceled", 3, { cancelAtPeriodEnd: true, endedAt: period(3).periodEnd }, starterMonthly),
      period(3).periodEnd,
    ),
  );
  await processOne("customer.updated", evt("customer.updated", customer(customerId), period(3).periodEnd + 1));

  // Crons with nothing due must not scan the tables (the component's own
  // crons, measured inside it).
  record(
    "cron webhooks.sweepRetries (idle)",
    (await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.webhooks.sweepRetries, {}))).metrics,
  );
  record(
    "cron dunning.sweep (idle)",
    (await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.dunning.sweep, {}))).metrics,
  );

  const invariant = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  if (!invariant.ok) throw new Error(`bench account ${tag}: ledger invariant broken: ${invariant.problems.join("; ")}`);
  await drainScheduled(t);
  return figures;
}

// ---------------------------------------------------------------------------
// Monthly reset (`tokens.resetFreeTier`): free accounts and yearly subscribers
// ---------------------------------------------------------------------------

/**
 * What the reset runs over:
 * - `free`: free accounts whose UTC month ended;
 * - `yearly`: Pro yearly subscribers whose monthly window ended, paid
 *   coverage (one yearly line) covering now: each gets its next window;
 * - `mixed`: free accounts, yearly subscribers and monthly subscribers whose
 *   renewal is not paid yet (left alone: `skippedPaid`), in turn.
 */
type ResetKind = "free" | "yearly" | "mixed";
type SeededKind = "free" | "yearly" | "unpaid";
type Seeded = { accountId: Id<"billingAccounts">; kind: SeededKind; key: string };

function seededKindOf(kind: ResetKind, i: number): SeededKind {
  if (kind !== "mixed") return kind;
  return (["free", "yearly", "unpaid"] as const)[i % 3]!;
}

/** Reset account `i`'s owner key (the reset reads no user: none is seeded). */
function resetOwnerKey(i: number): string {
  return `user:reset_${i}`;
}

/**
 * The token state of an account whose period `start`–`end` ended with
 * `used` of its `tokens` drawn: its allowance grant (still active, as
 * `startPeriod` leaves it until the next period replaces it), the ledger
 * (grant, and the use when any) and the balance row. `rollover`: tokens the
 * plan carried into that period from the one before (a `rollover` grant
 * ending with the period, drawn before the allowance: created first, same
 * expiry and class), still active until the next period or the expiry
 * sweep expires it. `legacy`: as rows were written before grants (no grant,
 * no `grantsVersion`, no rollover), which the first write after the upgrade
 * converts (`ensureBalance`).
 */
async function insertEndedPeriod(
  ctx: BillingMutationCtx,
  accountId: Id<"billingAccounts">,
  p: {
    tokens: number;
    used: number;
    sourceKey: string;
    periodKey: string;
    start: number;
    end: number;
    consume: { sourceKey: string; feature: string };
    window?: Pick<Doc<"tokenBalances">, "windowAnchor" | "windowTier">;
    rollover?: number;
    legacy: boolean;
  },
): Promise<void> {
  const rollover = p.legacy ? 0 : (p.rollover ?? 0);
  const fromRollover = Math.min(p.used, rollover);
  const rolloverKey = `${p.sourceKey}:rollover`;
  const rolloverId =
    rollover > 0
      ? await ctx.db.insert(
          "tokenGrants",
          grantDoc(accountId, {
            category: "rollover",
            amount: rollover,
            remaining: rollover - fromRollover,
            startsAt: p.start,
            expiresAt: p.end,
            sourceKey: rolloverKey,
            note: "Rolled over from the previous period",
          }),
        )
      : undefined;
  const grantId = p.legacy
    ? undefined
    : await ctx.db.insert("tokenGrants", allowanceGrantDoc(accountId, { ...p, used: p.used - fromRollover }));
  const rows: LedgerRow[] = [];
  if (rolloverId) {
    rows.push({ amount: rollover, reason: "rollover", sourceKey: rolloverKey, grantId: rolloverId, note: "Unused allowance rolled over" });
  }
  rows.push(
    grantId
      ? periodGrantRow(grantId, p.tokens, p.sourceKey, p.periodKey)
      : { amount: p.tokens, reason: "period_grant", sourceKey: p.sourceKey, ...(p.periodKey === p.sourceKey ? {} : { note: p.periodKey }) },
  );
  if (p.used > 0) {
    const drawnFrom = [
      ...(rolloverId && fromRollover > 0 ? [{ grantId: rolloverId, amount: fromRollover }] : []),
      ...(grantId && p.used > fromRollover ? [{ grantId, amount: p.used - fromRollover }] : []),
    ];
    rows.push({ amount: -p.used, reason: "consume", ...p.consume, ...(grantId ? { drawnFrom } : {}) });
  }
  const balance = await insertLedger(ctx, accountId, rows);
  await ctx.db.insert("tokenBalances", {
    accountId,
    allowance: p.tokens,
    purchased: rollover,
    used: p.used,
    balance,
    ...(grantId ? { held: 0, allowanceGrantId: grantId, grantsVersion: 1 as const } : {}),
    periodKey: p.periodKey,
    periodStart: p.start,
    periodEnd: p.end,
    ...p.window,
  });
}

/** Free account `i` whose balance belongs to last month's period. */
async function insertEndedFreeAccount(ctx: BillingMutationCtx, i: number, nowMs: number, legacy: boolean): Promise<Seeded> {
  const current = freePeriod(nowMs);
  const previous = freePeriod(current.periodStart - 1);
  const accountId = await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: resetOwnerKey(i), tier: "free" });
  await insertEndedPeriod(ctx, accountId, {
    tokens: PLANS.free.tokensPerPeriod,
    used: i % (PLANS.free.tokensPerPeriod + 1),
    sourceKey: freePeriodSourceKey(previous),
    periodKey: previous.periodKey,
    start: previous.periodStart,
    end: previous.periodEnd,
    consume: { sourceKey: `consume:${i}`, feature: "quick_analysis" },
    legacy,
  });
  return { accountId, kind: "free", key: freePeriodSourceKey(current) };
}

/**
 * Subscriber `i` whose monthly window has ended. `yearly`: Pro yearly since
 * 35–354 days ago (anchors spread over the year and the day), its yearly line
 * covering now, so the reset opens the window containing now. `unpaid`: Pro
 * monthly whose renewal invoice is not paid, so nothing covers now.
 * Documents: account, subscription, paid invoice, its coverage row, balance,
 * the last window's allowance grant and, for four in five, the rollover
 * grant carried into it (75 tokens, drawn first), and their ledger rows
 * (grants, and use for five in six).
 */
async function insertEndedSubscriber(
  ctx: BillingMutationCtx,
  i: number,
  nowMs: number,
  kind: "yearly" | "unpaid",
  legacy: boolean,
): Promise<Seeded> {
  const n = String(i).padStart(6, "0");
  const daysAgo = kind === "yearly" ? 35 + ((i * 7919) % 320) : 31 + (i % 20);
  const anchor = wholeSeconds(nowMs - daysAgo * DAY * 1000 - ((i * 4_099) % 86_400) * 1000);
  const current = windowContaining(anchor, nowMs);
  const previous = windowContaining(anchor, current.start - 1);
  const interval: Interval = kind === "yearly" ? "year" : "month";
  const priceId = cataloguePriceId("pro", interval);
  const customerId = `cus_rs${n}`;
  const subId = `sub_rs${n}`;
  const lineEnd = kind === "yearly" ? yearAfter(anchor) : current.start;
  const lineStart = kind === "yearly" ? anchor : previous.start;
  const accountId = await ctx.db.insert("billingAccounts", {
    kind: "personal",
    ownerKey: resetOwnerKey(i),
    tier: "pro",
    stripeCustomerId: customerId,
    stripeSubscriptionId: subId,
  });
  await ctx.db.insert("subscriptions", {
    stripeSubscriptionId: subId,
    stripeCustomerId: customerId,
    accountId,
    status: "active",
    stripePriceId: priceId,
    lookupKey: PLANS.pro.prices![interval].lookupKey,
    tier: "pro",
    interval,
    quantity: 1,
    currentPeriodStart: kind === "yearly" ? anchor : current.start,
    currentPeriodEnd: kind === "yearly" ? lineEnd : current.end,
    cancelAtPeriodEnd: false,
    startDate: anchor,
    eventCreated: Math.floor(lineStart / 1000),
  });
  const amount = PLANS.pro.prices![interval].displayAmount;
  await ctx.db.insert("invoices", {
    stripeInvoiceId: `in_rs${n}`,
    stripeCustomerId: customerId,
    accountId,
    stripeSubscriptionId: subId,
    status: "paid",
    billingReason: kind === "yearly" ? "subscription_create" : "subscription_cycle",
    amountDue: amount,
    amountPaid: amount,
    amountRemaining: 0,
    currency: "usd",
    total: amount,
    createdAt: lineStart,
    eventCreated: Math.floor(lineStart / 1000),
  });
  await ctx.db.insert("paidCoverage", {
    accountId,
    stripeInvoiceId: `in_rs${n}`,
    stripeSubscriptionId: subId,
    stripePriceId: priceId,
    tier: "pro",
    sign: 1,
    start: lineStart,
    end: lineEnd,
  });
  const allowance = PLANS.pro.tokensPerPeriod;
  const previousKey = `window:${previous.start}`;
  await insertEndedPeriod(ctx, accountId, {
    tokens: allowance,
    used: i % 6 === 0 ? 0 : (i * 13) % (allowance + 1),
    sourceKey: previousKey,
    periodKey: previousKey,
    start: previous.start,
    end: current.start,
    consume: { sourceKey: `consume:rs${n}`, feature: "standard_analysis" },
    window: { windowAnchor: anchor, windowTier: "pro" },
    // Pro carries up to 75 unused tokens a period: four in five had some.
    rollover: i % 5 === 0 ? 0 : PLANS.pro.rollover!.maxTokens,
    legacy,
  });
  return { accountId, kind, key: kind === "yearly" ? `window:${current.start}` : previousKey };
}

async function seedReset(t: Harness, kind: ResetKind, count: number, nowMs: number, legacy: boolean): Promise<Seeded[]> {
  const seeded: Seeded[] = [];
  for (let start = 0; start < count; start += RESET_SEED_BATCH) {
    const end = Math.min(count, start + RESET_SEED_BATCH);
    const run = () =>
      runInBilling(t, async (ctx) => {
        const out: Seeded[] = [];
        for (let i = start; i < end; i++) {
          const k = seededKindOf(kind, i);
          out.push(k === "free" ? await insertEndedFreeAccount(ctx, i, nowMs, legacy) : await insertEndedSubscriber(ctx, i, nowMs, k, legacy));
        }
        return out;
      });
    // The first batch is checked against the schema; the rest are the same shapes.
    seeded.push(...(start === 0 ? await run() : await withoutSchemaValidation(t, run)));
  }
  return seeded;
}

type ResetFigures = {
  kind: ResetKind;
  /** Balances written before grants, converted by the reset's first write to them. */
  legacy: boolean;
  accounts: number;
  free: number;
  yearly: number;
  unpaid: number;
  batches: number;
  granted: number;
  windowsOpened: number;
  skippedPaid: number;
  maxRead: number;
  maxWritten: number;
  maxRanges: number;
  seedSeconds: number;
  runSeconds: number;
  /** Balances still with an ended period (the unpaid subscribers are expected to stay). */
  leftOver: number;
  /** Accounts whose balance is not in the expected period, or whose ledger does not hold exactly one grant for it. */
  wrong: number;
  sampleInvariantOk: boolean;
};

/** Counts accounts not in the state the reset should leave them in; checks the ledger of a sample. */
async function verifyReset(t: Harness, seeded: Seeded[]): Promise<{ wrong: number; problems: string[] }> {
  let wrong = 0;
  const problems: string[] = [];
  for (let start = 0; start < seeded.length; start += 1_000) {
    const chunk = seeded.slice(start, start + 1_000);
    const bad = await runInBilling(t, async (ctx) => {
      const out: string[] = [];
      for (const s of chunk) {
        const balance = await ctx.db
          .query("tokenBalances")
          .withIndex("by_accountId", (q) => q.eq("accountId", s.accountId))
          .unique();
        const grants = await ctx.db
          .query("tokenLedger")
          .withIndex("by_accountId_and_sourceKey", (q) => q.eq("accountId", s.accountId).eq("sourceKey", s.key))
          .take(2);
        const allowance = s.kind === "free" ? PLANS.free.tokensPerPeriod : PLANS.pro.tokensPerPeriod;
        const fresh = s.kind !== "unpaid";
        const periodKey = s.kind === "free" ? s.key.replace(/^period:/, "") : s.key;
        // The period's allowance grant: the new one, full, for a fresh period.
        const grant = balance?.allowanceGrantId ? await ctx.db.get("tokenGrants", balance.allowanceGrantId) : null;
        const ok =
          balance !== null &&
          balance.periodKey === periodKey &&
          balance.allowance === allowance &&
          balance.grantsVersion === 1 &&
          grant !== null &&
          (!fresh || (balance.used === 0 && grant.sourceKey === s.key && grant.status === "active" && grant.remaining === allowance)) &&
          grants.length === 1 &&
          grants[0]!.reason === "period_grant";
        if (!ok) {
          out.push(
            `${s.kind} ${s.accountId}: ${JSON.stringify({ periodKey: balance?.periodKey, expected: periodKey, allowance: balance?.allowance, used: balance?.used, grants: grants.length, grant: grant && { sourceKey: grant.sourceKey, status: grant.status, remaining: grant.remaining } })}`,
          );
        }
      }
      return out;
    });
    wrong += bad.length;
    problems.push(...bad.slice(0, 3 - Math.min(3, problems.length)));
  }
  return { wrong, problems };
}

/**
 * Seeds `count` accounts of `kind` whose period ended, then runs
 * `tokens.resetFreeTier` batch by batch, measuring each: after a batch, the
 * continuation it scheduled is cancelled and run next by this loop with the
 * same arguments (cursor and `now`), so every batch is measured alone.
 */
export async function benchReset(
  kind: ResetKind,
  count: number,
  options: { scale: boolean; legacy?: boolean; progress?: (line: string) => void },
): Promise<ResetFigures & { problems: string[] }> {
  const legacy = options.legacy === true;
  const { progress } = options;
  const t = makeHarness();
  if (options.scale) await enableScaleIndexes(t);
  await seedCatalogue(t);
  const nowMs = Date.now();
  const seedStart = Date.now();
  const seeded = await seedReset(t, kind, count, nowMs, legacy);
  const seedSeconds = (Date.now() - seedStart) / 1000;

  const runStart = Date.now();
  let args: { cursor?: string; now: number } = { now: nowMs };
  const totals = { batches: 0, granted: 0, windowsOpened: 0, skippedPaid: 0, maxRead: 0, maxWritten: 0, maxRanges: 0 };
  for (;;) {
    const batchArgs = args;
    const { metrics, result, after } = await measureInBilling(
      t,
      (ctx) => ctx.runMutation(billingInternal.tokens.resetFreeTier, batchArgs),
      async (ctx) => {
        const jobs = await ctx.db.system.query("_scheduled_functions").order("desc").take(5);
        const next = jobs.find((j) => j.state.kind === "pending" && j.name.includes("resetFreeTier"));
        if (next) await ctx.scheduler.cancel(next._id);
        return next ? (next.args[0] as { cursor?: string; now: number }) : null;
      },
    );
    totals.batches += 1;
    if (progress && totals.batches % 100 === 0) {
      progress(`  ${kind} reset: ${totals.batches} batches, ${((Date.now() - runStart) / 1000).toFixed(1)} s`);
    }
    totals.granted += result.granted;
    totals.windowsOpened += result.windowsOpened;
    totals.skippedPaid += result.skippedPaid;
    totals.maxRead = Math.max(totals.maxRead, metrics.documentsRead);
    totals.maxWritten = Math.max(totals.maxWritten, metrics.documentsWritten);
    totals.maxRanges = Math.max(totals.maxRanges, metrics.databaseQueries);
    if (result.isDone || !after) break;
    args = after;
    if (totals.batches > count) throw new Error("reset does not terminate");
  }
  const runSeconds = (Date.now() - runStart) / 1000;

  const leftOver = await runInBilling(t, async (ctx) => {
    const left = await ctx.db
      .query("tokenBalances")
      .withIndex("by_periodEnd", (q) => q.lte("periodEnd", nowMs))
      .take(count + 1);
    return left.length;
  });
  const { wrong, problems } = await verifyReset(t, seeded);
  let sampleInvariantOk = true;
  for (const s of seeded.filter((_, i) => i % Math.max(1, Math.floor(count / 6)) === 0)) {
    const r = await billing(t).query(billingApi.tokens.checkInvariant, { accountId: s.accountId });
    if (!r.ok) {
      sampleInvariantOk = false;
      problems.push(`invariant ${s.accountId}: ${r.problems.join("; ")}`);
    }
  }
  await drainScheduled(t);
  const countOf = (k: SeededKind) => seeded.filter((s) => s.kind === k).length;
  return {
    kind,
    legacy,
    accounts: count,
    free: countOf("free"),
    yearly: countOf("yearly"),
    unpaid: countOf("unpaid"),
    ...totals,
    seedSeconds,
    runSeconds,
    leftOver,
    wrong,
    sampleInvariantOk,
    problems,
  };
}


/**
 * The checks every reset run must pass: `failures` (what it did) and
 * `overQuarter` (a batch over a quarter of Convex's limits), both failing
 * the bench for balances as the ledger writes them today.
 */
function checkReset(r: ResetFigures & { problems: string[] }): { failures: string[]; overQuarter: string[] } {
  const failures: string[] = [];
  const overQuarter: string[] = [];
  const name = `${r.kind}${r.legacy ? " (rows from before grants)" : ""} reset (${r.accounts})`;
  if (r.granted !== r.free) failures.push(`${name}: granted ${r.granted} free months for ${r.free} free accounts`);
  if (r.windowsOpened !== r.yearly) failures.push(`${name}: opened ${r.windowsOpened} windows for ${r.yearly} yearly subscribers`);
  if (r.skippedPaid !== r.unpaid) failures.push(`${name}: skipped ${r.skippedPaid} subscribers, ${r.unpaid} are unpaid`);
  if (r.leftOver !== r.unpaid) failures.push(`${name}: ${r.leftOver} balances with an ended period left, expected ${r.unpaid} (the unpaid)`);
  if (r.wrong !== 0) failures.push(`${name}: ${r.wrong} accounts not in their new period with exactly one grant (${r.problems.join(" | ")})`);
  if (!r.sampleInvariantOk) failures.push(`${name}: ledger invariant broken (${r.problems.join(" | ")})`);
  if (r.maxRead > QUARTER.documentsRead) overQuarter.push(`${name}: a batch read ${r.maxRead} documents, over a quarter of ${LIMITS.documentsRead}`);
  if (r.maxWritten > QUARTER.documentsWritten) overQuarter.push(`${name}: a batch wrote ${r.maxWritten} documents, over a quarter of ${LIMITS.documentsWritten}`);
  if (r.maxRanges > QUARTER.indexRanges) overQuarter.push(`${name}: a batch read ${r.maxRanges} index ranges, over a quarter of ${LIMITS.indexRanges}`);
  const fits = `; a batch of ${batchThatFits(FREE_RESET_BATCH_SIZE, r)} would fit (FREE_RESET_BATCH_SIZE is ${FREE_RESET_BATCH_SIZE})`;
  return { failures, overQuarter: overQuarter.map((o) => o + fits) };
}

/** Every check of `checkReset`, failing. */
function resetFailures(r: ResetFigures & { problems: string[] }): string[] {
  const { failures, overQuarter } = checkReset(r);
  return [...failures, ...overQuarter];
}

function resetRow(label: string, r: ResetFigures): (string | number)[] {
  const fmt = (x: number) => x.toLocaleString("en-US");
  return [
    label,
    fmt(r.accounts),
    r.batches,
    fmt(r.granted),
    fmt(r.windowsOpened),
    fmt(r.skippedPaid),
    r.maxRead,
    r.maxWritten,
    r.maxRanges,
    r.seedSeconds.toFixed(1),
    r.runSeconds.toFixed(1),
  ];
}

const RESET_HEADERS = [
  "period ended",
  "accounts",
  "batches",
  "free granted",
  "windows opened",
  "unpaid skipped",
  "max read/batch",
  "max written/batch",
  "max ranges/batch",
  "seed s",
  "run s",
];

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function intArg(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** The parts `--only` can select, in the order they run. */
const BENCH_PARTS = ["suite", "history", "reset", "sweeps", "metering", "memberUsage", "console", "dunning", "notifications"] as const;
type BenchPart = (typeof BENCH_PARTS)[number];

async function main() {
  const { values } = parseArgs({
    options: {
      accounts: { type: "string" },
      "reset-accounts": { type: "string" },
      "sweep-accounts": { type: "string" },
      "audit-batches": { type: "string" },
      "meter-reports": { type: "string" },
      "meter-batches": { type: "string" },
      "dunning-accounts": { type: "string" },
      only: { type: "string" },
    },
  });
  const only = new Set((values.only ?? "").split(",").map((x) => x.trim()).filter((x) => x !== ""));
  for (const name of only) {
    if (!BENCH_PARTS.includes(name as BenchPart)) throw new Error(`--only: unknown part "${name}" (parts: ${BENCH_PARTS.join(", ")})`);
  }
  /** Whether to run a part: all of them unless `--only a,b` names some. */
  const part = (name: BenchPart) => only.size === 0 || only.has(name);
  const dunningCount = intArg("dunning-accounts", values["dunning-accounts"], 100_000);
  const meterReports = intArg("meter-reports", values["meter-reports"], 100_000);
  const meterBatches = intArg("meter-batches", values["meter-batches"], 20);
  const large = intArg("accounts", values.accounts, 10_000);
  const resetCount = intArg("reset-accounts", values["reset-accounts"], 100_000);
  const sweepCount = intArg("sweep-accounts", values["sweep-accounts"], 100_000);
  const auditBatches = intArg("audit-batches", values["audit-batches"], AUDIT_BATCHES);
  const small = Math.min(10, large);
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  const failures: string[] = [];
  /** Reported, not failing: a figure over the budget of today's handlers (a server change to review, not a scan). */
  const warnings: string[] = [];
  const nowMs = Date.now();
  const fmt = (x: number) => x.toLocaleString("en-US");

  let mixedReset: (ResetFigures & { problems: string[] }) | undefined;
  // 1. Fidelity: convex-test as shipped, 10 accounts. The scale indexes must
  //    give the same figures (they only pre-filter candidates).
  if (part("suite")) {
    const plain = makeHarness();
    await seedPaidAccounts(plain, 0, small, nowMs);
    const reference = await measureSuite(plain, "ref");
    const referenceReset = await benchReset("mixed", FIDELITY_RESET_ACCOUNTS, { scale: false });
    const referenceSweeps = await benchSweeps(FIDELITY_SWEEP_ACCOUNTS, { scale: false, auditBatches: FIDELITY_AUDIT_BATCHES });

    // 2. The same suite at 10 and at `large` accounts, on one deployment.
    const t = makeHarness();
    await enableScaleIndexes(t);
    const smallDocuments = await seedPaidAccounts(t, 0, small, nowMs);
    const atSmall = await measureSuite(t, "s");
    for (const [name, figure] of reference) {
      const got = atSmall.get(name);
      if (!got || got.documentsRead !== figure.documentsRead || got.documentsWritten !== figure.documentsWritten) {
        failures.push(`scale indexes changed the figures of ${name}: ${JSON.stringify(figure)} vs ${JSON.stringify(got)}`);
      }
    }
    mixedReset = await benchReset("mixed", FIDELITY_RESET_ACCOUNTS, { scale: true });
    for (const key of ["batches", "granted", "windowsOpened", "skippedPaid", "maxRead", "maxWritten", "maxRanges", "leftOver", "wrong"] as const) {
      if (mixedReset[key] !== referenceReset[key]) {
        failures.push(`scale indexes changed the reset's ${key}: ${referenceReset[key]} vs ${mixedReset[key]}`);
      }
    }
    failures.push(...resetFailures(referenceReset), ...resetFailures(mixedReset));
    const scaledSweeps = await benchSweeps(FIDELITY_SWEEP_ACCOUNTS, { scale: true, auditBatches: FIDELITY_AUDIT_BATCHES });
    if (sweepFingerprint(scaledSweeps) !== sweepFingerprint(referenceSweeps)) {
      failures.push(`scale indexes changed the sweeps' figures: ${sweepFingerprint(referenceSweeps)} vs ${sweepFingerprint(scaledSweeps)}`);
    }
    failures.push(...checkSweeps(referenceSweeps), ...checkSweeps(scaledSweeps));
    const seedStart = Date.now();
    const largeDocuments = smallDocuments + (await seedPaidAccounts(t, small, large, nowMs));
    const seedSeconds = (Date.now() - seedStart) / 1000;
    const atLarge = await measureSuite(t, "l");

    // Plan-change steps are held to the budget of the other event handlers:
    // the most any of them reads and writes.
    const budget = { read: 0, written: 0 };
    for (const [name, s] of atSmall) {
      if (!name.startsWith("process ") || s.planChange) continue;
      budget.read = Math.max(budget.read, s.documentsRead);
      budget.written = Math.max(budget.written, s.documentsWritten);
    }
    const rows: (string | number)[][] = [];
    for (const [name, s] of atSmall) {
      const l = atLarge.get(name);
      if (!l) {
        failures.push(`${name}: not measured at ${large} accounts`);
        continue;
      }
      const grows = l.documentsRead > s.documentsRead || l.documentsWritten > s.documentsWritten;
      if (grows) failures.push(`${name} grows with table size: ${JSON.stringify(s)} → ${JSON.stringify(l)}`);
      const over =
        s.planChange === true && Math.max(s.documentsRead, l.documentsRead) > budget.read
          ? true
          : s.planChange === true && Math.max(s.documentsWritten, l.documentsWritten) > budget.written;
      if (over) warnings.push(`${name} is over the other handlers' budget (${budget.read} read, ${budget.written} written): ${l.documentsRead} read, ${l.documentsWritten} written`);
      const label = s.planChange ? `${name} *` : name;
      rows.push([label, s.documentsRead, s.documentsWritten, l.documentsRead, l.documentsWritten, grows ? "GROWS" : "flat", over ? "OVER" : s.planChange ? "ok" : ""]);
    }
    console.log(
      `documents read / written per call (convex-test, transaction limits on)\n` +
        `background: paying accounts with ${(largeDocuments / large).toFixed(1)} documents each on average ` +
        `(${fmt(large)} seeded in ${seedSeconds.toFixed(1)} s)\n`,
    );
    console.log(
      formatTable(
        ["function", `read@${small}`, `written@${small}`, `read@${fmt(large)}`, `written@${fmt(large)}`, "growth", "budget"],
        rows,
      ),
    );
    console.log(
      `\n* plan-change story; budget: at most what today's other handlers use (${budget.read} read, ${budget.written} written)`,
    );
    console.log(`\n(${seconds()} s so far)\n`);
  }

  // 3. Debits beside the account's historic grants: only active grants are
  //    read, so each figure is the same at 1, 10 and 1,000.
  if (part("history")) {
    const history = await benchGrantHistory(makeHarness());
    console.log(
      `token debits beside ${HISTORY_SIZES.map(fmt).join(", ")} historic (expired or depleted) grants and 3 active ones, ` +
        `called from the app through components.billing; figures at ${HISTORY_SIZES.map(fmt).join(" / ")} historic grants\n`,
    );
    console.log(historyTable(history));
    try {
      checkHistoryFlat(history);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
    console.log(`\n(${seconds()} s so far)\n`);
  }

  // 4. The monthly reset (the allowance rollover): free accounts, then
  //    yearly subscribers; then yearly subscribers whose balances were
  //    written before grants, which the reset converts as it reaches them
  //    (a one-off after the upgrade: reported, not failing, when a batch is
  //    over a quarter of the limits).
  if (part("reset")) {
    const resets = mixedReset ? [mixedReset] : [];
    for (const kind of ["free", "yearly"] as const) {
      console.log(`seeding ${fmt(resetCount)} ${kind === "free" ? "free accounts" : "yearly subscribers"} and running the reset…`);
      const reset = await benchReset(kind, resetCount, { scale: true, progress: (line) => console.log(line) });
      failures.push(...resetFailures(reset));
      resets.push(reset);
    }
    const legacyCount = Math.min(resetCount, LEGACY_RESET_ACCOUNTS);
    console.log(`seeding ${fmt(legacyCount)} yearly subscribers with balances from before grants and running the reset…`);
    const legacyReset = await benchReset("yearly", legacyCount, { scale: true, legacy: true });
    const legacyChecks = checkReset(legacyReset);
    failures.push(...legacyChecks.failures);
    warnings.push(...legacyChecks.overQuarter.map((w) => `${w} (one-off: the first reset after the upgrade converts each balance to grants)`));
    resets.push(legacyReset);
    console.log(
      `\nmonthly reset (tokens.resetFreeTier, batch size ${FREE_RESET_BATCH_SIZE}); ` +
        `a quarter of Convex's limits: ${fmt(QUARTER.documentsRead)} read, ${fmt(QUARTER.documentsWritten)} written, ${fmt(QUARTER.indexRanges)} index ranges`,
    );
    const resetLabel = (r: ResetFigures) =>
      r.kind === "mixed"
        ? "mixed: free, yearly, unpaid monthly"
        : r.kind === "free"
          ? "free accounts"
          : r.legacy
            ? "yearly, balances from before grants"
            : "yearly subscribers";
    console.log(formatTable(RESET_HEADERS, resets.map((r) => resetRow(resetLabel(r), r))));
    console.log(`\n(${seconds()} s so far)\n`);
  }

  // 5. The token sweeps over `sweepCount` accounts: grant expiry, hold TTL,
  //    the daily audit; each batch within a quarter of Convex's limits.
  if (part("sweeps")) {
    console.log(`seeding ${fmt(sweepCount)} accounts with grants and holds and running the token sweeps…`);
    const sweeps = await benchSweeps(sweepCount, { scale: true, auditBatches, progress: (line) => console.log(line) });
    failures.push(...checkSweeps(sweeps));
    console.log(
      `\ntoken sweeps over ${fmt(sweeps.accounts)} accounts (${fmt(sweeps.documents)} documents, seeded in ${sweeps.seedSeconds.toFixed(1)} s); ` +
        `a quarter of Convex's limits: ${fmt(QUARTER.documentsRead)} read, ${fmt(QUARTER.documentsWritten)} written, ${fmt(QUARTER.indexRanges)} index ranges`,
    );
    console.log(sweepTable(sweeps));
    const audit = sweeps.sweeps.find((x) => x.name === "auditBalances");
    if (audit && audit.handled < sweeps.accounts) {
      console.log(
        `auditBalances: its first ${audit.batches} batches of about ${fmt(Math.ceil(sweeps.accounts / audit.batchSize))} measured ` +
          `(every batch pages the balance table the same way; --audit-batches N measures more)`,
      );
    }
  }

  // 6. Overage reporting to Stripe's meter: an hour of `meterReports`
  //    ledger entries with overage, drained batch by batch.
  //    A small table is drained whole; at full size the first batches are
  //    measured. The figures per batch must be the same.
  if (part("metering")) {
    console.log(`\noverage reporting to Stripe's meter: 1,000 reports drained whole, then ${fmt(meterReports)} (an hour's worth)…`);
    const meteringSmall = await benchMetering(1_000, { accounts: 100 });
    const metering = await benchMetering(meterReports, { maxBatches: meterBatches, progress: (line) => console.log(line) });
    failures.push(...checkMetering(meteringSmall), ...checkMetering(metering));
    for (const step of ["claim", "record"] as const) {
      const [a, b] = [meteringSmall[step].max, metering[step].max];
      if (a.documentsRead !== b.documentsRead || a.documentsWritten !== b.documentsWritten || a.databaseQueries !== b.databaseQueries) {
        failures.push(`metering: a ${step} batch's figures grow with the table (${JSON.stringify(a)} at 1,000 reports, ${JSON.stringify(b)} at ${fmt(meterReports)})`);
      }
    }
    console.log(`\noverage reporting at ${fmt(meteringSmall.reports)} reports (drained whole):`);
    console.log(meteringTable(meteringSmall));
    console.log(`\noverage reporting at ${fmt(metering.reports)} reports over ${fmt(metering.accounts)} accounts:`);
    console.log(meteringTable(metering));
    console.log(meteringRates(metering));
  }

  // 7. The per-member usage query (`memberUsage.list`, issue 10 §3) at 10
  //    and at `large` accounts, with 10 and 200 members: it reads only the
  //    pre-aggregated rows, whatever the accounts and the members' ledgers.
  if (part("memberUsage")) {
    console.log(`\nper-member usage (memberUsage.list) at 10 and ${fmt(large)} accounts…`);
    const memberUsage = await benchMemberUsage(large);
    failures.push(...memberUsage.problems);
    console.log(memberUsageTable(memberUsage.figures));
  }

  // 8. The operator console (issue 10 §4): one list page, a customer-id
  //    search, the account detail and a ledger page read the same at 10 and
  //    at `large` accounts.
  if (part("console")) {
    console.log(`\noperator console at 10 and ${fmt(large)} accounts…`);
    const consoleFigures = await benchConsole(large);
    failures.push(...consoleFigures.problems);
    console.log(consoleTable(consoleFigures.figures));
  }

  // 9. The dunning sweep (issue 11): 1% of 1,000 and of `dunningCount`
  //    accounts overdue; only due accounts are read, through
  //    `by_dunningNextAt`, each batch within a quarter of the limits.
  if (part("dunning")) {
    const dunningRuns: DunningSweepRun[] = [];
    for (const size of [Math.min(1_000, dunningCount), dunningCount]) {
      console.log(`\nseeding ${fmt(size)} accounts (1% overdue) and running the dunning sweep…`);
      dunningRuns.push(await benchDunningSweep(size, { progress: (line) => console.log(line) }));
    }
    failures.push(...checkDunningRuns(dunningRuns));
    console.log(`\ndunning sweep (dunning.sweep, batch size ${BILLING_CONFIG.dunning.sweepBatch}); shares of Convex's per-transaction limits in brackets`);
    console.log(dunningTable(dunningRuns));
    console.log(dunningSummary(dunningRuns));
  }

  // 10. A notification send (issue 11): `notify` and its email enqueue at 10
  //     and `large` accounts, beside 0 and 1,000 prior notifications.
  if (part("notifications")) {
    console.log(`\na notification send (notify + its email) at 10 and ${fmt(large)} accounts…`);
    const notificationFigures = await benchNotifications(large);
    failures.push(...notificationFigures.problems);
    console.log(notificationTable(notificationFigures.figures));
  }

  console.log(`\nelapsed ${seconds()} s`);
  if (warnings.length > 0) {
    console.log(`\nbench warnings (not failing):`);
    for (const w of warnings) console.log(`  - ${w}`);
  }
  if (failures.length > 0) {
    console.error(`\nbench FAILED:`);
    for (const f of failures) console.error(`  - ${f}`);
    process.exit(1);
  }
  console.log(
    "bench ok: no figure grows with table size or with an account's historic grants; reset and sweep batches within a quarter of Convex's limits" +
      (warnings.length > 0 ? " (but see the warnings above)" : ""),
  );
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error("bench crashed:", error);
    process.exit(1);
  });
}
