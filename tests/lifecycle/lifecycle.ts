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
 * The stories, one customer each, each on its own fresh deployment:
 * - Ada: sign-in, Checkout, spending, a renewal, a failed renewal and its
 *   recovery, then plan changes — a paid upgrade to Elite (allowance raised,
 *   not refilled), a downgrade to Starter scheduled for the period end
 *   (Elite kept until then), the renewal at Starter, an interval round trip
 *   (monthly → yearly → monthly) that yields no extra tokens — and finally a
 *   cancellation at period end and the deletion (./story.ts);
 * - Tia: a Pro trial with a card that converts; Noel: a card-less Starter
 *   trial that ends, then a second trial refused (./trialStory.ts);
 * - Dora: a failed renewal walking the dunning timeline day 0 → 3 → 7 → 14
 *   → 30 suspended → 45 restricted → paid, restored (./dunningStory.ts).
 *
 * After each step the scheduled functions are run to completion, the
 * account's state (tier, allowance, balance) is printed, and invariants are
 * checked: the ledger sums to the balance, no event is left
 * pending/failed/waiting/dead, the tier, status and token figures the step
 * should produce, one subscription row, each monthly allowance window opened
 * exactly once, the trial allowance granted once, the dunning stage and step,
 * and the notifications sent (by kind, each once per occasion). Exits 1 with
 * the broken checks listed if any fails.
 *
 * The steps are named functions in ./story.ts; deliveries are in
 * ./deliveries.ts; this file drives them and holds the checks.
 *
 * Stripe times are seconds; Convex times are milliseconds.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type Stripe from "stripe";
import { withEnv } from "@offline/local-backend";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import type { WebhookEventStatus } from "../../convex/billing/model/validators";
import { WEBHOOK_EVENT_STATUSES } from "../../convex/billing/model/validators";
import { startRecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { billing, billingApi, runInBilling } from "../lib/billingComponent";
import { formatTable, makeHarness, seededRandom, type Harness } from "../lib/convexHarness";
import { deliver, deliveryPlan, settle, WEBHOOK_SECRET } from "./deliveries";
import { DORA, DUNNING_STORY } from "./dunningStory";
import { ADA, newStory, STORY, type Customer, type Expectation, type Step, type Story } from "./story";
import { NOEL, TIA, TRIAL_CONVERTS_STORY, TRIAL_ENDS_STORY } from "./trialStory";

/** The stories in the order they run: who, and their steps. */
export const STORIES: { who: string; customer: Customer; steps: ((s: Story) => Step)[] }[] = [
  { who: "Ada", customer: ADA, steps: STORY },
  { who: "Tia", customer: TIA, steps: TRIAL_CONVERTS_STORY },
  { who: "Noel", customer: NOEL, steps: TRIAL_ENDS_STORY },
  { who: "Dora", customer: DORA, steps: DUNNING_STORY },
];

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
  /** Only these stories (`STORIES[].who`); default all. */
  only?: string[];
};

export type StepState = {
  step: number;
  /** Whose story (`STORIES[].who`). */
  who: string;
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
  /** The dunning view: `<stage> d<step day>` (`+banner` with the admin banner), or "-". */
  dunning: string;
  /** Trial allowance grants in the ledger. */
  trialGrants: number;
  /** Notifications by kind. */
  notified: Record<string, number>;
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

/** Runs the lifecycle; never throws for a broken check (see `failures`). */
export async function runLifecycle(options: LifecycleOptions): Promise<LifecycleResult> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const failures: string[] = [];
  const states: StepState[] = [];
  let planned = 0;
  for (const { who, customer, steps: makers } of STORIES.filter((x) => !options.only || options.only.includes(x.who))) {
    log(`\n=== ${who} ===`);
    // Each story: its own deployment and its own Stripe (fresh deployments reuse ids, and idempotency keys with them).
    const server = await startRecordingStripeServer();
    try {
      await withEnv(
        {
          STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
          STRIPE_SECRET_KEY: "sk_test_lifecycle",
          ...stripeApiEnv(server.url),
          SITE_URL: "http://127.0.0.1:5173",
        },
        async () => {
          const story = newStory(makeHarness(), server, random, customer);
          const steps = makers.map((make) => make(story));
          planned += steps.length;
          await runStory(story, who, steps, states.length, options, log, states, failures);
        },
      );
    } finally {
      await server.close();
    }
  }
  const table = formatTable(stateHeaders, states.map(stateRow));
  return { ok: failures.length === 0 && states.length === planned, seed: options.seed, steps: states, failures, table };
}

/** Runs one story's steps (numbered after `offset` earlier steps), adding their states and broken checks. */
async function runStory(
  story: Story,
  who: string,
  steps: Step[],
  offset: number,
  options: LifecycleOptions,
  log: (line: string) => void,
  states: StepState[],
  failures: string[],
): Promise<void> {
  for (const [index, step] of steps.entries()) {
    const { state, problems } = await runStep(story, who, step, offset + index + 1, options);
    if (!state) {
      failures.push(...problems);
      return;
    }
    states.push(state);
    logStep(log, step, state, problems);
    failures.push(...problems.map((p) => `step ${state.step} (${who}: ${step.name}): ${p}`));
  }
}

/**
 * Runs step `number`: its action or its deliveries (answered 200 each), then
 * the scheduled work, then `afterStep`; reads the account and checks the
 * step's expectation. `state` is null when there is no account to read (the
 * problems then name the step and end the run).
 */
async function runStep(
  s: Story,
  who: string,
  step: Step,
  number: number,
  options: LifecycleOptions,
): Promise<{ state: StepState | null; problems: string[] }> {
  const problems: string[] = [];
  let deliveries: string[] = [];
  try {
    if (step.run) deliveries = await step.run();
    if (step.events) deliveries = await deliverStepEvents(s, step.events(), problems);
    await settle(s.t);
    if (s.facts.accountId && options.afterStep) await options.afterStep(number, s.t, s.facts.accountId);
  } catch (error) {
    problems.push(`step threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!s.facts.accountId) {
    return { state: null, problems: [`step ${number} (${who}: ${step.name}): no account; cannot continue`, ...problems.map((p) => `step ${number}: ${p}`)] };
  }
  const read = await readState(s.t, s.facts.accountId, s.customer);
  const state: StepState = { step: number, who, name: step.name, deliveries, ...read.view };
  problems.push(...checkStep(step.expect, read, s.deliveredIds.size, (n) => s.period(n).periodStart * 1000));
  return { state, problems };
}

/** Delivers `events` per a seeded plan; a non-200 answer is a problem. Returns the plan's types (`*` marks a duplicate). */
async function deliverStepEvents(s: Story, events: Stripe.Event[], problems: string[]): Promise<string[]> {
  const plan = deliveryPlan(events, s.random);
  for (const e of plan) {
    const status = await deliver(s.t, e);
    s.deliveredIds.add(e.id);
    if (status !== 200) problems.push(`delivery of ${e.type} (${e.id}) answered ${status}, expected 200`);
  }
  return plan.map((e) => `${e.type}${plan.filter((x) => x.id === e.id).length > 1 ? "*" : ""}`);
}

/** Prints a step: what it delivered or called, the state row, and its checks. */
function logStep(log: (line: string) => void, step: Step, state: StepState, problems: string[]): void {
  log(`\nstep ${state.step}: ${step.name}`);
  if (state.deliveries.length > 0) log(`  ${step.events ? "delivered" : "called"}: ${state.deliveries.join(", ")}`);
  log("  " + formatTable(stateHeaders, [stateRow(state)]).split("\n").join("\n  "));
  log(problems.length === 0 ? "  checks: ok" : problems.map((p) => `  FAILED: ${p}`).join("\n"));
}

// ---------------------------------------------------------------------------
// State and checks
// ---------------------------------------------------------------------------

type ReadState = Awaited<ReturnType<typeof readState>>;

async function readState(t: Harness, accountId: Id<"billingAccounts">, customer: Customer) {
  const asUser = t.withIdentity(customer.identity);
  const subscriptionView = await asUser.query(api.billing.subscription, {});
  const balance = await asUser.query(api.tokens.balance, {});
  const invoices = await asUser.query(api.billing.invoices, { limit: 24 });
  const invariant = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
  const db = await runInBilling(t, async (ctx) => {
    // The lifecycle holds one customer, so every event row is theirs. Rows
    // settled on receipt do not store the customer id (docs/ARCHITECTURE.md),
    // so counting by customer would depend on whether an event waited, that
    // is, on the delivery order.
    const events = {} as Record<WebhookEventStatus, number>;
    let allEvents = 0;
    for (const status of WEBHOOK_EVENT_STATUSES) {
      events[status] = (
        await ctx.db
          .query("webhookEvents")
          .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
          .take(1000)
      ).length;
      allEvents += events[status];
    }
    const subscriptions = await ctx.db
      .query("subscriptions")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .take(100);
    const ledger = await ctx.db
      .query("tokenLedger")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .take(1000);
    const notifications = await ctx.db
      .query("notifications")
      .withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", accountId))
      .take(1000);
    const notified: Record<string, number> = {};
    for (const n of notifications) notified[n.kind] = (notified[n.kind] ?? 0) + 1;
    return { events, allEvents, subscriptions: subscriptions.length, ledger, notified };
  });
  const dunning = subscriptionView?.dunning ?? null;
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
      dunning: dunning ? `${dunning.stage ?? "-"} d${dunning.stepDay ?? "-"}${dunning.adminBanner ? " +banner" : ""}` : "-",
      trialGrants: db.ledger.filter((row) => row.reason === "period_grant" && row.sourceKey.startsWith("trial:")).length,
      notified: db.notified,
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
  const d = want.dunning;
  expectEq("dunning", v.dunning, d ? `${d.stage} d${d.stepDay}${d.adminBanner ? " +banner" : ""}` : "-");
  expectEq("trial allowance grants", v.trialGrants, want.trialGrants ?? 0);
  for (const [kind, count] of Object.entries(want.notified ?? {})) expectEq(`${kind} notifications`, v.notified[kind] ?? 0, count);
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

const stateHeaders = ["step", "tier", "status", "cancel", "next", "grace", "dunning", "allow", "purch", "used", "left", "invoices", "events ok/ign/pend/fail/wait/dead"];

function stateRow(s: StepState): (string | number)[] {
  const e = s.events;
  return [
    `${s.step} ${s.who}: ${s.name}`,
    s.tier,
    s.status,
    s.cancelScheduled ? "at end" : "-",
    s.scheduled ?? "-",
    s.graceEndsAt === null ? "-" : new Date(s.graceEndsAt).toISOString().slice(0, 10),
    s.dunning,
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
