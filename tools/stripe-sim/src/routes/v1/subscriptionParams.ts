/**
 * Form params of subscription changes, shared by the subscription, invoice
 * preview and schedule routes: proration and payment behaviour, billing
 * cycle anchor, item changes, cancellation details.
 */
import type Stripe from "stripe";
import type { CancellationInput } from "../../billing.ts";
import { invalid, missing, paramMissing } from "../../errors.ts";
import { arr, bool, type FormValue, int, obj, str } from "../../form.ts";
import {
  type ItemChange,
  PAYMENT_BEHAVIORS,
  type PaymentBehavior,
  PRORATION_BEHAVIORS,
  type ProrationBehavior,
} from "../../planChange.ts";

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
export const PENDING_UPDATE_PARAMS = [
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

export function prorationBehaviorOf(v: FormValue | undefined, param: string, fallback: ProrationBehavior): ProrationBehavior {
  const s = str(v);
  if (s === undefined) return fallback;
  if (!PRORATION_BEHAVIORS.includes(s as ProrationBehavior)) {
    throw invalid(`Invalid ${param}: must be one of create_prorations, always_invoice, or none`, param);
  }
  return s as ProrationBehavior;
}

export function paymentBehaviorOf(v: FormValue | undefined): PaymentBehavior {
  const s = str(v) ?? "allow_incomplete";
  if (!PAYMENT_BEHAVIORS.includes(s as PaymentBehavior)) {
    throw invalid("Invalid payment_behavior: must be one of allow_incomplete, error_if_incomplete, pending_if_incomplete, or default_incomplete", "payment_behavior");
  }
  return s as PaymentBehavior;
}

export function billingCycleAnchorNow(v: FormValue | undefined, param: string): boolean {
  const s = str(v);
  if (s === undefined || s === "unchanged") return false;
  if (s === "now") return true;
  throw invalid(`Invalid ${param}: must be one of now or unchanged`, param);
}

/**
 * `items[i][id|price|quantity]`: a price change, or a quantity change on the
 * item's own price. Entries `itemEdits` handles (deletions, metered prices
 * added without an id) are skipped.
 */
export function itemChanges(
  sub: Stripe.Subscription,
  items: FormValue | undefined,
  prefix: string,
  isMeteredPrice: (priceId: string) => boolean = () => false,
): ItemChange[] {
  return arr(items).flatMap((it, i) => {
    const o = obj(it) ?? {};
    const itemId = str(o.id);
    if (bool(o.deleted) === true) return [];
    if (!itemId && str(o.price) && isMeteredPrice(str(o.price) ?? "")) return [];
    const quantity = int(o.quantity);
    const price = str(o.price);
    if (price) return [{ itemId, price, quantity }];
    if (quantity === undefined) return [];
    const item = itemId ? sub.items.data.find((x) => x.id === itemId) : sub.items.data[0];
    if (!item) throw missing("subscription_item", itemId ?? "", `${prefix}[${i}][id]`);
    return [{ itemId: item.id, price: item.price.id, quantity }];
  });
}

export function cancellationInput(v: FormValue | undefined): CancellationInput | undefined {
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

/**
 * `items[i][deleted]=true` (with `items[i][id]`) removes an item;
 * `items[i][price]` of a metered price without an id adds an item.
 */
export function itemEdits(
  items: FormValue | undefined,
  prefix: string,
  isMeteredPrice: (priceId: string) => boolean,
): { deletes: string[]; adds: { price: string; quantity?: number; param: string }[] } {
  const deletes: string[] = [];
  const adds: { price: string; quantity?: number; param: string }[] = [];
  arr(items).forEach((it, i) => {
    const o = obj(it) ?? {};
    const itemId = str(o.id);
    const price = str(o.price);
    if (bool(o.deleted) === true) {
      if (!itemId) throw paramMissing(`${prefix}[${i}][id]`);
      deletes.push(itemId);
    } else if (!itemId && price && isMeteredPrice(price)) {
      adds.push({ price, quantity: int(o.quantity), param: `${prefix}[${i}]` });
    }
  });
  return { deletes, adds };
}
