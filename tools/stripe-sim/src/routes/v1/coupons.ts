/**
 * `/v1/coupons` (create, retrieve, update name/metadata, delete, list) and
 * `/v1/promotion_codes` (create with `promotion[type]=coupon` +
 * `promotion[coupon]`, or the older top-level `coupon`; retrieve, update
 * `active`/metadata, list by `code`, `coupon`, `active`, `customer`).
 */
import type Stripe from "stripe";
import { getCoupon, getCustomer, getPromotionCode, promotionCoupon } from "../../billing.ts";
import { buildCoupon, buildPromotionCode } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { invalid, paramMissing, StripeApiError } from "../../errors.ts";
import { emit } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { bool, int, mergeMetadata, metadataOf, obj, str, type FormObject } from "../../form.ts";
import { randomToken } from "../../ids.ts";
import type { Router } from "../../router.ts";
import { createdFilter, responders } from "../common.ts";

function exists(kind: string, message: string, param: string): StripeApiError {
  return new StripeApiError(400, { type: "invalid_request_error", code: "resource_already_exists", message, param });
}

/** `percent_off` as a number (Stripe takes up to two decimals), or `undefined`. */
function percentOf(p: FormObject): number | undefined {
  const raw = str(p.percent_off);
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw invalid("Invalid percent_off: must be greater than 0 and at most 100.", "percent_off");
  return n;
}

/** Validates `POST /v1/coupons` params and builds the coupon (amounts in minor units, `redeem_by` Stripe seconds). */
function couponFromParams(ctx: SimContext, p: FormObject): Stripe.Coupon {
  const percentOff = percentOf(p);
  const amountOff = int(p.amount_off);
  if (percentOff === undefined && amountOff === undefined) throw invalid("You must pass either percent_off or amount_off.", "percent_off");
  if (percentOff !== undefined && amountOff !== undefined) throw invalid("You may only specify one of these parameters: amount_off, percent_off.", "amount_off");
  if (amountOff !== undefined && amountOff <= 0) throw invalid("Invalid amount_off: must be a positive integer.", "amount_off");
  const currency = str(p.currency)?.toLowerCase() ?? null;
  if (amountOff !== undefined && !currency) throw invalid("You must pass currency when passing amount_off.", "currency");
  const duration = str(p.duration) ?? "once";
  if (duration !== "once" && duration !== "repeating" && duration !== "forever") {
    throw invalid("Invalid duration: must be one of forever, once, or repeating.", "duration");
  }
  const months = int(p.duration_in_months) ?? null;
  if (duration === "repeating" && (months === null || months <= 0)) throw invalid("You must pass duration_in_months when duration is repeating.", "duration_in_months");
  if (duration !== "repeating" && months !== null) throw invalid("duration_in_months can only be set when duration is repeating.", "duration_in_months");
  const id = str(p.id);
  if (id && (ctx.store.state.coupons[id] || ctx.store.state.deletedCoupons[id])) throw exists("coupon", "Coupon already exists.", "id");
  const coupon = buildCoupon({
    id,
    created: ctx.store.now(),
    percentOff: percentOff ?? null,
    amountOff: amountOff ?? null,
    currency: amountOff !== undefined ? currency : null,
    duration,
    durationInMonths: months,
    name: str(p.name) ?? null,
    maxRedemptions: int(p.max_redemptions) ?? null,
    redeemBy: int(p.redeem_by) ?? null,
    metadata: metadataOf(p.metadata) ?? {},
  });
  const options = obj(p.currency_options);
  if (options && amountOff !== undefined) {
    coupon.currency_options = Object.fromEntries(
      Object.entries(options).map(([cur, o]) => [cur.toLowerCase(), { amount_off: int(obj(o)?.amount_off) ?? 0 }]),
    );
  }
  return coupon;
}

/** Validates `POST /v1/promotion_codes` params; `code` is generated (8 characters) when absent. */
function promotionCodeFromParams(ctx: SimContext, p: FormObject): Stripe.PromotionCode {
  const promotion = obj(p.promotion);
  if (promotion && str(promotion.type) !== "coupon") throw invalid("Invalid promotion[type]: must be coupon.", "promotion[type]");
  const couponId = str(promotion?.coupon) ?? str(p.coupon);
  if (!couponId) throw paramMissing(promotion ? "promotion[coupon]" : "promotion");
  const coupon = getCoupon(ctx, couponId, promotion ? "promotion[coupon]" : "coupon");
  const code = str(p.code) ?? randomToken(8).toUpperCase();
  if (!/^[a-zA-Z0-9_-]{1,500}$/.test(code)) throw invalid("Invalid code: use letters, digits, hyphens and underscores.", "code");
  const taken = Object.values(ctx.store.state.promotionCodes).some((c) => c.active && c.code.toUpperCase() === code.toUpperCase());
  if (taken) throw exists("promotion_code", "An active promotion code with `code` already exists.", "code");
  const customer = str(p.customer) ?? null;
  if (customer) getCustomer(ctx, customer);
  const r = obj(p.restrictions);
  return buildPromotionCode({
    created: ctx.store.now(),
    code,
    coupon: coupon.id,
    active: bool(p.active) ?? true,
    customer,
    expiresAt: int(p.expires_at) ?? null,
    maxRedemptions: int(p.max_redemptions) ?? null,
    firstTimeTransaction: bool(r?.first_time_transaction) ?? false,
    minimumAmount: int(r?.minimum_amount) ?? null,
    minimumAmountCurrency: str(r?.minimum_amount_currency)?.toLowerCase() ?? null,
    metadata: metadataOf(p.metadata) ?? {},
  });
}

export function registerCouponRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { ok, one, list } = responders(ctx);

  router.on("POST", "/v1/coupons", (req) => {
    const coupon = couponFromParams(ctx, req.body);
    state().coupons[coupon.id] = coupon;
    emit(ctx, "coupon.created", coupon);
    return one(req, coupon);
  });
  router.on("GET", "/v1/coupons/:id", (req) => one(req, getCoupon(ctx, req.params.id ?? "", "id")));
  router.on("POST", "/v1/coupons/:id", (req) => {
    const coupon = getCoupon(ctx, req.params.id ?? "", "id");
    const p = req.body;
    const before = { name: coupon.name, metadata: coupon.metadata };
    if (p.name !== undefined) coupon.name = str(p.name) || null;
    coupon.metadata = mergeMetadata(coupon.metadata ?? {}, metadataOf(p.metadata), p.metadata);
    emit(ctx, "coupon.updated", coupon, { previous: before });
    return one(req, coupon);
  });
  router.on("DELETE", "/v1/coupons/:id", (req) => {
    const coupon = getCoupon(ctx, req.params.id ?? "", "id");
    delete state().coupons[coupon.id];
    coupon.valid = false;
    state().deletedCoupons[coupon.id] = coupon;
    emit(ctx, "coupon.deleted", coupon);
    return ok({ id: coupon.id, object: "coupon", deleted: true });
  });
  router.on("GET", "/v1/coupons", (req) => {
    const when = createdFilter(req.query);
    return list(req, newestFirst(Object.values(state().coupons)).filter((c) => when(c.created)), "/v1/coupons");
  });

  router.on("POST", "/v1/promotion_codes", (req) => {
    const code = promotionCodeFromParams(ctx, req.body);
    state().promotionCodes[code.id] = code;
    emit(ctx, "promotion_code.created", code);
    return one(req, code);
  });
  router.on("GET", "/v1/promotion_codes/:id", (req) => one(req, getPromotionCode(ctx, req.params.id ?? "", "id")));
  router.on("POST", "/v1/promotion_codes/:id", (req) => {
    const code = getPromotionCode(ctx, req.params.id ?? "", "id");
    const p = req.body;
    const before = { active: code.active, metadata: code.metadata };
    const active = bool(p.active);
    if (active !== undefined) code.active = active;
    code.metadata = mergeMetadata(code.metadata ?? {}, metadataOf(p.metadata), p.metadata);
    emit(ctx, "promotion_code.updated", code, { previous: before });
    return one(req, code);
  });
  router.on("GET", "/v1/promotion_codes", (req) => {
    const q = req.query;
    const code = str(q.code)?.toUpperCase();
    const coupon = str(q.coupon);
    const active = bool(q.active);
    const customer = str(q.customer);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().promotionCodes)).filter(
      (c) =>
        (!code || c.code.toUpperCase() === code) &&
        (!coupon || promotionCoupon(c) === coupon) &&
        (active === undefined || c.active === active) &&
        (!customer || c.customer === customer) &&
        when(c.created),
    );
    return list(req, items, "/v1/promotion_codes");
  });
}
