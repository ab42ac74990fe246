/**
 * The token grants' part of `npm run bench` (issue 9), called by `bench.ts`:
 *
 * 1. `benchGrantHistory`: one `tokens.consume`, `tokens.reserve`,
 *    `tokens.settle` (partial: it returns tokens) and `tokens.release` on
 *    accounts holding 1, 10 and 1,000 historic grants (expired or depleted)
 *    beside three active ones, called from the app through
 *    `components.billing` with the account's `ownerKey`, as the app's
 *    wrappers call them. Debits read only `active` grants (index
 *    `by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass`),
 *    so every figure must be the same at 1, 10 and 1,000: `checkHistoryFlat`
 *    throws otherwise.
 * 2. `benchSweeps`: the grant expiry sweep (`tokens.expireGrants`), the hold
 *    sweep (`tokens.expireHolds`) and the daily audit (`tokens.auditBalances`)
 *    over a deployment of `count` accounts (100,000 in `npm run bench`), each
 *    batch measured alone against a quarter of Convex's per-transaction
 *    limits. The monthly rollover sweep (`tokens.resetFreeTier`) is measured
 *    by `bench.ts`'s reset runs.
 */
import { components } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { expireLapsedGrant, grant as ledgerGrant, consume as ledgerConsume } from "../../convex/billing/model/ledger";
import { freePeriod, freePeriodSourceKey } from "../../convex/billing/model/periods";
import { PLANS } from "../../convex/billing/model/plans";
import { AUDIT_BATCH_SIZE, GRANT_EXPIRY_BATCH_SIZE, HOLD_EXPIRY_BATCH_SIZE } from "../../convex/billing/tokens";
import { billing, billingApi, billingInternal, runInBilling, type BillingMutationCtx } from "../lib/billingComponent";
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
import { allowanceGrantDoc, grantDoc, insertLedger, periodGrantRow, type LedgerRow } from "./tokenSeed";

const MINUTE = 60_000;
const DAY_MS = 24 * 60 * MINUTE;

/** Convex's per-transaction limits (https://docs.convex.dev/production/state/limits) and the quarter a batch may use. */
export const LIMITS = { documentsRead: 32_000, documentsWritten: 16_000, indexRanges: 4_096 };
export const QUARTER = {
  documentsRead: LIMITS.documentsRead / 4,
  documentsWritten: LIMITS.documentsWritten / 4,
  indexRanges: LIMITS.indexRanges / 4,
};

const fmt = (x: number) => x.toLocaleString("en-US");

// ---------------------------------------------------------------------------
// 1. Debits beside historic grants
// ---------------------------------------------------------------------------

/** Historic grants on the measured accounts. */
export const HISTORY_SIZES = [1, 10, 1_000] as const;
const HISTORY_SEED_CHUNK = 100;

export const HISTORY_OPERATIONS = [
  "tokens.consume",
  "tokens.reserve",
  "tokens.settle (partial, returns tokens)",
  "tokens.release",
] as const;
type HistoryOperation = (typeof HISTORY_OPERATIONS)[number];
export type HistoryFigures = Map<number, Map<HistoryOperation, Metrics>>;

/**
 * Gives the account `count` historic grants through the ledger's own
 * helpers, in the component: in turn a purchased pack drawn to nothing
 * (`depleted`; priority 0, so the debit draws it before the allowance) and a
 * promotional grant expired by the sweep's helper (`expired`). Each leaves
 * two ledger rows and the balance where it was.
 */
async function seedHistoricGrants(t: Harness, accountId: Id<"billingAccounts">, count: number): Promise<void> {
  for (let from = 0; from < count; from += HISTORY_SEED_CHUNK) {
    const to = Math.min(count, from + HISTORY_SEED_CHUNK);
    await runInBilling(t, async (ctx) => {
      for (let k = from; k < to; k++) {
        const tag = String(k).padStart(4, "0");
        if (k % 2 === 0) {
          await ledgerGrant(ctx, accountId, { sourceKey: `old:pack:${tag}`, amount: 10, reason: "top_up", priority: 0 });
          await ledgerConsume(ctx, accountId, { sourceKey: `consume:old:${tag}`, cost: 10, feature: "bulk_analysis" });
        } else {
          const sourceKey = `old:promo:${tag}`;
          await ledgerGrant(ctx, accountId, { sourceKey, amount: 10, reason: "promotional_grant", expiresAt: Date.now() + DAY_MS });
          const grant = await ctx.db
            .query("tokenGrants")
            .withIndex("by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass", (q) =>
              q.eq("accountId", accountId).eq("status", "active"),
            )
            .take(10);
          const created = grant.find((g) => g.sourceKey === sourceKey);
          if (!created) throw new Error(`history seed: grant ${sourceKey} not found`);
          await expireLapsedGrant(ctx, created);
        }
      }
    });
  }
}

/** The account's grants by status. */
async function grantStatuses(t: Harness, accountId: Id<"billingAccounts">): Promise<Record<"active" | "depleted" | "expired", number>> {
  return await runInBilling(t, async (ctx) => {
    const counts = { active: 0, depleted: 0, expired: 0 };
    for (const status of ["active", "depleted", "expired"] as const) {
      const rows = await ctx.db
        .query("tokenGrants")
        .withIndex("by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass", (q) =>
          q.eq("accountId", accountId).eq("status", status),
        )
        .collect();
      counts[status] = rows.length;
    }
    return counts;
  });
}

/**
 * For each size in `HISTORY_SIZES`, a fresh free account (`accounts.ensure`:
 * this month's allowance of 5) with that many historic grants, then two
 * active grants from operators (`tokens.grant`): a promotion of 8 at
 * priority 50 (drawn first) and an admin credit of 200 (never expires). The
 * measured calls, in order:
 * - `consume` standard_analysis (3 tokens, from the promotion);
 * - `reserve` bulk_analysis (10: the promotion's last 5, then 5 of the
 *   allowance, so the hold draws on two grants);
 * - `settle` that hold at 4: 6 go back, to the allowance (5) and the
 *   promotion (1, active again);
 * - `release` of a second hold of 10 (reserved unmeasured; drawn from three
 *   grants): all 10 go back.
 */
export async function benchGrantHistory(t: Harness): Promise<HistoryFigures> {
  const figures: HistoryFigures = new Map();
  for (const size of HISTORY_SIZES) {
    const ownerKey = `user:history_${String(size).padStart(5, "0")}`;
    const accountId = await billing(t).mutation(billingApi.accounts.ensure, { ownerKey, kind: "personal" });
    await seedHistoricGrants(t, accountId, size);
    await billing(t).mutation(billingApi.tokens.grant, {
      accountId,
      amount: 8,
      reason: "Bench promotion",
      category: "promotional",
      expiresAt: Date.now() + 7 * DAY_MS,
      priority: 50,
      idempotencyKey: "history-promo",
    });
    await billing(t).mutation(billingApi.tokens.grant, { accountId, amount: 200, reason: "Bench credit", idempotencyKey: "history-admin" });
    const before = await grantStatuses(t, accountId);
    const historic = before.depleted + before.expired;
    if (historic !== size || before.active !== 3) {
      throw new Error(`history seed (${size}): ${JSON.stringify(before)}, expected ${size} historic and 3 active grants`);
    }

    const ops = new Map<HistoryOperation, Metrics>();
    const consumed = await measure(t, (ctx) =>
      ctx.runMutation(components.billing.tokens.consume, { ownerKey, feature: "standard_analysis", idempotencyKey: "history-consume" }),
    );
    if (consumed.result.cost !== 3 || consumed.result.duplicate) throw new Error(`history (${size}): consume ${JSON.stringify(consumed.result)}`);
    ops.set("tokens.consume", consumed.metrics);

    const reserved = await measure(t, (ctx) =>
      ctx.runMutation(components.billing.tokens.reserve, { ownerKey, feature: "bulk_analysis", idempotencyKey: "history-hold-1" }),
    );
    if (reserved.result.amount !== 10 || reserved.result.status !== "open") throw new Error(`history (${size}): reserve ${JSON.stringify(reserved.result)}`);
    ops.set("tokens.reserve", reserved.metrics);

    const settled = await measure(t, (ctx) =>
      ctx.runMutation(components.billing.tokens.settle, { ownerKey, holdId: reserved.result.holdId, actual: 4 }),
    );
    if (settled.result.charged !== 4 || settled.result.returned !== 6) throw new Error(`history (${size}): settle ${JSON.stringify(settled.result)}`);
    ops.set("tokens.settle (partial, returns tokens)", settled.metrics);

    const second = await billing(t).mutation(billingApi.tokens.reserve, { ownerKey, feature: "bulk_analysis", idempotencyKey: "history-hold-2" });
    const released = await measure(t, (ctx) => ctx.runMutation(components.billing.tokens.release, { ownerKey, holdId: second.holdId }));
    if (released.result.returned !== 10 || released.result.duplicate) throw new Error(`history (${size}): release ${JSON.stringify(released.result)}`);
    ops.set("tokens.release", released.metrics);

    const invariant = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
    if (!invariant.ok) throw new Error(`history (${size}): ledger invariant broken: ${invariant.problems.join("; ")}`);
    const after = await grantStatuses(t, accountId);
    if (after.depleted + after.expired < size) throw new Error(`history (${size}): historic grants changed: ${JSON.stringify(after)}`);
    figures.set(size, ops);
  }
  return figures;
}

/** `a / b / c` across the history sizes. */
function across(figures: HistoryFigures, op: HistoryOperation, key: keyof Metrics): string {
  return HISTORY_SIZES.map((size) => fmt(figures.get(size)!.get(op)![key])).join(" / ");
}

export function historyTable(figures: HistoryFigures): string {
  const rows = HISTORY_OPERATIONS.map((op) => [
    op,
    across(figures, op, "documentsRead"),
    across(figures, op, "documentsWritten"),
    across(figures, op, "databaseQueries"),
    across(figures, op, "bytesRead"),
    across(figures, op, "bytesWritten"),
    historyGrowth(figures, op).length === 0 ? "flat" : "GROWS",
  ]);
  const sizes = HISTORY_SIZES.map(fmt).join(" / ");
  return formatTable(
    ["call (historic grants: " + sizes + ")", "read", "written", "index ranges", "bytes read", "bytes written", "growth"],
    rows,
  );
}

/** What grows from the fewest historic grants to more: documents read or written, or index ranges. */
function historyGrowth(figures: HistoryFigures, op: HistoryOperation): string[] {
  const base = figures.get(HISTORY_SIZES[0])!.get(op)!;
  const grown: string[] = [];
  for (const size of HISTORY_SIZES.slice(1)) {
    const m = figures.get(size)!.get(op)!;
    for (const key of ["documentsRead", "documentsWritten", "databaseQueries"] as const) {
      if (m[key] > base[key]) grown.push(`${op}: ${key} ${base[key]} with ${HISTORY_SIZES[0]} historic grant(s), ${m[key]} with ${fmt(size)}`);
    }
  }
  return grown;
}

/** Throws when any debit reads, writes or ranges more as historic grants pile up. */
export function checkHistoryFlat(figures: HistoryFigures): void {
  const grown = HISTORY_OPERATIONS.flatMap((op) => historyGrowth(figures, op));
  if (grown.length > 0) throw new Error(`debits grow with the account's historic grants (only active grants may be read):\n  ${grown.join("\n  ")}`);
}

// ---------------------------------------------------------------------------
// 2. The sweeps at scale
// ---------------------------------------------------------------------------

const SWEEP_SEED_BATCH = 1_000;
/** Grants past their expiry and open holds past their TTL at the full size: over two batches each, the last one partial. */
const DUE_GRANTS = 1_000;
const DUE_HOLDS = 500;
/** Every `OPEN_HOLD_EVERY`-th account has an open hold not due yet, and as many a settled one. */
const OPEN_HOLD_EVERY = 10;

type SweepAccountKind = "plain" | "dueGrant" | "dueHold" | "openHold" | "settledHold";

/**
 * Which accounts carry what: `dueGrants` accounts spread over the table with
 * a promotion past its expiry, `dueHolds` with a hold past its TTL, one in
 * `OPEN_HOLD_EVERY` with an open hold not yet due and as many with a settled
 * one.
 */
function sweepKindOf(i: number, count: number, dueGrants: number, dueHolds: number): SweepAccountKind {
  const grantStride = Math.max(1, Math.floor(count / dueGrants));
  if (i % grantStride === 0 && i / grantStride < dueGrants) return "dueGrant";
  const holdStride = Math.max(1, Math.floor(count / dueHolds));
  if (i % holdStride === 1 % holdStride && Math.floor(i / holdStride) < dueHolds) return "dueHold";
  if (i % OPEN_HOLD_EVERY === 3) return "openHold";
  if (i % OPEN_HOLD_EVERY === 7) return "settledHold";
  return "plain";
}

/**
 * One free account `i` in this month's period (not due for the monthly
 * reset), shaped as the ledger leaves it: last month's allowance grant
 * expired; this month's, `used` 0–2 of 5; a promotion of 20 expiring in
 * 1–60 days (past its expiry for `dueGrant`); for `dueHold` / `openHold` an
 * open hold of 4 drawn from the allowance (2) and the promotion (2), its
 * TTL past or to come; for `settledHold` a hold of 4 settled in full. Ledger:
 * last month's grant and expiry, this month's grant and use, the promotion,
 * the hold and its settlement. Returns the documents inserted.
 */
async function insertSweepAccount(ctx: BillingMutationCtx, i: number, kind: SweepAccountKind, nowMs: number): Promise<number> {
  const tag = String(i).padStart(6, "0");
  const month = freePeriod(nowMs);
  const last = freePeriod(month.periodStart - 1);
  const free = PLANS.free.tokensPerPeriod;
  let documents = 0;
  const insert = async <T extends "billingAccounts" | "tokenGrants" | "tokenHolds" | "tokenBalances">(table: T, doc: Parameters<typeof ctx.db.insert<T>>[1]) => {
    documents += 1;
    return await ctx.db.insert(table, doc);
  };
  const accountId = await insert("billingAccounts", { kind: "personal", ownerKey: `user:sweep_${tag}`, tier: "free" });
  const lastKey = freePeriodSourceKey(last);
  const monthKey = freePeriodSourceKey(month);
  const lastGrant = await insert(
    "tokenGrants",
    allowanceGrantDoc(accountId, { tokens: free, used: 0, expired: true, sourceKey: lastKey, periodKey: last.periodKey, start: last.periodStart, end: last.periodEnd }),
  );
  const used = i % 3;
  const held = kind === "dueHold" || kind === "openHold" ? 4 : 0;
  const settled = kind === "settledHold" ? 4 : 0;
  const allowanceId = await insert(
    "tokenGrants",
    allowanceGrantDoc(accountId, { tokens: free, used: used + held / 2, sourceKey: monthKey, periodKey: month.periodKey, start: month.periodStart, end: month.periodEnd }),
  );
  const promoExpires = kind === "dueGrant" ? nowMs - MINUTE - (i % 3_600) * 1_000 : nowMs + (1 + (i % 60)) * DAY_MS;
  const promoKey = `admin:promo_${tag}`;
  const promoId = await insert(
    "tokenGrants",
    grantDoc(accountId, {
      category: "promotional",
      amount: 20,
      remaining: 20 - held / 2 - settled,
      startsAt: month.periodStart,
      expiresAt: promoExpires,
      sourceKey: promoKey,
      note: "Spring promotion",
    }),
  );
  const rows: LedgerRow[] = [
    periodGrantRow(lastGrant, free, lastKey, last.periodKey),
    { amount: -free, reason: "period_expire", sourceKey: `${monthKey}:expire`, grantId: lastGrant, note: `Unused allowance of ${last.periodKey}` },
    periodGrantRow(allowanceId, free, monthKey, month.periodKey),
    { amount: 20, reason: "promotional_grant", sourceKey: promoKey, grantId: promoId, note: "Spring promotion" },
  ];
  if (used > 0) rows.push({ amount: -used, reason: "consume", sourceKey: `consume:sw${tag}`, feature: "quick_analysis", drawnFrom: [{ grantId: allowanceId, amount: used }] });
  if (held > 0) {
    const drawnFrom = [
      { grantId: allowanceId, amount: 2 },
      { grantId: promoId, amount: 2 },
    ];
    rows.push({ amount: -4, reason: "hold", sourceKey: `hold:job_${tag}`, feature: "bulk_analysis", drawnFrom });
    const expiresAt = kind === "dueHold" ? nowMs - MINUTE - (i % 600) * 1_000 : nowMs + 10 * MINUTE + (i % 86_400) * 1_000;
    await insert("tokenHolds", { accountId, sourceKey: `hold:job_${tag}`, feature: "bulk_analysis", amount: 4, drawnFrom, status: "open", expiresAt });
  }
  if (settled > 0) {
    const drawnFrom = [{ grantId: promoId, amount: 4 }];
    rows.push({ amount: -4, reason: "hold", sourceKey: `hold:job_${tag}`, feature: "bulk_analysis", drawnFrom });
    rows.push({ amount: 0, reason: "hold_settle", sourceKey: `settle:hold:job_${tag}`, feature: "bulk_analysis", drawnFrom: [], note: "Charged 4 of 4 reserved" });
    await insert("tokenHolds", {
      accountId,
      sourceKey: `hold:job_${tag}`,
      feature: "bulk_analysis",
      amount: 4,
      drawnFrom,
      status: "settled",
      expiresAt: nowMs - DAY_MS + 10 * MINUTE,
      charged: 4,
      closedAt: nowMs - DAY_MS + MINUTE,
    });
  }
  const balance = await insertLedger(ctx, accountId, rows);
  documents += rows.length;
  const counters = { allowance: free, purchased: 20, used: used + settled, held };
  if (balance !== counters.allowance + counters.purchased - counters.used - counters.held) throw new Error(`sweep seed ${i}: ledger ${balance} ≠ counters`);
  await insert("tokenBalances", {
    accountId,
    ...counters,
    balance,
    allowanceGrantId: allowanceId,
    grantsVersion: 1,
    periodKey: month.periodKey,
    periodStart: month.periodStart,
    periodEnd: month.periodEnd,
  });
  return documents;
}

type SweepName = "expireGrants" | "expireHolds" | "auditBalances";

export type SweepFigures = {
  name: SweepName;
  batchSize: number;
  /** Rows the sweep had to handle, and rows in its index range's table it must leave alone. */
  due: number;
  notDue: number;
  batches: number;
  /** Rows handled in all: grants expired, holds released, balances checked. */
  handled: number;
  /** Per batch: the figures of the batch that read most (the first, full one), and the most of each. */
  first: Metrics;
  maxRead: number;
  maxWritten: number;
  maxRanges: number;
  runSeconds: number;
};

export type SweepRun = {
  accounts: number;
  documents: number;
  seedSeconds: number;
  sweeps: SweepFigures[];
  /** Seed or sweep outcomes that are not what they should be. */
  problems: string[];
};

/** Cancels the continuation a sweep batch scheduled (so the bench runs and measures it next); returns its arguments. */
async function cancelContinuation(ctx: BillingMutationCtx, name: string): Promise<Record<string, unknown> | null> {
  const jobs = await ctx.db.system.query("_scheduled_functions").order("desc").take(5);
  const next = jobs.find((j) => j.state.kind === "pending" && j.name.includes(name));
  if (next) await ctx.scheduler.cancel(next._id);
  return next ? (next.args[0] as Record<string, unknown>) : null;
}

/**
 * Seeds `count` accounts (`insertSweepAccount`) and runs each sweep to the
 * end as its cron would, batch by batch: after each batch the continuation
 * it scheduled is cancelled and run next by this loop, so every batch is
 * measured alone. `auditBatches` caps the audit's batches (it pages the
 * whole balance table; each of its batches costs the same).
 */
export async function benchSweeps(
  count: number,
  options: { scale: boolean; auditBatches?: number; progress?: (line: string) => void },
): Promise<SweepRun> {
  const t = makeHarness();
  if (options.scale) await enableScaleIndexes(t);
  const nowMs = Date.now();
  const dueGrants = Math.min(DUE_GRANTS, Math.floor(count / 2));
  const dueHolds = Math.min(DUE_HOLDS, Math.floor(count / 4));
  const kinds = new Map<SweepAccountKind, number>();
  const seedStart = Date.now();
  let documents = 0;
  for (let start = 0; start < count; start += SWEEP_SEED_BATCH) {
    const end = Math.min(count, start + SWEEP_SEED_BATCH);
    const run = () =>
      runInBilling(t, async (ctx) => {
        let n = 0;
        for (let i = start; i < end; i++) {
          const kind = sweepKindOf(i, count, dueGrants, dueHolds);
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          n += await insertSweepAccount(ctx, i, kind, nowMs);
        }
        return n;
      });
    // The first batch is checked against the schema; the rest are the same shapes.
    documents += start === 0 ? await run() : await withoutSchemaValidation(t, run);
    if (options.progress && (start / SWEEP_SEED_BATCH) % 10 === 9) options.progress(`  sweeps: seeded ${fmt(end)} accounts`);
  }
  const seedSeconds = (Date.now() - seedStart) / 1000;
  const problems: string[] = [];
  if (kinds.get("dueGrant") !== dueGrants) problems.push(`seeded ${kinds.get("dueGrant")} due grants, meant ${dueGrants}`);
  if (kinds.get("dueHold") !== dueHolds) problems.push(`seeded ${kinds.get("dueHold")} due holds, meant ${dueHolds}`);
  const openHolds = (kinds.get("dueHold") ?? 0) + (kinds.get("openHold") ?? 0);

  const sweeps: SweepFigures[] = [];
  const runSweep = async (
    name: SweepName,
    batchSize: number,
    due: number,
    notDue: number,
    handledOf: (result: Record<string, unknown>) => number,
    maxBatches = Infinity,
  ) => {
    const started = Date.now();
    let args: Record<string, unknown> = {};
    const figures: SweepFigures = {
      name,
      batchSize,
      due,
      notDue,
      batches: 0,
      handled: 0,
      first: { documentsRead: 0, documentsWritten: 0, bytesRead: 0, bytesWritten: 0, databaseQueries: 0 },
      maxRead: 0,
      maxWritten: 0,
      maxRanges: 0,
      runSeconds: 0,
    };
    for (;;) {
      const batchArgs = args;
      const { metrics, result, after } = await measureInBilling(
        t,
        (ctx) => ctx.runMutation(billingInternal.tokens[name], batchArgs as never) as Promise<Record<string, unknown>>,
        (ctx) => cancelContinuation(ctx, name),
      );
      if (figures.batches === 0) figures.first = metrics;
      figures.batches += 1;
      figures.handled += handledOf(result);
      figures.maxRead = Math.max(figures.maxRead, metrics.documentsRead);
      figures.maxWritten = Math.max(figures.maxWritten, metrics.documentsWritten);
      figures.maxRanges = Math.max(figures.maxRanges, metrics.databaseQueries);
      if (options.progress && figures.batches % 100 === 0) {
        options.progress(`  ${name}: ${figures.batches} batches, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
      if (!after || figures.batches >= maxBatches) break;
      args = after;
      if (figures.batches > count) throw new Error(`${name} does not terminate`);
    }
    figures.runSeconds = (Date.now() - started) / 1000;
    sweeps.push(figures);
    return figures;
  };

  // Grants past their expiry: every due promotion expired, no other grant touched.
  const grantsSweep = await runSweep("expireGrants", GRANT_EXPIRY_BATCH_SIZE, dueGrants, count - dueGrants, (r) => r.expired as number);
  if (grantsSweep.handled !== dueGrants) problems.push(`expireGrants expired ${grantsSweep.handled} grants, ${dueGrants} were due`);
  // Holds past their TTL: every due hold released as expired, open ones to come left open.
  const holdsSweep = await runSweep("expireHolds", HOLD_EXPIRY_BATCH_SIZE, dueHolds, openHolds - dueHolds, (r) => r.released as number);
  if (holdsSweep.handled !== dueHolds) problems.push(`expireHolds released ${holdsSweep.handled} holds, ${dueHolds} were due`);
  const left = await runInBilling(t, async (ctx) => {
    const now = Date.now();
    const grants = await ctx.db
      .query("tokenGrants")
      .withIndex("by_lapsesAt", (q) => q.gte("lapsesAt", 0).lte("lapsesAt", now))
      .take(10);
    const holds = await ctx.db
      .query("tokenHolds")
      .withIndex("by_status_and_expiresAt", (q) => q.eq("status", "open").lte("expiresAt", now))
      .take(10);
    const open = await ctx.db
      .query("tokenHolds")
      .withIndex("by_status_and_expiresAt", (q) => q.eq("status", "open"))
      .take(openHolds + 1);
    const expired = await ctx.db
      .query("tokenHolds")
      .withIndex("by_status_and_expiresAt", (q) => q.eq("status", "expired"))
      .take(dueHolds + 1);
    return { grants: grants.length, holds: holds.length, open: open.length, expired: expired.length };
  });
  if (left.grants !== 0) problems.push(`${left.grants} grants past their expiry left after the sweep`);
  if (left.holds !== 0) problems.push(`${left.holds} holds past their TTL left open after the sweep`);
  if (left.open !== openHolds - dueHolds) problems.push(`${left.open} holds open after the sweep, expected ${openHolds - dueHolds}`);
  if (left.expired !== dueHolds) problems.push(`${left.expired} holds expired, expected ${dueHolds}`);

  // The daily audit: every balance agrees with its grants and ledger.
  let drifted = 0;
  const audit = await runSweep(
    "auditBalances",
    AUDIT_BATCH_SIZE,
    count,
    0,
    (r) => {
      drifted += r.drifted as number;
      return r.checked as number;
    },
    options.auditBatches,
  );
  if (drifted > 0) problems.push(`the audit found ${drifted} balances drifting`);
  const expectedChecked = options.auditBatches === undefined ? count : Math.min(count, options.auditBatches * AUDIT_BATCH_SIZE);
  if (audit.handled !== expectedChecked) problems.push(`the audit checked ${audit.handled} balances, expected ${expectedChecked}`);

  await drainScheduled(t);
  return { accounts: count, documents, seedSeconds, sweeps, problems };
}

/** The checks every sweep run must pass: a batch within a quarter of Convex's limits. */
export function checkSweeps(run: SweepRun): string[] {
  const failures = run.problems.map((p) => `sweeps (${fmt(run.accounts)} accounts): ${p}`);
  for (const s of run.sweeps) failures.push(...overQuarter(s).map((o) => `${s.name} (${fmt(run.accounts)} accounts): a batch ${o}`));
  return failures;
}

function overQuarter(s: Pick<SweepFigures, "maxRead" | "maxWritten" | "maxRanges">): string[] {
  const over: string[] = [];
  if (s.maxRead > QUARTER.documentsRead) over.push(`read ${s.maxRead} documents, over a quarter of ${fmt(LIMITS.documentsRead)}`);
  if (s.maxWritten > QUARTER.documentsWritten) over.push(`wrote ${s.maxWritten} documents, over a quarter of ${fmt(LIMITS.documentsWritten)}`);
  if (s.maxRanges > QUARTER.indexRanges) over.push(`read ${s.maxRanges} index ranges, over a quarter of ${fmt(LIMITS.indexRanges)}`);
  return over;
}

/** The largest batch size that keeps the measured batch within a quarter, scaling its figures linearly. */
export function batchThatFits(batchSize: number, s: Pick<SweepFigures, "maxRead" | "maxWritten" | "maxRanges">): number {
  const ratio = Math.max(s.maxRead / QUARTER.documentsRead, s.maxWritten / QUARTER.documentsWritten, s.maxRanges / QUARTER.indexRanges);
  return ratio === 0 ? Infinity : Math.floor(batchSize / ratio);
}

/** The figures that must agree between runs with and without the scale indexes. */
export function sweepFingerprint(run: SweepRun): string {
  return JSON.stringify(
    run.sweeps.map((s) => [s.name, s.batches, s.handled, s.maxRead, s.maxWritten, s.maxRanges, s.first.documentsRead, s.first.documentsWritten]),
  );
}

const SWEEP_LABELS: Record<SweepName, string> = {
  expireGrants: "expireGrants (grant expiry)",
  expireHolds: "expireHolds (hold TTL)",
  auditBalances: "auditBalances (daily audit)",
};

const pct = (used: number, quarter: number) => `${Math.round((used / quarter) * 100)} %`;

export function sweepTable(run: SweepRun): string {
  return formatTable(
    [
      "sweep",
      "batch size",
      "due",
      "not due",
      "batches",
      "handled",
      "max read/batch",
      "max written/batch",
      "max ranges/batch",
      "of quarter (read/written/ranges)",
      "run s",
    ],
    run.sweeps.map((s) => [
      SWEEP_LABELS[s.name],
      s.batchSize,
      fmt(s.due),
      fmt(s.notDue),
      s.batches,
      fmt(s.handled),
      fmt(s.maxRead),
      fmt(s.maxWritten),
      fmt(s.maxRanges),
      `${pct(s.maxRead, QUARTER.documentsRead)} / ${pct(s.maxWritten, QUARTER.documentsWritten)} / ${pct(s.maxRanges, QUARTER.indexRanges)}` +
        (overQuarter(s).length > 0 ? `  OVER (fits at ${batchThatFits(s.batchSize, s)})` : ""),
      s.runSeconds.toFixed(1),
    ]),
  );
}
