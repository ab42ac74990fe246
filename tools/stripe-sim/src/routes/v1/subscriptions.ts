/**
 * `/v1/subscriptions`: create, retrieve, list, update (price changes with
 * `proration_behavior` / `payment_behavior`, `trial_end=now`, cancels, cancellation details)
 * and cancel now.
 */
import { missingPaymentMethod } from "./checkoutSessions.ts";
import type Stripe from "stripe";
import {
  addMeteredItem,
  cancelSubscriptionNow,
  createSubscription,
  deleteItem,
  emitSubscriptionUpdated,
  getCustomer,
  getPrice,
  getSubscription,
  idOf,
  resolvePaymentMethod,
  scheduleCancel,
  unscheduleCancel,
  withCancellationDetails,
  redeem,
  resolveDiscountRefs,
} from "../../billing.ts";
import { isMetered } from "../../builders.ts";
import type { SimContext } from "../../context.ts";
import { invalid, paramMissing } from "../../errors.ts";
import { snapshot } from "../../events.ts";
import { newestFirst } from "../../expand.ts";
import { arr, bool, type FormObject, int, mergeMetadata, metadataOf, obj, str } from "../../form.ts";
import { endTrialNow, trialEndParam } from "../../endTrial.ts";
import { changePrice } from "../../planChange.ts";
import type { Router } from "../../router.ts";
import { createdFilter, requireStr, responders } from "../common.ts";
import { billingCycleAnchorNow, cancellationInput, itemChanges, itemEdits, paymentBehaviorOf, PENDING_UPDATE_PARAMS, prorationBehaviorOf } from "./subscriptionParams.ts";

/** `discounts[n][coupon|promotion_code]` resolved for `customer` (no `discount` ids: the simulator does not reuse discounts). */
function discountParams(ctx: SimContext, p: FormObject, customer: Stripe.Customer, currency: string) {
  const refs = arr(p.discounts).map((d) => ({ coupon: str(obj(d)?.coupon), promotionCode: str(obj(d)?.promotion_code) }));
  return resolveDiscountRefs(ctx, refs, { customer: customer.id, currency, subtotal: Number.MAX_SAFE_INTEGER, now: ctx.store.now(customer.id) });
}

/** `POST /v1/subscriptions/:id` apart from the item change: cancels, details, payment method, metadata. */
function updateSubscriptionFields(ctx: SimContext, sub: Stripe.Subscription, p: FormObject): void {
  const details = cancellationInput(p.cancellation_details);
  const capEnd = bool(p.cancel_at_period_end);
  let detailsApplied = false;
  if (capEnd === true) {
    scheduleCancel(ctx, sub, "at_period_end", undefined, details);
    detailsApplied = true;
  }
  if (capEnd === false && (sub.cancel_at_period_end || sub.cancel_at !== null)) unscheduleCancel(ctx, sub);
  if (p.cancel_at !== undefined) {
    const at = int(p.cancel_at);
    if (p.cancel_at === "" || at === undefined) {
      if (sub.cancel_at !== null) unscheduleCancel(ctx, sub);
    } else {
      scheduleCancel(ctx, sub, "cancel_at", at, details);
      detailsApplied = true;
    }
  }
  const before = snapshot(sub);
  const pmParam = str(p.default_payment_method);
  if (pmParam) sub.default_payment_method = resolvePaymentMethod(ctx, pmParam, idOf(sub.customer) ?? "", "default_payment_method").id;
  sub.metadata = mergeMetadata(sub.metadata, metadataOf(p.metadata), p.metadata);
  if (p.description !== undefined) sub.description = str(p.description) || null;
  if (details && !detailsApplied) sub.cancellation_details = withCancellationDetails(sub.cancellation_details, details);
  if (p.discounts !== undefined) {
    const customer = getCustomer(ctx, idOf(sub.customer) ?? "");
    const now = ctx.store.now(customer.id);
    sub.discounts = discountParams(ctx, p, customer, sub.currency).map((picked) => redeem(ctx, picked, { customer: customer.id, subscription: sub.id }, now).id);
  }
  emitSubscriptionUpdated(ctx, sub, before);
}

export function registerSubscriptionRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;
  const { one, list } = responders(ctx);
  router.on("POST", "/v1/subscriptions", (req) => {
    const p = req.body;
    const customer = getCustomer(ctx, requireStr(p, "customer"));
    const pmParam = str(p.default_payment_method);
    const pm = pmParam ? resolvePaymentMethod(ctx, pmParam, customer.id, "default_payment_method").id : null;
    const { subscription } = createSubscription(ctx, {
      customer: customer.id,
      items: arr(p.items).map((it, i) => {
        const o = obj(it) ?? {};
        const price = str(o.price);
        if (!price) throw paramMissing(`items[${i}][price]`);
        return { price, quantity: int(o.quantity) };
      }),
      metadata: metadataOf(p.metadata) ?? {},
      description: str(p.description) ?? null,
      trialDays: int(p.trial_period_days) ?? null,
      trialMissingPaymentMethod: missingPaymentMethod(
        str(obj(obj(obj(p.trial_settings)?.end_behavior))?.missing_payment_method),
        "trial_settings[end_behavior][missing_payment_method]",
      ),
      paymentMethod: pm,
      discounts: discountParams(ctx, p, customer, str(p.currency)?.toLowerCase() ?? customer.currency ?? "usd"),
      automaticTax: bool(obj(p.automatic_tax)?.enabled) ?? false,
      currency: str(p.currency)?.toLowerCase(),
      atCheckout: false,
      authenticated: false,
    });
    return one(req, subscription);
  });
  router.on("GET", "/v1/subscriptions/:id", (req) => one(req, getSubscription(ctx, req.params.id ?? "", "id")));
  router.on("GET", "/v1/subscriptions", (req) => {
    const q = req.query;
    const customer = str(q.customer), status = str(q.status), price = str(q.price), clock = str(q.test_clock);
    const when = createdFilter(q);
    const items = newestFirst(Object.values(state().subscriptions)).filter(
      (s) =>
        (!customer || s.customer === customer) &&
        (status === "all" ? true : status ? s.status === status : s.status !== "canceled" && s.status !== "incomplete_expired") &&
        (!price || s.items.data.some((i) => i.price.id === price)) &&
        (!clock || s.test_clock === clock) &&
        when(s.created),
    );
    return list(req, items, "/v1/subscriptions");
  });

  router.on("POST", "/v1/subscriptions/:id", (req) => {
    const sub = getSubscription(ctx, req.params.id ?? "", "id");
    const p = req.body;
    const prorationBehavior = prorationBehaviorOf(p.proration_behavior, "proration_behavior", "create_prorations");
    const paymentBehavior = paymentBehaviorOf(p.payment_behavior);
    if (paymentBehavior === "pending_if_incomplete") {
      const refused = Object.keys(p).filter((k) => !PENDING_UPDATE_PARAMS.includes(k));
      if (refused.length > 0) {
        throw invalid(
          `When \`payment_behavior\` is \`pending_if_incomplete\`, you can only pass these parameters: ${PENDING_UPDATE_PARAMS.join(", ")}. Remove ${refused.map((k) => `\`${k}\``).join(", ")}.`,
          refused[0],
        );
      }
    }
    const options = {
      prorationBehavior,
      paymentBehavior,
      prorationDate: int(p.proration_date),
      resetAnchor: billingCycleAnchorNow(p.billing_cycle_anchor, "billing_cycle_anchor"),
    };
    const trialEnd = trialEndParam(str(p.trial_end), "trial_end");
    if (trialEnd !== undefined) {
      if (trialEnd !== "now") throw invalid("The simulator supports `trial_end=now` only (ending a trial early).", "trial_end");
      if (p.items !== undefined || options.resetAnchor) {
        throw invalid("The simulator does not combine `trial_end` with `items` or `billing_cycle_anchor`.", "trial_end");
      }
      endTrialNow(ctx, sub, paymentBehavior);
      updateSubscriptionFields(ctx, sub, p);
      return one(req, sub);
    }
    const metered = (priceId: string) => isMetered(getPrice(ctx, priceId, "items"));
    const edits = itemEdits(p.items, "items", metered);
    if (edits.deletes.length > 0 || edits.adds.length > 0) {
      const before = snapshot(sub);
      for (const id of edits.deletes) deleteItem(ctx, sub, id, "items");
      for (const add of edits.adds) addMeteredItem(ctx, sub, add.price, add.quantity, add.param);
      emitSubscriptionUpdated(ctx, sub, before);
    }
    const changes = itemChanges(sub, p.items, "items", metered);
    for (const change of changes) changePrice(ctx, sub, change, options);
    if (changes.length === 0 && options.resetAnchor && sub.items.data[0]) {
      changePrice(ctx, sub, { itemId: sub.items.data[0].id, price: sub.items.data[0].price.id }, options);
    }
    updateSubscriptionFields(ctx, sub, p);
    return one(req, sub);
  });
  // `prorate` / `invoice_now` are accepted and ignored: usage accrued in the
  // current period is not billed on cancel (as Stripe's default `invoice_now=false`).
  router.on("DELETE", "/v1/subscriptions/:id", (req) => {
    const sub = getSubscription(ctx, req.params.id ?? "", "id");
    if (sub.status === "canceled") {
      throw invalid(`A canceled subscription can only update its cancellation_details and metadata.`, undefined, "resource_missing");
    }
    const details = cancellationInput(req.query.cancellation_details ?? req.body.cancellation_details) ?? {};
    return one(req, cancelSubscriptionNow(ctx, sub, "cancellation_requested", details));
  });
}
