/**
 * In-app plan changes for an account's subscription. Logic and the rules
 * (what is an upgrade, idempotency keys, pending updates, schedules) live in
 * `model/planChanges.ts`.
 *
 * Each action takes the `ownerKey` the app resolved from its verified
 * caller. An upgrade applies now with `proration_behavior: "always_invoice"`
 * and `payment_behavior: "pending_if_incomplete"`
 * (https://docs.stripe.com/billing/subscriptions/pending-updates); a
 * downgrade or shorter interval is scheduled for the period end with a
 * Subscription Schedule
 * (https://docs.stripe.com/billing/subscriptions/subscription-schedules).
 * Tier and tokens move only when Stripe's events arrive.
 *
 * Errors (`ConvexError` data `code`): `NOT_FOUND` (no account),
 * `NO_SUBSCRIPTION`, `NOT_A_CHANGE`, `PAYMENT_REQUIRED` (`hostedInvoiceUrl`),
 * `CHANGE_PENDING`, `FORBIDDEN` (Stripe's subscription is not the account's
 * customer's), `INVALID_ARGUMENT`, `STRIPE_NOT_CONFIGURED`,
 * `PRICE_NOT_FOUND`, `STRIPE_ERROR`.
 */
import { v } from "convex/values";
import { action } from "./_generated/server";
import {
  cancelScheduledChange as cancelScheduledChangeModel,
  cancelSubscription as cancelSubscriptionModel,
  changePlan as changePlanModel,
  previewPlanChange as previewPlanChangeModel,
  resumeSubscription as resumeSubscriptionModel,
  vPlanChangePreview,
  vPlanChangeResult,
  type PlanChangePreview,
  type PlanChangeResult,
} from "./model/planChanges";
import { vCancellationFeedback, vInterval, vPaidTier } from "./model/validators";

/**
 * Exact amounts a change to `tier` on `interval` would bill, from Stripe's
 * `invoices.createPreview` (https://docs.stripe.com/api/invoices/create_preview),
 * prorated as of the start of the current minute, the instant `changePlan`
 * uses within that minute. Changes nothing. Returns `PlanChangePreview`
 * (minor units, ms).
 */
export const previewPlanChange = action({
  args: { ownerKey: v.string(), tier: vPaidTier, interval: vInterval },
  returns: vPlanChangePreview,
  handler: (ctx, args): Promise<PlanChangePreview> => previewPlanChangeModel(ctx, args),
});

/**
 * Changes the plan: an upgrade now (the old plan stays until its proration
 * invoice is paid), a downgrade at the period end; an upgrade releases a
 * scheduled downgrade first. Returns `PlanChangeResult`: `applied`,
 * `scheduled` (`effectiveAt`), `requires_action` (3-D Secure:
 * `hostedInvoiceUrl`) or `payment_failed`.
 */
export const changePlan = action({
  args: { ownerKey: v.string(), tier: vPaidTier, interval: vInterval },
  returns: vPlanChangeResult,
  handler: (ctx, args): Promise<PlanChangeResult> => changePlanModel(ctx, args),
});

/** Releases a scheduled plan change (checked on Stripe first). Returns `{ canceled }`: false when none was scheduled. */
export const cancelScheduledChange = action({
  args: { ownerKey: v.string() },
  returns: v.object({ canceled: v.boolean() }),
  handler: (ctx, args): Promise<{ canceled: boolean }> => cancelScheduledChangeModel(ctx, args),
});

/**
 * Cancels at the period end with Stripe's `cancellation_details`
 * (`feedback`, `comment` ≤ 500 characters after trimming); a scheduled
 * change is released first. Returns `{ cancelAt }` (ms).
 */
export const cancelSubscription = action({
  args: { ownerKey: v.string(), feedback: v.optional(vCancellationFeedback), comment: v.optional(v.string()) },
  returns: v.object({ cancelAt: v.number() }),
  handler: (ctx, args): Promise<{ cancelAt: number }> => cancelSubscriptionModel(ctx, args),
});

/** Undoes a scheduled cancellation before the period ends. Returns `{ resumed }`: false when nothing was scheduled. */
export const resumeSubscription = action({
  args: { ownerKey: v.string() },
  returns: v.object({ resumed: v.boolean() }),
  handler: (ctx, args): Promise<{ resumed: boolean }> => resumeSubscriptionModel(ctx, args),
});
