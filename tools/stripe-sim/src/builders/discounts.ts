/** Coupons, promotion codes, discounts (a coupon applied to a customer, subscription or Checkout Session) and tax ids. */
import type Stripe from "stripe";
import { newId, randomToken } from "../ids.ts";

export type CouponInput = {
  id?: string;
  created: number;
  /** Percent (0 < p ≤ 100, up to two decimals) or `amountOff` in minor units of `currency`. */
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  duration: "once" | "repeating" | "forever";
  durationInMonths: number | null;
  name: string | null;
  maxRedemptions: number | null;
  /** Stripe seconds after which the coupon can no longer be redeemed. */
  redeemBy: number | null;
  metadata: Record<string, string>;
};

export function buildCoupon(input: CouponInput): Stripe.Coupon {
  return {
    id: input.id ?? randomToken(8),
    object: "coupon",
    amount_off: input.amountOff,
    created: input.created,
    currency: input.currency,
    duration: input.duration,
    duration_in_months: input.durationInMonths,
    livemode: false,
    max_redemptions: input.maxRedemptions,
    metadata: input.metadata,
    name: input.name,
    percent_off: input.percentOff,
    redeem_by: input.redeemBy,
    times_redeemed: 0,
    valid: true,
  };
}

export function buildPromotionCode(input: {
  created: number;
  code: string;
  coupon: string;
  active: boolean;
  customer: string | null;
  expiresAt: number | null;
  maxRedemptions: number | null;
  firstTimeTransaction: boolean;
  minimumAmount: number | null;
  minimumAmountCurrency: string | null;
  metadata: Record<string, string>;
}): Stripe.PromotionCode {
  return {
    id: newId("promo"),
    object: "promotion_code",
    active: input.active,
    code: input.code,
    created: input.created,
    customer: input.customer,
    customer_account: null,
    expires_at: input.expiresAt,
    livemode: false,
    max_redemptions: input.maxRedemptions,
    metadata: input.metadata,
    promotion: { type: "coupon", coupon: input.coupon },
    restrictions: {
      first_time_transaction: input.firstTimeTransaction,
      minimum_amount: input.minimumAmount,
      minimum_amount_currency: input.minimumAmountCurrency,
    },
    times_redeemed: 0,
  };
}

/**
 * A coupon applied somewhere (`di_…`). `end` (Stripe seconds) is set for a
 * `repeating` coupon: `start` + `duration_in_months`; `null` otherwise.
 */
export function buildDiscount(input: {
  coupon: string;
  promotionCode: string | null;
  customer: string | null;
  subscription: string | null;
  invoice: string | null;
  checkoutSession: string | null;
  start: number;
  end: number | null;
}): Stripe.Discount {
  return {
    id: newId("di"),
    object: "discount",
    checkout_session: input.checkoutSession,
    customer: input.customer,
    customer_account: null,
    end: input.end,
    invoice: input.invoice,
    invoice_item: null,
    promotion_code: input.promotionCode,
    source: { type: "coupon", coupon: input.coupon },
    start: input.start,
    subscription: input.subscription,
    subscription_item: null,
  };
}

/** A customer's tax id (`txi_…`), e.g. `{ type: "eu_vat", value: "DE123456789" }`; verification is always `verified` here. */
export function buildTaxId(input: { created: number; customer: string; type: Stripe.TaxId.Type; value: string; country: string | null }): Stripe.TaxId {
  return {
    id: newId("txi"),
    object: "tax_id",
    country: input.country,
    created: input.created,
    customer: input.customer,
    customer_account: null,
    livemode: false,
    owner: { type: "customer", customer: input.customer, customer_account: null },
    type: input.type,
    value: input.value,
    verification: { status: "verified", verified_address: null, verified_name: null },
  };
}
