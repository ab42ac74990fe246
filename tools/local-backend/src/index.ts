/**
 * A local Convex dev backend: the project's unmodified `convex/` functions,
 * run by convex-test, behind the same wire protocols as a deployment, so the
 * unmodified `convex` clients (ConvexReactClient, ConvexClient,
 * ConvexHttpClient) work offline. See docs/LOCAL_BACKEND.md.
 *
 * ```ts
 * const backend = await startLocalBackend({ port: 0, sitePort: 0, devAuth: { port: 0 } });
 * const client = new ConvexClient(backend.url);
 * // …
 * await backend.close();
 * ```
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { dirname, resolve } from "node:path";
import { startDevAuth, type DevAuth, type DevAuthOptions } from "@offline/dev-auth";
import { AuthVerifier } from "./auth";
import { CronRunner, type CronJobSpec, type CronRun } from "./cronRunner";
import { defaultConvexDir, Engine, type PersistedState, type TransactionStats } from "./engine";
import { applyEnv, readEnvFile } from "./env";
import { cloudHandler, siteHandler } from "./http";
import { importFresh } from "./modules";
import { addFetchRedirects } from "./outboundFetch";
import { SyncServer } from "./sync";

export { AuthVerifier, AuthFailure, identityFromClaims, type AuthProvider } from "./auth";
export { parseCron, nextRunAt } from "./cronRunner";
export { parseEnvFile } from "./env";
export { encodeTs, decodeTs } from "./sync";
export { buildModuleMap, importFresh } from "./modules";
export type { TransactionStats } from "./engine";
export { withEnv } from "./withEnv";
export { addFetchRedirects } from "./outboundFetch";
export { DEMO_USERS, startDevAuth, type DevAuth, type DevUser } from "@offline/dev-auth";

export type LocalBackendOptions = {
  /** Convex functions directory. Default: `./convex` (relative to the working directory). */
  convexDir?: string;
  /** Cloud origin port (WebSocket sync + HTTP API) on 127.0.0.1. Default 3210; 0 = any free port. */
  port?: number;
  /** Site origin port (HTTP actions). Default 3211; 0 = any free port. */
  sitePort?: number;
  /** Env file for the functions (`KEY=VALUE` lines). Default `.local/convex.env` if present; null = none. */
  envFile?: string | null;
  /** Extra env vars for the functions; win over the env file. */
  env?: Record<string, string>;
  /** Persist the database to this JSON file (loaded at start, saved after writes). */
  persist?: string | null;
  /** Start from an empty database even if the persist file exists (and delete it). */
  reset?: boolean;
  /**
   * The dev sign-in issuer. Default: started on port 3212 with a per-process key.
   * `false`: none (then `LOCAL_DEV_AUTH_ISSUER` is whatever the env says).
   */
  devAuth?: false | DevAuthOptions;
  /**
   * `"schedule"` (default) runs the jobs of the app's `crons.ts` and of each
   * component's `crons.ts` on their schedules; `"manual"` only on demand.
   */
  crons?: "schedule" | "manual";
  /** Admin key for `Authorization: Convex <key>` (may call internal functions). Default: random. */
  adminKey?: string;
  /** How often to look for writes the backend did not see happen (scheduled functions), ms. Default 50. */
  pollMs?: number;
  /**
   * Outbound fetch redirects by origin, e.g.
   * `{ "https://api.resend.com": "http://127.0.0.1:3213" }` (the local
   * mailbox): functions' `fetch` calls to the first origin go to the second.
   */
  fetchRedirects?: Record<string, string>;
  /** Log sink; default `console.log` with a prefix; `false` for silence. */
  log?: ((line: string) => void) | false;
};

export type LocalBackend = {
  /** Deployment URL for the clients, e.g. `http://127.0.0.1:3210` (`VITE_CONVEX_URL`). */
  url: string;
  /** HTTP actions origin, e.g. `http://127.0.0.1:3211` (`CONVEX_SITE_URL`). */
  siteUrl: string;
  port: number;
  sitePort: number;
  /** The dev token issuer, or null when disabled. */
  devAuth: DevAuth | null;
  adminKey: string;
  engine: Engine;
  /**
   * Runs a job now and resolves when it finished: the app's `crons.ts` job
   * `name`, or with `componentPath` (`counter`) that component's. Rejects for
   * an unknown job.
   */
  runCron(name: string, componentPath?: string): Promise<CronRun>;
  /** The app's jobs, then each component's (`componentPath` `""` = the app), with their next run (ms). */
  listCrons(): (CronJobSpec & { nextRunAt: number | null })[];
  /** Empties the database (and the persist file) and pushes the empty results. */
  reset(): Promise<void>;
  /** Writes the persist file now (no-op without `persist`). */
  save(): Promise<void>;
  /** Closes every client WebSocket (they reconnect): for reconnect tests. */
  dropConnections(): void;
  /** Open WebSocket connections. */
  connectionCount(): number;
  /**
   * Sync counters (WebSocket mutations run, mutations answered from the
   * de-duplication table, Transitions sent) and `transactions`, the
   * transaction lock's counters (`TransactionStats`: transactions begun, how
   * many waited for another to finish, the most waiting and running at once).
   * Transactions run one at a time, so none conflicts and none is retried.
   */
  stats(): { mutationsRun: number; mutationsDeduplicated: number; transitionsSent: number; transactions: TransactionStats };
  close(): Promise<void>;
};

function listen(server: Server, port: number): Promise<number> {
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", fail);
      const addr = server.address();
      ok(typeof addr === "object" && addr ? addr.port : port);
    });
  });
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return sockets;
}

export async function startLocalBackend(options: LocalBackendOptions = {}): Promise<LocalBackend> {
  const log = options.log === false ? () => undefined : (options.log ?? ((line: string) => console.log(`[local-convex] ${line}`)));
  const convexDir = resolve(options.convexDir ?? defaultConvexDir());
  const adminKey = options.adminKey ?? `local-admin|${randomBytes(24).toString("hex")}`;
  const persistPath = options.persist ? resolve(options.persist) : null;
  const engine = new Engine({ convexDir });

  let markReady!: () => void;
  let markFailed!: (e: unknown) => void;
  const ready = new Promise<void>((ok, fail) => {
    markReady = ok;
    markFailed = fail;
  });
  ready.catch(() => undefined);

  let verifier = new AuthVerifier([]);
  let lastSeenTs = -1n;
  let saveTimer: NodeJS.Timeout | null = null;
  let closed = false;
  const crons = new CronRunner(engine, () => kick(), log);

  const save = async () => {
    if (!persistPath) return;
    const state = await engine.dump();
    mkdirSync(dirname(persistPath), { recursive: true });
    const tmp = `${persistPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, persistPath);
  };
  const scheduleSave = () => {
    if (!persistPath || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      save().catch((e: unknown) => log(`persist: ${(e as Error).message}`));
    }, 200);
  };

  const sync = new SyncServer({ engine, auth: () => verifier, adminKey, onWrite: () => kick(), ready, log });

  // Every write path funnels here; scheduled functions (convex-test's own
  // timers) are caught by the poll. Both only compare a bigint.
  function kick() {
    if (closed) return;
    let ts: bigint;
    try {
      ts = engine.commitTs();
    } catch {
      return;
    }
    if (ts === lastSeenTs) return;
    lastSeenTs = ts;
    sync.refreshAll();
    scheduleSave();
  }

  const reset = async () => {
    engine.reset();
    if (persistPath) rmSync(persistPath, { force: true });
    lastSeenTs = -1n;
    kick();
    await Promise.resolve();
  };

  const httpDeps = {
    engine,
    auth: () => verifier,
    adminKey,
    ready,
    onWrite: () => kick(),
    log,
    local: {
      health: () => ({
        ok: true,
        connections: sync.connectionCount,
        commitTs: engine.commitTs().toString(),
        ...sync.stats,
        transactions: engine.transactionStats(),
      }),
      reset,
      listCrons: () => crons.list(),
      runCron: (name: string, componentPath?: string) => crons.run(name, componentPath),
    },
  };

  const cloud = createServer(cloudHandler(httpDeps));
  cloud.on("upgrade", (req, socket: Socket, head: Buffer) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (/^\/api\/[^/]+\/sync$/.test(path)) sync.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  const site = createServer(siteHandler(httpDeps));
  const cloudSockets = trackSockets(cloud);
  const siteSockets = trackSockets(site);

  let devAuth: DevAuth | null = null;
  let restoreEnv = () => undefined as void;
  let removeRedirects = () => undefined as void;
  let pollTimer: NodeJS.Timeout | null = null;
  try {
    devAuth = options.devAuth === false ? null : await startDevAuth(options.devAuth ?? {});
    const port = await listen(cloud, options.port ?? 3210);
    const sitePort = await listen(site, options.sitePort ?? 3211);
    const url = `http://127.0.0.1:${port}`;
    const siteUrl = `http://127.0.0.1:${sitePort}`;

    // Env before any function module runs: modules may read it at load time.
    const envFile = options.envFile === undefined ? resolve(".local/convex.env") : options.envFile;
    restoreEnv = applyEnv({
      ...readEnvFile(envFile ?? undefined),
      CONVEX_CLOUD_URL: url,
      CONVEX_SITE_URL: siteUrl,
      ...(devAuth ? { LOCAL_DEV_AUTH_ISSUER: devAuth.issuer } : {}),
      ...(options.env ?? {}),
    });

    removeRedirects = addFetchRedirects(options.fetchRedirects ?? {});
    await engine.init();
    const authConfigFile = engine.moduleFile("auth.config");
    verifier = AuthVerifier.fromConfigModule(authConfigFile ? await importFresh(authConfigFile) : null);

    if (persistPath && options.reset) rmSync(persistPath, { force: true });
    if (persistPath && existsSync(persistPath)) {
      const loaded = await engine.load(JSON.parse(readFileSync(persistPath, "utf8")) as PersistedState);
      log(`loaded ${loaded.documents} documents from ${persistPath}${loaded.rescheduled ? `, rescheduled ${loaded.rescheduled} functions` : ""}`);
    }
    lastSeenTs = engine.commitTs();

    const jobs = await crons.load();
    if ((options.crons ?? "schedule") === "schedule") crons.start();
    markReady();

    pollTimer = setInterval(kick, options.pollMs ?? 50);
    pollTimer.unref();

    log(`functions: ${convexDir}`);
    log(`deployment ${url} (WebSocket sync, HTTP API), HTTP actions ${siteUrl}`);
    if (devAuth) log(`dev sign-in issuer ${devAuth.issuer}`);
    for (const [from, to] of Object.entries(options.fetchRedirects ?? {})) log(`outbound fetch ${from} → ${to}`);
    log(`auth providers: ${verifier.providers.map((p) => ("type" in p ? p.issuer : p.domain)).join(", ") || "none"}`);
    if (jobs.length) log(`crons (${options.crons ?? "schedule"}): ${jobs.map((j) => (j.componentPath ? `${j.name} (component ${j.componentPath})` : j.name)).join(", ")}`);
    if (engine.componentPaths().length) log(`components: ${engine.componentPaths().join(", ")}`);

    return {
      url,
      siteUrl,
      port,
      sitePort,
      devAuth,
      adminKey,
      engine,
      runCron: (name, componentPath) => crons.run(name, componentPath),
      listCrons: () => crons.list(),
      reset,
      save,
      dropConnections: () => sync.dropConnections(),
      connectionCount: () => sync.connectionCount,
      stats: () => ({ ...sync.stats, transactions: engine.transactionStats() }),
      async close() {
        if (closed) return;
        closed = true;
        if (pollTimer) clearInterval(pollTimer);
        if (saveTimer) clearTimeout(saveTimer);
        crons.stop();
        await save().catch((e: unknown) => log(`persist: ${(e as Error).message}`));
        await sync.close();
        for (const s of [...cloudSockets, ...siteSockets]) s.destroy();
        await Promise.all([
          new Promise<void>((ok) => cloud.close(() => ok())),
          new Promise<void>((ok) => site.close(() => ok())),
        ]);
        await devAuth?.close();
        removeRedirects();
        restoreEnv();
      },
    };
  } catch (e) {
    markFailed(e);
    if (pollTimer) clearInterval(pollTimer);
    crons.stop();
    await sync.close();
    cloud.close(() => undefined);
    site.close(() => undefined);
    await devAuth?.close();
    removeRedirects();
    restoreEnv();
    throw e;
  }
}
