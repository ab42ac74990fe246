// Copied from ../shared/bench/anchor-convex-stripe/bench/instrument.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local change: typed for this repo's lint (no `any`); behaviour unchanged.
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
type HandlerCtx = { meta: { getTransactionMetrics(): Promise<TransactionMetrics> } };
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
      databaseQueries: 0, transactions: 0, errors: 0,
    };
  }

  reset() {
    this.s = FunctionCounters.zero();
  }

  snapshot(): CounterSnapshot {
    return { ...this.s, byFunction: { ...this.s.byFunction } };
  }

  static diff(after: CounterSnapshot, before: CounterSnapshot): CounterSnapshot {
    const byFunction: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.byFunction)) {
      const d = v - (before.byFunction[k] ?? 0);
      if (d) byFunction[k] = d;
    }
    const out = { ...after, byFunction };
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
      return await txFrame.run(frame, () => orig(ctx, args));
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
