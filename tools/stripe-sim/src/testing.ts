/**
 * Test helpers for code that talks to the simulator (`@offline/stripe-sim/testing`):
 * - `startReceiver(secret)`: a webhook endpoint on a free port that verifies
 *   every delivery with the SDK's `constructEvent`, as a real backend does,
 *   and records what it got;
 * - `postForm` / `payCheckout`: drive the hosted pages with plain HTTP form
 *   posts (what a browser's submit sends).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import type { StripeSimulator } from "./index.ts";

export type Receiver = {
  url: string;
  /** Verified events in arrival order (duplicates included). */
  events: Stripe.Event[];
  /** Every request: its status answer and whether the signature verified. */
  requests: { eventId: string | null; status: number; verified: boolean; signature: string }[];
  /** Answer the next `n` requests with `status` (e.g. 500) instead of 200. */
  failNext: (n: number, status?: number) => void;
  types: () => string[];
  close: () => Promise<void>;
};

export async function startReceiver(secret: string): Promise<Receiver> {
  const events: Stripe.Event[] = [];
  const requests: Receiver["requests"] = [];
  let failures = 0;
  let failStatus = 500;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signature = String(req.headers["stripe-signature"] ?? "");
      let event: Stripe.Event | null = null;
      try {
        event = Stripe.webhooks.constructEvent(body, signature, secret);
      } catch {
        event = null;
      }
      let status = event ? 200 : 400;
      if (event && failures > 0) {
        failures--;
        status = failStatus;
      }
      requests.push({ eventId: event?.id ?? null, status, verified: event !== null, signature });
      if (event && status === 200) events.push(event);
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/stripe/webhook`,
    events,
    requests,
    failNext: (n, status = 500) => {
      failures = n;
      failStatus = status;
    },
    types: () => events.map((e) => e.type),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** POSTs a form like a browser submit; redirects are returned, not followed. */
export function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: "POST", body: new URLSearchParams(fields), redirect: "manual" });
}

/** Submits the hosted Checkout form with a test card; `extra` adds fields (e.g. `{ saveCard: "on" }`, the "save my card" box). */
export function payCheckout(
  sim: StripeSimulator,
  session: Stripe.Checkout.Session,
  card: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  return postForm(`${sim.url}/checkout/${session.id}/pay`, {
    email: "buyer@example.com",
    cardNumber: card,
    cardExpiry: "12 / 34",
    cardCvc: "123",
    cardholderName: "Test Buyer",
    ...extra,
  });
}
