/**
 * The billing component (https://docs.convex.dev/components/authoring):
 * Stripe customers, subscriptions, invoices, token balances and their ledger,
 * and the webhook event queue, in its own tables. The app installs it in
 * `convex/convex.config.ts` and passes its env in; nothing here reads
 * `process.env` or `ctx.auth`. `docs/BILLING_COMPONENT.md` is its README.
 *
 * It installs Convex's Resend component (`@convex-dev/resend`: durable,
 * idempotent email sends) for notification mail (docs/NOTIFICATIONS.md).
 */
import { defineComponent } from "convex/server";
import { v } from "convex/values";
import resend from "@convex-dev/resend/convex.config";

const component = defineComponent("billing", {
  env: {
    /** `sk_test_…`, `sk_live_…` or `rk_…`; unset: Stripe calls fail with `STRIPE_NOT_CONFIGURED`, webhooks are still recorded. */
    STRIPE_SECRET_KEY: v.optional(v.string()),
    /** The app's origin, for Checkout and Portal return URLs (e.g. `http://127.0.0.1:5173`). */
    SITE_URL: v.optional(v.string()),
    /** Customer Portal configuration (`bpc_…`); unset: the one `npm run seed:stripe` made. */
    STRIPE_PORTAL_CONFIGURATION_ID: v.optional(v.string()),
    /** `per_customer`: each new customer on its own test clock (test keys only; the demo). */
    STRIPE_TEST_CLOCKS: v.optional(v.string()),
    /** The Stripe SDK's `host` / `port` / `protocol` (test keys only): the local simulator. */
    STRIPE_API_HOST: v.optional(v.string()),
    STRIPE_API_PORT: v.optional(v.string()),
    STRIPE_API_PROTOCOL: v.optional(v.string()),
    /** Resend API key (`re_…`); unset: notifications stay in-app, no email (`emailStatus: "disabled"`). */
    RESEND_API_KEY: v.optional(v.string()),
    /** The sender, e.g. `Acme Billing <billing@acme.com>` (a domain verified in Resend). */
    EMAIL_FROM: v.optional(v.string()),
  },
});

component.use(resend);

export default component;
