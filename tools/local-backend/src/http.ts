/**
 * The two HTTP origins of a deployment:
 *
 * Cloud origin (default 127.0.0.1:3210), what `ConvexHttpClient` and the HTTP
 * API (https://docs.convex.dev/http-api/) call:
 * - `POST /api/query`, `/api/query_at_ts`, `/api/mutation`, `/api/action`
 *   `{ path, args: [obj], format }`
 * - `POST /api/function` `{ path, args: obj, componentPath? }` (any kind;
 *   with a `componentPath`, admin key only, the function of that component
 *   instance, internal included, as `npx convex run --component` calls it)
 * - `POST /api/run/<module path>/<function>` `{ args: obj, format }`
 * - `POST /api/query_ts` → `{ ts }`
 * Success is 200 `{ status: "success", value, logLines }`; a function error is
 * 560 `{ status: "error", errorMessage, errorData?, logLines }`, as the client
 * expects. `Authorization: Bearer <jwt>` runs as that user (401 when the token
 * does not verify); `Authorization: Convex <admin key>` may call internal
 * functions. Without admin auth, only public functions are callable (others
 * fail with "Could not find public function", as on a deployment).
 *
 * Local control endpoints (JSON bodies, `content-type: application/json`
 * required so a web page cannot post to them without a CORS preflight):
 * - `GET /_local/health` → `{ ok, connections, commitTs, mutationsRun,
 *   mutationsDeduplicated, transitionsSent, transactions }` (`transactions`:
 *   the transaction lock's counters, `TransactionStats` in engine.ts)
 * - `POST /_local/reset` → empties the database (and the persisted file)
 * - `GET /_local/crons` → jobs (the app's, then each component's, named by
 *   `componentPath`, `""` for the app) with their next run (ms)
 * - `POST /_local/crons/run` `{ name, componentPath? }` → `{ componentPath,
 *   name, ok, startedAt, durationMs, error? }` (404 for an unknown job)
 *
 * Site origin (default 127.0.0.1:3211): every request goes to the router in
 * `convex/http.ts` with its raw body and headers (so Stripe signatures verify).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { UserIdentity } from "convex/server";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import getRawBody from "raw-body";
import { AuthFailure, type AuthVerifier } from "./auth";
import type { Engine, FunctionKind } from "./engine";
import { describeFailure, notFoundMessage } from "./errors";
import { encodeTs } from "./sync";

const STATUS_UDF_FAILED = 560;
const MAX_BODY = 20 * 1024 * 1024;

export type HttpDeps = {
  engine: Engine;
  auth: () => AuthVerifier;
  adminKey: string;
  ready: Promise<void>;
  onWrite: () => void;
  local: {
    health(): object;
    reset(): Promise<void>;
    listCrons(): object[];
    runCron(name: string, componentPath?: string): Promise<object>;
  };
  log: (line: string) => void;
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

type Caller = { identity: UserIdentity | null; admin: boolean };

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function callerOf(req: IncomingMessage, deps: Pick<HttpDeps, "auth" | "adminKey">): Promise<Caller> {
  const header = req.headers.authorization;
  if (!header) return { identity: null, admin: false };
  const [scheme, ...rest] = header.split(" ");
  const value = rest.join(" ").trim();
  if (scheme === "Convex") {
    if (value !== deps.adminKey) throw new HttpError(401, "BadAdminKey", "The provided admin key was invalid for this instance");
    return { identity: null, admin: true };
  }
  if (scheme === "Bearer") {
    try {
      return { identity: (await deps.auth().verify(value)).identity, admin: false };
    } catch (e) {
      throw new HttpError(401, "Unauthenticated", e instanceof AuthFailure ? e.message : (e as Error).message);
    }
  }
  throw new HttpError(401, "Unauthenticated", `Unsupported Authorization scheme ${JSON.stringify(scheme)}`);
}

/** `messages/list` → `messages:list` (the `/api/run/` URL form of a function path). */
function runPathToUdfPath(path: string): string {
  const parts = decodeURIComponent(path).split("/").filter(Boolean);
  if (parts.length < 2) return `${parts[0] ?? ""}:default`;
  return `${parts.slice(0, -1).join("/")}:${parts[parts.length - 1]}`;
}

async function runFunction(deps: HttpDeps, caller: Caller, udfPath: string, kind: FunctionKind | "any", args: Record<string, Value>, componentPath = ""): Promise<{ status: number; body: object }> {
  await deps.ready;
  const fn = await deps.engine.resolve(udfPath, componentPath).catch((e: unknown) => {
    deps.log(`cannot load ${udfPath}: ${(e as Error).stack ?? String(e)}`);
    return null;
  });
  if (!fn || (kind !== "any" && fn.kind !== kind) || (fn.visibility !== "public" && !caller.admin)) {
    return { status: STATUS_UDF_FAILED, body: { status: "error", errorMessage: notFoundMessage(udfPath), logLines: [] } };
  }
  try {
    const value = await deps.engine.call(fn, args, caller.identity);
    return { status: 200, body: { status: "success", value: convexToJson(value), logLines: [] } };
  } catch (e) {
    return { status: STATUS_UDF_FAILED, body: { status: "error", ...describeFailure(e), logLines: [] } };
  } finally {
    if (fn.kind !== "query") deps.onWrite();
  }
}

function setCors(req: IncomingMessage, res: ServerResponse) {
  res.setHeader("access-control-allow-origin", req.headers.origin ?? "*");
  res.setHeader("vary", "Origin");
  res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
  res.setHeader("access-control-allow-headers", "content-type, authorization, convex-client");
  res.setHeader("access-control-max-age", "600");
}

/** Request handler for the cloud origin (everything but the WebSocket upgrade). */
export function cloudHandler(deps: HttpDeps) {
  return (req: IncomingMessage, res: ServerResponse) => {
    void handleCloud(deps, req, res).catch((e: unknown) => {
      if (e instanceof HttpError) {
        sendJson(res, e.status, { code: e.code, message: e.message });
      } else {
        const status = (e as { status?: number }).status ?? 500;
        deps.log(`http: ${(e as Error).stack ?? String(e)}`);
        sendJson(res, status, { code: status === 413 ? "TooLarge" : "InternalServerError", message: (e as Error).message });
      }
    });
  };
}

async function handleCloud(deps: HttpDeps, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  if (path.startsWith("/_local/")) {
    await handleLocal(deps, req, res, path);
    return;
  }
  setCors(req, res);
  if (req.method === "OPTIONS") {
    res.statusCode = 204;
    res.end();
    return;
  }
  if (req.method === "GET" && (path === "/version" || path === "/")) {
    res.setHeader("content-type", "text/plain");
    res.end(path === "/" ? "This Convex deployment is running locally (local-convex). See docs/LOCAL_BACKEND.md.\n" : "local-convex");
    return;
  }
  if (req.method !== "POST") throw new HttpError(404, "NotFound", `No route for ${req.method} ${path}`);
  const raw = await getRawBody(req, { limit: MAX_BODY });
  if (path === "/api/query_ts") {
    await deps.ready;
    sendJson(res, 200, { ts: encodeTs(deps.engine.commitTs()) });
    return;
  }
  let body: { path?: unknown; args?: unknown; componentPath?: unknown };
  try {
    body = raw.length ? (JSON.parse(raw.toString("utf8")) as typeof body) : {};
  } catch {
    throw new HttpError(400, "BadJsonBody", "The request body is not valid JSON");
  }
  const caller = await callerOf(req, deps);
  const kinds: Record<string, FunctionKind | "any"> = {
    "/api/query": "query",
    "/api/query_at_ts": "query",
    "/api/mutation": "mutation",
    "/api/action": "action",
    "/api/function": "any",
  };
  let udfPath: string;
  let kind: FunctionKind | "any";
  let argsJson: JSONValue;
  let componentPath = "";
  if (path.startsWith("/api/run/")) {
    udfPath = runPathToUdfPath(path.slice("/api/run/".length));
    kind = "any";
    argsJson = (body.args ?? {}) as JSONValue;
  } else if (path in kinds) {
    if (typeof body.path !== "string") throw new HttpError(400, "BadRequest", "Missing `path`");
    udfPath = body.path;
    kind = kinds[path]!;
    argsJson = (Array.isArray(body.args) ? body.args[0] ?? {} : body.args ?? {}) as JSONValue;
    // As a deployment: only `/api/function` addresses a component, and only with the admin key.
    if (path === "/api/function" && body.componentPath != null && body.componentPath !== "") {
      if (typeof body.componentPath !== "string") throw new HttpError(400, "BadRequest", "`componentPath` must be a string");
      if (!caller.admin) throw new HttpError(403, "BadAdminKey", "Calling a component's function (componentPath) needs the admin key");
      componentPath = body.componentPath;
    }
  } else {
    throw new HttpError(404, "NotFound", `No route for POST ${path}`);
  }
  const args = jsonToConvex(argsJson);
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw new HttpError(400, "BadRequest", "`args` must be an object");
  const { status, body: out } = await runFunction(deps, caller, udfPath, kind, args as Record<string, Value>, componentPath);
  sendJson(res, status, out);
}

async function handleLocal(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, path: string) {
  if (req.method === "GET" && path === "/_local/health") {
    sendJson(res, 200, deps.local.health());
    return;
  }
  if (req.method === "GET" && path === "/_local/crons") {
    sendJson(res, 200, deps.local.listCrons());
    return;
  }
  if (req.method !== "POST") throw new HttpError(404, "NotFound", `No route for ${req.method} ${path}`);
  if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
    throw new HttpError(415, "UnsupportedMediaType", "POST /_local/* needs content-type: application/json");
  }
  const raw = await getRawBody(req, { limit: MAX_BODY });
  const body = (raw.length ? JSON.parse(raw.toString("utf8")) : {}) as { name?: unknown; componentPath?: unknown };
  await deps.ready;
  if (path === "/_local/reset") {
    await deps.local.reset();
    sendJson(res, 200, { ok: true });
  } else if (path === "/_local/crons/run") {
    if (typeof body.name !== "string" || (body.componentPath !== undefined && typeof body.componentPath !== "string")) {
      throw new HttpError(400, "BadRequest", "Expected { name, componentPath? } (strings)");
    }
    try {
      sendJson(res, 200, await deps.local.runCron(body.name, body.componentPath));
    } catch (e) {
      throw new HttpError(404, "NotFound", (e as Error).message);
    }
  } else {
    throw new HttpError(404, "NotFound", `No route for POST ${path}`);
  }
}

/** Request handler for the site origin: HTTP actions from `convex/http.ts`. */
export function siteHandler(deps: HttpDeps) {
  return (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      await deps.ready;
      const method = req.method ?? "GET";
      const raw = await getRawBody(req, { limit: MAX_BODY });
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
      }
      // Like a deployment, a bad token does not block the route: the action
      // just sees no identity (`ctx.auth.getUserIdentity()` → null).
      let identity: UserIdentity | null = null;
      try {
        identity = (await callerOf(req, deps)).identity;
      } catch (e) {
        deps.log(`site: ignoring Authorization header: ${(e as Error).message}`);
      }
      const response = await deps.engine.fetch(req.url ?? "/", {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : new Uint8Array(raw),
      }, identity);
      deps.onWrite();
      res.statusCode = response.status;
      const cookies = response.headers.getSetCookie();
      response.headers.forEach((value, name) => {
        if (name !== "set-cookie") res.setHeader(name, value);
      });
      if (cookies.length) res.setHeader("set-cookie", cookies);
      res.end(Buffer.from(await response.arrayBuffer()));
    })().catch((e: unknown) => {
      deps.log(`site: ${(e as Error).stack ?? String(e)}`);
      deps.onWrite();
      if (!res.headersSent) {
        const failure = describeFailure(e);
        res.statusCode = (e as { status?: number }).status ?? 500;
        res.setHeader("content-type", "text/plain");
        res.end(failure.errorMessage);
      } else {
        res.end();
      }
    });
  };
}
