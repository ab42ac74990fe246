/**
 * Billing API: Checkout and Customer Portal actions, the caller's
 * subscription and invoices, and the internal functions behind them.
 * Logic lives in `model/billingActions.ts` (Stripe) and
 * `model/billingModel.ts` (database); these are the thin registered wrappers.
 *
 * Units: Convex times in ms; money in integer minor units of `currency`.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { action, internalMutation, internalQuery } from "./_generated/server";
import { callerQuery } from "./functions";
import { createPortal, createSubscriptionCheckout, createTopUpCheckout } from "./model/billingActions";
import {
  callerAccount,
  clampInvoiceLimit,
  expireGracePeriods as expireGracePeriodsModel,
  invoiceViews,
  linkCustomer as linkCustomerModel,
  subscriptionView,
  vCallerAccount,
  vInvoiceView,
  vSubscriptionView,
} from "./model/billingModel";
import {
  cancelScheduledChange as cancelScheduledChangeModel,
  cancelSubscription as cancelSubscriptionModel,
  changePlan as changePlanModel,
  planChangeState as planChangeStateModel,
  previewPlanChange as previewPlanChangeModel,
  resumeSubscription as resumeSubscriptionModel,
  vPlanChangePreview,
  vPlanChangeResult,
  vPlanChangeState,
  type PlanChangePreview,
  type PlanChangeResult,
} from "./model/planChanges";
import { TOKEN_PACKS } from "./model/plans";
import { upsertPrice as upsertPriceModel, vPriceRecord } from "./model/prices";
import { vCancellationFeedback, vInterval, vPaidTier, vTier } from "./model/validators";

const vUrl = v.object({ url: v.string() });
const vPackId = v.union(...TOKEN_PACKS.map((pack) => v.literal(pack.id)));

// ---------------------------------------------------------------------------
// Public
// ---------------------------------------------------------------------------

/**
 * Starts a subscription Checkout for an upgrade to `tier`, billed every
 * `interval` ("month" | "year"). Creates the account's Stripe customer on
 * first use; resolves the price from the catalogue's lookup key on the server
 * (https://docs.stripe.com/api/checkout/sessions/create).
 *
 * Returns `{ url }`: the Stripe-hosted Checkout page. Success returns to
 * `${SITE_URL}/billing/success?session_id=…`, cancel to `${SITE_URL}/pricing`.
 * Access changes only when the signed webhook events arrive.
 *
 * Errors (`ConvexError` data `code`): `UNAUTHENTICATED`; `NOT_FOUND` (account
 * not stored yet); `NOT_AN_UPGRADE` (tier not purchasable, not above the
 * current tier, or a billed subscription exists: use the Portal);
 * `STRIPE_NOT_CONFIGURED` (`variable`); `PRICE_NOT_FOUND`; `STRIPE_ERROR`.
 */
export const createCheckoutSession = action({
  args: { tier: vTier, interval: vInterval },
  returns: vUrl,
  handler: (ctx, args): Promise<{ url: string }> => createSubscriptionCheckout(ctx, args),
});

/**
 * Starts a one-off Checkout (`mode: "payment"`) for the token pack `packId`
 * (one of `TOKEN_PACKS`). The session's metadata is
 * `{ accountId, kind: "top_up", packId }`; tokens are granted by the webhook
 * on `checkout.session.completed`, never here.
 *
 * Returns `{ url }`. Errors: `UNAUTHENTICATED`, `NOT_FOUND`,
 * `STRIPE_NOT_CONFIGURED`, `PRICE_NOT_FOUND`, `STRIPE_ERROR`.
 */
export const createTopUpCheckoutSession = action({
  args: { packId: vPackId },
  returns: vUrl,
  handler: (ctx, args): Promise<{ url: string }> => createTopUpCheckout(ctx, args),
});

/**
 * Opens the Stripe Customer Portal for the caller's own Stripe customer, read
 * from the database; it takes no arguments, so no customer id can come from
 * the client (https://docs.stripe.com/api/customer_portal/sessions/create).
 *
 * The session uses the app's Portal configuration (`STRIPE_PORTAL_CONFIGURATION_ID`,
 * else the one `npm run seed:stripe` made, found by `metadata.app`): plan
 * upgrades invoiced at once, downgrades and shorter intervals at the period
 * end, cancellation at the period end with a reason.
 *
 * Returns `{ url }`; the portal returns to `${SITE_URL}/billing`.
 * Errors: `UNAUTHENTICATED`, `NOT_FOUND`, `NO_CUSTOMER` (nothing bought yet),
 * `STRIPE_NOT_CONFIGURED` (`variable`: `STRIPE_SECRET_KEY`, or
 * `STRIPE_PORTAL_CONFIGURATION_ID` when no configuration exists: run the
 * seed), `STRIPE_ERROR`.
 */
export const createPortalSession = action({
  args: {},
  returns: vUrl,
  handler: (ctx): Promise<{ url: string }> => createPortal(ctx),
});

/**
 * Exact amounts an in-app change of the caller's subscription to `tier` on
 * `interval` would bill, from Stripe's `invoices.createPreview`
 * (https://docs.stripe.com/api/invoices/create_preview). Changes nothing.
 *
 * An upgrade is previewed with `proration_behavior: "always_invoice"` as of
 * the start of the current minute, the same instant `changePlan` prorates
 * at within that minute, so the amounts match; a downgrade needs no preview
 * call (nothing is due now; the next invoice is the new price net of the
 * customer's credit, at the period end).
 *
 * Returns `PlanChangePreview` (minor units, ms). Errors: `UNAUTHENTICATED`,
 * `NOT_FOUND`, `NO_SUBSCRIPTION` (buy through Checkout), `NOT_A_CHANGE`
 * (already on that plan), `PAYMENT_REQUIRED` (past due, unpaid, incomplete
 * or paused: pay first; `hostedInvoiceUrl`), `CHANGE_PENDING` (a change
 * waits for payment, or a cancellation is scheduled: resume first),
 * `FORBIDDEN` (Stripe's subscription is not the caller's customer's),
 * `STRIPE_NOT_CONFIGURED`, `PRICE_NOT_FOUND`, `STRIPE_ERROR`.
 */
export const previewPlanChange = action({
  args: { tier: vPaidTier, interval: vInterval },
  returns: vPlanChangePreview,
  handler: (ctx, args): Promise<PlanChangePreview> => previewPlanChangeModel(ctx, args),
});

/**
 * Changes the caller's plan. An upgrade (higher tier on the same or a longer
 * interval, the same tier on a longer interval, or a higher tier on a
 * shorter interval that costs more per month) applies now with `proration_behavior: "always_invoice"`
 * and `payment_behavior: "pending_if_incomplete"`, so Stripe keeps the old
 * plan until the proration invoice is paid
 * (https://docs.stripe.com/billing/subscriptions/pending-updates). A
 * downgrade or a shorter interval is scheduled for the period end through a
 * Subscription Schedule (https://docs.stripe.com/billing/subscriptions/subscription-schedules).
 * An upgrade releases a scheduled downgrade first. Idempotency key on every
 * Stripe write (see `model/planChanges.ts`).
 *
 * Returns `PlanChangeResult`: `applied`, `scheduled` (`effectiveAt` = period
 * end), `requires_action` (3-D Secure: `hostedInvoiceUrl`), `payment_failed`
 * (declined; the old plan stays; `hostedInvoiceUrl` to pay with another card
 * when Stripe made the invoice). The tier and tokens move only when Stripe's
 * events arrive. Errors: as `previewPlanChange`.
 */
export const changePlan = action({
  args: { tier: vPaidTier, interval: vInterval },
  returns: vPlanChangeResult,
  handler: (ctx, args): Promise<PlanChangeResult> => changePlanModel(ctx, args),
});

/**
 * Cancels the caller's scheduled plan change (releases the Subscription
 * Schedule after checking on Stripe that it is the caller's subscription's;
 * the current plan simply renews). Returns `{ canceled }`: false when
 * nothing was scheduled (or it was released already). Errors:
 * `UNAUTHENTICATED`, `NOT_FOUND`, `NO_SUBSCRIPTION`, `FORBIDDEN`,
 * `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
export const cancelScheduledChange = action({
  args: {},
  returns: v.object({ canceled: v.boolean() }),
  handler: (ctx): Promise<{ canceled: boolean }> => cancelScheduledChangeModel(ctx),
});

/**
 * Cancels the caller's subscription at the period end, recording Stripe's
 * `cancellation_details` (`feedback`, `comment` ≤ 500 characters after
 * trimming). A scheduled plan change is released first (Stripe refuses
 * cancellation settings on a schedule-managed subscription). Access and
 * this period's tokens stay until then. Returns `{ cancelAt }` (ms).
 * Errors: `UNAUTHENTICATED`, `NOT_FOUND`, `NO_SUBSCRIPTION`,
 * `INVALID_ARGUMENT`, `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
export const cancelSubscription = action({
  args: { feedback: v.optional(vCancellationFeedback), comment: v.optional(v.string()) },
  returns: v.object({ cancelAt: v.number() }),
  handler: (ctx, args): Promise<{ cancelAt: number }> => cancelSubscriptionModel(ctx, args),
});

/**
 * Undoes a scheduled cancellation before the period ends: clears
 * `cancel_at_period_end`, or `cancel_at` (set by flexible billing and
 * Portal cancels). Returns `{ resumed }`: false when Stripe has nothing
 * scheduled. Errors: `UNAUTHENTICATED`,
 * `NOT_FOUND`, `NO_SUBSCRIPTION`, `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
export const resumeSubscription = action({
  args: {},
  returns: v.object({ resumed: v.boolean() }),
  handler: (ctx): Promise<{ resumed: boolean }> => resumeSubscriptionModel(ctx),
});

/**
 * The caller's plan and subscription state, or `null` when signed out.
 * `{ tier, status: SubscriptionStatus | "none", interval, currentPeriodEnd,
 * cancelAtPeriodEnd, cancelAt, cancelScheduled, trialEnd, graceEndsAt,
 * hasCustomer }`; times in ms or null. Throws nothing.
 */
export const subscription = callerQuery({
  args: {},
  returns: v.union(vSubscriptionView, v.null()),
  handler: async (ctx) => (ctx.caller ? await subscriptionView(ctx, ctx.caller.account) : null),
});

/**
 * The caller's invoices, newest first: `limit` defaults to 6 and is clamped
 * to 1…24. Each row: `{ id: "in_…", number, status, billingReason, amountDue,
 * amountPaid, amountRemaining, currency, createdAt, periodStart, periodEnd,
 * hostedInvoiceUrl, invoicePdf }` (amounts in minor units, times in ms).
 * `[]` when signed out. Throws nothing.
 */
export const invoices = callerQuery({
  args: { limit: v.optional(v.number()) },
  returns: v.array(vInvoiceView),
  handler: async (ctx, args) =>
    ctx.caller ? await invoiceViews(ctx, ctx.caller.account._id, clampInvoiceLimit(args.limit)) : [],
});

// ---------------------------------------------------------------------------
// Internal
// ---------------------------------------------------------------------------

/**
 * The calling identity's billing account for the Stripe actions (the auth of
 * the action is passed to `ctx.runQuery`), or null when signed out or not
 * stored yet.
 */
export const accountForCaller = internalQuery({
  args: {},
  returns: v.union(vCallerAccount, v.null()),
  handler: (ctx) => callerAccount(ctx),
});

/**
 * What the plan-change actions need about an account's subscription: the
 * live mirror row (null when none or ended), the newest open invoice's
 * hosted URL and the customer balance. `accountId` comes from the action's
 * verified caller, never from a client.
 */
export const planChangeState = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: vPlanChangeState,
  handler: (ctx, args) => planChangeStateModel(ctx, args.accountId),
});

/**
 * Saves the account's Stripe customer (first one wins) and wakes webhook
 * events waiting for it. Returns the customer id the account now uses.
 */
export const linkCustomer = internalMutation({
  args: { accountId: v.id("billingAccounts"), stripeCustomerId: v.string() },
  returns: v.string(),
  handler: (ctx, args) => linkCustomerModel(ctx, args.accountId, args.stripeCustomerId),
});

/** Caches a subscription price (price id → lookup key, tier, interval) for the event handlers. */
export const upsertPrice = internalMutation({
  args: vPriceRecord.fields,
  returns: v.null(),
  handler: async (ctx, args) => {
    await upsertPriceModel(ctx, args);
    return null;
  },
});

/**
 * Dunning cron: drops accounts whose past-due grace period has ended to the
 * tier the access policy gives them (normally `free`). Handles a bounded
 * batch per run and schedules itself to continue from `cursor` when more
 * remain, with the same `now` so the range does not shift.
 */
export const expireGracePeriods = internalMutation({
  args: { cursor: v.optional(v.string()), now: v.optional(v.number()) },
  returns: v.object({ processed: v.number(), done: v.boolean() }),
  handler: async (ctx, args) => {
    const now = args.now ?? Date.now();
    const { processed, continueCursor } = await expireGracePeriodsModel(ctx, now, args.cursor ?? null);
    if (continueCursor !== null) {
      await ctx.scheduler.runAfter(0, internal.billing.expireGracePeriods, { cursor: continueCursor, now });
    }
    return { processed, done: continueCursor === null };
  },
});
