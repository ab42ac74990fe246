/**
 * The backend's env that points its Stripe client at another server speaking
 * Stripe's API (a recording server, the simulator): the SDK's `host`, `port`
 * and `protocol` options as `STRIPE_API_HOST` / `STRIPE_API_PORT` /
 * `STRIPE_API_PROTOCOL` (convex/billing/model/stripeClient.ts), from that server's
 * origin, e.g. `http://127.0.0.1:54321`.
 */
export function stripeApiEnv(origin: string): { STRIPE_API_HOST: string; STRIPE_API_PORT: string; STRIPE_API_PROTOCOL: "http" | "https" } {
  const url = new URL(origin);
  const protocol = url.protocol === "https:" ? "https" : "http";
  return { STRIPE_API_HOST: url.hostname, STRIPE_API_PORT: url.port || (protocol === "https" ? "443" : "80"), STRIPE_API_PROTOCOL: protocol };
}
