/**
 * `/v1` routes for plan changes: subscription update and cancel (with
 * `payment_behavior`, `proration_behavior`, `cancellation_details`), invoice
 * previews, Subscription Schedules and the customer credit balance.
 */
import type Stripe from "stripe";
import {
  adjustBalance,
  cancelSubscriptionNow,
  emitSubscriptionUpdated,
  getCustomer,
  getSubscription,
  idOf,
  resolvePaymentMethod,
  scheduleCancel,
  unscheduleCancel,
  withCancellationDetails,
  type CancellationInput,
} from "../billing.ts";
import type { SimContext } from "../context.ts";
import { found, invalid, missing, paramMissing } from "../errors.ts";
import { snapshot } from "../events.ts";
import { newestFirst } from "../expand.ts";
import { arr, bool, int, mergeMetadata, metadataOf, obj, str, type FormObject, type FormValue } from "../form.ts";
import {
  changePrice,
  PAYMENT_BEHAVIORS,
  PRORATION_BEHAVIORS,
  type ItemChange,
  type PaymentBehavior,
  type ProrationBehavior,
} from "../planChange.ts";
import { previewInvoice } from "../preview.ts";
import type { Router, SimRequest } from "../router.ts";
import {
  cancelSchedule,
  createScheduleFromSubscription,
  releaseSchedule,
  updateSchedule,
  type PhaseInput,
} from "../schedules.ts";
import { requireStr, responders } from "./common.ts";

const FEEDBACK: Stripe.Subscription.CancellationDetails.Feedback[] = [
  "customer_service",
  "low_quality",
  "missing_features",
  "other",
  "switched_service",
  "too_complex",
  "too_expensive",
  "unused",
];

/** Params Stripe accepts together with `payment_behavior=pending_if_incomplete`. */
const PENDING_UPDATE_PARAMS = [
  "items",
  "proration_behavior",
  "proration_date",
  "billing_cycle_anchor",
  "payment_behavior",
  "trial_end",
  "trial_from_plan",
  "add_invoice_items",
  "off_session",
  "expand",
];

function prorationBehaviorOf(v: FormValue | undefined, param: string, fallback: ProrationBehavior): ProrationBehavior {
  const s = str(v);
  if (s === undefined) return fallback;
  if (!PRORATION_BEHAVIORS.includes(s as ProrationBehavior)) {
    throw invalid(`Invalid ${param}: must be one of create_prorations, always_invoice, or none`, param);
  }
  return s as ProrationBehavior;
}

function paymentBehaviorOf(v: FormValue | undefined): PaymentBehavior {
  const s = str(v) ?? "allow_incomplete";
  if (!PAYMENT_BEHAVIORS.includes(s as PaymentBehavior)) {
    throw invalid("Invalid payment_behavior: must be one of allow_incomplete, error_if_incomplete, pending_if_incomplete, or default_incomplete", "payment_behavior");
  }
  return s as PaymentBehavior;
}

function billingCycleAnchorNow(v: FormValue | undefined, param: string): boolean {
  const s = str(v);
  if (s === undefined || s === "unchanged") return false;
  if (s === "now") return true;
  throw invalid(`Invalid ${param}: must be one of now or unchanged`, param);
}

/** `items[i][id|price|quantity]`: a price change, or a quantity change on the item's own price. */
function itemChanges(sub: Stripe.Subscription, items: FormValue | undefined, prefix: string): ItemChange[] {
  return arr(items).flatMap((it, i) => {
    const o = obj(it) ?? {};
    const itemId = str(o.id);
    const quantity = int(o.quantity);
    const price = str(o.price);
    if (price) return [{ itemId, price, quantity }];
    if (quantity === undefined) return [];
    const item = itemId ? sub.items.data.find((x) => x.id === itemId) : sub.items.data[0];
    if (!item) throw missing("subscription_item", itemId ?? "", `${prefix}[${i}][id]`);
    return [{ itemId: item.id, price: item.price.id, quantity }];
  });
}

function cancellationInput(v: FormValue | undefined): CancellationInput | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const out: CancellationInput = {};
  if (o.comment !== undefined) out.comment = str(o.comment) || null;
  if (o.feedback !== undefined) {
    const feedback = str(o.feedback) || null;
    if (feedback !== null && !FEEDBACK.includes(feedback)) {
      throw invalid(`Invalid cancellation_details[feedback]: must be one of ${FEEDBACK.join(", ")}`, "cancellation_details[feedback]");
    }
    out.feedback = feedback;
  }
  return out;
}

function durationOf(v: FormValue | undefined, param: string): PhaseInput["duration"] {
  const o = obj(v);
  if (!o) return undefined;
  const interval = str(o.interval);
  if (!interval || !["day", "week", "month", "year"].includes(interval)) {
    throw invalid(`Invalid ${param}[interval]: must be one of day, week, month, or year`, `${param}[interval]`);
  }
  return { interval: interval, interval_count: int(o.interval_count) ?? 1 };
}

function phaseInputs(v: FormValue | undefined): PhaseInput[] {
  return arr(v).map((raw, i) => {
    const p = obj(raw) ?? {};
    const items = arr(p.items).map((it, j) => {
      const o = obj(it) ?? {};
      const price = str(o.price) ?? str(o.plan);
      if (!price) throw paramMissing(`phases[${i}][items][${j}][price]`);
      return { price, quantity: int(o.quantity) };
    });
    const date = (x: FormValue | undefined) => (str(x) === "now" ? ("now" as const) : int(x));
    return {
      items,
      startDate: date(p.start_date),
      endDate: date(p.end_date),
      iterations: int(p.iterations),
      duration: durationOf(p.duration, `phases[${i}][duration]`),
      prorationBehavior: p.proration_behavior === undefined ? undefined : prorationBehaviorOf(p.proration_behavior, `phases[${i}][proration_behavior]`, "create_prorations"),
      metadata: metadataOf(p.metadata),
    };
  });
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
  emitSubscriptionUpdated(ctx, sub, before);
}

function registerSubscriptionRoutes(router: Router, ctx: SimContext): void {
  const { one } = responders(ctx);
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
    const changes = itemChanges(sub, p.items, "items");
    for (const change of changes) changePrice(ctx, sub, change, options);
    if (changes.length === 0 && options.resetAnchor && sub.items.data[0]) {
      changePrice(ctx, sub, { itemId: sub.items.data[0].id, price: sub.items.data[0].price.id }, options);
    }
    updateSubscriptionFields(ctx, sub, p);
    return one(req, sub);
  });
  // `prorate` / `invoice_now` are accepted and ignored: the simulator bills no usage.
  router.on("DELETE", "/v1/subscriptions/:id", (req) => {
    const sub = getSubscription(ctx, req.params.id ?? "", "id");
    if (sub.status === "canceled") {
      throw invalid(`A canceled subscription can only update its cancellation_details and metadata.`, undefined, "resource_missing");
    }
    const details = cancellationInput(req.query.cancellation_details ?? req.body.cancellation_details) ?? {};
    return one(req, cancelSubscriptionNow(ctx, sub, "cancellation_requested", details));
  });

  router.on("POST", "/v1/invoices/create_preview", (req) => {
    const p = req.body;
    const details = obj(p.subscription_details) ?? {};
    const subId = str(p.subscription) ?? null;
    const sub = subId ? getSubscription(ctx, subId, "subscription") : null;
    if (str(p.schedule)) {
      throw invalid("The simulator previews `subscription` (with `subscription_details`), not `schedule`.", "schedule");
    }
    const invoice = previewInvoice(ctx, {
      customer: str(p.customer) ?? null,
      subscription: subId,
      items: sub ? itemChanges(sub, details.items, "subscription_details[items]") : [],
      prorationBehavior: prorationBehaviorOf(details.proration_behavior, "subscription_details[proration_behavior]", "create_prorations"),
      prorationDate: int(details.proration_date),
      resetAnchor: billingCycleAnchorNow(details.billing_cycle_anchor, "subscription_details[billing_cycle_anchor]"),
    });
    return one(req, invoice);
  });
}

function registerScheduleRoutes(router: Router, ctx: SimContext): void {
  const { one, list } = responders(ctx);
  const schedules = () => ctx.store.state.subscriptionSchedules;
  const getSchedule = (req: SimRequest) =>
    found(schedules()[req.params.id ?? ""], "subscription_schedule", req.params.id ?? "", "schedule");

  router.on("POST", "/v1/subscription_schedules", (req) => {
    const p = req.body;
    const from = str(p.from_subscription);
    if (!from) {
      throw invalid("The simulator creates schedules `from_subscription` only; add phases with an update.", "from_subscription");
    }
    const schedule = createScheduleFromSubscription(ctx, getSubscription(ctx, from, "from_subscription"), metadataOf(p.metadata) ?? {});
    return one(req, schedule);
  });
  router.on("GET", "/v1/subscription_schedules/:id", (req) => one(req, getSchedule(req)));
  router.on("POST", "/v1/subscription_schedules/:id", (req) => {
    const p = req.body;
    const endBehavior = str(p.end_behavior);
    if (endBehavior !== undefined && !["release", "cancel"].includes(endBehavior)) {
      throw invalid("The simulator supports end_behavior release or cancel.", "end_behavior");
    }
    const schedule = updateSchedule(ctx, getSchedule(req), {
      phases: p.phases === undefined ? undefined : phaseInputs(p.phases),
      endBehavior,
      metadata: metadataOf(p.metadata),
      prorationBehavior: p.proration_behavior === undefined ? undefined : prorationBehaviorOf(p.proration_behavior, "proration_behavior", "create_prorations"),
    });
    return one(req, schedule);
  });
  router.on("POST", "/v1/subscription_schedules/:id/release", (req) => one(req, releaseSchedule(ctx, getSchedule(req))));
  router.on("POST", "/v1/subscription_schedules/:id/cancel", (req) => one(req, cancelSchedule(ctx, getSchedule(req))));
  router.on("GET", "/v1/subscription_schedules", (req) => {
    const customer = str(req.query.customer);
    const items = newestFirst(Object.values(schedules())).filter((s) => !customer || s.customer === customer);
    return list(req, items, "/v1/subscription_schedules");
  });
}

function registerBalanceRoutes(router: Router, ctx: SimContext): void {
  const { one, list } = responders(ctx);
  router.on("POST", "/v1/customers/:id/balance_transactions", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const p = req.body;
    const amount = int(p.amount);
    if (amount === undefined) throw paramMissing("amount");
    const currency = requireStr(p, "currency").toLowerCase();
    const txn = adjustBalance(ctx, customer, amount, {
      type: "adjustment",
      currency,
      description: str(p.description) ?? null,
      metadata: metadataOf(p.metadata) ?? {},
    });
    return one(req, txn);
  });
  router.on("GET", "/v1/customers/:id/balance_transactions", (req) => {
    const customer = getCustomer(ctx, req.params.id ?? "", "customer");
    const items = newestFirst(Object.values(ctx.store.state.balanceTransactions)).filter((t) => t.customer === customer.id);
    return list(req, items, `/v1/customers/${customer.id}/balance_transactions`);
  });
}

export function registerPlanChangeRoutes(router: Router, ctx: SimContext): void {
  registerSubscriptionRoutes(router, ctx);
  registerScheduleRoutes(router, ctx);
  registerBalanceRoutes(router, ctx);
}
