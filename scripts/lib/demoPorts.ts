/** Port sets of the local stack (no imports: the Playwright config loads this in every worker). */
export type DemoPorts = {
  /** Convex cloud origin (WebSocket sync + HTTP API). */
  convex: number;
  /** Convex site origin (HTTP actions: `/stripe/webhook`). */
  site: number;
  /** Dev sign-in token issuer. */
  auth: number;
  /** Stripe simulator (API, hosted pages, `/_sim`). */
  stripe: number;
  /** The React client. */
  app: number;
};

/** What `npm run demo` uses. */
export const DEMO_PORTS: DemoPorts = { convex: 3210, site: 3211, auth: 3212, stripe: 12111, app: 5173 };
/** What the browser tests use, so they can run beside a running demo. */
export const TEST_PORTS: DemoPorts = { convex: 4210, site: 4211, auth: 4212, stripe: 13111, app: 4173 };

const ENV_SUFFIX: Record<keyof DemoPorts, string> = {
  convex: "CONVEX_PORT",
  site: "SITE_PORT",
  auth: "AUTH_PORT",
  stripe: "STRIPE_PORT",
  app: "APP_PORT",
};

/**
 * `base` with overrides from `<prefix>CONVEX_PORT`, `<prefix>SITE_PORT`,
 * `<prefix>AUTH_PORT`, `<prefix>STRIPE_PORT`, `<prefix>APP_PORT`.
 * Throws on a value that is not a port number.
 */
export function portsFromEnv(prefix: string, base: DemoPorts, env: NodeJS.ProcessEnv = process.env): DemoPorts {
  const out = { ...base };
  for (const key of Object.keys(ENV_SUFFIX) as (keyof DemoPorts)[]) {
    const name = `${prefix}${ENV_SUFFIX[key]}`;
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    out[key] = portNumber(name, raw);
  }
  return out;
}

/** `raw` as a port number; throws naming `name` (an env var or a flag) otherwise. */
export function portNumber(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port number, got ${JSON.stringify(raw)}`);
  return n;
}
