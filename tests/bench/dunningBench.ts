/**
 * `npm run bench`, the dunning sweep (issue 11 "Figures"): the hourly
 * `dunning.sweep` cron at 1,000 and 100,000 accounts, 1% of them overdue.
 *
 * The sweep must read only the accounts whose next timeline step is due
 * (`billingAccounts.by_dunningNextAt`), `BILLING_CONFIG.dunning.sweepBatch`
 * per transaction, each batch under a quarter of Convex's per-transaction
 * limits (documents and bytes read and written, index ranges).
 *
 * Seeding (minimal rows inserted directly, as `tokenSeed.ts` does): every
 * account is a `billingAccounts` row; each overdue one (1 in 100) also has
 * its past-due subscription, the open invoice whose failed payment opened
 * the episode, last period's paid coverage and the `dunningSteps` rows of the
 * steps already fired, shaped as `model/dunning.ts` leaves them. Its next
 * step cycles through day 3, 7, 14 (reminders), 30 (suspension: the tier is
 * settled again) and 45 (restriction); one in ten overdue accounts has its
 * next step tomorrow (overdue, not due). The sweep then runs to the end as
 * the cron would, batch by batch, each measured alone (its continuation is
 * cancelled and run next by this loop), and once more with nothing due.
 *
 * Checks: every due account advanced exactly one step (one `dunningSteps`
 * row and one notification each), no due account left, the not-due ones
 * untouched; each batch within a quarter of the limits; documents read per
 * due account the same at both sizes (nothing grows with the table); the
 * idle sweep reads nothing.
 *
 * Run alone: `npx tsx tests/bench/dunningBench.ts [--accounts N]` (default:
 * 1,000 and 100,000), or `npx tsx tests/bench/bench.ts --only dunning`.
 */
import { parseArgs } from "node:util";
import { dunningSteps, laterStage, DAY_MS } from "../../convex/billing/model/dunningPolicy";
import { BILLING_CONFIG } from "../../convex/billing/model/plans";
import type { DunningStage } from "../../convex/billing/model/validators";
import { billingInternal, runInBilling, type BillingMutationCtx } from "../lib/billingComponent";
import { enableScaleIndexes, formatTable, makeHarness, measureInBilling, withoutSchemaValidation, type Harness, type Metrics } from "../lib/convexHarness";

const SEED_BATCH = 1_000;
const HOUR_MS = 60 * 60 * 1000;
/** One account in this many is overdue. */
const OVERDUE_EVERY = 100;
/** One overdue account in this many has its next step tomorrow (overdue, not due). */
const NOT_DUE_EVERY = 10;
const MiB = 1 << 20;

/** Convex's per-transaction limits (https://docs.convex.dev/production/state/limits; convex-test enforces the same). */
export const DUNNING_LIMITS = {
  documentsRead: 32_000,
  bytesRead: 16 * MiB,
  documentsWritten: 16_000,
  bytesWritten: 16 * MiB,
  databaseQueries: 4_096,
} satisfies Metrics;

const ZERO: Metrics = { documentsRead: 0, documentsWritten: 0, bytesRead: 0, bytesWritten: 0, databaseQueries: 0 };
const KEYS = Object.keys(ZERO) as (keyof Metrics)[];

export type DunningSweepRun = {
  accounts: number;
  overdue: number;
  due: number;
  seedSeconds: number;
  runSeconds: number;
  batchSize: number;
  batches: number;
  processed: number;
  total: Metrics;
  /** The most of each figure any one batch used. */
  max: Metrics;
  /** The largest share of a limit any batch used (0–1), and which. */
  maxShare: { share: number; of: keyof Metrics };
  /** The sweep when nothing is due. */
  idle: Metrics;
  problems: string[];
};

/** Whether account `i` is overdue, and if so its position among the overdue ones. */
function overdueIndex(i: number): number | null {
  return i % OVERDUE_EVERY === 0 ? i / OVERDUE_EVERY : null;
}

/**
 * An overdue account as the timeline leaves it just before its next step:
 * steps `0..next-1` fired, `dunningNextAt` at step `next`'s day (due at
 * `nowMs`, or tomorrow when `due` is false).
 */
async function insertOverdueAccount(ctx: BillingMutationCtx, i: number, k: number, nowMs: number): Promise<number> {
  const steps = dunningSteps();
  const next = 1 + (k % (steps.length - 1));
  const due = k % NOT_DUE_EVERY !== NOT_DUE_EVERY - 1;
  const nextStep = steps[next]!;
  const overdueSince = nowMs - nextStep.day * DAY_MS + (due ? -HOUR_MS : DAY_MS);
  const reached = steps.slice(0, next);
  const stage = reached.reduce<DunningStage | undefined>((s, step) => laterStage(s, step.stage), undefined);
  const suspended = stage === "suspended" || stage === "restricted";
  const customer = `cus_dun_${i}`;
  const subscriptionId = `sub_dun_${i}`;
  const episode = `in_dun_${i}`;
  const accountId = await ctx.db.insert("billingAccounts", {
    kind: "personal",
    ownerKey: `user:dun_${i}`,
    tier: suspended ? "free" : "pro",
    planTier: "pro",
    stripeCustomerId: customer,
    stripeSubscriptionId: subscriptionId,
    email: `dun${i}@example.com`,
    overdueSince,
    dunningEpisode: episode,
    dunningStage: stage,
    dunningStep: reached.at(-1)!.id,
    dunningNextAt: overdueSince + nextStep.day * DAY_MS,
    ...(suspended ? {} : { graceEndsAt: overdueSince + 30 * DAY_MS }),
  });
  await ctx.db.insert("subscriptions", {
    stripeSubscriptionId: subscriptionId,
    stripeCustomerId: customer,
    accountId,
    status: "past_due",
    stripePriceId: "price_pro_monthly",
    tier: "pro",
    interval: "month",
    quantity: 1,
    currentPeriodStart: overdueSince,
    currentPeriodEnd: overdueSince + 30 * DAY_MS,
    cancelAtPeriodEnd: false,
    pastDueSince: overdueSince,
    eventCreated: Math.floor(overdueSince / 1000),
  });
  await ctx.db.insert("invoices", {
    stripeInvoiceId: episode,
    stripeCustomerId: customer,
    accountId,
    stripeSubscriptionId: subscriptionId,
    status: "open",
    billingReason: "subscription_cycle",
    amountDue: 2900,
    amountPaid: 0,
    amountRemaining: 2900,
    currency: "usd",
    periodStart: overdueSince,
    periodEnd: overdueSince + 30 * DAY_MS,
    hostedInvoiceUrl: `https://invoice.stripe.test/i/${episode}`,
    paymentFailedAt: overdueSince,
    createdAt: overdueSince,
    eventCreated: Math.floor(overdueSince / 1000),
  });
  await ctx.db.insert("paidCoverage", {
    accountId,
    stripeInvoiceId: `in_dun_prev_${i}`,
    stripeSubscriptionId: subscriptionId,
    stripePriceId: "price_pro_monthly",
    tier: "pro",
    sign: 1,
    start: overdueSince - 30 * DAY_MS,
    end: overdueSince,
  });
  for (const step of reached) {
    await ctx.db.insert("dunningSteps", { accountId, episode, step: step.id, overdueDays: step.day });
  }
  return 4 + reached.length;
}

async function seed(t: Harness, accounts: number, nowMs: number, progress?: (line: string) => void): Promise<{ overdue: number; due: number }> {
  let overdue = 0;
  let due = 0;
  for (let start = 0; start < accounts; start += SEED_BATCH) {
    const end = Math.min(accounts, start + SEED_BATCH);
    const run = () =>
      runInBilling(t, async (ctx) => {
        for (let i = start; i < end; i++) {
          const k = overdueIndex(i);
          if (k === null) {
            await ctx.db.insert("billingAccounts", { kind: "personal", ownerKey: `user:dun_${i}`, tier: i % 2 === 0 ? "pro" : "free" });
            continue;
          }
          await insertOverdueAccount(ctx, i, k, nowMs);
          overdue += 1;
          if (k % NOT_DUE_EVERY !== NOT_DUE_EVERY - 1) due += 1;
        }
      });
    // The first batch is checked against the schema; the rest are the same shapes.
    if (start === 0) await run();
    else await withoutSchemaValidation(t, run);
    if (progress && (end / SEED_BATCH) % 20 === 0) progress(`  dunning: seeded ${end.toLocaleString("en-US")} accounts`);
  }
  return { overdue, due };
}

/** Cancels the continuation the batch scheduled (this loop runs it next) and returns its arguments. */
async function cancelContinuation(ctx: BillingMutationCtx): Promise<{ cursor?: string | null; now?: number } | null> {
  const jobs = await ctx.db.system.query("_scheduled_functions").order("desc").take(5);
  const next = jobs.find((j) => j.state.kind === "pending" && j.name.includes("dunning"));
  if (next) await ctx.scheduler.cancel(next._id);
  return next ? (next.args[0] as { cursor?: string | null; now?: number }) : null;
}

async function countSince(t: Harness, table: "dunningSteps" | "notifications", before: number): Promise<number> {
  return await runInBilling(t, async (ctx) => {
    let n = 0;
    for await (const row of ctx.db.query(table).order("desc")) {
      if (row._creationTime <= before) break;
      n += 1;
    }
    return n;
  });
}

/** Seeds `accounts` accounts (1% overdue) and runs the dunning sweep over them, each batch measured. */
export async function benchDunningSweep(accounts: number, options: { progress?: (line: string) => void } = {}): Promise<DunningSweepRun> {
  const t = makeHarness();
  await enableScaleIndexes(t);
  const nowMs = Date.now();
  const seedStart = Date.now();
  const { overdue, due } = await seed(t, accounts, nowMs, options.progress);
  const seedSeconds = (Date.now() - seedStart) / 1000;
  const seededAt = await runInBilling(t, async (ctx) => (await ctx.db.query("dunningSteps").order("desc").first())?._creationTime ?? 0);

  const run: DunningSweepRun = {
    accounts,
    overdue,
    due,
    seedSeconds,
    runSeconds: 0,
    batchSize: BILLING_CONFIG.dunning.sweepBatch,
    batches: 0,
    processed: 0,
    total: { ...ZERO },
    max: { ...ZERO },
    maxShare: { share: 0, of: "documentsRead" },
    idle: { ...ZERO },
    problems: [],
  };
  const started = Date.now();
  let args: { cursor?: string | null; now?: number } = { now: nowMs };
  for (;;) {
    const batchArgs = args;
    const { metrics, result, after } = await measureInBilling(
      t,
      (ctx) => ctx.runMutation(billingInternal.dunning.sweep, batchArgs),
      (ctx) => cancelContinuation(ctx),
    );
    run.batches += 1;
    run.processed += result.processed;
    for (const key of KEYS) {
      run.total[key] += metrics[key];
      run.max[key] = Math.max(run.max[key], metrics[key]);
      const share = metrics[key] / DUNNING_LIMITS[key];
      if (share > run.maxShare.share) run.maxShare = { share, of: key };
    }
    if (!after || result.done) break;
    args = after;
    if (run.batches > accounts) throw new Error("dunning.sweep does not terminate");
  }
  run.runSeconds = (Date.now() - started) / 1000;
  run.idle = (await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.dunning.sweep, { now: nowMs }), (ctx) => cancelContinuation(ctx))).metrics;

  // What the sweep did: one step per due account, nothing else.
  if (run.processed !== due) run.problems.push(`the sweep processed ${run.processed} accounts, ${due} were due`);
  const fired = await countSince(t, "dunningSteps", seededAt);
  if (fired !== due) run.problems.push(`${fired} timeline steps fired, expected one for each of the ${due} due accounts`);
  const notified = await countSince(t, "notifications", seededAt);
  if (notified !== due) run.problems.push(`${notified} notifications sent, expected ${due}`);
  const left = await runInBilling(t, async (ctx) =>
    (await ctx.db.query("billingAccounts").withIndex("by_dunningNextAt", (q) => q.gte("dunningNextAt", 0).lte("dunningNextAt", nowMs)).take(10)).length,
  );
  if (left !== 0) run.problems.push(`${left} accounts still due after the sweep`);
  const notDue = await runInBilling(t, async (ctx) =>
    (await ctx.db.query("billingAccounts").withIndex("by_dunningNextAt", (q) => q.gt("dunningNextAt", nowMs)).collect()).length,
  );
  if (notDue < overdue - due) run.problems.push(`${notDue} overdue accounts wait for a later step, expected at least ${overdue - due}`);
  // Within a quarter of every limit.
  for (const key of KEYS) {
    if (run.max[key] > DUNNING_LIMITS[key] / 4) {
      run.problems.push(`a batch used ${run.max[key]} ${key}, over a quarter of the limit (${DUNNING_LIMITS[key]})`);
    }
  }
  if (run.idle.documentsRead !== 0 || run.idle.documentsWritten !== 0) {
    run.problems.push(`the sweep with nothing due read ${run.idle.documentsRead} and wrote ${run.idle.documentsWritten} documents`);
  }
  // Only due accounts are read: an idle account costs nothing, so the documents a due account costs bound the total.
  if (run.total.documentsRead > due * perDueBound()) {
    run.problems.push(`the sweep read ${run.total.documentsRead} documents for ${due} due accounts (more than ${perDueBound()} each)`);
  }
  return run;
}

/** The most a due account's step may read (account, steps fired, invoice, notification key, tier settle). */
function perDueBound(): number {
  return 2 * dunningSteps().length + 20;
}

/** Problems across runs: a due account must cost the same whatever the table size. */
export function checkDunningRuns(runs: DunningSweepRun[]): string[] {
  const problems = runs.flatMap((r) => r.problems.map((p) => `dunning sweep (${r.accounts.toLocaleString("en-US")} accounts): ${p}`));
  const perDue = new Set(runs.map((r) => (r.due === 0 ? 0 : r.total.documentsRead / r.due).toFixed(2)));
  if (perDue.size > 1) problems.push(`dunning sweep: documents read per due account differ across sizes (${[...perDue].join(" vs ")})`);
  return problems;
}

export function dunningTable(runs: DunningSweepRun[]): string {
  const fmt = (x: number) => x.toLocaleString("en-US");
  const kib = (x: number) => `${(x / 1024).toFixed(1)} KiB`;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const rows: (string | number)[][] = [];
  for (const r of runs) {
    rows.push([
      fmt(r.accounts),
      `${fmt(r.overdue)} / ${fmt(r.due)}`,
      fmt(r.batches),
      `${fmt(r.max.documentsRead)} (${pct(r.max.documentsRead / DUNNING_LIMITS.documentsRead)})`,
      `${kib(r.max.bytesRead)} (${pct(r.max.bytesRead / DUNNING_LIMITS.bytesRead)})`,
      `${fmt(r.max.documentsWritten)} (${pct(r.max.documentsWritten / DUNNING_LIMITS.documentsWritten)})`,
      `${kib(r.max.bytesWritten)} (${pct(r.max.bytesWritten / DUNNING_LIMITS.bytesWritten)})`,
      `${fmt(r.max.databaseQueries)} (${pct(r.max.databaseQueries / DUNNING_LIMITS.databaseQueries)})`,
      `${fmt(r.total.documentsRead)} / ${fmt(r.total.documentsWritten)}`,
      `${kib(r.total.bytesRead)} / ${kib(r.total.bytesWritten)}`,
      r.due === 0 ? "-" : `${(r.total.documentsRead / r.due).toFixed(1)} / ${(r.total.documentsWritten / r.due).toFixed(1)}`,
      `${r.idle.documentsRead} / ${r.idle.documentsWritten}`,
    ]);
  }
  return formatTable(
    [
      "accounts",
      "overdue / due",
      "batches",
      "max read/batch",
      "max bytes read",
      "max written",
      "max bytes written",
      "max ranges",
      "total read / written",
      "total bytes r / w",
      "per due r / w",
      "idle r / w",
    ],
    rows,
  );
}

export function dunningSummary(runs: DunningSweepRun[]): string {
  const fmt = (x: number) => x.toLocaleString("en-US");
  return runs
    .map(
      (r) =>
        `${fmt(r.accounts)} accounts: seeded in ${r.seedSeconds.toFixed(1)} s, swept in ${r.runSeconds.toFixed(1)} s; ` +
        `${fmt(r.accounts - r.overdue)} accounts not overdue and ${fmt(r.overdue - r.due)} overdue but not due were not read; ` +
        `largest share of a limit in one batch: ${(r.maxShare.share * 100).toFixed(2)}% of ${r.maxShare.of}`,
    )
    .join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { accounts: { type: "string", multiple: true } } });
  const sizes = values.accounts?.map(Number) ?? [1_000, 100_000];
  const runs: DunningSweepRun[] = [];
  for (const size of sizes) {
    console.log(`seeding ${size.toLocaleString("en-US")} accounts (1% overdue) and running the dunning sweep…`);
    runs.push(await benchDunningSweep(size, { progress: (line) => console.log(line) }));
  }
  console.log(`\ndunning sweep (dunning.sweep, batch size ${BILLING_CONFIG.dunning.sweepBatch}); shares of Convex's per-transaction limits in brackets`);
  console.log(dunningTable(runs));
  console.log(dunningSummary(runs));
  const problems = checkDunningRuns(runs);
  for (const p of problems) console.log(`FAIL ${p}`);
  process.exit(problems.length > 0 ? 1 : 0);
}
