/**
 * The HTTP front: routes `/v1/*` (Stripe API: Bearer auth, Idempotency-Key,
 * Stripe-shaped errors), the hosted pages and the `/_sim` control API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import getRawBody from "raw-body";
import { tick } from "./clock.ts";
import type { SimContext } from "./context.ts";
import { StripeApiError } from "./errors.ts";
import { canonical, parseForm } from "./form.ts";
import { newId } from "./ids.ts";
import { json, type Router, type SimRequest, type SimResponse } from "./router.ts";

const MAX_BODY = 1_000_000;
/** How long a saved idempotent response is replayed (https://docs.stripe.com/api/idempotent_requests). */
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

function apiError(status: number, type: string, message: string, code?: string): SimResponse {
  return json(status, { error: { type, message, ...(code ? { code } : {}) } });
}

/** Stripe accepts `Authorization: Bearer sk_test_…` (or Basic with the key as user). */
function checkAuth(req: SimRequest): SimResponse | null {
  const header = req.headers.authorization ?? "";
  let key = "";
  if (header.startsWith("Bearer ")) key = header.slice(7).trim();
  else if (header.startsWith("Basic ")) key = Buffer.from(header.slice(6), "base64").toString("utf8").split(":")[0] ?? "";
  if (!key) {
    return apiError(
      401,
      "invalid_request_error",
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  if (!/^(sk|rk)_test_\S+$/.test(key)) {
    return apiError(401, "invalid_request_error", `Invalid API Key provided: ${key.slice(0, 8)}****. The simulator accepts test keys (sk_test_…) only.`, "api_key_invalid");
  }
  return null;
}

export type ServerParts = {
  ctx: SimContext;
  api: Router;
  pages: Router;
  control: Router;
  /** Called after every mutating request (persistence). */
  afterWrite: () => void;
};

async function runHandler(router: Router, req: SimRequest): Promise<SimResponse | null> {
  const match = router.match(req.method, req.path);
  if (match === null) return null;
  if (match === "method_not_allowed") {
    return apiError(405, "invalid_request_error", `Unrecognized request URL (${req.method}: ${req.path}).`);
  }
  req.params = match.params;
  return await match.handler(req);
}

async function handleApi(parts: ServerParts, req: SimRequest): Promise<SimResponse> {
  const { ctx } = parts;
  const denied = checkAuth(req);
  if (denied) return denied;
  const requestId = newId("req");
  const idemKey = req.method === "POST" ? (req.headers["idempotency-key"] as string | undefined) : undefined;
  if (idemKey && idemKey.length > 255) {
    return apiError(400, "invalid_request_error", "Idempotency keys can be at most 255 characters long.");
  }
  const params = canonical(req.body);
  if (idemKey) {
    let prior = ctx.store.state.idempotency[idemKey];
    // Stripe forgets keys after 24 hours: a key used again later runs anew.
    if (prior && Date.now() - prior.createdAt > IDEMPOTENCY_TTL_MS) {
      delete ctx.store.state.idempotency[idemKey];
      prior = undefined;
    }
    if (prior) {
      if (prior.method !== req.method || prior.path !== req.path || prior.params !== params) {
        return apiError(
          400,
          "idempotency_error",
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
        );
      }
      return {
        status: prior.status,
        headers: { "content-type": "application/json; charset=utf-8", "idempotent-replayed": "true", "request-id": requestId },
        body: prior.body,
      };
    }
  }
  ctx.currentRequest = { id: requestId, idempotency_key: idemKey ?? null };
  let res: SimResponse;
  try {
    tick(ctx);
    res =
      (await runHandler(parts.api, req)) ??
      apiError(404, "invalid_request_error", `Unrecognized request URL (${req.method}: ${req.path}). The simulator implements the endpoints listed in docs/STRIPE_SIMULATOR.md.`);
  } catch (err) {
    if (err instanceof StripeApiError) {
      res = json(err.status, err.toJSON());
    } else {
      ctx.log(`internal error on ${req.method} ${req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      res = apiError(500, "api_error", `Internal simulator error: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    ctx.currentRequest = null;
  }
  res.headers = { ...(res.headers ?? {}), "request-id": requestId, "stripe-version": "2026-10-28.endive" };
  // Stripe saves the result once the endpoint started executing (500s too),
  // but not for requests rejected by validation (400).
  if (idemKey && res.status !== 400) {
    ctx.store.state.idempotency[idemKey] = {
      method: req.method,
      path: req.path,
      params,
      status: res.status,
      body: res.body,
      createdAt: Date.now(),
    };
  }
  if (req.method !== "GET") parts.afterWrite();
  return res;
}

async function handle(parts: ServerParts, req: SimRequest): Promise<SimResponse> {
  if (req.path.startsWith("/v1/")) return handleApi(parts, req);
  const router = req.path.startsWith("/_sim") ? parts.control : parts.pages;
  try {
    if (!req.path.startsWith("/_sim")) tick(parts.ctx);
    const res = await runHandler(router, req);
    if (req.method !== "GET") parts.afterWrite();
    return res ?? { status: 404, headers: { "content-type": "text/plain" }, body: "Not found" };
  } catch (err) {
    if (err instanceof StripeApiError) return json(err.status, err.toJSON());
    parts.ctx.log(`error on ${req.method} ${req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return json(500, { error: { type: "api_error", message: err instanceof Error ? err.message : String(err) } });
  }
}

export function createSimServer(parts: ServerParts): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const rawBody = req.method === "GET" || req.method === "HEAD" ? "" : (await getRawBody(req, { limit: MAX_BODY })).toString("utf8");
      const type = String(req.headers["content-type"] ?? "");
      let jsonBody: unknown = undefined;
      if (type.includes("application/json") && rawBody) {
        try {
          jsonBody = JSON.parse(rawBody);
        } catch {
          jsonBody = undefined;
        }
      }
      const simReq: SimRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        url,
        headers: req.headers,
        query: parseForm(url.search.slice(1)),
        body: type.includes("application/json") ? {} : parseForm(rawBody),
        json: jsonBody,
        rawBody,
        params: {},
      };
      const out = await handle(parts, simReq);
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });
}
