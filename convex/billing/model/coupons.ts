/**
 * Operators attach a coupon to an account (`coupons.attachToAccount`).
 *
 * Where it goes: since API version 2025-03-31.basil a Customer takes no
 * `coupon` (nor `discounts`) parameter — Stripe removed the singular coupon
 * and promotion code from Customers, Subscriptions and previews in favour of
 * `discounts` on the Subscription
 * (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-singular-coupon-promotion-code).
 * So the coupon is added to the account's current subscription:
 * `subscriptions.update(id, { discounts: [...kept, { coupon }] })`, keeping
 * the discounts it already has (`{ discount: "di_…" }`), since `discounts`
 * replaces the list. Its next invoices, and the plan-change preview, show the
 * discount; the invoice mirror stores it (`model/invoiceSync.ts`).
 *
 * Refusals (`ConvexError` data `code`): `NOT_FOUND` (no such account),
 * `NO_CUSTOMER` (the account never reached Stripe), `NO_SUBSCRIPTION` (no
 * live subscription to carry the coupon), `INVALID_ARGUMENT` (a blank or
 * over-long reason, an unknown coupon — Stripe's 404 `resource_missing` — or
 * one that is no longer `valid`), `FORBIDDEN` (Stripe's subscription is not
 * the account's customer's), `STRIPE_ERROR` / `STRIPE_NOT_CONFIGURED`.
 *
 * Who and why: there is no audit log yet (issue 10), so the attachment is
 * logged (`console.info`, one JSON line `billing.coupon_attached`, in the
 * deployment's logs) and returned to the operator.
 */
import Stripe from "stripe";
import { v, type Infer } from "convex/values";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx, QueryCtx } from "../_generated/server";
import { currentSubscriptionOf } from "./currentSubscription";
import { fail } from "./errors";
import { getStripe, stripeRead, stripeWrite, toStripeError } from "./stripeClient";
import { stripeIdOf } from "./stripeShapes";

/** Longest reason kept (after trimming). */
export const MAX_COUPON_REASON = 500;

/** Statuses of a subscription that has ended: a coupon on it would discount nothing. */
const ENDED_STATUSES = new Set(["canceled", "incomplete_expired"]);

export const vCouponTarget = v.union(
  v.null(),
  v.object({
    stripeCustomerId: v.union(v.string(), v.null()),
    /** The current subscription, null when the account has none or it has ended. */
    stripeSubscriptionId: v.union(v.string(), v.null()),
  }),
);
export type CouponTarget = Infer<typeof vCouponTarget>;

/** What `attachToAccount` did, and who asked why (also logged). */
export const vCouponAttachment = v.object({
  /** `attached`: added now; `already_attached`: the subscription had it, nothing changed. */
  status: v.union(v.literal("attached"), v.literal("already_attached")),
  accountId: v.string(),
  couponId: v.string(),
  couponName: v.union(v.string(), v.null()),
  /** Percent off (e.g. 20) or amount off (minor units of `currency`); one of them is set. */
  percentOff: v.union(v.number(), v.null()),
  amountOff: v.union(v.number(), v.null()),
  currency: v.union(v.string(), v.null()),
  stripeCustomerId: v.string(),
  stripeSubscriptionId: v.string(),
  /** The `di_…` discount carrying the coupon, when Stripe returned it. */
  discountId: v.union(v.string(), v.null()),
  operator: v.union(v.string(), v.null()),
  reason: v.string(),
  /** ms */
  at: v.number(),
});
export type CouponAttachment = Infer<typeof vCouponAttachment>;

/** The account's Stripe customer and live subscription, or null when there is no such account. */
export async function couponTarget(ctx: QueryCtx, accountId: Id<"billingAccounts">): Promise<CouponTarget> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) return null;
  const subscription = await currentSubscriptionOf(ctx, account);
  const live = subscription !== null && !ENDED_STATUSES.has(subscription.status);
  return {
    stripeCustomerId: account.stripeCustomerId ?? null,
    stripeSubscriptionId: live ? subscription.stripeSubscriptionId : null,
  };
}

/** The coupon, or `INVALID_ARGUMENT` when Stripe has none by that id (404) or it can no longer be redeemed. */
async function retrieveCoupon(stripe: Stripe, couponId: string): Promise<Stripe.Coupon> {
  let coupon: Stripe.Coupon;
  try {
    coupon = await stripe.coupons.retrieve(couponId);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError && error.statusCode === 404) {
      fail("INVALID_ARGUMENT", `Stripe has no coupon "${couponId}".`);
    }
    return toStripeError(error, "coupons.retrieve");
  }
  if (!coupon.valid) fail("INVALID_ARGUMENT", `Coupon "${couponId}" can no longer be redeemed.`);
  return coupon;
}

/** The coupon id a discount applies (`source.coupon`), whatever its expansion. */
function discountCoupon(discount: string | Stripe.Discount | Stripe.DeletedDiscount): string | null {
  if (typeof discount === "string") return null;
  return stripeIdOf(discount.source?.coupon) ?? null;
}

/**
 * Adds coupon `couponId` to the account's current subscription (see the top
 * of this file), with idempotency key `coupon:<accountId>:<couponId>:<sub>`
 * so a retried run adds it once. A subscription that already carries the
 * coupon is left alone (`already_attached`). Logs and returns who and why.
 */
export async function attachCoupon(
  ctx: ActionCtx,
  args: { accountId: Id<"billingAccounts">; couponId: string; reason: string; operator?: string },
): Promise<CouponAttachment> {
  const reason = args.reason.trim();
  if (reason.length === 0) fail("INVALID_ARGUMENT", "Say why the coupon is attached (reason).");
  if (reason.length > MAX_COUPON_REASON) fail("INVALID_ARGUMENT", `The reason is longer than ${MAX_COUPON_REASON} characters.`);
  const couponId = args.couponId.trim();
  if (couponId.length === 0) fail("INVALID_ARGUMENT", "No coupon id given.");

  const target = await ctx.runQuery(internal.coupons.target, { accountId: args.accountId });
  if (!target) fail("NOT_FOUND", `No billing account ${args.accountId}.`);
  const customer = target.stripeCustomerId;
  if (!customer) fail("NO_CUSTOMER", "This account has no Stripe customer yet: it has never bought anything.");
  const subscriptionId = target.stripeSubscriptionId;
  if (!subscriptionId) {
    fail("NO_SUBSCRIPTION", "This account has no live subscription: Stripe attaches coupons to subscriptions, not customers.");
  }

  const stripe = getStripe();
  const coupon = await retrieveCoupon(stripe, couponId);
  const subscription = await stripeRead("subscriptions.retrieve", () =>
    stripe.subscriptions.retrieve(subscriptionId, { expand: ["discounts"] }),
  );
  if (stripeIdOf(subscription.customer) !== customer) {
    fail("FORBIDDEN", `Subscription ${subscriptionId} does not belong to this account's customer.`);
  }
  const current = subscription.discounts ?? [];
  const existing = current.find((discount) => discountCoupon(discount) === coupon.id);
  let discountId: string | null = existing ? (stripeIdOf(existing) ?? null) : null;
  if (!existing) {
    const kept = current.map((discount) => ({ discount: typeof discount === "string" ? discount : discount.id }));
    const updated = await stripeWrite("subscriptions.update", `coupon:${args.accountId}:${coupon.id}:${subscriptionId}`, (options) =>
      stripe.subscriptions.update(
        subscriptionId,
        { discounts: [...kept, { coupon: coupon.id }], expand: ["discounts"] },
        options,
      ),
    );
    const added = (updated.discounts ?? []).find((discount) => discountCoupon(discount) === coupon.id);
    discountId = added ? (stripeIdOf(added) ?? null) : null;
  }

  const attachment: CouponAttachment = {
    status: existing ? "already_attached" : "attached",
    accountId: args.accountId,
    couponId: coupon.id,
    couponName: coupon.name ?? null,
    percentOff: coupon.percent_off ?? null,
    amountOff: coupon.amount_off ?? null,
    currency: coupon.currency ?? null,
    stripeCustomerId: customer,
    stripeSubscriptionId: subscriptionId,
    discountId,
    operator: args.operator?.trim() || null,
    reason,
    at: Date.now(),
  };
  await ctx.runMutation(internal.coupons.recordAttachment, { attachment });
  return attachment;
}
