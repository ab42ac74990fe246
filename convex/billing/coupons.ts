/**
 * Coupons for operators. Logic, where Stripe takes the coupon (the current
 * subscription's `discounts`, since customers take none in API 2026-10-28)
 * and the refusals live in `model/coupons.ts`.
 *
 * Run from the CLI, or from the app's staff console (`admin.attachCoupon`);
 * a component function, so no browser can call it:
 *
 * ```sh
 * npx convex run --component billing coupons:attachToAccount \
 *   '{"accountId": "<billingAccounts id>", "couponId": "WELCOME20", "reason": "Support ticket 1234", "operator": "ada@example.com"}'
 * ```
 */
import { v } from "convex/values";
import { action, internalMutation, internalQuery } from "./_generated/server";
import { appendAudit } from "./model/audit";
import { attachCoupon, couponTarget, vCouponAttachment, vCouponTarget, type CouponAttachment } from "./model/coupons";

/**
 * Adds Stripe coupon `couponId` to the account's current subscription, once
 * (idempotency key by account, coupon and subscription; a subscription that
 * has it already is left alone). `reason` (1–500 characters) and
 * `operator` (who, free text) are logged and returned: `CouponAttachment`
 * (`at` in ms). Errors: `NOT_FOUND`, `NO_CUSTOMER`, `NO_SUBSCRIPTION`,
 * `INVALID_ARGUMENT` (unknown or invalid coupon, bad reason), `FORBIDDEN`,
 * `STRIPE_ERROR`, `STRIPE_NOT_CONFIGURED`.
 */
export const attachToAccount = action({
  args: { accountId: v.id("billingAccounts"), couponId: v.string(), reason: v.string(), operator: v.optional(v.string()) },
  returns: vCouponAttachment,
  handler: (ctx, args): Promise<CouponAttachment> => attachCoupon(ctx, args),
});

/**
 * Audit entry of a coupon Stripe attached (`coupon.attach`), under the
 * operator (a staff id, or `cli`) with the reason. `already_attached` writes
 * nothing: nothing changed.
 */
export const recordAttachment = internalMutation({
  args: { attachment: vCouponAttachment },
  returns: v.null(),
  handler: async (ctx, { attachment }) => {
    if (attachment.status !== "attached") return null;
    const accountId = ctx.db.normalizeId("billingAccounts", attachment.accountId);
    await appendAudit(ctx, {
      ...(accountId ? { accountId } : {}),
      actorKind: "staff",
      actor: attachment.operator ?? "cli",
      action: "coupon.attach",
      after: {
        couponId: attachment.couponId,
        percentOff: attachment.percentOff,
        amountOff: attachment.amountOff,
        currency: attachment.currency,
        stripeSubscriptionId: attachment.stripeSubscriptionId,
        discountId: attachment.discountId,
      },
      reason: attachment.reason,
    });
    return null;
  },
});

/** The account's Stripe customer and live subscription (ids or null); null when there is no such account. */
export const target = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: vCouponTarget,
  handler: (ctx, args) => couponTarget(ctx, args.accountId),
});
