/**
 * `npm run bench`: documents read and written per function, at 10 and at
 * 10,000 accounts, and the free-tier reset over 100,000 free accounts.
 *
 * Figures come from `ctx.meta.getTransactionMetrics()` around one
 * `ctx.runQuery` / `ctx.runMutation` inside `t.run` (convex-test, limits on),
 * so they are the function's own reads and writes including its
 * sub-transactions. A function whose figures grow with the size of the tables
 * is not using an index to bound its work: the bench flags it and exits 1.
 *
 * Measured for a fresh account driven through the real functions at each
 * scale, with the same events, so only the table sizes differ:
 * - webhook acknowledgement (`webhooks.enqueue`, new and redelivered event);
 * - processing one event of each handled type (`webhooks.process`, which
 *   runs `webhooks.applyEvent` as a sub-transaction);
 * - `tokens.consume`, and the billing page's queries;
 * - the crons' runs when nothing is due.
 * Then the free-tier reset: batches, and the most documents one batch reads
 * and writes, for 100,000 free accounts whose period has ended.
 *
 * Background accounts are inserted in bulk with `t.run` batches, each well
 * under Convex's per-transaction limits. `--reset-accounts N` and
 * `--accounts N` change the sizes (defaults 100,000 and 10,000).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type Stripe from "stripe";
import { api, internal } from "../convex/_generated/api";
import { getCaller } from "../convex/model/auth";
import { freePeriod, freePeriodSourceKey } from "../convex/model/periods";
import { PLANS } from "../convex/model/plans";
import { customerIdOfEvent } from "../convex/model/stripeEvents";
import { FREE_RESET_BATCH_SIZE } from "../convex/model/tokens";
import { checkoutSession, customer, DAY, event, invoice, price, subscription } from "../tests/convex/fixtures/stripe";
import {
  drainScheduled,
  enableScaleIndexes,
  formatTable,
  makeHarness,
  measure,
  type Harness,
  type Metrics,
  type MutationCtx,
} from "./lib/convexHarness";

const ISSUER = "https://clerk.bench.test";
const SEED_BATCH = 500;
const RESET_SEED_BATCH = 2_000;
/** Free accounts of the reset run compared with and without the scale indexes. */
const FIDELITY_RESET_ACCOUNTS = 450;

type Figure = Pick<Metrics, "documentsRead" | "documentsWritten">;
type Suite = Map<string, Figure>;

// ---------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------

/**
 * Inserts accounts `from … to-1` as paying `pro` customers with a few months
 * of history: user, account, subscription, balance, 4 ledger rows, 3 invoices
 * and 3 processed webhook events each (14 documents).
 */
async function seedPaidAccounts(t: Harness, from: number, to: number, nowMs: number): Promise<void> {
  if (from === 0) {
    // The catalogue price, as the checkout action caches it, so the first
    // measured subscription event does not pay for inserting it.
    await t.mutation(internal.billing.upsertPrice, {
      stripePriceId: "price_pro_monthly",
      lookupKey: "pro_monthly",
      tier: "pro",
      interval: "month",
      unitAmount: PLANS.pro.prices!.month.displayAmount,
      currency: "usd",
    });
  }
  for (let start = from; start < to; start += SEED_BATCH) {
    const end = Math.min(to, start + SEED_BATCH);
    await t.run(async (ctx) => {
      for (let i = start; i < end; i++) await insertPaidAccount(ctx, i, nowMs);
    });
  }
}

async function insertPaidAccount(ctx: MutationCtx, i: number, nowMs: number): Promise<void> {
  const n = String(i).padStart(6, "0");
  const customerId = `cus_bg${n}`;
  const subId = `sub_bg${n}`;
  const userId = await ctx.db.insert("users", { tokenIdentifier: `${ISSUER}|bg_${n}`, clerkUserId: `bg_${n}` });
  const accountId = await ctx.db.insert("billingAccounts", {
    kind: "personal",
    ownerUserId: userId,
    tier: "pro",
    stripeCustomerId: customerId,
    stripeSubscriptionId: subId,
  });
  const periodStart = nowMs - 10 * DAY * 1000;
  const periodEnd = periodStart + 30 * DAY * 1000;
  await ctx.db.insert("subscriptions", {
    stripeSubscriptionId: subId,
    stripeCustomerId: customerId,
    accountId,
    status: "active",
    stripePriceId: "price_pro_monthly",
    lookupKey: "pro_monthly",
    tier: "pro",
    interval: "month",
    quantity: 1,
    currentPeriodStart: periodStart,
    currentPeriodEnd: periodEnd,
    cancelAtPeriodEnd: false,
    eventCreated: Math.floor(periodStart / 1000),
  });
  const pro = PLANS.pro.tokensPerPeriod;
  let balance = 0;
  const rows = [
    { amount: 5, reason: "period_grant" as const, sourceKey: "period:free:bench" },
    { amount: -5, reason: "period_expire" as const, sourceKey: "expire:period:free:bench" },
    { amount: pro, reason: "period_grant" as const, sourceKey: `invoice:in_bg${n}_2` },
    { amount: -10, reason: "consume" as const, sourceKey: `consume:bg${n}`, feature: "bulk_analysis" },
  ];
  for (const row of rows) {
    balance += row.amount;
    await ctx.db.insert("tokenLedger", { accountId, ...row, balanceAfter: balance });
  }
  await ctx.db.insert("tokenBalances", {
    accountId,
    allowance: pro,
    purchased: 0,
    used: 10,
    balance,
    periodKey: `invoice:in_bg${n}_2`,
    periodStart,
    periodEnd,
  });
  for (let k = 0; k < 3; k++) {
    await ctx.db.insert("invoices", {
      stripeInvoiceId: `in_bg${n}_${k}`,
      stripeCustomerId: customerId,
      accountId,
      stripeSubscriptionId: subId,
      status: "paid",
      billingReason: k === 0 ? "subscription_create" : "subscription_cycle",
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt: periodStart - (2 - k) * 30 * DAY * 1000,
      eventCreated: Math.floor(periodStart / 1000),
    });
    await ctx.db.insert("webhookEvents", {
      eventId: `evt_bg${n}_${k}`,
      type: "invoice.paid",
      livemode: false,
      eventCreated: Math.floor(periodStart / 1000),
      payload: "{}",
      stripeCustomerId: customerId,
      status: "succeeded",
      attempts: 1,
      receivedAt: periodStart,
      processedAt: periodStart,
    });
  }
}

// ---------------------------------------------------------------------------
// The measured suite
// ---------------------------------------------------------------------------

/** Queue row fields as `webhooks.enqueue` receives them from the route. */
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
  const record = (name: string, m: Metrics) =>
    figures.set(name, { documentsRead: m.documentsRead, documentsWritten: m.documentsWritten });
  const identity = { subject: `bench_${tag}`, issuer: ISSUER, name: "Bench User", email: "bench@example.com" };
  const asUser = t.withIdentity(identity);

  record("users.store (first sign-in)", (await measure(asUser, (ctx) => ctx.runMutation(api.users.store, {}))).metrics);
  const caller = await asUser.run((ctx) => getCaller(ctx));
  if (!caller) throw new Error("users.store created no billing account");
  const accountId = caller.account._id;

  const customerId = `cus_m${tag}`;
  const subId = `sub_m${tag}`;
  const proMonthly = price({ id: "price_pro_monthly", lookupKey: "pro_monthly", unitAmount: 2900, interval: "month" });
  const base = Math.floor(Date.now() / 1000);
  const period = (n: number) => ({ periodStart: base + n * 30 * DAY, periodEnd: base + (n + 1) * 30 * DAY });
  let counter = 0;
  const evt = <T extends Stripe.Event["type"]>(type: T, object: Parameters<typeof event<T>>[1], created: number) =>
    event(type, object, { id: `evt_m${tag}_${String(++counter).padStart(3, "0")}`, created });
  const sub = (status: Stripe.Subscription.Status, n: number, extra: Partial<Parameters<typeof subscription>[0]> = {}) =>
    subscription({ id: subId, customer: customerId, status, price: proMonthly, ...period(n), ...extra });
  const inv = (id: string, status: Stripe.Invoice.Status, reason: Stripe.Invoice.BillingReason, n: number) =>
    invoice({
      id: `in_m${tag}_${id}`,
      customer: customerId,
      subscription: subId,
      status,
      billingReason: reason,
      price: proMonthly,
      linePeriodStart: period(n).periodStart,
      linePeriodEnd: period(n).periodEnd,
      created: period(n).periodStart,
    });

  // Acknowledgement: the one mutation the webhook route runs. The event it
  // records is processed by its scheduled run, like in production.
  const ack = evt("customer.updated", customer(customerId), base);
  record("webhooks.enqueue (new event)", (await measure(t, (ctx) => ctx.runMutation(internal.webhooks.enqueue, enqueueArgs(ack)))).metrics);
  record(
    "webhooks.enqueue (redelivery)",
    (await measure(t, (ctx) => ctx.runMutation(internal.webhooks.enqueue, enqueueArgs(ack)))).metrics,
  );
  await drainScheduled(t);

  // Processing: each event is queued as `enqueue` would (without scheduling,
  // so no scheduled run races the measured one), then processed.
  const processOne = async (label: string, e: Stripe.Event) => {
    await t.run(async (ctx) => {
      await ctx.db.insert("webhookEvents", {
        ...enqueueArgs(e),
        status: "pending",
        attempts: 0,
        nextAttemptAt: Date.now(),
        receivedAt: Date.now(),
      });
    });
    const { metrics } = await measure(t, (ctx) =>
      ctx.runMutation(internal.webhooks.process, { eventId: e.id, attempt: 0 }),
    );
    const row = await t.run(async (ctx) =>
      ctx.db
        .query("webhookEvents")
        .withIndex("by_eventId", (q) => q.eq("eventId", e.id))
        .unique(),
    );
    if (row?.status !== "succeeded" && row?.status !== "ignored") {
      throw new Error(`${label}: event ended ${row?.status} (${row?.lastError ?? "no error"})`);
    }
    record(`process ${label}`, metrics);
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
  await processOne(
    "invoice.payment_failed",
    evt("invoice.payment_failed", inv("3", "open", "subscription_cycle", 2), period(2).periodStart + 1),
  );
  await processOne(
    "customer.subscription.updated (past_due)",
    evt("customer.subscription.updated", sub("past_due", 2), period(2).periodStart + 2),
  );
  await processOne(
    "customer.subscription.updated (cancel at end)",
    evt(
      "customer.subscription.updated",
      sub("past_due", 2, { cancelAtPeriodEnd: true, cancelAt: period(2).periodEnd }),
      period(2).periodStart + 3,
    ),
  );
  await processOne(
    "customer.subscription.deleted",
    evt(
      "customer.subscription.deleted",
      sub("canceled", 2, { cancelAtPeriodEnd: true, endedAt: period(2).periodEnd }),
      period(2).periodEnd,
    ),
  );
  await processOne("customer.updated", evt("customer.updated", customer(customerId), period(2).periodEnd + 1));

  // Crons with nothing due must not scan the tables.
  record("cron webhooks.sweepRetries (idle)", (await measure(t, (ctx) => ctx.runMutation(internal.webhooks.sweepRetries, {}))).metrics);
  record(
    "cron billing.expireGracePeriods (idle)",
    (await measure(t, (ctx) => ctx.runMutation(internal.billing.expireGracePeriods, {}))).metrics,
  );

  const invariant = await t.query(internal.tokens.checkInvariant, { accountId });
  if (!invariant.ok) throw new Error(`bench account ${tag}: ledger invariant broken: ${invariant.problems.join("; ")}`);
  await drainScheduled(t);
  return figures;
}

// ---------------------------------------------------------------------------
// Free-tier reset
// ---------------------------------------------------------------------------

/** Free accounts whose balance belongs to last month's period (ended at `periodEnd` ≤ now). */
async function seedEndedFreeAccounts(t: Harness, count: number, nowMs: number): Promise<void> {
  const current = freePeriod(nowMs);
  const previous = freePeriod(current.periodStart - 1);
  for (let start = 0; start < count; start += RESET_SEED_BATCH) {
    const end = Math.min(count, start + RESET_SEED_BATCH);
    await t.run(async (ctx) => {
      for (let i = start; i < end; i++) {
        const accountId = await ctx.db.insert("billingAccounts", { kind: "personal", tier: "free" });
        const used = i % (PLANS.free.tokensPerPeriod + 1);
        const grant = PLANS.free.tokensPerPeriod;
        await ctx.db.insert("tokenLedger", {
          accountId,
          amount: grant,
          reason: "period_grant",
          sourceKey: freePeriodSourceKey(previous),
          balanceAfter: grant,
        });
        if (used > 0) {
          await ctx.db.insert("tokenLedger", {
            accountId,
            amount: -used,
            reason: "consume",
            sourceKey: `consume:${i}`,
            feature: "quick_analysis",
            balanceAfter: grant - used,
          });
        }
        await ctx.db.insert("tokenBalances", {
          accountId,
          allowance: grant,
          purchased: 0,
          used,
          balance: grant - used,
          periodKey: previous.periodKey,
          periodStart: previous.periodStart,
          periodEnd: previous.periodEnd,
        });
      }
    });
  }
}

type ResetFigures = {
  accounts: number;
  batches: number;
  granted: number;
  maxRead: number;
  maxWritten: number;
  seedSeconds: number;
  runSeconds: number;
  leftOver: number;
  sampleInvariantOk: boolean;
};

/**
 * Runs `tokens.resetFreeTier` batch by batch, measuring each: after a batch,
 * the continuation it scheduled is cancelled and run next by this loop with
 * the same arguments (cursor and `now`), so every batch is measured alone.
 */
export async function benchFreeReset(
  count: number,
  options: { scale: boolean; progress?: (line: string) => void; maxBatches?: number },
): Promise<ResetFigures> {
  const { progress, maxBatches = Infinity } = options;
  const t = makeHarness();
  if (options.scale) await enableScaleIndexes(t);
  const nowMs = Date.now();
  const seedStart = Date.now();
  await seedEndedFreeAccounts(t, count, nowMs);
  const seedSeconds = (Date.now() - seedStart) / 1000;

  const runStart = Date.now();
  let args: { cursor?: string; now: number } = { now: nowMs };
  let batches = 0;
  let granted = 0;
  let maxRead = 0;
  let maxWritten = 0;
  for (;;) {
    const batchArgs = args;
    const { metrics, result, after } = await measure(
      t,
      (ctx) => ctx.runMutation(internal.tokens.resetFreeTier, batchArgs),
      async (ctx) => {
        const jobs = await ctx.db.system.query("_scheduled_functions").order("desc").take(5);
        const next = jobs.find((j) => j.state.kind === "pending" && j.name.includes("resetFreeTier"));
        if (next) await ctx.scheduler.cancel(next._id);
        return next ? (next.args[0] as { cursor?: string; now: number }) : null;
      },
    );
    batches += 1;
    if (progress && batches % 50 === 0) {
      progress(`  reset: ${batches} batches, ${((Date.now() - runStart) / 1000).toFixed(1)} s`);
    }
    granted += result.granted;
    maxRead = Math.max(maxRead, metrics.documentsRead);
    maxWritten = Math.max(maxWritten, metrics.documentsWritten);
    if (result.isDone || !after || batches >= maxBatches) break;
    args = after;
    if (batches > count) throw new Error("free-tier reset does not terminate");
  }
  const runSeconds = (Date.now() - runStart) / 1000;

  const check = await t.run(async (ctx) => {
    const left = await ctx.db
      .query("tokenBalances")
      .withIndex("by_periodEnd", (q) => q.lte("periodEnd", nowMs))
      .take(10);
    const sample = await ctx.db.query("billingAccounts").take(5);
    return { left: left.length, sample: sample.map((a) => a._id) };
  });
  let sampleInvariantOk = true;
  for (const accountId of check.sample) {
    const r = await t.query(internal.tokens.checkInvariant, { accountId: accountId });
    const balance = await t.run(async (ctx) =>
      ctx.db
        .query("tokenBalances")
        .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
        .unique(),
    );
    if (!r.ok || balance?.allowance !== PLANS.free.tokensPerPeriod || balance.used !== 0) sampleInvariantOk = false;
  }
  await drainScheduled(t);
  return {
    accounts: count,
    batches,
    granted,
    maxRead,
    maxWritten,
    seedSeconds,
    runSeconds,
    leftOver: check.left,
    sampleInvariantOk,
  };
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function intArg(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

async function main() {
  const { values } = parseArgs({ options: { accounts: { type: "string" }, "reset-accounts": { type: "string" } } });
  const large = intArg("accounts", values.accounts, 10_000);
  const resetCount = intArg("reset-accounts", values["reset-accounts"], 100_000);
  const small = Math.min(10, large);
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  const failures: string[] = [];
  const nowMs = Date.now();

  // 1. Fidelity: convex-test as shipped, 10 accounts. The scale indexes must
  //    give the same figures (they only pre-filter candidates).
  const plain = makeHarness();
  await seedPaidAccounts(plain, 0, small, nowMs);
  const reference = await measureSuite(plain, "ref");
  const referenceReset = await benchFreeReset(FIDELITY_RESET_ACCOUNTS, { scale: false });

  // 2. The same suite at 10 and at `large` accounts, on one deployment.
  const t = makeHarness();
  await enableScaleIndexes(t);
  await seedPaidAccounts(t, 0, small, nowMs);
  const atSmall = await measureSuite(t, "s");
  for (const [name, figure] of reference) {
    const got = atSmall.get(name);
    if (!got || got.documentsRead !== figure.documentsRead || got.documentsWritten !== figure.documentsWritten) {
      failures.push(`scale indexes changed the figures of ${name}: ${JSON.stringify(figure)} vs ${JSON.stringify(got)}`);
    }
  }
  const indexedReset = await benchFreeReset(FIDELITY_RESET_ACCOUNTS, { scale: true });
  for (const key of ["batches", "granted", "maxRead", "maxWritten", "leftOver"] as const) {
    if (indexedReset[key] !== referenceReset[key]) {
      failures.push(`scale indexes changed the reset's ${key}: ${referenceReset[key]} vs ${indexedReset[key]}`);
    }
  }
  const seedStart = Date.now();
  await seedPaidAccounts(t, small, large, nowMs);
  const seedSeconds = (Date.now() - seedStart) / 1000;
  const atLarge = await measureSuite(t, "l");

  const rows: (string | number)[][] = [];
  for (const [name, s] of atSmall) {
    const l = atLarge.get(name);
    if (!l) {
      failures.push(`${name}: not measured at ${large} accounts`);
      continue;
    }
    const grows = l.documentsRead > s.documentsRead || l.documentsWritten > s.documentsWritten;
    if (grows) failures.push(`${name} grows with table size: ${JSON.stringify(s)} → ${JSON.stringify(l)}`);
    rows.push([name, s.documentsRead, s.documentsWritten, l.documentsRead, l.documentsWritten, grows ? "GROWS" : "flat"]);
  }
  console.log(
    `documents read / written per call (convex-test, transaction limits on)\n` +
      `background: paying accounts with 14 documents each (${large.toLocaleString("en-US")} seeded in ${seedSeconds.toFixed(1)} s)\n`,
  );
  console.log(
    formatTable(
      ["function", `read@${small}`, `written@${small}`, `read@${large.toLocaleString("en-US")}`, `written@${large.toLocaleString("en-US")}`, "growth"],
      rows,
    ),
  );
  console.log(`\n(${seconds()} s so far)\n`);

  // 3. Free-tier reset.
  console.log(`seeding ${resetCount.toLocaleString("en-US")} free accounts and running the reset…`);
  const reset = await benchFreeReset(resetCount, { scale: true, progress: (line) => console.log(line) });
  console.log(`free-tier reset (tokens.resetFreeTier, batch size ${FREE_RESET_BATCH_SIZE})`);
  console.log(
    formatTable(
      ["free accounts, period ended", "batches", "granted", "max read/batch", "max written/batch", "seed s", "run s"],
      [
        [
          reset.accounts.toLocaleString("en-US"),
          reset.batches,
          reset.granted.toLocaleString("en-US"),
          reset.maxRead,
          reset.maxWritten,
          reset.seedSeconds.toFixed(1),
          reset.runSeconds.toFixed(1),
        ],
      ],
    ),
  );
  if (reset.granted !== reset.accounts) failures.push(`free-tier reset granted ${reset.granted} of ${reset.accounts} accounts`);
  if (reset.leftOver !== 0) failures.push(`free-tier reset left ${reset.leftOver}+ balances with an ended period`);
  if (!reset.sampleInvariantOk) failures.push("free-tier reset: a sampled account has a wrong balance or broken ledger");
  // Convex's limits per transaction: 32,000 documents read (scanned), 16,000 written.
  if (reset.maxRead > 32_000 || reset.maxWritten > 16_000) failures.push("free-tier reset batch exceeds Convex's limits");

  console.log(`\nelapsed ${seconds()} s`);
  if (failures.length > 0) {
    console.error(`\nbench FAILED:`);
    for (const f of failures) console.error(`  - ${f}`);
    process.exit(1);
  }
  console.log("bench ok: no figure grows with table size");
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error("bench crashed:", error);
    process.exit(1);
  });
}
