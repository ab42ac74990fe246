/**
 * The Convex client sync protocol over WebSocket (`/api/<version>/sync`), as
 * the `convex` 1.48 client speaks it (node_modules/convex/src/browser/sync/).
 *
 * Per connection the server keeps the client's query set, identity and the
 * last `{querySet, identity, ts}` it sent, and every Transition starts exactly
 * at that version (the client throws "Invalid start version" otherwise).
 * All work for one connection runs through a serial queue so Transitions are
 * chained and mutations apply in the order the client sent them, as Convex
 * guarantees per client; actions run concurrently and only their response is
 * queued.
 *
 * - A successful mutation is followed by a Transition whose `endVersion.ts` is
 *   at least the mutation's commit ts: the client resolves the mutation only then.
 * - Mutations are de-duplicated by `(sessionId, requestId)`: after a reconnect
 *   the client re-sends every unacknowledged mutation, and a write that
 *   already ran gets its stored response instead of running again.
 * - Paginated queries (args with `paginationOpts`) get a journal pinning the
 *   page's end cursor from its first run, so pages keep their boundaries as
 *   rows are inserted (what `usePaginatedQuery` relies on).
 * - Pings every 15 s keep the client's 60 s inactivity timer quiet.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { UserIdentity } from "convex/server";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import { WebSocketServer, type WebSocket } from "ws";
import { AuthFailure, type AuthVerifier } from "./auth";
import { canonicalizeUdfPath, type Engine, type ResolvedFunction } from "./engine";
import { describeFailure, notFoundMessage } from "./errors";

/** u64 timestamps travel as base64 of 8 little-endian bytes (protocol.ts `longToU64`). */
export function encodeTs(ts: bigint): string {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(ts);
  return buf.toString("base64");
}

export function decodeTs(encoded: string): bigint {
  return Buffer.from(encoded, "base64").readBigUInt64LE();
}

type Version = { querySet: number; identity: number; ts: bigint };

type Journal = { endCursor: string } | null;

type Subscription = {
  queryId: number;
  udfPath: string;
  args: Record<string, Value>;
  argsKey: string;
  journal: Journal;
  /** Serialized last result sent, to send only changes. */
  last: string | null;
};

type Modification =
  | { type: "QueryUpdated"; queryId: number; value: JSONValue; logLines: string[]; journal: string | null }
  | { type: "QueryFailed"; queryId: number; errorMessage: string; errorData?: JSONValue; logLines: string[]; journal: string | null }
  | { type: "QueryRemoved"; queryId: number };

type MutationOutcome =
  | { success: true; result: JSONValue; ts: bigint }
  | { success: false; result: string; errorData?: JSONValue };

type ClientMessage =
  | { type: "Connect"; sessionId: string; connectionCount: number }
  | {
      type: "ModifyQuerySet";
      baseVersion: number;
      newVersion: number;
      modifications: (
        | { type: "Add"; queryId: number; udfPath: string; args: JSONValue[]; journal?: string | null; componentPath?: string }
        | { type: "Remove"; queryId: number }
      )[];
    }
  | { type: "Mutation"; requestId: number; udfPath: string; args: JSONValue[]; componentPath?: string }
  | { type: "Action"; requestId: number; udfPath: string; args: JSONValue[]; componentPath?: string }
  | {
      type: "Authenticate";
      tokenType: "User" | "Admin" | "None";
      value?: string;
      baseVersion: number;
      impersonating?: Partial<UserIdentity>;
    }
  | { type: "Event" };

class Connection {
  sessionId: string | null = null;
  querySetVersion = 0;
  identityVersion = 0;
  sent: Version = { querySet: 0, identity: 0, ts: 0n };
  identity: UserIdentity | null = null;
  admin = false;
  tokenExpiresAt: number | null = null;
  expiryReported = false;
  readonly queries = new Map<number, Subscription>();
  private chain: Promise<void> = Promise.resolve();
  refreshQueued = false;
  closed = false;

  constructor(readonly ws: WebSocket, private readonly onError: (e: unknown) => void) {}

  send(message: object) {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  enqueue(task: () => Promise<void>) {
    this.chain = this.chain.then(task).catch(this.onError);
  }

  identityKey(): string {
    return this.admin ? `admin:${JSON.stringify(this.identity)}` : JSON.stringify(this.identity);
  }
}

/** A query result at one commit ts, shared between connections asking the same thing. */
type Evaluated =
  | { type: "QueryUpdated"; value: JSONValue; logLines: string[]; journal: null }
  | { type: "QueryFailed"; errorMessage: string; errorData?: JSONValue; logLines: string[]; journal: null };
type CacheEntry = { ts: bigint; value: Promise<{ mod: Evaluated; serialized: string }> };

export type SyncServerOptions = {
  engine: Engine;
  auth: () => AuthVerifier;
  adminKey: string;
  /** Called after anything that may have written (mutations, actions). */
  onWrite: () => void;
  /** Waits until the backend is ready to run functions. */
  ready: Promise<void>;
  log: (line: string) => void;
  pingIntervalMs?: number;
};

const PAGINATION_KEYS = ["numItems", "cursor"];

function paginationOptsOf(args: Record<string, Value>): Record<string, Value> | null {
  const opts = args.paginationOpts;
  if (typeof opts !== "object" || opts === null || Array.isArray(opts) || opts instanceof ArrayBuffer) return null;
  return PAGINATION_KEYS.every((k) => k in opts) ? (opts as Record<string, Value>) : null;
}

function parseJournal(journal: string | null | undefined): Journal {
  if (!journal) return null;
  try {
    const parsed = JSON.parse(journal) as { endCursor?: unknown };
    return typeof parsed.endCursor === "string" ? { endCursor: parsed.endCursor } : null;
  } catch {
    return null;
  }
}

export class SyncServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly connections = new Set<Connection>();
  private readonly dedup = new Map<string, Map<number, Promise<MutationOutcome>>>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pingTimer: NodeJS.Timeout;
  /** Counters for tests and `/_local/health`. */
  readonly stats = { mutationsRun: 0, mutationsDeduplicated: 0, transitionsSent: 0 };

  constructor(private readonly options: SyncServerOptions) {
    this.pingTimer = setInterval(() => this.ping(), options.pingIntervalMs ?? 15_000);
    this.pingTimer.unref();
    this.wss.on("connection", (ws: WebSocket) => this.accept(ws));
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
  }

  /** Closes every client socket (clients reconnect by themselves). */
  dropConnections(code = 1011, reason = "local backend dropped the connection") {
    for (const conn of this.connections) conn.ws.close(code, reason);
  }

  async close() {
    clearInterval(this.pingTimer);
    for (const conn of this.connections) {
      conn.closed = true;
      conn.ws.terminate();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Re-runs every subscribed query and pushes the ones whose results changed. */
  refreshAll() {
    for (const conn of this.connections) {
      if (conn.refreshQueued) continue;
      conn.refreshQueued = true;
      conn.enqueue(async () => {
        conn.refreshQueued = false;
        await this.sync(conn, new Map(), false);
      });
    }
  }

  private ping() {
    for (const conn of this.connections) {
      conn.send({ type: "Ping" });
      this.checkExpiry(conn);
    }
  }

  private accept(ws: WebSocket) {
    const conn = new Connection(ws, (e) => {
      this.options.log(`sync: ${(e as Error).stack ?? String(e)}`);
      conn.send({ type: "FatalError", error: (e as Error).message });
      ws.close(1011, "internal error");
    });
    this.connections.add(conn);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      let message: ClientMessage;
      try {
        const text = Buffer.isBuffer(data) ? data.toString("utf8") : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data).toString("utf8");
        message = JSON.parse(text) as ClientMessage;
      } catch {
        conn.send({ type: "FatalError", error: "Invalid JSON message" });
        ws.close(1002, "invalid message");
        return;
      }
      this.handle(conn, message);
    });
    ws.on("close", () => {
      conn.closed = true;
      this.connections.delete(conn);
    });
    ws.on("error", () => undefined);
  }

  private handle(conn: Connection, message: ClientMessage) {
    switch (message.type) {
      case "Connect":
        conn.sessionId = message.sessionId;
        return;
      case "ModifyQuerySet":
        conn.enqueue(() => this.modifyQuerySet(conn, message));
        return;
      case "Authenticate":
        conn.enqueue(() => this.authenticate(conn, message));
        return;
      case "Mutation":
        conn.enqueue(() => this.mutation(conn, message));
        return;
      case "Action":
        void this.action(conn, message);
        return;
      case "Event":
        return;
      default:
        conn.send({ type: "FatalError", error: `Unknown message type ${(message as { type: string }).type}` });
        conn.ws.close(1002, "unknown message");
    }
  }

  /**
   * The function a client may call at `udfPath`, or null. A module that fails
   * to load counts as missing (and is logged) rather than breaking the socket.
   */
  private async resolveFor(conn: Connection, udfPath: string, kind: ResolvedFunction["kind"]): Promise<ResolvedFunction | null> {
    let fn: ResolvedFunction | null;
    try {
      fn = await this.options.engine.resolve(udfPath);
    } catch (e) {
      this.options.log(`cannot load ${udfPath}: ${(e as Error).stack ?? String(e)}`);
      return null;
    }
    if (!fn || fn.kind !== kind) return null;
    if (fn.visibility !== "public" && !conn.admin) return null;
    return fn;
  }

  private async modifyQuerySet(conn: Connection, message: Extract<ClientMessage, { type: "ModifyQuerySet" }>) {
    if (message.baseVersion !== conn.querySetVersion) {
      throw new Error(`ModifyQuerySet base version ${message.baseVersion} does not match the server's ${conn.querySetVersion}`);
    }
    conn.querySetVersion = message.newVersion;
    const forced = new Map<number, Modification>();
    for (const mod of message.modifications) {
      if (mod.type === "Add") {
        const args = jsonToConvex(mod.args[0] ?? {}) as Record<string, Value>;
        conn.queries.set(mod.queryId, {
          queryId: mod.queryId,
          udfPath: canonicalizeUdfPath(mod.udfPath),
          args,
          argsKey: JSON.stringify(mod.args[0] ?? {}),
          journal: parseJournal(mod.journal),
          last: null,
        });
      } else {
        conn.queries.delete(mod.queryId);
        forced.set(mod.queryId, { type: "QueryRemoved", queryId: mod.queryId });
      }
    }
    await this.sync(conn, forced, true);
  }

  private async authenticate(conn: Connection, message: Extract<ClientMessage, { type: "Authenticate" }>) {
    await this.options.ready;
    if (message.tokenType === "None") {
      conn.identity = null;
      conn.admin = false;
      conn.tokenExpiresAt = null;
    } else if (message.tokenType === "Admin") {
      if (message.value !== this.options.adminKey) {
        conn.send({ type: "AuthError", error: "Invalid admin key", baseVersion: message.baseVersion, authUpdateAttempted: true });
        return;
      }
      conn.admin = true;
      conn.identity = message.impersonating?.subject
        ? ({
            ...message.impersonating,
            issuer: message.impersonating.issuer ?? "https://local-convex.admin",
            tokenIdentifier:
              message.impersonating.tokenIdentifier ??
              `${message.impersonating.issuer ?? "https://local-convex.admin"}|${message.impersonating.subject}`,
          } as UserIdentity)
        : null;
      conn.tokenExpiresAt = null;
    } else {
      try {
        const verified = await this.options.auth().verify(message.value ?? "");
        conn.identity = verified.identity;
        conn.tokenExpiresAt = verified.expiresAt;
        conn.admin = false;
      } catch (e) {
        const error = e instanceof AuthFailure ? e.message : `Could not verify token: ${(e as Error).message}`;
        conn.send({ type: "AuthError", error, baseVersion: message.baseVersion, authUpdateAttempted: true });
        return;
      }
    }
    conn.expiryReported = false;
    conn.identityVersion = message.baseVersion + 1;
    // Every query may depend on who is asking: the identity bump itself tells
    // the client its token was accepted.
    for (const sub of conn.queries.values()) sub.last = null;
    await this.sync(conn, new Map(), true);
  }

  /** Sends `AuthError` once when the connection's token has expired. Returns false if expired. */
  private checkExpiry(conn: Connection): boolean {
    if (conn.tokenExpiresAt === null || Date.now() < conn.tokenExpiresAt) return true;
    if (!conn.expiryReported) {
      conn.expiryReported = true;
      conn.send({
        type: "AuthError",
        error: "Token expired",
        baseVersion: Math.max(0, conn.identityVersion - 1),
        authUpdateAttempted: false,
      });
    }
    return false;
  }

  private async runMutation(conn: Connection, message: Extract<ClientMessage, { type: "Mutation" }>, identity: UserIdentity | null): Promise<MutationOutcome> {
    await this.options.ready;
    const fn = await this.resolveFor(conn, message.udfPath, "mutation");
    if (!fn) return { success: false, result: notFoundMessage(canonicalizeUdfPath(message.udfPath)) };
    try {
      const value = await this.options.engine.call(fn, jsonToConvex(message.args[0] ?? {}) as Record<string, Value>, identity);
      return { success: true, result: convexToJson(value), ts: this.options.engine.commitTs() };
    } catch (e) {
      const failure = describeFailure(e);
      return { success: false, result: failure.errorMessage, ...("errorData" in failure ? { errorData: failure.errorData } : {}) };
    } finally {
      this.options.onWrite();
    }
  }

  private async mutation(conn: Connection, message: Extract<ClientMessage, { type: "Mutation" }>) {
    // With an expired token the client re-authenticates and re-sends the
    // mutation on its new socket; running it now would use a stale identity.
    if (!this.checkExpiry(conn)) return;
    let outcome: Promise<MutationOutcome>;
    const session = conn.sessionId ? this.sessionRequests(conn.sessionId) : null;
    const existing = session?.get(message.requestId);
    if (existing) {
      this.stats.mutationsDeduplicated += 1;
      outcome = existing;
    } else {
      this.stats.mutationsRun += 1;
      outcome = this.runMutation(conn, message, conn.identity);
      session?.set(message.requestId, outcome);
    }
    const result = await outcome;
    if (result.success) {
      conn.send({ type: "MutationResponse", requestId: message.requestId, success: true, result: result.result, ts: encodeTs(result.ts), logLines: [] });
      await this.sync(conn, new Map(), true);
    } else {
      conn.send({
        type: "MutationResponse",
        requestId: message.requestId,
        success: false,
        result: result.result,
        logLines: [],
        ...(result.errorData !== undefined ? { errorData: result.errorData } : {}),
      });
    }
  }

  private sessionRequests(sessionId: string): Map<number, Promise<MutationOutcome>> {
    let session = this.dedup.get(sessionId);
    if (!session) {
      session = new Map();
      this.dedup.set(sessionId, session);
    }
    // Clients only re-send mutations still in flight, so old entries can go.
    if (session.size > 5000) {
      const oldest = [...session.keys()].sort((a, b) => a - b).slice(0, 1000);
      for (const id of oldest) session.delete(id);
    }
    return session;
  }

  private async action(conn: Connection, message: Extract<ClientMessage, { type: "Action" }>) {
    await this.options.ready;
    if (!this.checkExpiry(conn)) return;
    const identity = conn.identity;
    const fn = await this.resolveFor(conn, message.udfPath, "action");
    let response: object;
    if (!fn) {
      response = { type: "ActionResponse", requestId: message.requestId, success: false, result: notFoundMessage(canonicalizeUdfPath(message.udfPath)), logLines: [] };
    } else {
      try {
        const value = await this.options.engine.call(fn, jsonToConvex(message.args[0] ?? {}) as Record<string, Value>, identity);
        response = { type: "ActionResponse", requestId: message.requestId, success: true, result: convexToJson(value), logLines: [] };
      } catch (e) {
        const failure = describeFailure(e);
        response = { type: "ActionResponse", requestId: message.requestId, success: false, result: failure.errorMessage, logLines: [], ...("errorData" in failure ? { errorData: failure.errorData } : {}) };
      }
    }
    this.options.onWrite();
    // Push the action's writes first, so the UI is current when the promise resolves.
    conn.enqueue(async () => {
      await this.sync(conn, new Map(), false);
      conn.send(response);
    });
  }

  private async evaluate(conn: Connection, sub: Subscription): Promise<{ mod: Modification; serialized: string; journal: Journal }> {
    const engine = this.options.engine;
    const ts = engine.commitTs();
    const pagination = paginationOptsOf(sub.args);
    let args = sub.args;
    const pinned = pagination && sub.journal && (pagination.endCursor === undefined || pagination.endCursor === null) ? sub.journal.endCursor : null;
    if (pinned !== null) args = { ...sub.args, paginationOpts: { ...pagination, endCursor: pinned } };
    const key = `${conn.identityKey()}\u0000${sub.udfPath}\u0000${sub.argsKey}\u0000${pinned ?? ""}`;
    let entry = this.cache.get(key);
    if (!entry || entry.ts !== ts) {
      if (this.cache.size > 10_000) this.cache.clear();
      entry = { ts, value: this.execute(conn, sub.udfPath, args, pinned) };
      this.cache.set(key, entry);
      // A result computed while a write committed may predate it: don't reuse it.
      const settled = entry;
      void settled.value.finally(() => {
        if (engine.commitTs() !== settled.ts && this.cache.get(key) === settled) this.cache.delete(key);
      });
    }
    const { mod, serialized } = await entry.value;
    let journal = sub.journal;
    if (pagination && journal === null && mod.type === "QueryUpdated") {
      const cursor = (mod.value as { continueCursor?: unknown } | null)?.continueCursor;
      if (typeof cursor === "string") journal = { endCursor: cursor };
    }
    const journalText = journal ? JSON.stringify(journal) : null;
    return { mod: { ...mod, queryId: sub.queryId, journal: journalText } as Modification, serialized, journal };
  }

  private async execute(conn: Connection, udfPath: string, args: Record<string, Value>, pinnedEndCursor: string | null): Promise<{ mod: Evaluated; serialized: string }> {
    await this.options.ready;
    const fn = await this.resolveFor(conn, udfPath, "query");
    if (!fn) {
      const errorMessage = notFoundMessage(udfPath);
      return { mod: { type: "QueryFailed" as const, errorMessage, logLines: [], journal: null }, serialized: `E${errorMessage}` };
    }
    try {
      const value = await this.options.engine.call(fn, args, conn.identity);
      let json = convexToJson(value);
      // convex-test ends a page at a pinned end cursor whose row was deleted
      // without reporting the boundary; a deployment keeps the pinned cursor
      // as the page's continueCursor so the next page still follows on.
      if (pinnedEndCursor !== null && pinnedEndCursor !== "_end_cursor" && typeof json === "object" && json !== null && !Array.isArray(json)) {
        const page = json as Record<string, JSONValue>;
        if (page.continueCursor === "_end_cursor") json = { ...page, continueCursor: pinnedEndCursor, isDone: false };
      }
      return { mod: { type: "QueryUpdated" as const, value: json, logLines: [], journal: null }, serialized: `V${JSON.stringify(json)}` };
    } catch (e) {
      const failure = describeFailure(e);
      return {
        mod: { type: "QueryFailed" as const, ...failure, logLines: [], journal: null },
        serialized: `E${failure.errorMessage.replace(/\[Request ID: [^\]]*\]/, "")}${JSON.stringify(failure.errorData ?? null)}`,
      };
    }
  }

  /**
   * Brings one connection up to date: evaluates its queries at the current
   * commit ts and sends a Transition with the changed ones (plus `extra`
   * modifications). Sends nothing when nothing changed, unless `force`.
   */
  private async sync(conn: Connection, extra: Map<number, Modification>, force: boolean) {
    if (conn.closed) return;
    const ts = this.options.engine.commitTs();
    const modifications: Modification[] = [...extra.values()];
    const subs = [...conn.queries.values()];
    const results = await Promise.all(subs.map((sub) => this.evaluate(conn, sub)));
    subs.forEach((sub, i) => {
      const { mod, serialized, journal } = results[i]!;
      // The subscription may have been removed while the queries ran.
      if (conn.queries.get(sub.queryId) !== sub) return;
      if (serialized !== sub.last) {
        sub.last = serialized;
        sub.journal = journal;
        modifications.push(mod);
      }
    });
    const end: Version = {
      querySet: conn.querySetVersion,
      identity: conn.identityVersion,
      ts: ts > conn.sent.ts ? ts : conn.sent.ts,
    };
    // A bare ts advance is not worth a message; clients that wait on a ts
    // (their own mutation) get a forced Transition.
    const sameSets = end.querySet === conn.sent.querySet && end.identity === conn.sent.identity;
    if (modifications.length === 0 && sameSets && !force) return;
    conn.send({
      type: "Transition",
      startVersion: { querySet: conn.sent.querySet, identity: conn.sent.identity, ts: encodeTs(conn.sent.ts) },
      endVersion: { querySet: end.querySet, identity: end.identity, ts: encodeTs(end.ts) },
      modifications,
    });
    this.stats.transitionsSent += 1;
    conn.sent = end;
  }
}
