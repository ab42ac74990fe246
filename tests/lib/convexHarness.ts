/**
 * convex-test outside vitest: the shared harness of `tests/lifecycle` and
 * `tests/bench` (`npm run lifecycle`, `npm run bench`).
 *
 * - `makeHarness()` builds an in-memory deployment from the real modules under
 *   `convex/` (including `_generated`, which convex-test uses to find the
 *   modules root) with Convex's transaction limits enforced: the app, with
 *   the billing component (`convex/billing/`) registered as `billing`.
 * - `drainScheduled()` runs scheduled functions to completion on real timers.
 * - `measure()` runs one function inside `t.run` (in the app) and returns the
 *   documents and bytes it read and wrote, from
 *   `ctx.meta.getTransactionMetrics()`
 *   (https://docs.convex.dev/production/state/limits#transactions), the
 *   components it calls included; `measureInBilling()` does the same inside
 *   the billing component, for its internal functions.
 * - `enableScaleIndexes()` makes convex-test's in-memory database fast enough
 *   for 100,000-account tables without changing what it reads or counts.
 * - `withoutSchemaValidation()` skips document validation while seeding.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { convexTest } from "convex-test";
import type { GenericMutationCtx } from "convex/server";
import { jsonToConvex, type JSONValue } from "convex/values";
import type { DataModel } from "../../convex/_generated/dataModel";
import schema from "../../convex/schema";
import { buildModuleMap } from "@offline/local-backend";
import { registerBilling, runInBilling, type BillingMutationCtx } from "./billingComponent";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CONVEX_DIR = join(ROOT, "convex");
const BILLING_DIR = join(CONVEX_DIR, "billing");

export type Harness = ReturnType<typeof makeHarness>;

/**
 * A fresh in-memory deployment of this project's functions, limits on: the
 * app's modules (`convex/` without `billing/`) and the billing component's
 * (`convex/billing/`, its own `_generated` included).
 */
export function makeHarness() {
  const t = convexTest({ schema, modules: buildModuleMap(CONVEX_DIR, [BILLING_DIR]), transactionLimits: true });
  registerBilling(t, buildModuleMap(BILLING_DIR));
  return t;
}

export type MutationCtx = GenericMutationCtx<DataModel>;

/**
 * Runs the scheduled functions that are due (and whatever they schedule) to
 * completion. convex-test schedules on real `setTimeout`, so outside vitest's
 * fake timers only functions whose time has come can run: `runAfter(0)` work
 * drains here, a retry scheduled minutes ahead does not (callers check the
 * event queue for what is left).
 */
export async function drainScheduled(t: Harness, rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    // Real timers: nothing to advance, convex-test yields through real turns.
    await t.finishAllScheduledFunctions(() => {}, 1000);
    await t.finishInProgressScheduledFunctions();
    await new Promise((r) => setTimeout(r, 5));
  }
}

export type Metrics = {
  documentsRead: number;
  documentsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  databaseQueries: number;
};

type Measured<T, A> = { metrics: Metrics; result: T; after: A | undefined };
type MetricsCtx = { meta: { getTransactionMetrics(): Promise<Record<keyof Metrics, { used: number }>> } };

/** `fn`'s figures, as the difference of the transaction metrics around it; then `after`. */
async function measureIn<C extends MetricsCtx, T, A>(
  ctx: C,
  fn: (ctx: C) => Promise<T>,
  after?: (ctx: C, result: T) => Promise<A>,
): Promise<Measured<T, A>> {
  const before = await ctx.meta.getTransactionMetrics();
  const result = await fn(ctx);
  const end = await ctx.meta.getTransactionMetrics();
  const diff = (k: keyof Metrics) => end[k].used - before[k].used;
  const metrics: Metrics = {
    documentsRead: diff("documentsRead"),
    documentsWritten: diff("documentsWritten"),
    bytesRead: diff("bytesRead"),
    bytesWritten: diff("bytesWritten"),
    databaseQueries: diff("databaseQueries"),
  };
  return { metrics, result, after: after ? await after(ctx, result) : undefined };
}

/**
 * What `fn` read and wrote, as the difference of the transaction metrics
 * before and after it, inside one `t.run` transaction in the app. `fn` is
 * expected to call one registered function through `ctx.runQuery` /
 * `ctx.runMutation` (an app function, or a public component function through
 * `components.billing`, as the app calls it), so the figures are that
 * function's, argument validation and the component calls it makes included
 * (convex-test counts a transaction's reads and writes across components).
 * `after`, if given, runs in the same transaction once the figures are taken
 * (e.g. to inspect or cancel what `fn` scheduled); its result is returned.
 * A thrown error propagates (and rolls the transaction back).
 */
export async function measure<T, A = undefined>(
  t: Pick<Harness, "run">,
  fn: (ctx: MutationCtx) => Promise<T>,
  after?: (ctx: MutationCtx, result: T) => Promise<A>,
): Promise<Measured<T, A>> {
  return await t.run((ctx) => measureIn(ctx, fn, after));
}

/**
 * `measure` inside the billing component: `fn` calls one of its functions by
 * the component's own references (`billingInternal.tokens.resetFreeTier`),
 * which is how its internal functions (crons, batches) are reached.
 */
export async function measureInBilling<T, A = undefined>(
  t: Harness,
  fn: (ctx: BillingMutationCtx) => Promise<T>,
  after?: (ctx: BillingMutationCtx, result: T) => Promise<A>,
): Promise<Measured<T, A>> {
  return await runInBilling(t, (ctx) => measureIn(ctx, fn, after));
}

// ---------------------------------------------------------------------------
// Scale indexes
// ---------------------------------------------------------------------------

/*
 * Why this exists: convex-test's DatabaseFake answers every query, indexed or
 * not, by walking `Object.keys` of all documents of all tables and then
 * filtering by table and index range. At 100,000 accounts (several hundred
 * thousand documents) one indexed point lookup costs tens of milliseconds, and
 * a free-tier reset does a few per account, which would take hours.
 *
 * `enableScaleIndexes` keeps, per database:
 * - the set of committed document ids of each table;
 * - for each schema index, a map from the value of its first field to ids
 *   (string values only: ids, keys, statuses), for equality lookups;
 * - for each single-field index, the ids ordered as the index orders them
 *   (value, `_creationTime`, `_id`; values `undefined`, `null` or numbers),
 *   so a `paginate` over a numeric range starts at its cursor and needs only
 *   one page of candidates instead of the whole table; and a plain ascending
 *   query over such a range (what convex-helpers' `paginator`, which the
 *   component's batches use, runs) is evaluated a chunk of candidates at a
 *   time as it is read, instead of the whole range at its start.
 * A query then walks only the candidates. It is a pre-filter only:
 * convex-test still applies the full index range, sorting, limits and
 * pagination, and counts reads and writes in its own code, so the figures are
 * unchanged (the bench checks this by comparing figures with and without the
 * indexes).
 *
 * convex-test does not export the class, so the prototype is taken from the
 * first database object it passes through `AsyncLocalStorage.run`.
 */

type FakeDoc = Record<string, unknown> & { _id: string; _creationTime: number };
type IndexRangeFilter = { type: string; fieldPath: string; value: unknown };
type QuerySource =
  | { type: "IndexRange"; indexName: string; range: IndexRangeFilter[]; order?: "asc" | "desc" | null }
  | { type: "FullTableScan"; tableName: string }
  | { type: "Search" };
type FakeQuery = { source: QuerySource; operators: Record<string, unknown>[] };
type PaginateArgs = { query: FakeQuery; cursor: string | null; endCursor?: string | null; pageSize: number };
type FakeDb = {
  _documents: Record<string, FakeDoc>;
  _writes: Record<string, FakeDoc | null>[];
  _schema: { tables: Map<string, { indexes: { indexDescriptor: string; fields: string[] }[] }> } | null;
  _iterateDocs: (this: FakeDb, table: string, cb: (doc: FakeDoc) => void) => void;
  _addWrite: (this: FakeDb, id: string, value: FakeDoc | null) => void;
  _resolveQuerySource: (this: FakeDb, query: FakeQuery) => unknown;
  _evaluateQuery: (this: FakeDb, query: FakeQuery) => FakeDoc[];
  paginate: (this: FakeDb, args: PaginateArgs) => unknown;
  commit: (this: FakeDb, commitTs?: unknown) => void;
  get: (this: FakeDb, table: string, id: string) => FakeDoc | null;
};
/** A single-field index's entry: [value, _creationTime, _id]. */
type OrderedEntry = [number | null | undefined, number, string];
type OrderedIndex = {
  field: string;
  entries: OrderedEntry[];
  /** Documents whose value is neither undefined, null nor a number: the index is not used then. */
  otherTypes: number;
};
type ScaleState = {
  tables: Map<string, Set<string>>;
  /** `table.index` → first-field string value → ids. */
  indexes: Map<string, Map<string, Set<string>>>;
  /** table → [indexKey, firstField][] */
  indexFields: Map<string, [string, string][]>;
  /** `table.index` → ordered entries, for single-field indexes. */
  ordered: Map<string, OrderedIndex>;
  /** table → single-field index keys. */
  orderedByTable: Map<string, string[]>;
  hint: { table: string; ids: ReadonlySet<string> } | null;
};

const scaleStates = new WeakMap<FakeDb, ScaleState>();
/**
 * The ids each pending write layer (one per open transaction) holds, by
 * table, kept by `_addWrite` (every write, and a nested transaction's commit
 * into its parent, goes through it). Without it every query walked all the
 * running transaction's writes: quadratic in a batch of hundreds of writes.
 */
const layerIds = new WeakMap<object, Map<string, Set<string>>>();

function pendingIdsOf(db: FakeDb, table: string): Set<string> {
  const ids = new Set<string>();
  for (const layer of db._writes) for (const id of layerIds.get(layer)?.get(table) ?? []) ids.add(id);
  return ids;
}
/** Writes made in each database, to tell whether one happened while a query was read lazily. */
const writeCounts = new WeakMap<FakeDb, number>();
let scalePatched = false;

function tableOf(id: string): string {
  return id.replace(/^[0-9]+/, "");
}

function stateOf(db: FakeDb): ScaleState {
  let state = scaleStates.get(db);
  if (state) return state;
  state = {
    tables: new Map<string, Set<string>>(),
    indexes: new Map<string, Map<string, Set<string>>>(),
    indexFields: new Map<string, [string, string][]>(),
    ordered: new Map<string, OrderedIndex>(),
    orderedByTable: new Map<string, string[]>(),
    hint: null,
  };
  for (const [table, def] of db._schema?.tables ?? []) {
    state.indexFields.set(
      table,
      def.indexes.filter((i) => i.fields.length > 0).map((i) => [`${table}.${i.indexDescriptor}`, i.fields[0]!]),
    );
    const single = def.indexes.filter((i) => i.fields.length === 1);
    state.orderedByTable.set(
      table,
      single.map((i) => `${table}.${i.indexDescriptor}`),
    );
    for (const i of single) state.ordered.set(`${table}.${i.indexDescriptor}`, { field: i.fields[0]!, entries: [], otherTypes: 0 });
  }
  scaleStates.set(db, state);
  const docs = Object.values(db._documents);
  // Bulk build: sort once instead of inserting one by one.
  for (const doc of docs) track(state, doc, true, false);
  for (const index of state.ordered.values()) index.entries.sort(compareEntries);
  return state;
}

function fieldValue(doc: FakeDoc, fieldPath: string): unknown {
  let value: unknown = doc;
  for (const part of fieldPath.split(".")) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value;
}

/** Convex's order for the values the ordered indexes hold: undefined < null < numbers. */
function rankOf(value: unknown): number {
  return value === undefined ? 0 : value === null ? 1 : 2;
}

function compareEntries(a: OrderedEntry, b: OrderedEntry): number {
  const r = rankOf(a[0]) - rankOf(b[0]);
  if (r !== 0) return r;
  if (typeof a[0] === "number" && typeof b[0] === "number" && a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

/** First position whose entry is greater than `key` (or ≥ with `inclusive`). */
function lowerBound(entries: OrderedEntry[], key: OrderedEntry, inclusive: boolean): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareEntries(entries[mid]!, key);
    if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function track(state: ScaleState, doc: FakeDoc, add: boolean, keepOrder = true) {
  const table = tableOf(doc._id);
  let ids = state.tables.get(table);
  if (!ids) state.tables.set(table, (ids = new Set<string>()));
  if (add) ids.add(doc._id);
  else ids.delete(doc._id);
  for (const [indexKey, field] of state.indexFields.get(table) ?? []) {
    const value = fieldValue(doc, field);
    if (typeof value !== "string") continue;
    let byValue = state.indexes.get(indexKey);
    if (!byValue) state.indexes.set(indexKey, (byValue = new Map<string, Set<string>>()));
    let set = byValue.get(value);
    if (!set) byValue.set(value, (set = new Set<string>()));
    if (add) set.add(doc._id);
    else set.delete(doc._id);
  }
  for (const indexKey of state.orderedByTable.get(table) ?? []) {
    const index = state.ordered.get(indexKey)!;
    const value = fieldValue(doc, index.field);
    if (value !== undefined && value !== null && typeof value !== "number") {
      index.otherTypes += add ? 1 : -1;
      continue;
    }
    const entry: OrderedEntry = [value, doc._creationTime, doc._id];
    if (!keepOrder) {
      index.entries.push(entry);
      continue;
    }
    const at = lowerBound(index.entries, entry, true);
    if (add) index.entries.splice(at, 0, entry);
    else if (at < index.entries.length && compareEntries(index.entries[at]!, entry) === 0) index.entries.splice(at, 1);
  }
}

/**
 * Candidate ids for `paginate` over a single-field index with numeric bounds,
 * ascending, no filter: one page (plus one, so convex-test can tell whether
 * more follow) from the cursor on, plus room for documents the running
 * transaction changed. Null when the query is of another shape.
 */
function paginateCandidates(db: FakeDb, state: ScaleState, args: PaginateArgs): { table: string; ids: Set<string> } | null {
  const { source, operators } = args.query;
  if (source.type !== "IndexRange" || (source.order ?? "asc") !== "asc") return null;
  if (args.endCursor || args.cursor === "_end_cursor") return null;
  if (operators.some((op) => "filter" in op)) return null;
  const [table] = source.indexName.split(".") as [string, string];
  const index = state.ordered.get(source.indexName);
  if (!index || index.otherTypes > 0) return null;
  let lower: { value: number; inclusive: boolean } | null = null;
  let upper: { value: number; inclusive: boolean } | null = null;
  for (const f of source.range) {
    if (f.fieldPath !== index.field || typeof f.value !== "number") return null;
    if (f.type === "Gt" || f.type === "Gte") lower = { value: f.value, inclusive: f.type === "Gte" };
    else if (f.type === "Lt" || f.type === "Lte") upper = { value: f.value, inclusive: f.type === "Lte" };
    else return null;
  }
  let start = 0;
  if (args.cursor) {
    const keys = (JSON.parse(args.cursor) as (string | null)[]).map((k) =>
      k === null ? undefined : jsonToConvex(JSON.parse(k) as JSONValue),
    );
    if (keys.length !== 3 || typeof keys[1] !== "number" || typeof keys[2] !== "string") return null;
    if (keys[0] !== undefined && keys[0] !== null && typeof keys[0] !== "number") return null;
    start = lowerBound(index.entries, [keys[0], keys[1], keys[2]], false);
  }
  const pending = pendingIdsOf(db, table);
  const want = args.pageSize + 1 + pending.size;
  const ids = new Set<string>();
  for (let i = start; i < index.entries.length && ids.size < want; i++) {
    const [value, , id] = index.entries[i]!;
    if (lower && (typeof value !== "number" || value < lower.value || (!lower.inclusive && value === lower.value))) continue;
    if (upper && typeof value === "number" && (value > upper.value || (!upper.inclusive && value === upper.value))) break;
    ids.add(id);
  }
  return { table, ids };
}

/** Committed candidates per chunk of a lazily read query. */
const LAZY_CHUNK = 256;

type LazyPlan = {
  table: string;
  index: OrderedIndex;
  /** First entry that can match (the first field's lower bound). */
  start: number;
  upper: { value: number; inclusive: boolean } | null;
};

/**
 * How to read `query` lazily over its single-field index: an ascending
 * index range with numeric bounds on the indexed field and no operator
 * (filter, limit). Bounds on `_creationTime` / `_id` are left to
 * convex-test's range filter. Null when the query is of another shape.
 */
function lazyPlan(state: ScaleState, query: FakeQuery): LazyPlan | null {
  const { source, operators } = query;
  if (source.type !== "IndexRange" || (source.order ?? "asc") !== "asc" || operators.length > 0) return null;
  const index = state.ordered.get(source.indexName);
  if (!index || index.otherTypes > 0) return null;
  let lower: number | null = null;
  let upper: LazyPlan["upper"] = null;
  for (const f of source.range) {
    if (f.fieldPath !== index.field) continue;
    if (typeof f.value !== "number") return null;
    if (f.type === "Eq") {
      lower = f.value;
      upper = { value: f.value, inclusive: true };
    } else if (f.type === "Gt" || f.type === "Gte") lower = f.value;
    else if (f.type === "Lt" || f.type === "Lte") upper = { value: f.value, inclusive: f.type === "Lte" };
    else return null;
  }
  const start = lower === null ? 0 : lowerBound(index.entries, [lower, -Infinity, ""], true);
  return { table: source.indexName.split(".")[0]!, index, start, upper };
}

/**
 * The results of a query read a chunk at a time, through convex-test's own
 * evaluation: each chunk is evaluated with the next `LAZY_CHUNK` committed
 * entries of the range plus the transaction's pending documents as
 * candidates, and keeps the documents whose index key lies between the
 * previous chunk's last entry and this chunk's, so each matching document
 * comes once, in order. Stands in for the array `startQuery` keeps
 * (`length`, `shift`). convex-test evaluates a query at its start; a write
 * in the database before the query is read to its end would make the two
 * differ, so it throws then.
 */
class LazyResults {
  private buffer: FakeDoc[] = [];
  private position: number;
  private after: OrderedEntry | null = null;
  private done = false;
  private readonly writes: number;

  constructor(
    private readonly db: FakeDb,
    private readonly state: ScaleState,
    private readonly query: FakeQuery,
    private readonly plan: LazyPlan,
    private readonly evaluate: (this: FakeDb, query: FakeQuery) => FakeDoc[],
  ) {
    this.position = plan.start;
    this.writes = writeCounts.get(db) ?? 0;
  }

  get length(): number {
    this.fill();
    return this.buffer.length;
  }

  shift(): FakeDoc | undefined {
    this.fill();
    return this.buffer.shift();
  }

  private fill(): void {
    const { entries, field } = this.plan.index;
    const upper = this.plan.upper;
    while (this.buffer.length === 0 && !this.done) {
      if ((writeCounts.get(this.db) ?? 0) !== this.writes) {
        throw new Error(`scale indexes: a write while a query over ${this.plan.table} was read; read it to its end first`);
      }
      const ids = new Set<string>();
      let last: OrderedEntry | null = null;
      while (ids.size < LAZY_CHUNK && this.position < entries.length) {
        const entry = entries[this.position]!;
        const value = entry[0];
        if (upper && typeof value === "number" && (value > upper.value || (!upper.inclusive && value === upper.value))) {
          this.position = entries.length;
          break;
        }
        ids.add(entry[2]);
        last = entry;
        this.position += 1;
      }
      const exhausted = this.position >= entries.length;
      this.state.hint = { table: this.plan.table, ids };
      let docs: FakeDoc[];
      try {
        docs = this.evaluate.call(this.db, this.query);
      } finally {
        this.state.hint = null;
      }
      const keyOf = (doc: FakeDoc): OrderedEntry => [fieldValue(doc, field) as OrderedEntry[0], doc._creationTime, doc._id];
      const after = this.after;
      this.buffer = docs.filter(
        (doc) =>
          (after === null || compareEntries(keyOf(doc), after) > 0) && (exhausted || compareEntries(keyOf(doc), last!) <= 0),
      );
      if (exhausted) this.done = true;
      else this.after = last;
    }
  }
}

function patchPrototype(proto: FakeDb) {
  const originalCommit = proto.commit;
  const originalResolve = proto._resolveQuerySource;
  const originalPaginate = proto.paginate;
  const originalAddWrite = proto._addWrite;
  const originalEvaluate = proto._evaluateQuery;

  proto._addWrite = function (this: FakeDb, id: string, value: FakeDoc | null) {
    originalAddWrite.call(this, id, value);
    writeCounts.set(this, (writeCounts.get(this) ?? 0) + 1);
    const layer = this._writes[this._writes.length - 1]!;
    let byTable = layerIds.get(layer);
    if (!byTable) layerIds.set(layer, (byTable = new Map<string, Set<string>>()));
    const table = tableOf(id);
    let ids = byTable.get(table);
    if (!ids) byTable.set(table, (ids = new Set<string>()));
    ids.add(id);
  };

  proto.commit = function (this: FakeDb, commitTs?: unknown) {
    const topLevel = this._writes.length === 1;
    const pending = topLevel ? this._writes[0]! : null;
    const state = topLevel ? stateOf(this) : null;
    const before = new Map<string, FakeDoc | undefined>();
    if (pending) for (const id of Object.keys(pending)) before.set(id, this._documents[id]);
    originalCommit.call(this, commitTs);
    if (!state) return;
    for (const [id, old] of before) {
      if (old) track(state, old, false);
      const now = this._documents[id];
      if (now) track(state, now, true);
    }
  };

  proto.paginate = function (this: FakeDb, args: PaginateArgs) {
    const state = stateOf(this);
    const candidates = state.hint === null ? paginateCandidates(this, state, args) : null;
    if (!candidates) return originalPaginate.call(this, args);
    state.hint = candidates;
    try {
      return originalPaginate.call(this, args);
    } finally {
      state.hint = null;
    }
  };

  proto._evaluateQuery = function (this: FakeDb, query: FakeQuery) {
    const state = stateOf(this);
    const plan = state.hint === null ? lazyPlan(state, query) : null;
    if (!plan) return originalEvaluate.call(this, query);
    return new LazyResults(this, state, query, plan, originalEvaluate) as unknown as FakeDoc[];
  };

  proto._resolveQuerySource = function (this: FakeDb, query: FakeQuery) {
    const state = stateOf(this);
    const source = query.source;
    if (state.hint !== null || source.type !== "IndexRange") return originalResolve.call(this, query);
    const [table, index] = source.indexName.split(".") as [string, string];
    const first = source.range[0];
    const field = state.indexFields.get(table)?.find(([key]) => key === `${table}.${index}`)?.[1];
    if (!first || first.type !== "Eq" || !field || first.fieldPath !== field || typeof first.value !== "string") {
      return originalResolve.call(this, query);
    }
    state.hint = { table, ids: state.indexes.get(`${table}.${index}`)?.get(first.value) ?? new Set<string>() };
    try {
      return originalResolve.call(this, query);
    } finally {
      state.hint = null;
    }
  };

  proto._iterateDocs = function (this: FakeDb, table: string, cb: (doc: FakeDoc) => void) {
    const state = stateOf(this);
    const committed: ReadonlySet<string> =
      state.hint && state.hint.table === table ? state.hint.ids : (state.tables.get(table) ?? new Set<string>());
    for (const id of committed) {
      const doc = this.get(table, id);
      if (doc !== null) cb(doc);
    }
    // Documents of this table written by the running transaction that the
    // committed set does not list (new ones, or ones whose indexed field
    // changed): few, so walk them all and let convex-test's range filter decide.
    const extra = new Set<string>();
    for (const id of pendingIdsOf(this, table)) if (!committed.has(id)) extra.add(id);
    for (const id of extra) {
      const doc = this.get(table, id);
      if (doc !== null) cb(doc);
    }
  };
}

/**
 * Installs the scale indexes on convex-test's database class (once per
 * process), so on every database of `t`: the app's and the billing
 * component's. Call right after `makeHarness()`.
 */
export async function enableScaleIndexes(t: Harness): Promise<void> {
  if (scalePatched) return;
  const [db] = await databasesOf(t);
  patchPrototype(Object.getPrototypeOf(db!) as FakeDb);
  scalePatched = true;
}

const databases = new WeakMap<Harness, FakeDb[]>();

/**
 * convex-test's database objects behind `t`, one per component, which
 * convex-test does not expose: caught as they pass through
 * `AsyncLocalStorage.run` during an empty `t.run`.
 */
async function databasesOf(t: Harness): Promise<FakeDb[]> {
  const known = databases.get(t);
  if (known) return known;
  // Called with `.call(this, …)` and restored in `finally`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalRun = AsyncLocalStorage.prototype.run;
  let found: FakeDb[] = [];
  AsyncLocalStorage.prototype.run = function <R, A extends unknown[]>(
    this: AsyncLocalStorage<unknown>,
    store: unknown,
    callback: (...args: A) => R,
    ...args: A
  ): R {
    if (found.length === 0 && store && typeof store === "object" && "components" in store && "transactionManager" in store) {
      const components = (store as { components: Record<string, { db: FakeDb }> }).components;
      found = Object.values(components).map((c) => c.db);
    }
    return originalRun.call(this, store, callback, ...args) as R;
  } as typeof originalRun;
  try {
    await t.run(async () => {});
  } finally {
    AsyncLocalStorage.prototype.run = originalRun;
  }
  if (found.length === 0) throw new Error("could not find convex-test's database");
  databases.set(t, found);
  return found;
}

/**
 * Runs `fn` (bulk seeding through `t.run` or `runInBilling`) with
 * convex-test's validation of written documents against the schema switched
 * off in every database of `t`, then on again. Checking each of a million
 * seeded documents costs more than inserting it (union validators try each
 * member and throw). Seeders type their documents as the schema's, and
 * should seed a first batch with validation on; the functions measured
 * always run with it on.
 */
export async function withoutSchemaValidation<T>(t: Harness, fn: () => Promise<T>): Promise<T> {
  const flags = (await databasesOf(t)).flatMap((db) => (db._schema ? [db._schema as { schemaValidation?: boolean }] : []));
  const before = flags.map((f) => f.schemaValidation);
  for (const f of flags) f.schemaValidation = false;
  try {
    return await fn();
  } finally {
    flags.forEach((f, i) => (f.schemaValidation = before[i]));
  }
}

// ---------------------------------------------------------------------------
// Small utilities shared by the scripts
// ---------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32), so a seed reproduces a run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle with the given PRNG; returns a new array. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Renders rows as a fixed-width text table. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
