/**
 * HTTP routes.
 *
 * `POST /stripe/webhook` — Stripe event deliveries
 * (https://docs.stripe.com/webhooks). Verify → record → apply → outcome,
 * top to bottom:
 * 1. size cap: 413 over `WEBHOOK_MAX_BODY_BYTES` (Content-Length, then the body);
 * 2. configuration: 500 without `STRIPE_WEBHOOK_SECRET` (Stripe retries);
 * 3. verify the raw body's signature against every configured secret: 400;
 * 4. one internal mutation, `webhooks.receive`, records the event by id and
 *    applies it (livemode different from the configured key's mode:
 *    recorded `ignored`); a redelivery is one indexed read: 200;
 * 5. if that throws (it rolled back), `webhooks.recordForRetry` records the
 *    event for a retry with backoff: 200; if that fails too: 500, so Stripe
 *    redelivers.
 * No Stripe API is called here. `model/webhookPipeline.ts` has the details.
 *
 * Environment (read through `readEnv`, per request so a rotated secret
 * applies without a redeploy): `STRIPE_WEBHOOK_SECRET` (one `whsec_…`, or a
 * comma-separated list while rolling secrets), `STRIPE_SECRET_KEY` (its
 * prefix decides live or test mode).
 */
import { httpRouter } from "convex/server";
import { internal } from "./_generated/api";
import { httpAction } from "./_generated/server";
import { readEnv } from "./model/stripeClient";
import { customerIdOfEvent } from "./model/stripeShapes";
import {
  WEBHOOK_MAX_BODY_BYTES,
  byteLength,
  modeOfSecretKey,
  parseWebhookSecrets,
  verifyStripeDelivery,
} from "./model/stripeWebhook";
import { errorMessage, type EventInput } from "./model/webhookQueue";

const http = httpRouter();

function textResponse(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

const stripeWebhook = httpAction(async (ctx, request) => {
  const declaredLength = Number(request.headers.get("Content-Length") ?? "0");
  if (Number.isFinite(declaredLength) && declaredLength > WEBHOOK_MAX_BODY_BYTES) {
    return textResponse(413, "payload too large");
  }
  const body = await request.text();
  if (byteLength(body) > WEBHOOK_MAX_BODY_BYTES) return textResponse(413, "payload too large");

  const secrets = parseWebhookSecrets(readEnv("STRIPE_WEBHOOK_SECRET"));
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

  const mode = modeOfSecretKey(readEnv("STRIPE_SECRET_KEY"));
  const eventMode = event.livemode ? "live" : "test";
  const input: EventInput = {
    eventId: event.id,
    type: event.type,
    apiVersion: event.api_version ?? undefined,
    livemode: event.livemode,
    eventCreated: event.created,
    payload: body,
    stripeCustomerId: customerIdOfEvent(event),
    ignoreReason: eventMode === mode ? undefined : `${eventMode} event on a ${mode}-mode deployment`,
  };
  try {
    await ctx.runMutation(internal.webhooks.receive, input);
  } catch (applyError) {
    try {
      await ctx.runMutation(internal.webhooks.recordForRetry, { ...input, error: errorMessage(applyError) });
    } catch (recordError) {
      console.error(`could not record Stripe event ${event.id}:`, recordError);
      return textResponse(500, "could not record event");
    }
  }
  return textResponse(200, "ok");
});

http.route({ path: "/stripe/webhook", method: "POST", handler: stripeWebhook });

export default http;
