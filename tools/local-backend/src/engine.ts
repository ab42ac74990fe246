/**
 * The function runtime of the local backend: the project's `convex/` modules
 * executed by convex-test (https://docs.convex.dev/testing/convex-test), plus
 * what convex-test leaves to its host:
 *
 * - visibility: convex-test calls internal functions by path, so `resolve`
 *   reads the registered function's `isPublic` / `isInternal` flags and the
 *   servers refuse non-public ones to non-admin callers;
 * - functions of a component instance, for the component's own crons and
 *   admin calls (`/api/function` with `componentPath`):
 *   `resolve(udfPath, componentPath)` looks in that component's modules and
 *   `call` runs the function inside the component (convex-test's untyped
 *   `queryFromPath` / `mutationFromPath` / `actionFromPath`, the calls its
 *   scheduler makes for a component's scheduled functions); other clients
 *   only ever reach the app's;
 * - a commit clock for change detection (`commitTs`, nanoseconds, the same
 *   clock as `ctx.meta.getSnapshotTs()`);
 * - counters of convex-test's transaction lock (`transactionStats`, below);
 * - persistence (`dump` / `load`) and `reset`.
 *
 * convex-test keeps its database in a per-instance object it only exposes
 * inside its own AsyncLocalStorage context. `captureGlobal` reads that object
 * (the `DatabaseFake` and the `TransactionManager`) by observing the one
 * `AsyncLocalStorage.run` call a `t.run` makes. This depends on convex-test
 * 0.0.60's internals (pinned); the contract tests fail loudly if it moves.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { join } from "node:path";
import { convexTest } from "convex-test";
import { makeFunctionReference, type SchemaDefinition, type UserIdentity } from "convex/server";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import { findComponentDirs, installComponentEnvProxy, loadComponentInstances, readAppEnv, type LoadedComponent } from "./components";
import { buildModuleMap, listModuleFiles, modulePathOf, type ModuleMap } from "./modules";

export type FunctionKind = "query" | "mutation" | "action";

export type ResolvedFunction = {
  udfPath: string;
  kind: FunctionKind;
  visibility: "public" | "internal";
  /** `""` for the app's functions, else the component instance (`counter`, `parent/child`) it runs in. */
  componentPath: string;
};

/** convex-test's address of a function: its module path and the component instance ("" = the app). */
type FunctionPath = { componentPath: string; udfPath: string };

/** `"messages"` → `"messages:default"`, `"a/b.js:f"` → `"a/b:f"` (as the client canonicalizes). */
export function canonicalizeUdfPath(udfPath: string): string {
  const pieces = udfPath.split(":");
  let moduleName = pieces.length === 1 ? pieces[0]! : pieces.slice(0, -1).join(":");
  const functionName = pieces.length === 1 ? "default" : pieces[pieces.length - 1]!;
  if (moduleName.endsWith(".js")) moduleName = moduleName.slice(0, -3);
  return `${moduleName}:${functionName}`;
}

type Fn = ((...args: never[]) => unknown) & {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
};

/** The untyped surface of a convex-test accessor, called by string paths. */
type Accessor = {
  query(path: string | ((ctx: never) => Promise<unknown>), args?: Record<string, Value>): Promise<Value>;
  mutation(path: string, args?: Record<string, Value>): Promise<Value>;
  action(path: string, args?: Record<string, Value>): Promise<Value>;
  run<T>(fn: (ctx: RunCtx) => Promise<T>): Promise<T>;
  runInComponent<T>(componentPath: string, fn: (ctx: RunCtx) => Promise<T>): Promise<T>;
  queryFromPath(path: FunctionPath, args: Record<string, Value>): Promise<Value>;
  mutationFromPath(path: FunctionPath, args: Record<string, Value>): Promise<Value>;
  actionFromPath(path: FunctionPath, args: Record<string, Value>): Promise<Value>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  withIdentity(identity: Partial<UserIdentity>): Accessor;
};

type RunCtx = {
  scheduler: {
    runAt(ts: number, fn: ReturnType<typeof makeFunctionReference>, args: Record<string, Value>): Promise<string>;
    cancel(id: string): Promise<void>;
  };
};

type DatabaseFake = {
  _documents: Record<string, Record<string, Value>>;
  _storage: Record<string, Blob>;
  _nextDocId: number;
  _lastCreationTime: number;
};

/**
 * convex-test's `TransactionManager`: one lock for every top-level query and
 * mutation (`begin(false)` waits while `_waitOnCurrentFunction` is set),
 * released by `_endTransaction(false)` from `commit` / `rollback`. Nested
 * calls (`isNested`, a mutation's `ctx.runMutation`) run under their
 * parent's lock.
 */
type TransactionManager = {
  _lastCommitTs: bigint;
  _waitOnCurrentFunction: Promise<void> | null;
  _markTransactionDone: (() => void) | null;
  begin(isNested: boolean, transactionLimits?: unknown): Promise<void>;
  _endTransaction(isNested: boolean): void;
};

type ConvexGlobal = {
  components: Record<string, { db: DatabaseFake }>;
  transactionManager: TransactionManager;
};

/**
 * How the local backend's transactions met, since it started (kept across
 * `reset` / `load`). convex-test runs one top-level query or mutation at a
 * time: a transaction that arrives while another runs waits for the lock,
 * then runs alone. So there is no optimistic concurrency control and nothing
 * to retry: a deployment would run the two at once and retry the one whose
 * reads the other wrote (https://docs.convex.dev/database/advanced/occ);
 * here the second simply runs after the first, which gives the same result
 * a successful retry would. `waited` counts those would-be conflicts (an
 * upper bound: only transactions touching the same documents would
 * conflict on a deployment).
 */
export type TransactionStats = {
  /** Top-level queries and mutations begun (scheduled functions, crons and actions' `runQuery`/`runMutation` included). */
  started: number;
  /** Of those, the ones that found another transaction running and waited for the lock. */
  waited: number;
  /** The most transactions waiting for the lock at one moment. */
  maxWaiting: number;
  /** The most top-level transactions running at one moment: 1 as long as convex-test serialises them. */
  maxRunning: number;
  /** Transactions running now (0 or 1). */
  running: number;
};

/** One component's committed documents and files. */
type PersistedDb = {
  nextDocId: number;
  lastCreationTime: number;
  documents: JSONValue[];
  storage: Record<string, string>;
};

/**
 * What `--persist` writes: the committed documents of the app (top level)
 * and, when the app installs components, of each component by its path.
 */
export type PersistedState = PersistedDb & {
  format: "local-convex-state/1";
  savedAt: string;
  lastCommitTs: string;
  components?: Record<string, PersistedDb>;
};

function isConvexGlobal(store: unknown): store is ConvexGlobal {
  return typeof store === "object" && store !== null && "components" in store && "transactionManager" in store;
}

function captureGlobal(t: Accessor): ConvexGlobal {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with `.call(this, …)` below
  const original = AsyncLocalStorage.prototype.run;
  let captured: ConvexGlobal | undefined;
  // convex-test wraps each accessor call in `convexGlobalStorage.run(global, …)`
  // synchronously, so the hook only needs to live for this one call.
  AsyncLocalStorage.prototype.run = function <R>(this: AsyncLocalStorage<unknown>, store: unknown, cb: (...a: unknown[]) => R, ...rest: unknown[]): R {
    if (captured === undefined && isConvexGlobal(store)) captured = store;
    return original.call(this, store, cb, ...rest) as R;
  } as typeof original;
  let pending: Promise<unknown>;
  try {
    pending = t.run(() => Promise.resolve(null));
  } finally {
    AsyncLocalStorage.prototype.run = original;
  }
  pending.catch(() => undefined);
  const tm = captured?.transactionManager;
  if (
    !captured ||
    !captured.components[""] ||
    typeof tm?._lastCommitTs !== "bigint" ||
    typeof tm.begin !== "function" ||
    typeof tm._endTransaction !== "function" ||
    !("_waitOnCurrentFunction" in tm)
  ) {
    throw new Error("convex-test internals changed: cannot reach its database (pinned convex-test 0.0.60 expected)");
  }
  return captured;
}

export type EngineOptions = {
  /** Absolute path of the Convex functions directory. */
  convexDir: string;
};

export class Engine {
  readonly convexDir: string;
  private readonly modules: ModuleMap;
  private readonly componentDirs: string[];
  private components: LoadedComponent[] = [];
  private testModules: ModuleMap;
  private readonly modulesByPath = new Map<string, () => Promise<Record<string, unknown>>>();
  /** Per component instance: module path → loader (its wrapped modules). */
  private readonly componentModulesByPath = new Map<string, Map<string, () => Promise<Record<string, unknown>>>>();
  private schema: SchemaDefinition<never, boolean> | undefined;
  private t!: Accessor;
  private global!: ConvexGlobal;
  private readonly resolved = new Map<string, ResolvedFunction | null>();
  private readonly txStats: TransactionStats = { started: 0, waited: 0, maxWaiting: 0, maxRunning: 0, running: 0 };
  private waiting = 0;

  constructor(options: EngineOptions) {
    this.convexDir = options.convexDir;
    // Component directories hold the components' modules, not the app's.
    this.componentDirs = findComponentDirs(this.convexDir);
    this.modules = buildModuleMap(this.convexDir, this.componentDirs);
    this.testModules = this.modules;
    for (const file of listModuleFiles(this.convexDir, this.componentDirs)) {
      this.modulesByPath.set(modulePathOf(this.convexDir, file), this.modules[file]!);
    }
  }

  /**
   * Loads the schema and the installed components (./components.ts)
   * and creates an empty database. Throws when declared env is missing or invalid.
   */
  async init(): Promise<void> {
    if (this.moduleFile("convex.config")) {
      // Before any module loads: `_generated/server` captures `process.env`.
      installComponentEnvProxy();
      const loaded = await loadComponentInstances(this.convexDir, this.componentDirs, readAppEnv);
      this.components = loaded.components;
      this.testModules = loaded.appModules(this.modules);
      for (const c of this.components) {
        const byPath = new Map<string, () => Promise<Record<string, unknown>>>();
        for (const [file, load] of Object.entries(c.modules)) byPath.set(modulePathOf(c.dir, file), load);
        this.componentModulesByPath.set(c.componentPath, byPath);
      }
    }
    const schemaLoader = this.modulesByPath.get("schema");
    this.schema = schemaLoader
      ? ((await schemaLoader()).default as SchemaDefinition<never, boolean>)
      : undefined;
    this.fresh();
  }

  private fresh() {
    const t = convexTest({ schema: this.schema, modules: this.testModules, transactionLimits: true });
    for (const c of this.components) t.registerComponent(c.componentPath, c.schema as never, c.modules);
    this.t = t as unknown as Accessor;
    this.global = captureGlobal(this.t);
    this.countTransactions(this.global.transactionManager);
  }

  /**
   * Wraps the lock's two ends on this instance's transaction manager to keep
   * `transactionStats`; behaviour is unchanged.
   */
  private countTransactions(tm: TransactionManager) {
    const stats = this.txStats;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with `.call(tm, …)`
    const begin = tm.begin;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with `.call(tm, …)`
    const end = tm._endTransaction;
    /** Transactions of this manager begun through the wrapper and not ended yet. */
    let counted = 0;
    tm.begin = async (isNested, transactionLimits) => {
      if (isNested) return await begin.call(tm, isNested, transactionLimits);
      stats.started += 1;
      const mustWait = tm._waitOnCurrentFunction !== null;
      if (mustWait) {
        stats.waited += 1;
        this.waiting += 1;
        stats.maxWaiting = Math.max(stats.maxWaiting, this.waiting);
      }
      try {
        await begin.call(tm, isNested, transactionLimits);
      } finally {
        if (mustWait) this.waiting -= 1;
      }
      counted += 1;
      stats.running += 1;
      stats.maxRunning = Math.max(stats.maxRunning, stats.running);
    };
    tm._endTransaction = (isNested) => {
      end.call(tm, isNested);
      // Only ends of transactions begun through the wrapper (`captureGlobal`'s
      // own `t.run` may still be finishing).
      if (!isNested && counted > 0) {
        counted -= 1;
        stats.running -= 1;
      }
    };
  }

  /**
   * Counters of the transaction lock since the backend started (see
   * `TransactionStats`): how often concurrent callers queued behind each
   * other. There is no OCC retry counter because nothing is ever retried.
   */
  transactionStats(): TransactionStats {
    return { ...this.txStats };
  }

  /** Paths of the installed component instances (`counter`, `parent/child`). */
  componentPaths(): string[] {
    return this.components.map((c) => c.componentPath);
  }

  private modulesOf(componentPath: string): Map<string, () => Promise<Record<string, unknown>>> | undefined {
    return componentPath === "" ? this.modulesByPath : this.componentModulesByPath.get(componentPath);
  }

  /**
   * Whether a module file exists (e.g. `"http"`, `"crons"`) in the app or,
   * with `componentPath`, in that component instance's directory.
   */
  hasModule(modulePath: string, componentPath = ""): boolean {
    return this.modulesOf(componentPath)?.has(modulePath) ?? false;
  }

  /** Imports a module by its Convex path, in the app or in a component instance; null when absent. */
  async loadModule(modulePath: string, componentPath = ""): Promise<Record<string, unknown> | null> {
    const loader = this.modulesOf(componentPath)?.get(modulePath);
    return loader ? await loader() : null;
  }

  /** Absolute path of a module file, e.g. `auth.config`. */
  moduleFile(modulePath: string): string | null {
    for (const file of Object.keys(this.modules)) {
      if (modulePathOf(this.convexDir, file) === modulePath) return file;
    }
    return null;
  }

  /**
   * The registered function at `udfPath` in the app or, with `componentPath`,
   * in that component instance (module paths relative to its directory); null
   * when there is none. The servers resolve in a component only for an admin.
   */
  async resolve(udfPath: string, componentPath = ""): Promise<ResolvedFunction | null> {
    const canonical = canonicalizeUdfPath(udfPath);
    const key = `${componentPath};${canonical}`;
    if (this.resolved.has(key)) return this.resolved.get(key)!;
    const [modulePath, exportName] = [canonical.slice(0, canonical.lastIndexOf(":")), canonical.slice(canonical.lastIndexOf(":") + 1)];
    let result: ResolvedFunction | null = null;
    if (!modulePath.startsWith("_") && !modulePath.includes("/_")) {
      const mod = await this.loadModule(modulePath, componentPath);
      const fn = mod?.[exportName] as Fn | undefined;
      if (fn && (typeof fn === "function" || typeof fn === "object")) {
        const kind: FunctionKind | null = fn.isQuery ? "query" : fn.isMutation ? "mutation" : fn.isAction ? "action" : null;
        const visibility = fn.isPublic ? "public" : fn.isInternal ? "internal" : null;
        if (kind && visibility) result = { udfPath: canonical, kind, visibility, componentPath };
      }
    }
    this.resolved.set(key, result);
    return result;
  }

  private accessor(identity: UserIdentity | null): Accessor {
    return identity ? this.t.withIdentity(identity) : this.t;
  }

  /**
   * Runs a resolved function as `identity` (null: signed out), inside its
   * component when it has one. Throws what the function throws.
   */
  async call(fn: ResolvedFunction, args: Record<string, Value>, identity: UserIdentity | null): Promise<Value> {
    const accessor = this.accessor(identity);
    if (fn.componentPath !== "") {
      const path: FunctionPath = { componentPath: fn.componentPath, udfPath: fn.udfPath };
      switch (fn.kind) {
        case "query":
          return await accessor.queryFromPath(path, args);
        case "mutation":
          return await accessor.mutationFromPath(path, args);
        case "action":
          return await accessor.actionFromPath(path, args);
      }
    }
    switch (fn.kind) {
      case "query":
        return await accessor.query(fn.udfPath, args);
      case "mutation":
        return await accessor.mutation(fn.udfPath, args);
      case "action":
        return await accessor.action(fn.udfPath, args);
    }
  }

  /** Runs an HTTP action from `convex/http.ts` (404 when no route matches). */
  async fetch(pathAndQuery: string, init: RequestInit, identity: UserIdentity | null): Promise<Response> {
    if (!this.hasModule("http")) return new Response(`No HttpAction routed for ${pathAndQuery}`, { status: 404 });
    return await this.accessor(identity).fetch(pathAndQuery, init);
  }

  /**
   * The timestamp of the latest commit (ns since the epoch; 0 for an empty
   * database). Every mutation, including those run by actions, HTTP actions,
   * scheduled functions and crons, advances it, so comparing it is a cheap
   * "something may have changed" signal.
   */
  commitTs(): bigint {
    return this.global.transactionManager._lastCommitTs;
  }

  /** The same clock read through the public API, `ctx.meta.getSnapshotTs()`. */
  async snapshotTs(): Promise<bigint> {
    const ts = await this.t.query((ctx: never) =>
      Promise.resolve((ctx as { meta: { getSnapshotTs(): bigint } }).meta.getSnapshotTs()),
    );
    return ts as bigint;
  }

  /** Drops every document and starts from an empty database. */
  reset(): void {
    const previousTs = this.commitTs();
    this.fresh();
    // Keep the clock monotonic so clients never see time go backwards.
    this.global.transactionManager._lastCommitTs = previousTs;
  }

  private db(componentPath = ""): DatabaseFake {
    return this.global.components[componentPath]!.db;
  }

  private async dumpDb(componentPath: string): Promise<PersistedDb> {
    const db = this.db(componentPath);
    const storage: Record<string, string> = {};
    for (const [id, blob] of Object.entries(db._storage)) {
      storage[id] = Buffer.from(await blob.arrayBuffer()).toString("base64");
    }
    return {
      nextDocId: db._nextDocId,
      lastCreationTime: db._lastCreationTime,
      documents: Object.values(db._documents).map((doc) => convexToJson(doc)),
      storage,
    };
  }

  /** The committed state, ready for `JSON.stringify`. */
  async dump(): Promise<PersistedState> {
    const state: PersistedState = {
      format: "local-convex-state/1",
      savedAt: new Date().toISOString(),
      lastCommitTs: this.commitTs().toString(),
      ...(await this.dumpDb("")),
    };
    if (this.components.length > 0) {
      state.components = {};
      for (const c of this.components) state.components[c.componentPath] = await this.dumpDb(c.componentPath);
    }
    return state;
  }

  /** Restores one component's documents; returns its pending scheduled functions (running ones are marked failed). */
  private loadDb(componentPath: string, saved: PersistedDb): { id: string; name: string; args: Record<string, Value>; at: number }[] {
    const db = this.db(componentPath);
    db._documents = {};
    for (const json of saved.documents) {
      const doc = jsonToConvex(json) as Record<string, Value>;
      db._documents[doc._id as string] = doc;
    }
    db._storage = {};
    for (const [id, b64] of Object.entries(saved.storage)) {
      db._storage[id] = new Blob([Buffer.from(b64, "base64")]);
    }
    db._nextDocId = saved.nextDocId;
    db._lastCreationTime = saved.lastCreationTime;
    const pending: { id: string; name: string; args: Record<string, Value>; at: number }[] = [];
    for (const doc of Object.values(db._documents)) {
      if (!(doc._id as string).endsWith("_scheduled_functions")) continue;
      const kind = (doc.state as { kind?: string } | undefined)?.kind;
      if (kind === "pending") {
        pending.push({
          id: doc._id as string,
          name: doc.name as string,
          args: ((doc.args as Value[])[0] ?? {}) as Record<string, Value>,
          at: doc.scheduledTime as number,
        });
      } else if (kind === "inProgress") {
        db._documents[doc._id as string] = { ...doc, state: { kind: "failed" }, completedTime: Date.now() };
      }
    }
    return pending;
  }

  /**
   * Replaces the database with a dumped state. Scheduled functions that were
   * pending are scheduled again for their original time (under new job ids:
   * convex-test's timers died with the old process); ones that were running
   * are marked failed, as a crashed deployment would leave them.
   */
  async load(state: PersistedState): Promise<{ documents: number; rescheduled: number }> {
    if (state.format !== "local-convex-state/1") throw new Error(`unknown state format ${String(state.format)}`);
    this.fresh();
    this.global.transactionManager._lastCommitTs = BigInt(state.lastCommitTs);
    let documents = state.documents.length;
    let rescheduled = 0;
    const dbs: [string, PersistedDb | undefined][] = [["", state], ...this.components.map((c): [string, PersistedDb | undefined] => [c.componentPath, state.components?.[c.componentPath]])];
    for (const [componentPath, saved] of dbs) {
      if (!saved) continue;
      if (componentPath !== "") documents += saved.documents.length;
      const pending = this.loadDb(componentPath, saved);
      if (pending.length === 0) continue;
      rescheduled += pending.length;
      await this.t.runInComponent(componentPath, async (ctx) => {
        for (const job of pending) {
          await ctx.scheduler.cancel(job.id);
          await ctx.scheduler.runAt(Math.max(job.at, Date.now()), makeFunctionReference(job.name), job.args);
        }
      });
    }
    return { documents, rescheduled };
  }
}

/** Default functions directory: `convex/` under the working directory (the project root under `npm run`). */
export function defaultConvexDir(): string {
  return join(process.cwd(), "convex");
}
