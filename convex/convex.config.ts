/**
 * The app (https://docs.convex.dev/components/using): users in its own
 * schema, billing in the `billing` component (`convex/billing/`). Declared env
 * (`npx convex env set NAME value`) is passed into the component by
 * reference; `STRIPE_WEBHOOK_SECRET` stays with the app, which verifies
 * deliveries before handing them to the component (`http.ts`).
 */
import { defineApp } from "convex/server";
import { v } from "convex/values";
import billing from "./billing/convex.config";
import workpool from "@convex-dev/workpool/convex.config";

const app = defineApp({
  env: {
    /** One `whsec_…`, or a comma-separated list while rolling secrets. */
    STRIPE_WEBHOOK_SECRET: v.optional(v.string()),
    STRIPE_SECRET_KEY: v.optional(v.string()),
    SITE_URL: v.optional(v.string()),
    STRIPE_PORTAL_CONFIGURATION_ID: v.optional(v.string()),
    STRIPE_TEST_CLOCKS: v.optional(v.string()),
    STRIPE_API_HOST: v.optional(v.string()),
    STRIPE_API_PORT: v.optional(v.string()),
    STRIPE_API_PROTOCOL: v.optional(v.string()),
    /** Clerk's webhook signing secret (`whsec_…`) for `POST /clerk/webhook` (docs/ORGANISATIONS.md). */
    CLERK_WEBHOOK_SECRET: v.optional(v.string()),
    /**
     * Operator console staff: comma-separated Clerk user ids (the JWT
     * `subject`, `user_…`; `dev_<id>` for the dev sign-in). A token whose
     * `convex` template carries `staff: true` (from the user's Clerk public
     * metadata) is staff too. docs/OPERATOR_CONSOLE.md.
     */
    STAFF_USER_IDS: v.optional(v.string()),
    /** Notification email through Resend (docs/NOTIFICATIONS.md); unset: in-app only. */
    RESEND_API_KEY: v.optional(v.string()),
    /** The sender of notification email, e.g. `Acme Billing <billing@acme.com>`. */
    EMAIL_FROM: v.optional(v.string()),
  },
});

app.use(billing, {
  env: {
    STRIPE_SECRET_KEY: app.env.STRIPE_SECRET_KEY,
    SITE_URL: app.env.SITE_URL,
    STRIPE_PORTAL_CONFIGURATION_ID: app.env.STRIPE_PORTAL_CONFIGURATION_ID,
    STRIPE_TEST_CLOCKS: app.env.STRIPE_TEST_CLOCKS,
    STRIPE_API_HOST: app.env.STRIPE_API_HOST,
    STRIPE_API_PORT: app.env.STRIPE_API_PORT,
    STRIPE_API_PROTOCOL: app.env.STRIPE_API_PROTOCOL,
    RESEND_API_KEY: app.env.RESEND_API_KEY,
    EMAIL_FROM: app.env.EMAIL_FROM,
  },
});

/**
 * Members-mode seat syncs run one at a time (`seats.ts`, docs/SEATS.md):
 * two syncs at once could each read Stripe's old seat count and the later
 * reply could set fewer seats than members.
 */
app.use(workpool, { name: "seatSyncs" });

export default app;
