/**
 * Coupons and promotion codes: validation, redemption into discounts
 * (`di_…` on a customer, subscription or Checkout Session), which discounts
 * an invoice gets, and their end (a `once` coupon after its first invoice, a
 * `repeating` one `duration_in_months` after it started).
 */
import type Stripe from "stripe";
import { buildDiscount } from "../builders.ts";
import { addMonths } from "../calendar.ts";
import type { SimContext } from "../context.ts";
import { found, invalid } from "../errors.ts";
import { idOf } from "./lookups.ts";
import { couponOf, type AppliedDiscount } from "./totals.ts";

/** What the customer-facing Checkout page says for any code it cannot apply (Stripe's wording). */
export const INVALID_CODE = "This code is invalid.";

/** A coupon or promotion code to redeem, as `discounts[n]` sends it. */
export type DiscountRef = { coupon?: string; promotionCode?: string };

export function getCoupon(ctx: SimContext, id: string, param = "coupon"): Stripe.Coupon {
  return found(ctx.store.state.coupons[id], "coupon", id, param);
}

export function getPromotionCode(ctx: SimContext, id: string, param = "promotion_code"): Stripe.PromotionCode {
  return found(ctx.store.state.promotionCodes[id], "promotion_code", id, param);
}

/** The promotion code's coupon id. */
export function promotionCoupon(code: Stripe.PromotionCode): string {
  return idOf(code.promotion.coupon) ?? "";
}

/** Why `coupon` cannot be redeemed at `now` (Stripe seconds), or `null` when it can. */
export function couponProblem(coupon: Stripe.Coupon | undefined, now: number): string | null {
  if (!coupon) return "No such coupon.";
  if (coupon.redeem_by !== null && now > coupon.redeem_by) return `Coupon expired: ${coupon.id}`;
  if (coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions) return `Coupon ${coupon.id} has been redeemed the maximum number of times.`;
  return null;
}

/** The active promotion code whose customer-facing `code` matches `typed` (case-insensitive), if any. */
export function findPromotionCode(ctx: SimContext, typed: string): Stripe.PromotionCode | undefined {
  const wanted = typed.trim().toUpperCase();
  if (!wanted) return undefined;
  const matches = Object.values(ctx.store.state.promotionCodes).filter((p) => p.code.toUpperCase() === wanted);
  return matches.find((p) => p.active) ?? matches[0];
}

/** True once the customer has paid something (a paid invoice or a succeeded PaymentIntent). */
function hasTransacted(ctx: SimContext, customerId: string | null): boolean {
  if (!customerId) return false;
  const s = ctx.store.state;
  return (
    Object.values(s.invoices).some((i) => i.customer === customerId && i.status === "paid" && i.amount_paid > 0) ||
    Object.values(s.paymentIntents).some((p) => p.customer === customerId && p.status === "succeeded")
  );
}

/**
 * Why `code` cannot be used by `customerId` for an order of `subtotal` in
 * `currency` at `now`, or `null`: inactive or expired codes, used-up codes
 * and coupons, another customer's code, `first_time_transaction` for a
 * customer who already paid, `minimum_amount`, an amount-off coupon without
 * that currency.
 */
export function promotionCodeProblem(
  ctx: SimContext,
  code: Stripe.PromotionCode,
  order: { customer: string | null; currency: string; subtotal: number; now: number },
): string | null {
  if (!code.active) return `This promotion code is inactive: ${code.code}`;
  if (code.expires_at !== null && order.now > code.expires_at) return `This promotion code has expired: ${code.code}`;
  if (code.max_redemptions !== null && code.times_redeemed >= code.max_redemptions) return `This promotion code has been used up: ${code.code}`;
  const coupon = ctx.store.state.coupons[promotionCoupon(code)];
  const problem = couponProblem(coupon, order.now);
  if (problem) return problem;
  const owner = idOf(code.customer);
  if (owner && owner !== order.customer) return `This promotion code cannot be redeemed by this customer: ${code.code}`;
  if (code.restrictions.first_time_transaction && hasTransacted(ctx, order.customer)) {
    return `This promotion code is only valid for first-time customers: ${code.code}`;
  }
  const min = code.restrictions.minimum_amount;
  if (min !== null && code.restrictions.minimum_amount_currency === order.currency && order.subtotal < min) {
    return `This promotion code requires a minimum order amount: ${code.code}`;
  }
  if (coupon && coupon.percent_off === null && coupon.currency !== order.currency && !coupon.currency_options?.[order.currency]) {
    return `The coupon ${coupon.id} cannot be applied to an order in ${order.currency}.`;
  }
  return null;
}

/**
 * Resolves `discounts[n]` params into the coupon (and promotion code) to
 * redeem, refusing with Stripe-like 400s what cannot be used.
 */
export function resolveDiscountRefs(
  ctx: SimContext,
  refs: DiscountRef[],
  order: { customer: string | null; currency: string; subtotal: number; now: number },
  param = "discounts",
): { coupon: Stripe.Coupon; promotionCode: Stripe.PromotionCode | null }[] {
  if (refs.length > 1) throw invalid("The simulator applies one discount at a time: pass a single `discounts` entry.", param);
  return refs.map((ref, i) => {
    if (ref.coupon && ref.promotionCode) throw invalid("You may only specify one of these parameters: coupon, promotion_code.", `${param}[${i}]`);
    if (ref.promotionCode) {
      const code = getPromotionCode(ctx, ref.promotionCode, `${param}[${i}][promotion_code]`);
      const problem = promotionCodeProblem(ctx, code, order);
      if (problem) throw invalid(problem, `${param}[${i}][promotion_code]`);
      return { coupon: getCoupon(ctx, promotionCoupon(code)), promotionCode: code };
    }
    if (!ref.coupon) throw invalid("Each discount needs a `coupon` or a `promotion_code`.", `${param}[${i}]`);
    const coupon = getCoupon(ctx, ref.coupon, `${param}[${i}][coupon]`);
    const problem = couponProblem(coupon, order.now);
    if (problem) throw invalid(problem, `${param}[${i}][coupon]`);
    return { coupon, promotionCode: null };
  });
}

/**
 * Redeems a coupon: a stored discount starting at `start` (Stripe seconds;
 * `end` = start + `duration_in_months` for `repeating`), and the coupon's and
 * promotion code's `times_redeemed` counted up.
 */
export function redeem(
  ctx: SimContext,
  picked: { coupon: Stripe.Coupon; promotionCode: Stripe.PromotionCode | null },
  on: { customer: string | null; subscription?: string | null; invoice?: string | null; checkoutSession?: string | null },
  start: number,
): Stripe.Discount {
  const { coupon, promotionCode } = picked;
  const discount = buildDiscount({
    coupon: coupon.id,
    promotionCode: promotionCode?.id ?? null,
    customer: on.customer,
    subscription: on.subscription ?? null,
    invoice: on.invoice ?? null,
    checkoutSession: on.checkoutSession ?? null,
    start,
    end: coupon.duration === "repeating" && coupon.duration_in_months ? addMonths(start, coupon.duration_in_months) : null,
  });
  ctx.store.state.discounts[discount.id] = discount;
  coupon.times_redeemed += 1;
  if (coupon.max_redemptions !== null && coupon.times_redeemed >= coupon.max_redemptions) coupon.valid = false;
  if (promotionCode) {
    promotionCode.times_redeemed += 1;
    if (promotionCode.max_redemptions !== null && promotionCode.times_redeemed >= promotionCode.max_redemptions) promotionCode.active = false;
  }
  return discount;
}

/** Discount ids → stored discounts with their coupons, still running at `at`. */
function running(ctx: SimContext, ids: (string | Stripe.Discount)[], at: number): AppliedDiscount[] {
  return ids.flatMap((ref) => {
    const discount = ctx.store.state.discounts[typeof ref === "string" ? ref : ref.id];
    const coupon = discount ? couponOf(ctx, discount) : null;
    if (!discount || !coupon || (discount.end !== null && at >= discount.end)) return [];
    return [{ discount, coupon }];
  });
}

/**
 * The discounts an invoice created at `at` gets: the subscription's own
 * (`subscription.discounts`) or, when it has none, the customer's
 * (`customer.discount`), as Stripe does.
 */
export function invoiceDiscounts(ctx: SimContext, customer: Stripe.Customer, sub: Stripe.Subscription | null, at: number): AppliedDiscount[] {
  const own = sub ? running(ctx, sub.discounts, at) : [];
  if (own.length > 0) return own;
  return customer.discount ? running(ctx, [customer.discount.id], at) : [];
}

/**
 * After a real (not preview) invoice: a `once` discount that applied is used
 * up and, like an ended `repeating` one, removed from the subscription or
 * customer.
 */
export function settleDiscounts(ctx: SimContext, customer: Stripe.Customer, sub: Stripe.Subscription | null, applied: string[], at: number): void {
  const ended = (ref: string | Stripe.Discount): boolean => {
    const discount = ctx.store.state.discounts[typeof ref === "string" ? ref : ref.id];
    if (!discount) return true;
    if (discount.end !== null && at >= discount.end) return true;
    return couponOf(ctx, discount)?.duration === "once" && applied.includes(discount.id);
  };
  if (sub) sub.discounts = sub.discounts.filter((d) => !ended(d));
  if (customer.discount && ended(customer.discount.id)) customer.discount = null;
}
