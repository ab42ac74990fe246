/**
 * A small server speaking the slice of Stripe's REST API that the billing
 * actions use, for tests. It listens on 127.0.0.1 (random port), records every
 * request, and answers with minimal Stripe-shaped JSON.
 *
 * Point the backend at it with `STRIPE_API_BASE=server.url` and any
 * `STRIPE_SECRET_KEY` (it only checks that a Bearer key is sent).
 *
 * Endpoints:
 * - `POST /v1/customers`                → `customer` (`cus_test_<n>`)
 * - `GET  /v1/customers/:id`            → the stored customer, or 404
 * - `GET  /v1/prices?lookup_keys[]=…`   → `list` of prices with those lookup keys
 *   (`active` filter honoured, `expand[]=data.product` inlines the product)
 * - `POST /v1/checkout/sessions`        → `checkout.session` with a `url`
 * - `POST /v1/billing_portal/sessions`  → `billing_portal.session` with a `url`
 * Anything else answers 404 with Stripe's error shape.
 *
 * Idempotency follows https://docs.stripe.com/api/idempotent_requests: a POST
 * repeating an earlier `Idempotency-Key` with the same path and body gets the
 * stored response again (header `Idempotent-Replayed: true`) and creates
 * nothing; the same key with different parameters gets a 400
 * `idempotency_error`.
 *
 * Default prices come from the plan catalogue and token packs: price id
 * `price_<lookupKey>`, amount = `displayAmount`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { INTERVALS, PAID_TIERS, PLANS, TOKEN_PACKS } from "../../convex/model/plans";

/** A nested form value: what `a[b][0]=x` parses to. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };

export type RecordedRequest = {
  method: string;
  /** Path without the query string, e.g. `/v1/checkout/sessions`. */
  path: string;
  /** Flat form fields as sent: query string for GET, body for POST (`line_items[0][price]` → value). */
  form: Record<string, string>;
  /** The same fields parsed into nested objects/arrays (`body.line_items[0].price`). */
  body: Record<string, FormValue>;
  /** The `Idempotency-Key` header, or null. */
  idempotencyKey: string | null;
  /** The bearer key the client authenticated with. */
  apiKey: string | null;
  /** The `Stripe-Version` header. */
  stripeVersion: string | null;
  /** True when the response was an idempotent replay. */
  replayed: boolean;
  status: number;
};

export type FakePrice = {
  id: string;
  lookupKey: string;
  unitAmount: number;
  currency: string;
  /** `null` for one-off prices. */
  interval: "month" | "year" | null;
  active: boolean;
  productName: string;
};

export type StripeErrorReply = { status: number; type: string; code?: string; message: string };

export type RecordingStripeServer = {
  /** e.g. `http://127.0.0.1:54321`, for `STRIPE_API_BASE`. */
  url: string;
  requests: RecordedRequest[];
  /** Requests with this method whose path starts with `pathPrefix`. */
  requestsTo(method: string, pathPrefix: string): RecordedRequest[];
  /** Customers created so far (distinct objects, not requests). */
  customers: Array<Record<string, unknown>>;
  /** Replace or add a price (keyed by lookup key). */
  setPrice(price: FakePrice): void;
  /** Forget a lookup key, so `prices.list` finds nothing for it. */
  removePrice(lookupKey: string): void;
  /** Make the next request to `method path` fail with this error (once). */
  failNext(method: string, path: string, error: StripeErrorReply): void;
  /** Forget recorded requests (objects and idempotency keys are kept). */
  clearRequests(): void;
  close(): Promise<void>;
};

/** Parses `a[b][0][c]=x&…` (Stripe's form encoding) into flat and nested forms. */
export function parseStripeForm(encoded: string): { form: Record<string, string>; body: Record<string, FormValue> } {
  const form: Record<string, string> = {};
  const root: Record<string, FormValue> = {};
  for (const [key, value] of new URLSearchParams(encoded)) {
    form[key] = value;
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    const parts = match ? [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)] : [key];
    let node: Record<string, FormValue> = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      // `a[]=x` appends; treat it as the next index.
      const name = part === "" ? String(Object.keys(node).length) : part;
      if (last) {
        node[name] = value;
      } else {
        const next = node[name];
        if (typeof next !== "object" || next === null || Array.isArray(next)) node[name] = {};
        node = node[name] as Record<string, FormValue>;
      }
    });
  }
  return { form, body: arraysFromIndexedObjects(root) as Record<string, FormValue> };
}

function arraysFromIndexedObjects(value: FormValue): FormValue {
  if (typeof value === "string" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const converted: Record<string, FormValue> = {};
  for (const key of keys) converted[key] = arraysFromIndexedObjects(value[key]!);
  const isList = keys.length > 0 && keys.every((k, i) => k === String(i));
  return isList ? keys.map((k) => converted[k]!) : converted;
}

function defaultPrices(): FakePrice[] {
  const prices: FakePrice[] = [];
  for (const tier of PAID_TIERS) {
    const planPrices = PLANS[tier].prices;
    if (!planPrices) continue;
    for (const interval of INTERVALS) {
      const p = planPrices[interval];
      prices.push({
        id: `price_${p.lookupKey}`,
        lookupKey: p.lookupKey,
        unitAmount: p.displayAmount,
        currency: p.currency,
        interval,
        active: true,
        productName: PLANS[tier].name,
      });
    }
  }
  for (const pack of TOKEN_PACKS) {
    prices.push({
      id: `price_${pack.lookupKey}`,
      lookupKey: pack.lookupKey,
      unitAmount: pack.displayAmount,
      currency: pack.currency,
      interval: null,
      active: true,
      productName: `${pack.tokens} tokens`,
    });
  }
  return prices;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Starts the server; call `close()` in `afterAll`. */
export async function startRecordingStripeServer(options: { prices?: FakePrice[] } = {}): Promise<RecordingStripeServer> {
  const requests: RecordedRequest[] = [];
  const customers: Array<Record<string, unknown>> = [];
  const prices = new Map<string, FakePrice>();
  for (const p of options.prices ?? defaultPrices()) prices.set(p.lookupKey, p);
  const idempotent = new Map<string, { fingerprint: string; status: number; json: unknown }>();
  const failures: Array<{ method: string; path: string; error: StripeErrorReply }> = [];
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}_test_${String(++counter).padStart(6, "0")}`;
  const now = () => Math.floor(Date.now() / 1000);

  const errorJson = (e: StripeErrorReply) => ({
    error: { type: e.type, code: e.code, message: e.message },
  });

  function priceJson(p: FakePrice, expandProduct: boolean) {
    const productId = `prod_${p.lookupKey}`;
    return {
      id: p.id,
      object: "price",
      active: p.active,
      currency: p.currency,
      lookup_key: p.lookupKey,
      unit_amount: p.unitAmount,
      type: p.interval ? "recurring" : "one_time",
      recurring: p.interval ? { interval: p.interval, interval_count: 1 } : null,
      product: expandProduct ? { id: productId, object: "product", name: p.productName, active: true } : productId,
    };
  }

  function handle(method: string, path: string, body: Record<string, FormValue>): { status: number; json: unknown } {
    if (method === "POST" && path === "/v1/customers") {
      const customer = {
        id: nextId("cus"),
        object: "customer",
        created: now(),
        email: body.email ?? null,
        name: body.name ?? null,
        metadata: body.metadata ?? {},
        livemode: false,
      };
      customers.push(customer);
      return { status: 200, json: customer };
    }
    const customerMatch = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === "GET" && customerMatch) {
      const found = customers.find((c) => c.id === customerMatch[1]);
      return found
        ? { status: 200, json: found }
        : { status: 404, json: errorJson({ status: 404, type: "invalid_request_error", code: "resource_missing", message: "No such customer" }) };
    }
    if (method === "GET" && path === "/v1/prices") {
      const keys = Array.isArray(body.lookup_keys) ? (body.lookup_keys as string[]) : [];
      const expand = Array.isArray(body.expand) ? (body.expand as string[]) : [];
      const activeFilter = body.active === undefined ? undefined : body.active === "true";
      const data = keys
        .map((k) => prices.get(k))
        .filter((p): p is FakePrice => p !== undefined && (activeFilter === undefined || p.active === activeFilter))
        .map((p) => priceJson(p, expand.includes("data.product")));
      return { status: 200, json: { object: "list", url: "/v1/prices", has_more: false, data } };
    }
    if (method === "POST" && path === "/v1/checkout/sessions") {
      const id = nextId("cs");
      return {
        status: 200,
        json: {
          id,
          object: "checkout.session",
          url: `https://checkout.stripe.test/c/pay/${id}`,
          mode: body.mode ?? null,
          customer: body.customer ?? null,
          client_reference_id: body.client_reference_id ?? null,
          metadata: body.metadata ?? {},
          success_url: body.success_url ?? null,
          cancel_url: body.cancel_url ?? null,
          status: "open",
          livemode: false,
          created: now(),
        },
      };
    }
    if (method === "POST" && path === "/v1/billing_portal/sessions") {
      const id = nextId("bps");
      return {
        status: 200,
        json: {
          id,
          object: "billing_portal.session",
          url: `https://billing.stripe.test/p/session/${id}`,
          customer: body.customer ?? null,
          return_url: body.return_url ?? null,
          livemode: false,
          created: now(),
        },
      };
    }
    return {
      status: 404,
      json: errorJson({ status: 404, type: "invalid_request_error", message: `Unrecognized request URL (${method}: ${path})` }),
    };
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const raw = method === "GET" || method === "DELETE" ? url.search.replace(/^\?/, "") : await readBody(req);
    const { form, body } = parseStripeForm(raw);
    const header = (name: string) => {
      const h = req.headers[name];
      return typeof h === "string" ? h : null;
    };
    const idempotencyKey = header("idempotency-key");
    const auth = header("authorization");
    const apiKey = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : null;
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      form,
      body,
      idempotencyKey,
      apiKey,
      stripeVersion: header("stripe-version"),
      replayed: false,
      status: 0,
    };
    requests.push(record);

    const send = (status: number, json: unknown, extraHeaders: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { "Content-Type": "application/json", "Request-Id": nextId("req"), ...extraHeaders });
      res.end(JSON.stringify(json));
    };

    if (!apiKey) {
      send(401, errorJson({ status: 401, type: "invalid_request_error", message: "You did not provide an API key." }));
      return;
    }
    const fingerprint = `${method} ${url.pathname} ${raw}`;
    if (method === "POST" && idempotencyKey) {
      const previous = idempotent.get(idempotencyKey);
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          send(
            400,
            errorJson({
              status: 400,
              type: "idempotency_error",
              message: "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            }),
          );
          return;
        }
        record.replayed = true;
        send(previous.status, previous.json, { "Idempotent-Replayed": "true" });
        return;
      }
    }
    const failureIndex = failures.findIndex((f) => f.method === method && f.path === url.pathname);
    if (failureIndex >= 0) {
      const { error } = failures.splice(failureIndex, 1)[0]!;
      // Tell the SDK not to retry, so one injected failure is one failed call.
      send(error.status, errorJson(error), { "Stripe-Should-Retry": "false" });
      return;
    }
    const result = handle(method, url.pathname, body);
    if (method === "POST" && idempotencyKey) idempotent.set(idempotencyKey, { fingerprint, ...result });
    send(result.status, result.json);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsTo: (method, pathPrefix) => requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)),
    customers,
    setPrice: (price) => void prices.set(price.lookupKey, price),
    removePrice: (lookupKey) => void prices.delete(lookupKey),
    failNext: (method, path, error) => void failures.push({ method, path, error }),
    clearRequests: () => void requests.splice(0, requests.length),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
