/**
 * App-side helper: mounts the billing component's Stripe webhook route on
 * the app's router.
 *
 * ```ts
 * // convex/http.ts
 * import { httpRouter } from "convex/server";
 * import { components } from "./_generated/api";
 * import { env } from "./_generated/server";
 * import { registerRoutes } from "./billing/client";
 *
 * const http = httpRouter();
 * registerRoutes(http, components.billing, { webhookSecret: () => env.STRIPE_WEBHOOK_SECRET });
 * export default http;
 * ```
 *
 * `POST <path>` (default `/stripe/webhook`) takes Stripe's deliveries
 * (https://docs.stripe.com/webhooks). Verify → record → apply → outcome, top
 * to bottom:
 * 1. size cap: 413 over `WEBHOOK_MAX_BODY_BYTES` (Content-Length, then the body);
 * 2. configuration: 500 when `webhookSecret()` is unset (Stripe retries);
 * 3. verify the raw body's signature against every configured secret
 *    (comma-separated while rolling secrets): 400, nothing written;
 * 4. one mutation, `webhooks.receive`, records the event by id and applies
 *    it (an event of the other livemode is recorded `ignored`); a
 *    redelivery is one indexed read: 200;
 * 5. if that throws (it rolled back), `webhooks.recordForRetry` records the
 *    event for a retry with backoff: 200; if that fails too: 500, so Stripe
 *    redelivers.
 * No Stripe API is called here. The secret is read per request, so a rotated
 * secret applies without a redeploy.
 */
import { httpActionGeneric, type HttpRouter } from "convex/server";
import type { ComponentApi } from "./_generated/component";
import { errorMessage } from "./model/errors";
import { deliveryOf } from "./model/stripeShapes";
import { WEBHOOK_MAX_BODY_BYTES, byteLength, parseWebhookSecrets, verifyStripeDelivery } from "./model/stripeWebhook";

export type RegisterRoutesOptions = {
  /** The webhook signing secret(s) (`whsec_…`, comma-separated while rolling), read per request. */
  webhookSecret: () => string | undefined;
  /** Where Stripe delivers; default `/stripe/webhook`. */
  path?: string;
};

function textResponse(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/** Adds `POST options.path` to `http`, handing verified Stripe events to `component.webhooks`. */
export function registerRoutes(http: HttpRouter, component: ComponentApi, options: RegisterRoutesOptions): void {
  const handler = httpActionGeneric(async (ctx, request) => {
    const declaredLength = Number(request.headers.get("Content-Length") ?? "0");
    if (Number.isFinite(declaredLength) && declaredLength > WEBHOOK_MAX_BODY_BYTES) {
      return textResponse(413, "payload too large");
    }
    const body = await request.text();
    if (byteLength(body) > WEBHOOK_MAX_BODY_BYTES) return textResponse(413, "payload too large");

    const secrets = parseWebhookSecrets(options.webhookSecret());
    if (secrets.length === 0) {
      console.error("STRIPE_WEBHOOK_SECRET is not set: refusing Stripe webhooks with 500 so Stripe retries them");
      return textResponse(500, "webhook secret not configured");
    }
    const verified = await verifyStripeDelivery(
      body,
      request.headers.get("Stripe-Signature"),
      secrets,
      Math.floor(Date.now() / 1000),
    );
    if (!verified.ok) {
      console.warn(`rejected Stripe webhook: ${verified.reason}`);
      return textResponse(verified.status, verified.reason);
    }
    const event = verified.event;
    const input = deliveryOf(event, body);
    try {
      await ctx.runMutation(component.webhooks.receive, input);
    } catch (applyError) {
      try {
        await ctx.runMutation(component.webhooks.recordForRetry, { ...input, error: errorMessage(applyError) });
      } catch (recordError) {
        console.error(`could not record Stripe event ${event.id}:`, recordError);
        return textResponse(500, "could not record event");
      }
    }
    return textResponse(200, "ok");
  });
  http.route({ path: options.path ?? "/stripe/webhook", method: "POST", handler });
}
