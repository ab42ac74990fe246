/**
 * HTTP routes. `POST /stripe/webhook`: Stripe event deliveries, verified with
 * `STRIPE_WEBHOOK_SECRET` (one `whsec_…`, or a comma-separated list while
 * rolling secrets) and handed to the billing component
 * (`convex/billing/client.ts` documents the steps and status codes).
 * `POST /clerk/webhook`: Clerk's organisation membership events, verified
 * with `CLERK_WEBHOOK_SECRET` (svix) and recorded in `orgMemberships`
 * (`orgMemberships.ts`, docs/ORGANISATIONS.md).
 */
import { httpRouter } from "convex/server";
import { components } from "./_generated/api";
import { env } from "./_generated/server";
import { registerRoutes } from "./billing/client";
import { clerkWebhook } from "./orgMemberships";

const http = httpRouter();

registerRoutes(http, components.billing, { webhookSecret: () => env.STRIPE_WEBHOOK_SECRET });

http.route({ path: "/clerk/webhook", method: "POST", handler: clerkWebhook });

export default http;
