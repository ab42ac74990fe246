/**
 * `npm run bench`, part 6: overage reporting to Stripe's meter at 100,000
 * ledger entries with overage in an hour (issue 12's figure).
 *
 * Seeds `accounts` Pro accounts with a Stripe customer and `reports`
 * pending `meterReports` (each with its ledger row), their times spread over
 * the last hour, then drains them the way `metering.report` does: claim a
 * batch (`metering.claimDueReports`), Stripe takes every event, record the
 * outcomes (`metering.recordResults`). Every batch is measured; each must
 * stay under a quarter of Convex's transaction limits, and the figures per
 * reported event are printed. The Stripe side is computed, not timed: the
 * reporter keeps `SEND_CONCURRENCY` requests in flight per run, so the rate
 * it can reach is bounded by that over Stripe's latency, and the needed rate
 * is `reports` an hour.
 */
import type { Id } from "../../convex/billing/_generated/dataModel";
import { REPORT_BATCH } from "../../convex/billing/model/metering";
import { billingInternal, runInBilling } from "../lib/billingComponent";
import { enableScaleIndexes, formatTable, makeHarness, measureInBilling, withoutSchemaValidation, type Metrics } from "../lib/convexHarness";
import { LIMITS, QUARTER } from "./grantsBench";

/** Rows inserted per seeding transaction. */
const SEED_BATCH = 1_000;
const HOUR_MS = 3_600_000;
/** Stripe's rate limit on `POST /v1/billing/meter_events` in live mode (events a second). */
export const STRIPE_METER_EVENTS_PER_SECOND = 1_000;
/** Requests in flight per reporter run, and batches a run takes at most (`model/meterReporter.ts`). */
const SEND_CONCURRENCY = 10;
const MAX_BATCHES_PER_RUN = 50;

const fmt = (x: number) => x.toLocaleString("en-US");

export type MeterBenchRun = {
  accounts: number;
  /** True when every report was drained; false when only the first `batches` were measured. */
  drained: boolean;
  reports: number;
  seedSeconds: number;
  runSeconds: number;
  batches: number;
  sent: number;
  claim: { max: Metrics; total: Metrics };
  record: { max: Metrics; total: Metrics };
  problems: string[];
};

const zero = (): Metrics => ({ documentsRead: 0, documentsWritten: 0, bytesRead: 0, bytesWritten: 0, databaseQueries: 0 });
function add(into: { max: Metrics; total: Metrics }, m: Metrics): void {
  for (const k of Object.keys(m) as (keyof Metrics)[]) {
    into.total[k] += m[k];
    into.max[k] = Math.max(into.max[k], m[k]);
  }
}

/**
 * Seeds and drains (see the file's comment). `maxBatches` measures only the
 * first batches: at 100,000 reports convex-test walks every pending report
 * for each claim (its in-memory index scan), so draining all of them takes
 * minutes; every batch reads the same index range the same way, which the
 * fully drained small run shows.
 */
export async function benchMetering(
  reports: number,
  options: { accounts?: number; maxBatches?: number; progress?: (line: string) => void } = {},
): Promise<MeterBenchRun> {
  const accounts = options.accounts ?? Math.min(1_000, reports);
  const maxBatches = options.maxBatches ?? Infinity;
  const progress = options.progress;
  const t = makeHarness();
  await enableScaleIndexes(t);
  const nowMs = Date.now();
  const seedStart = Date.now();
  const accountIds = await runInBilling(t, async (ctx) => {
    const ids: Id<"billingAccounts">[] = [];
    for (let i = 0; i < accounts; i++) {
      ids.push(
        await ctx.db.insert("billingAccounts", {
          kind: "personal",
          ownerKey: `user:meter-bench-${i}`,
          tier: "pro",
          stripeCustomerId: `cus_meter_${i}`,
          overageBillable: true,
        }),
      );
    }
    return ids;
  });
  for (let start = 0; start < reports; start += SEED_BATCH) {
    const end = Math.min(reports, start + SEED_BATCH);
    const seed = () =>
      runInBilling(t, async (ctx) => {
        for (let i = start; i < end; i++) {
          const accountId = accountIds[i % accounts]!;
          const usedAt = nowMs - HOUR_MS + Math.floor((i / reports) * HOUR_MS);
          const ledgerId = await ctx.db.insert("tokenLedger", {
            accountId,
            amount: 0,
            reason: "consume",
            sourceKey: `consume:bench-${i}`,
            balanceAfter: 0,
            feature: "bulk_analysis",
            overage: 10,
          });
          await ctx.db.insert("meterReports", { accountId, ledgerId, tokens: 10, usedAt, status: "pending", nextAttemptAt: usedAt });
        }
      });
    // The first batch is checked against the schema; the rest are the same shapes.
    await (start === 0 ? seed() : withoutSchemaValidation(t, seed));
    if (progress && (end / SEED_BATCH) % 20 === 0) progress(`  metering: seeded ${fmt(end)} reports`);
  }
  const seedSeconds = (Date.now() - seedStart) / 1000;

  const run: MeterBenchRun = {
    accounts,
    drained: false,
    reports,
    seedSeconds,
    runSeconds: 0,
    batches: 0,
    sent: 0,
    claim: { max: zero(), total: zero() },
    record: { max: zero(), total: zero() },
    problems: [],
  };
  const started = Date.now();
  for (;;) {
    const claimed = await measureInBilling(t, (ctx) =>
      ctx.runMutation(billingInternal.metering.claimDueReports, { nowMs, limit: REPORT_BATCH }),
    );
    if (claimed.result.length === 0) {
      run.drained = true;
      break;
    }
    add(run.claim, claimed.metrics);
    const results = claimed.result.map((r) => ({ reportId: r.reportId, status: "sent" as const }));
    const recorded = await measureInBilling(t, (ctx) => ctx.runMutation(billingInternal.metering.recordResults, { results }));
    add(run.record, recorded.metrics);
    run.batches += 1;
    run.sent += recorded.result;
    if (progress && run.batches % 200 === 0) progress(`  metering: ${run.batches} batches, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (run.batches > reports) throw new Error("the reporter does not terminate");
    if (run.batches >= maxBatches) break;
  }
  run.runSeconds = (Date.now() - started) / 1000;
  const expected = run.drained ? reports : run.batches * REPORT_BATCH;
  if (run.sent !== expected) run.problems.push(`recorded ${run.sent} reports sent, expected ${expected}`);
  for (const [name, m] of [["claim", run.claim.max], ["record", run.record.max]] as const) {
    if (m.documentsRead > QUARTER.documentsRead) run.problems.push(`a ${name} batch read ${m.documentsRead} documents, over a quarter of ${fmt(LIMITS.documentsRead)}`);
    if (m.documentsWritten > QUARTER.documentsWritten) run.problems.push(`a ${name} batch wrote ${m.documentsWritten} documents, over a quarter of ${fmt(LIMITS.documentsWritten)}`);
    if (m.databaseQueries > QUARTER.indexRanges) run.problems.push(`a ${name} batch read ${m.databaseQueries} index ranges, over a quarter of ${fmt(LIMITS.indexRanges)}`);
  }
  return run;
}

export function checkMetering(run: MeterBenchRun): string[] {
  return run.problems.map((p) => `metering (${fmt(run.reports)} reports): ${p}`);
}

export function meteringTable(run: MeterBenchRun): string {
  const per = (total: number) => (total / Math.max(1, run.sent)).toFixed(2);
  const rows = (["claim", "record"] as const).map((name) => {
    const f = run[name];
    return [
      name === "claim" ? "claimDueReports (claim a batch)" : "recordResults (mark sent)",
      REPORT_BATCH,
      fmt(f.max.documentsRead),
      fmt(f.max.documentsWritten),
      fmt(f.max.databaseQueries),
      `${Math.round((f.max.documentsRead / QUARTER.documentsRead) * 100)} % / ${Math.round((f.max.documentsWritten / QUARTER.documentsWritten) * 100)} %`,
      per(f.total.documentsRead),
      per(f.total.documentsWritten),
      per(f.total.bytesWritten),
    ];
  });
  return formatTable(
    ["step", "batch", "max read/batch", "max written/batch", "max ranges/batch", "of quarter (read/written)", "read/event", "written/event", "bytes written/event"],
    rows,
  );
}

/** The Stripe side: the rate needed for `reports` an hour against what one run can send and Stripe's limit. */
export function meteringRates(run: MeterBenchRun): string {
  const needed = run.reports / 3_600;
  const perRunAt50ms = SEND_CONCURRENCY / 0.05;
  return [
    `needed: ${needed.toFixed(1)} meter events/s (${fmt(run.reports)} an hour), ${(needed / STRIPE_METER_EVENTS_PER_SECOND * 100).toFixed(1)} % of Stripe's ${fmt(STRIPE_METER_EVENTS_PER_SECOND)}/s`,
    `one reporter run keeps ${SEND_CONCURRENCY} requests in flight: about ${fmt(perRunAt50ms)} events/s at 50 ms a request, so one run at a time keeps up; ` +
      `overlapping runs claim disjoint batches`,
    `the one-minute cron alone sends up to ${fmt(MAX_BATCHES_PER_RUN * REPORT_BATCH)} a run: ${fmt(MAX_BATCHES_PER_RUN * REPORT_BATCH * 60)} an hour`,
    run.drained
      ? `${run.batches} batches of ${REPORT_BATCH} drained all ${fmt(run.sent)} reports in ${run.runSeconds.toFixed(1)} s of convex-test time (seeded in ${run.seedSeconds.toFixed(1)} s)`
      : `the first ${run.batches} of ${fmt(Math.ceil(run.reports / REPORT_BATCH))} batches measured (${fmt(run.sent)} reports, ${run.runSeconds.toFixed(1)} s of convex-test time; seeded in ${run.seedSeconds.toFixed(1)} s); ` +
        `every batch claims the oldest due reports through the same index range`,
  ].join("\n");
}
