/**
 * The `/v1` REST API in Stripe's wire format, one module per Stripe resource.
 * Handlers read bracket-decoded params, call the billing engine, and render
 * objects with `expand[]`; auth, idempotency and error shaping are done
 * around them in `server.ts`. Routes match by method and path pattern, so the
 * order below is only the order of the docs (docs/STRIPE_SIMULATOR.md).
 */
import type { SimContext } from "../../context.ts";
import type { Router } from "../../router.ts";
import { registerBillingPortalRoutes } from "./billingPortal.ts";
import { registerCatalogRoutes } from "./catalog.ts";
import { registerChargeRoutes } from "./charges.ts";
import { registerCheckoutSessionRoutes } from "./checkoutSessions.ts";
import { registerCouponRoutes } from "./coupons.ts";
import { registerCustomerRoutes } from "./customers.ts";
import { registerEventRoutes } from "./events.ts";
import { registerInvoiceRoutes } from "./invoices.ts";
import { registerMeterRoutes } from "./meters.ts";
import { registerPaymentIntentRoutes } from "./paymentIntents.ts";
import { registerPaymentMethodRoutes } from "./paymentMethods.ts";
import { registerSubscriptionRoutes } from "./subscriptions.ts";
import { registerSubscriptionScheduleRoutes } from "./subscriptionSchedules.ts";
import { registerTestClockRoutes } from "./testClocks.ts";
import { registerWebhookEndpointRoutes } from "./webhookEndpoints.ts";

const RESOURCES: ((router: Router, ctx: SimContext) => void)[] = [
  registerCustomerRoutes,
  registerCatalogRoutes,
  registerCouponRoutes,
  registerPaymentMethodRoutes,
  registerPaymentIntentRoutes,
  registerChargeRoutes,
  registerCheckoutSessionRoutes,
  registerSubscriptionRoutes,
  registerSubscriptionScheduleRoutes,
  registerInvoiceRoutes,
  registerMeterRoutes,
  registerEventRoutes,
  registerTestClockRoutes,
  registerWebhookEndpointRoutes,
  registerBillingPortalRoutes,
];

/** Registers every `/v1` resource's routes on `router`. */
export function registerApiRoutes(router: Router, ctx: SimContext): void {
  for (const register of RESOURCES) register(router, ctx);
}
