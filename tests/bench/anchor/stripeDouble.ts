// Copied from ../shared/bench/anchor-convex-stripe/bench/stripeDouble.ts (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Local change: two type assertions dropped that this repo's lint finds unnecessary.
// Local Stripe API double (node:http on 127.0.0.1:<random>) + a fetch wrapper that
// sends https://api.stripe.com/* to it.
//
// Why the wrapper: @convex-dev/stripe builds its client as
// `new Stripe(key, apiVersion ? { apiVersion } : undefined)` — no host/port/protocol
// option — so the only seam is the global fetch the SDK's worker build captures
// when the client is constructed (once per webhook request).
//
// The double serves GET /v1/{customers,subscriptions,invoices,checkout/sessions}/:id
// from the stream's object timeline: the version current at the double's clock,
// which the harness advances to each delivered event's `created` time (Stripe's
// truth when that event was sent). Everything else answers 404 `resource_missing`
// and is counted as `unhandled`.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Stream } from "./stream";

export interface CallCounts {
  /** requests that reached the double */
  total: number;
  /** by "METHOD /v1/resource/:id" */
  byRoute: Record<string, number>;
  /** requests the double could not answer (404) */
  unhandled: number;
  /** fetch() calls to a non-Stripe URL, passed through unchanged */
  otherOutbound: number;
}

export interface StripeDouble {
  origin: string;
  port: number;
  /** Stripe-Version header values seen, with counts */
  apiVersionsSeen: Record<string, number>;
  counts(): CallCounts;
  setClock(unixSeconds: number): void;
  /** clock back to 0 and counters to zero (between passes) */
  reset(): void;
  /** wrap a fetch so api.stripe.com goes to the double; counts other outbound calls */
  wrapFetch(realFetch: typeof fetch): typeof fetch;
  close(): Promise<void>;
}

const STRIPE_HOSTS = new Set(["api.stripe.com", "files.stripe.com", "connect.stripe.com"]);
// Captured at import, before the harness installs fake timers.
const realSetTimeout = globalThis.setTimeout;

/**
 * @param latencyMs optional artificial delay before each answer (real timer), to
 *   model Stripe API round trips; 0 = answer immediately (pure CPU proxy).
 */
export async function startStripeDouble(stream: Stream, latencyMs = 0): Promise<StripeDouble> {
  const byPath = new Map<string, { validFrom: number; object: unknown }[]>();
  for (const v of stream.objectVersions) {
    const list = byPath.get(v.path) ?? [];
    list.push({ validFrom: v.validFrom, object: v.object });
    byPath.set(v.path, list);
  }
  let clock = 0;
  const counts: CallCounts = { total: 0, byRoute: {}, unhandled: 0, otherOutbound: 0 };
  const apiVersionsSeen: Record<string, number> = {};
  let reqNo = 0;

  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => (latencyMs > 0 ? realSetTimeout(answer, latencyMs) : answer()));
    const answer = () => {
      const url = new URL(req.url ?? "/", "http://double");
      const segs = url.pathname.split("/").filter(Boolean);
      const route =
        `${req.method} /` +
        segs.map((s, i) => (i >= 2 && /^[a-z]+_/.test(s) ? ":id" : s)).join("/");
      counts.total++;
      counts.byRoute[route] = (counts.byRoute[route] ?? 0) + 1;
      const ver = String(req.headers["stripe-version"] ?? "(none)");
      apiVersionsSeen[ver] = (apiVersionsSeen[ver] ?? 0) + 1;
      const headers = {
        "content-type": "application/json",
        "request-id": `req_double_${++reqNo}`,
        "stripe-version": ver,
      };
      const versions = req.method === "GET" ? byPath.get(url.pathname) : undefined;
      let current: unknown;
      for (const v of versions ?? []) if (v.validFrom <= clock) current = v.object;
      if (current === undefined) {
        counts.unhandled++;
        res.writeHead(404, headers);
        res.end(
          JSON.stringify({
            error: {
              code: "resource_missing",
              message: `Stripe double: no object for ${req.method} ${url.pathname} at t=${clock}`,
              type: "invalid_request_error",
            },
          }),
        );
        return;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify(current));
    };
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    port,
    apiVersionsSeen,
    counts: () => ({ ...counts, byRoute: { ...counts.byRoute } }),
    setClock(t) {
      clock = Math.max(clock, t);
    },
    reset() {
      clock = 0;
      counts.total = 0;
      counts.byRoute = {};
      counts.unhandled = 0;
      counts.otherOutbound = 0;
      for (const k of Object.keys(apiVersionsSeen)) delete apiVersionsSeen[k];
    },
    wrapFetch(realFetch) {
      const wrapped = (input: RequestInfo | URL, init?: RequestInit) => {
        const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
        const u = new URL(raw);
        if (STRIPE_HOSTS.has(u.hostname)) {
          const to = origin + u.pathname + u.search;
          if (typeof input === "string" || input instanceof URL) return realFetch(to, init);
          return realFetch(new Request(to, input), init);
        }
        if (u.origin !== origin) counts.otherOutbound++;
        return realFetch(input, init);
      };
      return wrapped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
