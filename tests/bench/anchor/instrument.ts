// Copied from ../shared/bench/anchor-convex-stripe/bench/instrument.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local changes: typed for this repo's lint (no `any`); `writesByTable` counts
// each mutation's `ctx.db` insert / patch / replace / delete calls by table
// (docs/BENCHMARKS.md, "Where the written documents go"). Counts only: no
// extra reads or writes reach the transaction, so its metrics are unchanged.
// Counts Convex function executions under convex-test, for any app or component,
// without touching product code.
//
// convex-test resolves every query/mutation/action it runs (from ctx.runX, from
// t.query/mutation/action, from the scheduler, nested or into components) by
// loading the module through the `modules` map you give it, and then reading the
// registered function's `_handler`. instrumentModules() wraps that map so each
// registered function is a Proxy whose `_handler` counts the call and, for
// top-level (non-nested) queries/mutations, adds ctx.meta.getTransactionMetrics()
// (documents/bytes read & written, index ranges) when the handler finishes.
import { AsyncLocalStorage } from "node:async_hooks";

type ModuleMap = Record<string, () => Promise<unknown>>;
/** What `ctx.meta.getTransactionMetrics()` returns (convex-test), as far as it is read here. */
type TransactionMetrics = Partial<
  Record<"documentsRead" | "documentsWritten" | "bytesRead" | "bytesWritten" | "databaseQueries", { used?: number }>
>;
type Db = Record<string, unknown>;
type HandlerCtx = { meta: { getTransactionMetrics(): Promise<TransactionMetrics> }; db?: Db };
type Handler = (ctx: HandlerCtx, args: unknown) => unknown;
type RegisteredFunction = { _handler: Handler; isQuery?: boolean; isMutation?: boolean; isAction?: boolean };
type Kind = "query" | "mutation" | "action";

export interface CounterSnapshot {
  query: number;
  mutation: number;
  action: number;
  /** "component/module:export" -> calls */
  byFunction: Record<string, number>;
  documentsRead: number;
  documentsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  databaseQueries: number;
  /** top-level query/mutation transactions whose metrics were read */
  transactions: number;
  /** handlers that threw */
  errors: number;
  /** table -> documents written (insert, patch, replace, delete calls), mutations only */
  writesByTable: Record<string, number>;
}

export class FunctionCounters {
  private s: CounterSnapshot = FunctionCounters.zero();
  /** set false to skip the per-transaction getTransactionMetrics() syscall */
  collectTransactionMetrics = true;
  /** instrumented handlers currently executing (used to gate fake-timer advances) */
  running = 0;

  static zero(): CounterSnapshot {
    return {
      query: 0, mutation: 0, action: 0, byFunction: {},
      documentsRead: 0, documentsWritten: 0, bytesRead: 0, bytesWritten: 0,
      databaseQueries: 0, transactions: 0, errors: 0, writesByTable: {},
    };
  }

  reset() {
    this.s = FunctionCounters.zero();
  }

  snapshot(): CounterSnapshot {
    return { ...this.s, byFunction: { ...this.s.byFunction }, writesByTable: { ...this.s.writesByTable } };
  }

  static diff(after: CounterSnapshot, before: CounterSnapshot): CounterSnapshot {
    const byFunction: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.byFunction)) {
      const d = v - (before.byFunction[k] ?? 0);
      if (d) byFunction[k] = d;
    }
    const writesByTable: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.writesByTable)) {
      const d = v - (before.writesByTable[k] ?? 0);
      if (d) writesByTable[k] = d;
    }
    const out = { ...after, byFunction, writesByTable };
    for (const k of [
      "query", "mutation", "action", "documentsRead", "documentsWritten",
      "bytesRead", "bytesWritten", "databaseQueries", "transactions", "errors",
    ] as const) {
      out[k] = after[k] - before[k];
    }
    return out;
  }

  count(kind: Kind, name: string) {
    this.s[kind]++;
    this.s.byFunction[name] = (this.s.byFunction[name] ?? 0) + 1;
  }

  error() {
    this.s.errors++;
  }

  wrote(table: string) {
    this.s.writesByTable[table] = (this.s.writesByTable[table] ?? 0) + 1;
  }

  addMetrics(m: TransactionMetrics | undefined) {
    this.s.transactions++;
    this.s.documentsRead += m?.documentsRead?.used ?? 0;
    this.s.documentsWritten += m?.documentsWritten?.used ?? 0;
    this.s.bytesRead += m?.bytesRead?.used ?? 0;
    this.s.bytesWritten += m?.bytesWritten?.used ?? 0;
    this.s.databaseQueries += m?.databaseQueries?.used ?? 0;
  }
}

// Marks "inside a query/mutation handler" so nested ctx.runQuery/runMutation calls
// are counted but their (shared) transaction metrics are not read twice. The flag
// is cleared when the handler returns, so functions scheduled from it (which
// inherit the async context through setTimeout) count as top-level.
const txFrame = new AsyncLocalStorage<{ active: boolean }>();

const WRITES = new Set(["insert", "patch", "replace", "delete"]);

/**
 * `ctx` with its `db` counting writes by table. This repo names the table in
 * every write (`ctx.db.patch("table", id, value)`); a write by id alone counts
 * under "(by id)".
 */
function countingCtx(ctx: HandlerCtx, counters: FunctionCounters): HandlerCtx {
  const db = ctx.db;
  if (db === undefined) return ctx;
  const counting = new Proxy(db, {
    get(target, prop): unknown {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (typeof prop !== "string" || !WRITES.has(prop)) return bound;
      return (...args: unknown[]) => {
        const named = prop === "insert" || args.length === (prop === "delete" ? 2 : 3);
        counters.wrote(named && typeof args[0] === "string" ? args[0] : "(by id)");
        return bound(...args);
      };
    },
  });
  return new Proxy(ctx, {
    get(target, prop): unknown {
      if (prop === "db") return counting;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function wrapHandler(kind: Kind, name: string, orig: Handler, counters: FunctionCounters): Handler {
  if (kind === "action") {
    return async (ctx, args) => {
      counters.count(kind, name);
      counters.running++;
      try {
        return await orig(ctx, args);
      } catch (e) {
        counters.error();
        throw e;
      } finally {
        counters.running--;
      }
    };
  }
  return async (ctx, args) => {
    counters.count(kind, name);
    counters.running++;
    const parent = txFrame.getStore();
    const nested = parent !== undefined && parent.active;
    const frame = { active: true };
    try {
      return await txFrame.run(frame, () => orig(kind === "mutation" ? countingCtx(ctx, counters) : ctx, args));
    } catch (e) {
      counters.error();
      throw e;
    } finally {
      frame.active = false;
      if (!nested && counters.collectTransactionMetrics) {
        try {
          counters.addMetrics(await ctx.meta.getTransactionMetrics());
        } catch {
          // not available (e.g. older convex); counts still valid
        }
      }
      counters.running--;
    }
  };
}

function kindOf(value: unknown): Kind | undefined {
  if (value === null || (typeof value !== "function" && typeof value !== "object")) return undefined;
  const fn = value as Partial<RegisteredFunction>;
  if (!("_handler" in fn)) return undefined;
  if (fn.isQuery) return "query";
  if (fn.isMutation) return "mutation";
  if (fn.isAction) return "action";
  return undefined;
}

/**
 * Wraps a convex-test modules map (the object from import.meta.glob). Pass the
 * result to convexTest({ modules }) or t.registerComponent(name, schema, modules).
 * `label` prefixes function names ("app", "stripe", ...).
 */
export function instrumentModules(modules: ModuleMap, label: string, counters: FunctionCounters): ModuleMap {
  const genKey = Object.keys(modules).find((k) => k.includes("_generated"));
  const root = genKey ? (genKey.split("_generated", 2)[0] ?? "") : "";
  const out: ModuleMap = {};
  for (const [key, load] of Object.entries(modules)) {
    const modPath = key.slice(root.length).replace(/\.[^.]+$/, "");
    let cached: Promise<unknown> | undefined;
    out[key] = () =>
      (cached ??= load().then((mod) => {
        const copy: Record<string, unknown> = {};
        for (const [exp, val] of Object.entries(mod as Record<string, unknown>)) {
          const kind = kindOf(val);
          if (!kind) {
            copy[exp] = val;
            continue;
          }
          const wrapped = wrapHandler(kind, `${label}/${modPath}:${exp}`, (val as RegisteredFunction)._handler, counters);
          copy[exp] = new Proxy(val as object, {
            get(target, prop): unknown {
              if (prop === "_handler") return wrapped;
              return Reflect.get(target, prop, target) as unknown;
            },
          });
        }
        return copy;
      }));
  }
  return out;
}
