// Copied from ../shared/bench/anchor-convex-stripe/bench/replay.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local change, marked "(local)": an optional `adapt` rewrites each delivery
// just before it is signed (outside the timed window); `writesByTable` on each
// run (documents written by table, from instrument.ts). `stats` reads sorted
// entries with `!` for this repo's noUncheckedIndexedAccess.
// Target-agnostic replay: POSTs every delivery of a Stream to a convex-test
// instance's HTTP route, one at a time, and records per-delivery cost.
//
// Per delivery (the "response" phase = t.fetch start -> Response resolved):
//   status, ms, Stripe API calls that reached the double, Convex functions run
//   (queries/mutations/actions, by name), documents/bytes read & written.
// Then (the "drain" phase, only if advanceTimers is given) scheduled functions are
// run to completion with t.finishAllScheduledFunctions(advanceTimers) and their
// cost is recorded separately. Signing, body reading and bookkeeping are outside
// both timed windows but inside the stream wall time.
import type { Stream, Target, Delivery } from "./stream";
import { signDelivery } from "./stream";
import type { StripeDouble } from "./stripeDouble";
import { FunctionCounters, type CounterSnapshot } from "./instrument";

export interface ReplayDeps {
  /** a convexTest() instance (with components registered) */
  t: {
    fetch(path: string, init?: RequestInit): Promise<Response>;
    finishAllScheduledFunctions(advance: () => void, maxIterations?: number): Promise<void>;
  };
  double: StripeDouble;
  counters: FunctionCounters;
  /** e.g. vi.runAllTimers (with vi.useFakeTimers on); omit to skip the drain phase */
  advanceTimers?: () => void;
  /** (local) rewrites a delivery before it is signed, e.g. to name seeded accounts */
  adapt?: (d: Delivery) => Delivery;
  /** optional: count console lines during the pass */
  logLines?: () => number;
}

export interface PhaseCost {
  stripeCalls: number;
  stripeByRoute: Record<string, number>;
  stripeUnhandled: number;
  query: number;
  mutation: number;
  action: number;
  documentsRead: number;
  documentsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  databaseQueries: number;
  fnErrors: number;
  byFunction: Record<string, number>;
}

export interface DeliveryResult {
  seq: number;
  eventId: string;
  type: string;
  step: string;
  customer: number;
  duplicate: boolean;
  status: number;
  /** t.fetch start -> Response resolved */
  ms: number;
  response: PhaseCost;
  /** time to run everything the delivery scheduled (0 if nothing / no drain) */
  drainMs: number;
  drain: PhaseCost;
  /** set if finishAllScheduledFunctions threw (e.g. self-rescheduling loop) */
  drainError?: string;
  logLines: number;
  bodyHead?: string;
}

export interface Stats {
  n: number;
  mean: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
  sum: number;
}

export interface GroupSummary {
  count: number;
  statuses: Record<string, number>;
  ms: Stats;
  drainMs: Stats;
  /** means per delivery */
  stripeCalls: number;
  mutations: number;
  queries: number;
  actions: number;
  documentsRead: number;
  documentsWritten: number;
  drainMutations: number;
  drainActions: number;
}

export interface RunResult {
  target: string;
  streamDigest: string;
  deliveries: number;
  /** loop start -> loop end, including signing, drains and bookkeeping */
  streamWallMs: number;
  /** sum of per-delivery response times */
  sumResponseMs: number;
  sumDrainMs: number;
  overall: GroupSummary;
  totals: PhaseCost & { drain: PhaseCost; logLines: number };
  /** (local) documents written by table over the run, response and drain together */
  writesByTable: Record<string, number>;
  byType: Record<string, GroupSummary>;
  byStep: Record<string, GroupSummary>;
  firstVsDuplicate: { first: GroupSummary; duplicate: GroupSummary };
  stripeApiVersionsSeen: Record<string, number>;
  results: DeliveryResult[];
}

export function stats(xs: number[]): Stats {
  if (xs.length === 0) return { n: 0, mean: 0, median: 0, p95: 0, p99: 0, max: 0, sum: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const sum = s.reduce((a, b) => a + b, 0);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { n: s.length, mean: r(sum / s.length), median: r(rank(0.5)), p95: r(rank(0.95)), p99: r(rank(0.99)), max: r(s[s.length - 1]!), sum: r(sum) };
}

function phase(
  fnAfter: CounterSnapshot,
  fnBefore: CounterSnapshot,
  apiAfter: ReturnType<StripeDouble["counts"]>,
  apiBefore: ReturnType<StripeDouble["counts"]>,
): PhaseCost {
  const d = FunctionCounters.diff(fnAfter, fnBefore);
  const byRoute: Record<string, number> = {};
  for (const [k, v] of Object.entries(apiAfter.byRoute)) {
    const x = v - (apiBefore.byRoute[k] ?? 0);
    if (x) byRoute[k] = x;
  }
  return {
    stripeCalls: apiAfter.total - apiBefore.total,
    stripeByRoute: byRoute,
    stripeUnhandled: apiAfter.unhandled - apiBefore.unhandled,
    query: d.query,
    mutation: d.mutation,
    action: d.action,
    documentsRead: d.documentsRead,
    documentsWritten: d.documentsWritten,
    bytesRead: d.bytesRead,
    bytesWritten: d.bytesWritten,
    databaseQueries: d.databaseQueries,
    fnErrors: d.errors,
    byFunction: d.byFunction,
  };
}

function addPhase(acc: PhaseCost, p: PhaseCost) {
  for (const k of ["stripeCalls", "stripeUnhandled", "query", "mutation", "action", "documentsRead", "documentsWritten", "bytesRead", "bytesWritten", "databaseQueries", "fnErrors"] as const) {
    acc[k] += p[k];
  }
  for (const [k, v] of Object.entries(p.stripeByRoute)) acc.stripeByRoute[k] = (acc.stripeByRoute[k] ?? 0) + v;
  for (const [k, v] of Object.entries(p.byFunction)) acc.byFunction[k] = (acc.byFunction[k] ?? 0) + v;
}

const zeroPhase = (): PhaseCost => ({
  stripeCalls: 0, stripeByRoute: {}, stripeUnhandled: 0, query: 0, mutation: 0, action: 0,
  documentsRead: 0, documentsWritten: 0, bytesRead: 0, bytesWritten: 0, databaseQueries: 0,
  fnErrors: 0, byFunction: {},
});

export function summarize(rs: DeliveryResult[]): GroupSummary {
  const statuses: Record<string, number> = {};
  for (const r of rs) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const mean = (f: (r: DeliveryResult) => number) =>
    rs.length ? Math.round((rs.reduce((a, r) => a + f(r), 0) / rs.length) * 1000) / 1000 : 0;
  return {
    count: rs.length,
    statuses,
    ms: stats(rs.map((r) => r.ms)),
    drainMs: stats(rs.map((r) => r.drainMs)),
    stripeCalls: mean((r) => r.response.stripeCalls),
    mutations: mean((r) => r.response.mutation),
    queries: mean((r) => r.response.query),
    actions: mean((r) => r.response.action),
    documentsRead: mean((r) => r.response.documentsRead),
    documentsWritten: mean((r) => r.response.documentsWritten),
    drainMutations: mean((r) => r.drain.mutation),
    drainActions: mean((r) => r.drain.action),
  };
}

function groupBy(rs: DeliveryResult[], key: (r: DeliveryResult) => string) {
  const m = new Map<string, DeliveryResult[]>();
  for (const r of rs) {
    const k = key(r);
    m.set(k, [...(m.get(k) ?? []), r]);
  }
  return Object.fromEntries([...m].map(([k, v]) => [k, summarize(v)]));
}

export interface ReplayOptions {
  /** only the first N deliveries (warm-up) */
  limit?: number;
  /** keep the first N chars of each non-2xx response body */
  keepBodyHead?: number;
}

export async function replayStream(
  stream: Stream,
  target: Target,
  deps: ReplayDeps,
  opts: ReplayOptions = {},
): Promise<RunResult> {
  const { t, double, counters, advanceTimers } = deps;
  const list: Delivery[] = stream.deliveries.slice(0, opts.limit ?? stream.deliveries.length);
  const results: DeliveryResult[] = [];
  const logLines = deps.logLines ?? (() => 0);
  const wall0 = performance.now();
  const run0 = counters.snapshot();
  for (const d of list) {
    double.setClock(d.created);
    const { path, init } = await signDelivery(deps.adapt ? deps.adapt(d) : d, target); // (local) adapt
    const f0 = counters.snapshot();
    const a0 = double.counts();
    const l0 = logLines();
    const t0 = performance.now();
    const res = await t.fetch(path, init);
    const t1 = performance.now();
    const f1 = counters.snapshot();
    const a1 = double.counts();
    const body = await res.text();
    let drainMs = 0;
    let drain = zeroPhase();
    let drainError: string | undefined;
    if (advanceTimers) {
      const d0 = performance.now();
      try {
        await t.finishAllScheduledFunctions(advanceTimers, 10_000);
      } catch (e) {
        drainError = String((e as Error)?.message ?? e).slice(0, 200);
      }
      drainMs = performance.now() - d0;
      drain = phase(counters.snapshot(), f1, double.counts(), a1);
    }
    results.push({
      seq: d.seq,
      eventId: d.eventId,
      type: d.type,
      step: d.step,
      customer: d.customer,
      duplicate: d.duplicate,
      status: res.status,
      ms: Math.round((t1 - t0) * 1000) / 1000,
      response: phase(f1, f0, a1, a0),
      drainMs: Math.round(drainMs * 1000) / 1000,
      drain,
      ...(drainError ? { drainError } : {}),
      logLines: logLines() - l0,
      ...(res.status >= 300 || opts.keepBodyHead ? { bodyHead: body.slice(0, opts.keepBodyHead ?? 200) } : {}),
    });
  }
  const streamWallMs = performance.now() - wall0;
  const { writesByTable } = FunctionCounters.diff(counters.snapshot(), run0);

  const totals = { ...zeroPhase(), drain: zeroPhase(), logLines: 0 };
  for (const r of results) {
    addPhase(totals, r.response);
    addPhase(totals.drain, r.drain);
    totals.logLines += r.logLines;
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    target: target.path,
    streamDigest: stream.digest,
    deliveries: results.length,
    streamWallMs: r3(streamWallMs),
    sumResponseMs: r3(results.reduce((a, r) => a + r.ms, 0)),
    sumDrainMs: r3(results.reduce((a, r) => a + r.drainMs, 0)),
    overall: summarize(results),
    totals,
    writesByTable,
    byType: groupBy(results, (r) => r.type),
    byStep: groupBy(results, (r) => r.step),
    firstVsDuplicate: {
      first: summarize(results.filter((r) => !r.duplicate)),
      duplicate: summarize(results.filter((r) => r.duplicate)),
    },
    stripeApiVersionsSeen: { ...double.apiVersionsSeen },
    results,
  };
}
