// Copied from ../shared/bench/anchor-convex-stripe/bench/harness.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local changes, marked "(local)": `env` may be computed from the Stripe double
// (to point the app's API-base variables at it), and `prepare` seeds each fresh
// instance and may adapt each delivery before it is signed (outside the timed
// window). The stream, its digest and every measurement are unchanged. Typed
// for this repo's lint and tsconfig (generic instance type, no `any`,
// noUncheckedIndexedAccess).
// Orchestration shared by every app under test (anchor or other):
//   stream -> Stripe double + fetch redirect -> env -> fake timers -> warm-up pass
//   -> BENCH_RUNS measured passes (fresh convex-test instance each) -> JSON + table.
//
// Knobs (env): BENCH_RUNS (3), BENCH_CUSTOMERS (100), BENCH_DUP_RATE (0.1),
// BENCH_SEED (20261028), BENCH_WARMUP (deliveries replayed on a throw-away
// instance first; default -1 = the whole stream, 0 = none), BENCH_OUT
// (results), BENCH_SHOW_LOGS (0: swallow+count console output), BENCH_TX_METRICS
// (1: read ctx.meta.getTransactionMetrics() per top-level query/mutation),
// BENCH_DRAIN (1: run scheduled functions after each delivery, timed separately),
// BENCH_STRIPE_LATENCY_MS (0: the Stripe double answers at once; e.g. 150 to
// model real Stripe API round trips).
import { vi } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateStream, STREAM_API_VERSION, type Delivery, type Stream, type Target } from "./stream";
import { startStripeDouble, type StripeDouble } from "./stripeDouble";
import { FunctionCounters } from "./instrument";
import { replayStream, type ReplayDeps, type RunResult } from "./replay";

export interface BenchConfig<T extends ReplayDeps["t"] = ReplayDeps["t"]> {
  /** name used in the result file, e.g. "anchor-convex-stripe" */
  label: string;
  /** route path + webhook secret of the app under test */
  target: Target;
  /** env vars the app reads (set with vi.stubEnv for the whole bench); (local) or a function of the Stripe double */
  env?: Record<string, string> | ((double: StripeDouble) => Record<string, string>);
  /** build a FRESH convex-test instance whose modules are wrapped with instrumentModules(..., counters) */
  makeT: (counters: FunctionCounters) => T | Promise<T>;
  /**
   * (local) Seeds a fresh instance before its pass (not counted: counters and
   * the double are reset afterwards). May return a function that rewrites each
   * delivery before it is signed, e.g. to name the accounts it seeded.
   */
  prepare?: (t: T, stream: Stream) => Promise<((d: Delivery) => Delivery) | void>;
  /** optional end-of-pass sanity snapshot (row counts etc.) */
  finalState?: (t: T) => Promise<Record<string, unknown>>;
  /** free-form facts recorded in the result file (package versions...) */
  meta?: Record<string, unknown>;
}

export interface BenchOutput {
  file: string;
  runs: (Omit<RunResult, "results"> & { run: number; finalState?: Record<string, unknown> })[];
}

const envNum = (k: string, d: number) => (process.env[k] !== undefined && process.env[k] !== "" ? Number(process.env[k]) : d);

export async function runBench<T extends ReplayDeps["t"]>(cfg: BenchConfig<T>): Promise<BenchOutput> {
  const runs = envNum("BENCH_RUNS", 3);
  const warmupSetting = envNum("BENCH_WARMUP", -1);
  const drainOn = envNum("BENCH_DRAIN", 1) === 1;
  const stream = generateStream({
    customers: envNum("BENCH_CUSTOMERS", 100),
    duplicateRate: envNum("BENCH_DUP_RATE", 0.1),
    seed: envNum("BENCH_SEED", 20261028),
  });
  const warmup = warmupSetting < 0 ? stream.deliveries.length : warmupSetting;
  const stripeLatencyMs = envNum("BENCH_STRIPE_LATENCY_MS", 0);
  const double = await startStripeDouble(stream, stripeLatencyMs);
  const counters = new FunctionCounters();
  counters.collectTransactionMetrics = envNum("BENCH_TX_METRICS", 1) === 1;

  // fetch -> Stripe double. convex-test re-wraps replaced globals, and the Stripe
  // SDK captures globalThis.fetch when each client is constructed.
  vi.stubGlobal("fetch", double.wrapFetch(globalThis.fetch));
  const env = typeof cfg.env === "function" ? cfg.env(double) : (cfg.env ?? {}); // (local)
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);

  // Scheduled functions only run when we advance the (fake) timers, so the
  // response phase never includes them. Date/performance stay real.
  // The drain advances to the next timer ONLY while no instrumented function is
  // executing: the Stripe SDK arms a (fake) 80 s abort timer per request, and
  // vi.runAllTimers() would fire it mid-request (abort + SDK retry).
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });

  let logLines = 0;
  if (process.env.BENCH_SHOW_LOGS !== "1") {
    for (const m of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, m).mockImplementation(() => {
        logLines++;
      });
    }
  }
  const deps = (t: ReplayDeps["t"], adapt?: ((d: Delivery) => Delivery) | void): ReplayDeps => ({
    t,
    adapt: adapt ?? undefined, // (local)
    double,
    counters,
    advanceTimers: drainOn
      ? () => {
          if (counters.running === 0) vi.advanceTimersToNextTimer();
        }
      : undefined,
    logLines: () => logLines,
  });

  const out: BenchOutput["runs"] = [];
  try {
    if (warmup > 0) {
      const t = await cfg.makeT(counters);
      const adapt = cfg.prepare ? await cfg.prepare(t, stream) : undefined; // (local)
      double.reset();
      counters.reset();
      await replayStream(stream, cfg.target, deps(t, adapt), { limit: warmup });
    }
    for (let run = 1; run <= runs; run++) {
      const t = await cfg.makeT(counters);
      const adapt = cfg.prepare ? await cfg.prepare(t, stream) : undefined; // (local)
      double.reset();
      counters.reset();
      const r = await replayStream(stream, cfg.target, deps(t, adapt));
      const finalState = cfg.finalState ? await cfg.finalState(t) : undefined;
      const { results, ...summary } = r;
      out.push({ run, ...summary, finalState, results } as BenchOutput["runs"][number]);
    }
  } finally {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await double.close();
  }

  const dir = resolve(process.env.BENCH_OUT ?? "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(dir, `${cfg.label}-${stamp}.json`);
  const doc = {
    label: cfg.label,
    target: cfg.target.path,
    createdAt: new Date().toISOString(),
    node: process.version,
    stream: {
      digest: stream.digest,
      apiVersion: STREAM_API_VERSION,
      ...stream.options,
      deliveries: stream.deliveries.length,
      duplicates: stream.deliveries.filter((d) => d.duplicate).length,
    },
    settings: { runs, warmup, drain: drainOn, stripeLatencyMs, txMetrics: counters.collectTransactionMetrics, showLogs: process.env.BENCH_SHOW_LOGS === "1" },
    meta: cfg.meta ?? {},
    runs: out,
  };
  const json = JSON.stringify(doc); // compact: ~1.5 MB with per-delivery rows
  writeFileSync(file, json);
  writeFileSync(join(dir, `${cfg.label}-latest.json`), json);
  printSummary(cfg.label, doc.stream, out);
  return { file, runs: out };
}

function printSummary(label: string, s: { digest: string; deliveries: number; duplicates: number }, runs: BenchOutput["runs"]) {
  const lines: string[] = [];
  lines.push(`\n== ${label}: ${s.deliveries} deliveries (${s.duplicates} redeliveries), stream ${s.digest}`);
  lines.push(
    "run | statuses        | stream wall ms | sum resp ms | median | p95    | p99    | max    | stripe calls | mut  | qry | act | docs R/W    | drain ms | drain fn | log lines",
  );
  for (const r of runs) {
    const st = Object.entries(r.overall.statuses).map(([k, v]) => `${k}:${v}`).join(" ");
    const drainFn = r.totals.drain.mutation + r.totals.drain.query + r.totals.drain.action;
    lines.push(
      [
        String(r.run).padEnd(3),
        st.padEnd(15),
        r.streamWallMs.toFixed(1).padStart(14),
        r.sumResponseMs.toFixed(1).padStart(11),
        r.overall.ms.median.toFixed(3).padStart(6),
        r.overall.ms.p95.toFixed(3).padStart(6),
        r.overall.ms.p99.toFixed(3).padStart(6),
        r.overall.ms.max.toFixed(1).padStart(6),
        String(r.totals.stripeCalls).padStart(12),
        String(r.totals.mutation).padStart(4),
        String(r.totals.query).padStart(3),
        String(r.totals.action).padStart(3),
        `${r.totals.documentsRead}/${r.totals.documentsWritten}`.padStart(11),
        r.sumDrainMs.toFixed(1).padStart(8),
        String(drainFn).padStart(8),
        String(r.totals.logLines).padStart(9),
      ].join(" | "),
    );
  }
  lines.push("\nper step (median ms per run | mean Stripe calls | mean mutations | mean docs written):");
  const steps = Object.keys(runs[0]?.byStep ?? {});
  for (const k of steps) {
    const meds = runs.map((r) => r.byStep[k]!.ms.median.toFixed(3)).join(" / ");
    const g = runs[0]!.byStep[k]!;
    lines.push(`  ${k.padEnd(34)} n=${String(g.count).padStart(3)}  ${meds.padEnd(26)} | ${g.stripeCalls} | ${g.mutations} | ${g.documentsWritten}`);
  }
  const fd = runs.map((r) => `${r.firstVsDuplicate.first.ms.median.toFixed(3)}/${r.firstVsDuplicate.duplicate.ms.median.toFixed(3)}`).join("  ");
  lines.push(`first/duplicate median ms per run: ${fd}`);
  if (runs[0]?.finalState) lines.push(`final state (run 1): ${JSON.stringify(runs[0].finalState)}`);
  lines.push(`Stripe-Version seen by the double (run 1): ${JSON.stringify(runs[0]?.stripeApiVersionsSeen ?? {})}`);
  process.stdout.write(lines.join("\n") + "\n");
}
