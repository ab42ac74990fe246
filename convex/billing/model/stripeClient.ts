/**
 * The one way Convex code talks to Stripe.
 *
 * - `getStripe()` builds a client from the deployment's environment **when
 *   called**, never at import, so a deployment without Stripe keys still loads
 *   every module and serves everything that does not need Stripe (plans,
 *   balances, webhooks already queued). A missing key fails only the call,
 *   with `ConvexError` `STRIPE_NOT_CONFIGURED` naming the variable.
 * - The API version is pinned to the one the installed SDK was generated for,
 *   so request and response shapes match the SDK's types
 *   (https://docs.stripe.com/api/versioning, https://docs.stripe.com/sdks/set-version).
 * - HTTP goes through `fetch` (`Stripe.createFetchHttpClient()`): Convex's
 *   default runtime has `fetch`, not Node's `http`
 *   (https://docs.convex.dev/functions/runtimes).
 * - Writes go through `stripeWrite`, which requires an idempotency key, so a
 *   retried or double-clicked action cannot create two objects
 *   (https://docs.stripe.com/api/idempotent_requests).
 * - SDK errors become `ConvexError` `STRIPE_ERROR` with a message that is safe
 *   to show; the full error is logged server-side only.
 *
 * Environment (the component's declared env, `convex.config.ts`; the app
 * passes each in from its own env var of the same name):
 * - `STRIPE_SECRET_KEY` (required for Stripe calls): `sk_test_…`, `sk_live_…`,
 *   or a restricted key `rk_…`.
 * - `STRIPE_API_HOST`, `STRIPE_API_PORT`, `STRIPE_API_PROTOCOL` (optional,
 *   test keys only): the SDK's own `host` / `port` / `protocol` options
 *   (https://github.com/stripe/stripe-node#configuration), to reach another
 *   server speaking Stripe's API, e.g. `127.0.0.1`, `12111`, `http` for the
 *   local simulator. Unset means `https://api.stripe.com`; refused with a
 *   live key, so live money only ever goes to Stripe.
 * - `STRIPE_PORTAL_CONFIGURATION_ID` (optional): the Customer Portal
 *   configuration (`bpc_…`) sessions use. Unset: the one `npm run seed:stripe`
 *   made, found by `metadata.app = PORTAL_CONFIGURATION_APP`.
 * - `STRIPE_TEST_CLOCKS` (optional, test keys only): `per_customer` puts each
 *   new customer on its own test clock (for the demo); refused with a live key.
 */
import Stripe from "stripe";
import { env } from "../_generated/server";
import { fail, isBillingError } from "./errors";

/**
 * The API version stripe@23.1.0 was generated for. Typed as the SDK's
 * `LatestApiVersion`, so bumping the SDK without updating this fails to compile.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive" satisfies Stripe.LatestApiVersion;

/** `metadata.app` of the Customer Portal configuration this app ships (scripts/seed-stripe.ts). */
export const PORTAL_CONFIGURATION_APP = "convex-stripe-billing";

/** Stripe's documented maximum idempotency key length. */
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The component's declared env (`convex.config.ts`), passed in by the app. */
export type BillingEnvName = Exclude<keyof typeof env, "CONVEX_CLOUD_URL" | "CONVEX_SITE_URL">;

/**
 * Reads one of the component's declared env vars at call time (the app passes
 * them in, `app.use(billing, { env })`); blank counts as unset.
 */
export function readEnv(name: BillingEnvName): string | undefined {
  const value = env[name];
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Returns `STRIPE_SECRET_KEY` or throws `STRIPE_NOT_CONFIGURED`. */
function requireSecretKey(): string {
  const key = readEnv("STRIPE_SECRET_KEY");
  if (!key) {
    fail("STRIPE_NOT_CONFIGURED", "Billing is not configured: set the STRIPE_SECRET_KEY environment variable.", {
      variable: "STRIPE_SECRET_KEY",
    });
  }
  return key;
}

/**
 * Reads env var `name` as an http(s) URL; `undefined` when unset or blank.
 * @throws `STRIPE_NOT_CONFIGURED` (`variable: name`) when it is set but not an
 *   http:// or https:// URL; `example` is shown in the message.
 */
export function httpUrlFromEnv(name: BillingEnvName, example: string): URL | undefined {
  const raw = readEnv(name);
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail("STRIPE_NOT_CONFIGURED", `${name} is not a valid URL (expected e.g. ${example}).`, { variable: name });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    fail("STRIPE_NOT_CONFIGURED", `${name} must be an http:// or https:// URL (e.g. ${example}).`, { variable: name });
  }
  return url;
}

/**
 * `"live"` for live keys (`sk_live_…`, `rk_live_…`), else `"test"`.
 * Pure; exported for tests and for callers that hold a key already.
 */
export function stripeModeFromKey(key: string): "live" | "test" {
  return key.startsWith("sk_live_") || key.startsWith("rk_live_") ? "live" : "test";
}

/**
 * The mode of the configured API key: `sk_live_…` / `rk_live_…` is live,
 * anything else (including no key, so an unconfigured deployment never lets
 * live events in) is test.
 */
export function configuredMode(): "live" | "test" {
  const key = readEnv("STRIPE_SECRET_KEY");
  return key ? stripeModeFromKey(key) : "test";
}

/**
 * Whether the configured `STRIPE_SECRET_KEY` is a live or a test key, for
 * Stripe calls. Throws `STRIPE_NOT_CONFIGURED` when the key is unset (the
 * webhook path uses `configuredMode`, which does not).
 */
export function stripeMode(): "live" | "test" {
  return stripeModeFromKey(requireSecretKey());
}

/** `STRIPE_PORTAL_CONFIGURATION_ID` when set (a `bpc_…` id), else undefined. */
export function portalConfigurationIdFromEnv(): string | undefined {
  return readEnv("STRIPE_PORTAL_CONFIGURATION_ID");
}

/**
 * Whether new customers get their own test clock (`STRIPE_TEST_CLOCKS=per_customer`).
 * @throws `STRIPE_NOT_CONFIGURED` (`variable: "STRIPE_TEST_CLOCKS"`) when it is
 *   set with a live key (test clocks exist only in test mode), or set to
 *   anything but `per_customer` / `off`.
 */
export function testClocksPerCustomer(): boolean {
  const value = readEnv("STRIPE_TEST_CLOCKS");
  if (value === undefined || value === "off") return false;
  if (value !== "per_customer") {
    fail("STRIPE_NOT_CONFIGURED", `STRIPE_TEST_CLOCKS must be "per_customer" or "off", not "${value}".`, {
      variable: "STRIPE_TEST_CLOCKS",
    });
  }
  if (stripeMode() === "live") {
    fail("STRIPE_NOT_CONFIGURED", "STRIPE_TEST_CLOCKS works only with a test key; unset it for live mode.", {
      variable: "STRIPE_TEST_CLOCKS",
    });
  }
  return true;
}

/**
 * The SDK's `host` / `port` / `protocol` options from `STRIPE_API_HOST`,
 * `STRIPE_API_PORT` (1–65535) and `STRIPE_API_PROTOCOL` (`http` | `https`),
 * or `{}` for Stripe itself when none is set. Port and protocol default to
 * the SDK's (443, https).
 * @throws `STRIPE_NOT_CONFIGURED` (`variable` names the offending one) when
 *   any is set with a live key, port or protocol is set without a host, or a
 *   value is out of range.
 */
function apiHostConfig(key: string): Pick<Stripe.StripeConfig, "host" | "port" | "protocol"> {
  const host = readEnv("STRIPE_API_HOST");
  const port = readEnv("STRIPE_API_PORT");
  const protocol = readEnv("STRIPE_API_PROTOCOL");
  const set = ([["STRIPE_API_HOST", host], ["STRIPE_API_PORT", port], ["STRIPE_API_PROTOCOL", protocol]] as const).filter(
    ([, value]) => value !== undefined,
  );
  if (set.length === 0) return {};
  if (stripeModeFromKey(key) === "live") {
    const names = set.map(([name]) => name).join(", ");
    fail("STRIPE_NOT_CONFIGURED", `A Stripe API host override is refused with a live key: live calls go only to api.stripe.com. Unset ${names} for live mode.`, {
      variable: set[0]![0],
    });
  }
  if (!host) {
    fail("STRIPE_NOT_CONFIGURED", "STRIPE_API_PORT and STRIPE_API_PROTOCOL need STRIPE_API_HOST (e.g. 127.0.0.1).", {
      variable: "STRIPE_API_HOST",
    });
  }
  if (protocol !== undefined && protocol !== "http" && protocol !== "https") {
    fail("STRIPE_NOT_CONFIGURED", `STRIPE_API_PROTOCOL must be "http" or "https", not "${protocol}".`, { variable: "STRIPE_API_PROTOCOL" });
  }
  const portNumber = port === undefined ? undefined : Number(port);
  if (portNumber !== undefined && !(Number.isInteger(portNumber) && portNumber >= 1 && portNumber <= 65535)) {
    fail("STRIPE_NOT_CONFIGURED", `STRIPE_API_PORT must be a port number (1-65535), not "${port}".`, { variable: "STRIPE_API_PORT" });
  }
  return {
    host,
    ...(portNumber !== undefined ? { port: portNumber } : {}),
    ...(protocol !== undefined ? { protocol } : {}),
  };
}

/**
 * A Stripe client for the current environment. Cheap to build (no network),
 * so it is built per call rather than cached; that also means changing an env
 * var takes effect on the next call.
 *
 * @throws ConvexError `STRIPE_NOT_CONFIGURED` (`variable` names what is
 *   missing or invalid: `STRIPE_SECRET_KEY`, or one of `STRIPE_API_HOST` /
 *   `STRIPE_API_PORT` / `STRIPE_API_PROTOCOL`, e.g. set with a live key).
 */
export function getStripe(): Stripe {
  const key = requireSecretKey();
  return new Stripe(key, {
    apiVersion: STRIPE_API_VERSION,
    httpClient: Stripe.createFetchHttpClient(),
    // Retries are safe because every write carries our idempotency key; the
    // SDK also retries 409 "request in progress" for a concurrent duplicate.
    maxNetworkRetries: 2,
    // Stay well inside an action's time budget.
    timeout: 20_000,
    appInfo: { name: "convex-stripe-billing" },
    ...apiHostConfig(key),
  });
}

/**
 * Turns anything a Stripe call threw into a `ConvexError`: billing errors pass
 * through, everything else becomes `STRIPE_ERROR` with a message that names
 * the kind of failure but none of Stripe's raw text (which can echo request
 * parameters). The original is logged for operators.
 */
export function toStripeError(error: unknown, operation: string): never {
  if (isBillingError(error)) throw error;
  console.error(`Stripe ${operation} failed`, error);
  if (error instanceof Stripe.errors.StripeError) {
    const requestId = error.requestId ? ` (request ${error.requestId})` : "";
    let message: string;
    switch (error.type) {
      case "StripeConnectionError":
        message = "Could not reach Stripe. Try again in a moment.";
        break;
      case "StripeRateLimitError":
        message = "Stripe is busy. Try again in a moment.";
        break;
      case "StripeAuthenticationError":
      case "StripePermissionError":
        message = "Billing is misconfigured on the server. Contact support.";
        break;
      case "StripeIdempotencyError":
        message = "A conflicting billing request is already in progress. Try again in a minute.";
        break;
      default:
        message = "Stripe could not complete the request. Try again, or contact support if it keeps happening.";
    }
    fail("STRIPE_ERROR", message + requestId);
  }
  fail("STRIPE_ERROR", "Stripe could not complete the request. Try again, or contact support if it keeps happening.");
}

/** Runs a Stripe read, mapping failures with `toStripeError`. */
export async function stripeRead<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return toStripeError(error, operation);
  }
}

/**
 * Runs a Stripe write with a caller-chosen idempotency key (required by the
 * signature, so no write can forget it). Same key and same parameters within
 * Stripe's retention window (at least 24 h) return the first response;
 * the same key with different parameters is an `idempotency_error`.
 *
 * @param idempotencyKey 1–255 characters, derived from what makes the write
 *   unique (e.g. `customer-create:<accountId>`).
 */
export async function stripeWrite<T>(
  operation: string,
  idempotencyKey: string,
  call: (options: Stripe.RequestOptions) => Promise<T>,
): Promise<T> {
  if (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new Error(`Idempotency key for ${operation} must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  try {
    return await call({ idempotencyKey });
  } catch (error) {
    return toStripeError(error, operation);
  }
}
