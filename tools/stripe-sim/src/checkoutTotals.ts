/**
 * A Checkout Session's amounts before payment: discounts
 * (`session.discounts`: a promotion code typed on the page or `discounts`
 * at create) and automatic tax from the address collected on the page (or
 * the customer's), computed like the first invoice (billing/totals.ts).
 * Writes `amount_subtotal`, `amount_total`, `total_details` and each line
 * item's `amount_discount`, `amount_tax`, `amount_total` (minor units).
 */
import type Stripe from "stripe";
import { getCoupon, getCustomer, idOf, promotionCodeProblem, findPromotionCode, INVALID_CODE, promotionCoupon, taxRuleFor, customerTaxIds, computeTotals, type TaxRule } from "./billing.ts";
import { buildDiscount, buildTaxId } from "./builders.ts";
import type { SimContext } from "./context.ts";

/** The address the session is taxed at: the one typed on the page, else the customer's. */
export function checkoutAddress(ctx: SimContext, session: Stripe.Checkout.Session): Stripe.Address | null {
  const typed = session.customer_details?.address ?? null;
  if (typed?.country) return typed;
  const customerId = idOf(session.customer);
  return customerId ? (ctx.store.state.customers[customerId]?.address ?? null) : null;
}

/** The tax rule for the session (`null` without automatic tax or without a country yet). */
export function checkoutTaxRule(ctx: SimContext, session: Stripe.Checkout.Session): TaxRule | null {
  if (!session.automatic_tax.enabled) return null;
  const country = checkoutAddress(ctx, session)?.country;
  if (!country) return null;
  const customerId = idOf(session.customer);
  const typed = (session.customer_details?.tax_ids ?? []).map((t) =>
    buildTaxId({ created: 0, customer: customerId ?? "", type: t.type, value: t.value ?? "", country: null }),
  );
  return taxRuleFor(country, [...(customerId ? customerTaxIds(ctx, customerId) : []), ...typed]);
}

/** Recomputes the session's amounts (a trial session is 0 today). */
export function refreshCheckoutTotals(ctx: SimContext, session: Stripe.Checkout.Session): void {
  const items = ctx.store.state.checkoutLineItems[session.id] ?? [];
  const trial = Boolean(ctx.store.state.checkoutExtras[session.id]?.trialPeriodDays);
  const currency = session.currency ?? "usd";
  const customerId = idOf(session.customer);
  const customerDiscount = customerId ? ctx.store.state.customers[customerId]?.discount : null;
  const refs: Stripe.Checkout.Session.Discount[] =
    (session.discounts ?? []).length === 0 && customerDiscount && session.mode === "subscription"
      ? [{ coupon: idOf(customerDiscount.source.coupon), promotion_code: null }]
      : (session.discounts ?? []);
  const discounts = refs.flatMap((d) => {
    const couponId = idOf(d.coupon);
    const coupon = couponId ? (ctx.store.state.coupons[couponId] ?? ctx.store.state.deletedCoupons[couponId]) : undefined;
    if (!coupon) return [];
    const discount = buildDiscount({ coupon: coupon.id, promotionCode: null, customer: null, subscription: null, invoice: null, checkoutSession: session.id, start: 0, end: null });
    return [{ discount, coupon }];
  });
  const rule = checkoutTaxRule(ctx, session);
  if (session.automatic_tax.enabled) session.automatic_tax.status = rule ? "complete" : "requires_location_inputs";
  const totals = computeTotals(
    items.map((li) => ({ amount: trial ? 0 : li.amount_subtotal, discountable: true })),
    discounts,
    currency,
    rule,
  );
  items.forEach((li, i) => {
    const t = totals.lines[i];
    li.amount_discount = t ? t.discounts.reduce((s, d) => s + d.amount, 0) : 0;
    li.amount_tax = t?.tax ?? 0;
    li.amount_total = (trial ? 0 : li.amount_subtotal) - li.amount_discount + li.amount_tax;
  });
  session.amount_subtotal = totals.subtotal;
  session.amount_total = totals.total;
  session.total_details = {
    amount_discount: totals.discountTotals.reduce((s, d) => s + d.amount, 0),
    amount_shipping: 0,
    amount_tax: totals.tax,
  };
}

/**
 * Applies the promotion code typed on the hosted page: sets
 * `session.discounts` and the new amounts, or returns Stripe's
 * "This code is invalid." and changes nothing.
 */
export function applyPromotionCode(ctx: SimContext, session: Stripe.Checkout.Session, typed: string): string | null {
  const code = findPromotionCode(ctx, typed);
  const customerId = idOf(session.customer);
  const now = ctx.store.now(customerId);
  if (!code || promotionCodeProblem(ctx, code, { customer: customerId, currency: session.currency ?? "usd", subtotal: session.amount_subtotal ?? 0, now })) {
    return INVALID_CODE;
  }
  getCoupon(ctx, promotionCoupon(code));
  session.discounts = [{ coupon: promotionCoupon(code), promotion_code: code.id }];
  refreshCheckoutTotals(ctx, session);
  return null;
}

/** Removes the session's promotion code (the page's "Remove"). */
export function removePromotionCode(ctx: SimContext, session: Stripe.Checkout.Session): void {
  session.discounts = [];
  refreshCheckoutTotals(ctx, session);
}

/** The address fields the hosted page posts (`billingCountry`, `billingPostalCode`) and an optional VAT id (`taxId`). */
export type TypedAddress = { country: string | null; postalCode: string | null; taxId: string | null };

/**
 * Records the address (and tax id) typed on the page into
 * `session.customer_details` and recomputes tax. An EU VAT id is stored as
 * `eu_vat`, a GB one as `gb_vat`, anything else as `unknown`.
 */
export function setCheckoutAddress(ctx: SimContext, session: Stripe.Checkout.Session, typed: TypedAddress): void {
  const details = session.customer_details ?? emptyDetails(ctx, session);
  if (typed.country) {
    details.address = { city: null, country: typed.country.toUpperCase(), line1: null, line2: null, postal_code: typed.postalCode, state: null };
  }
  const value = typed.taxId?.replace(/\s+/g, "").toUpperCase() ?? "";
  details.tax_ids = value ? [{ type: value.startsWith("GB") ? "gb_vat" : /^[A-Z]{2}/.test(value) ? "eu_vat" : "unknown", value }] : [];
  session.customer_details = details;
  refreshCheckoutTotals(ctx, session);
}

function emptyDetails(ctx: SimContext, session: Stripe.Checkout.Session): Stripe.Checkout.Session.CustomerDetails {
  const customerId = idOf(session.customer);
  const customer = customerId ? getCustomer(ctx, customerId) : null;
  return {
    address: null,
    business_name: null,
    email: session.customer_email ?? customer?.email ?? null,
    individual_name: null,
    name: customer?.name ?? null,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
}

/** True when the hosted page must collect an address: automatic tax (unless an existing customer's address is kept) or `billing_address_collection=required`. */
export function collectsAddress(ctx: SimContext, session: Stripe.Checkout.Session): boolean {
  if (session.billing_address_collection === "required") return true;
  if (!session.automatic_tax.enabled) return false;
  const customerId = idOf(session.customer);
  const customer = customerId ? ctx.store.state.customers[customerId] : undefined;
  return !customer?.address?.country || Boolean(ctx.store.state.checkoutExtras[session.id]?.customerUpdateAddress);
}
