/**
 * Verification of Stripe webhook deliveries, for the `POST /stripe/webhook`
 * httpAction (`client.ts`, `registerRoutes`).
 *
 * Follows https://docs.stripe.com/webhooks#verify-official-libraries: the raw
 * body (never re-serialised JSON) is checked with the stripe SDK's
 * `webhooks.constructEventAsync` and its SubtleCrypto provider, because
 * Convex's default runtime has WebCrypto but no synchronous HMAC.
 *
 * Times in this module are Stripe's: Unix seconds.
 */
import Stripe from "stripe";

/** Bodies larger than this are refused with 413 before any hashing. */
export const WEBHOOK_MAX_BODY_BYTES = 512 * 1024;
/** Oldest signature timestamp accepted, in seconds (Stripe's default). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/**
 * How far in the future a signature timestamp may be, in seconds. The SDK
 * only rejects old timestamps; a future one means a skewed signer or a
 * forged header, so we bound it ourselves.
 */
export const SIGNATURE_FUTURE_SKEW_SECONDS = 60;

export type StripeMode = "live" | "test";

export type VerifyResult =
  | { ok: true; event: Stripe.Event }
  | { ok: false; status: 400; reason: string };

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/**
 * Splits `STRIPE_WEBHOOK_SECRET` into its secrets. During a secret roll it
 * holds a comma-separated list (`whsec_new,whsec_old`); any of them verifies.
 */
export function parseWebhookSecrets(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * The `t=` timestamp (seconds) of a `Stripe-Signature` header, or null when
 * it has none, a malformed one, or more than one. Stripe sends exactly one;
 * with two, this guard and the SDK (which verifies against the last) could
 * read different times, so such a header is refused outright.
 */
export function signatureTimestamp(header: string): number | null {
  const values = header
    .split(",")
    .map((part) => part.split("=", 2))
    .filter(([key]) => key?.trim() === "t")
    .map(([, value]) => value?.trim() ?? "");
  if (values.length !== 1 || !/^\d+$/.test(values[0]!)) return null;
  return Number(values[0]);
}

/** UTF-8 byte length, which is what the size cap is about (not UTF-16 units). */
export function byteLength(body: string): number {
  return new TextEncoder().encode(body).byteLength;
}

/**
 * Verifies a delivery against every configured secret and parses it.
 *
 * Returns `{ ok: false, status: 400 }` for a missing header, a timestamp
 * more than `SIGNATURE_FUTURE_SKEW_SECONDS` ahead of `nowSeconds` or older
 * than `SIGNATURE_TOLERANCE_SECONDS`, a signature that matches no secret, or
 * a body that is not a JSON Stripe event. Never throws for bad input.
 */
export async function verifyStripeDelivery(
  body: string,
  signatureHeader: string | null,
  secrets: readonly string[],
  nowSeconds: number,
): Promise<VerifyResult> {
  if (!signatureHeader) return { ok: false, status: 400, reason: "missing Stripe-Signature header" };
  const t = signatureTimestamp(signatureHeader);
  if (t === null) return { ok: false, status: 400, reason: "Stripe-Signature needs exactly one valid t= timestamp" };
  if (t > nowSeconds + SIGNATURE_FUTURE_SKEW_SECONDS) {
    return { ok: false, status: 400, reason: "Stripe-Signature timestamp is in the future" };
  }
  let lastReason = "no webhook secret configured";
  for (const secret of secrets) {
    let event: unknown;
    try {
      event = await Stripe.webhooks.constructEventAsync(
        body,
        signatureHeader,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        cryptoProvider,
        nowSeconds * 1000,
      );
    } catch (error) {
      if (error instanceof Error && error.name === "SyntaxError") {
        // The signature matched (the SDK parses only after verifying), so
        // another secret will not make this body valid JSON.
        return { ok: false, status: 400, reason: "body is not valid JSON" };
      }
      lastReason = error instanceof Error ? error.message : String(error);
      continue;
    }
    if (!isStripeEventShape(event)) {
      return { ok: false, status: 400, reason: "body is not a Stripe event" };
    }
    return { ok: true, event };
  }
  return { ok: false, status: 400, reason: `signature verification failed: ${lastReason}` };
}

function isStripeEventShape(value: unknown): value is Stripe.Event {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const e = value as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | null | undefined;
  return (
    typeof e.id === "string" &&
    e.id.length > 0 &&
    typeof e.type === "string" &&
    typeof e.created === "number" &&
    Number.isInteger(e.created) &&
    typeof e.livemode === "boolean" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}
