/** Products, prices, and the legacy `plan` view of a price. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";
import { decimal } from "./common.ts";

export type ProductInput = {
  id?: string;
  created: number;
  name: string;
  description: string | null;
  active: boolean;
  metadata: Record<string, string>;
};

export function buildProduct(input: ProductInput): Stripe.Product {
  return {
    id: input.id ?? newId("prod"),
    object: "product",
    active: input.active,
    created: input.created,
    default_price: null,
    description: input.description,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: input.metadata,
    name: input.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: input.created,
    url: null,
  };
}

export type PriceInput = {
  id?: string;
  created: number;
  product: string;
  currency: string;
  unitAmount: number;
  /**
   * `usageType` `metered` bills the `meter`'s aggregated usage in arrears
   * (no quantity on subscription items); `licensed` (default) bills a quantity in advance.
   */
  recurring: {
    interval: Stripe.Price.Recurring.Interval;
    intervalCount: number;
    trialPeriodDays: number | null;
    usageType?: Stripe.Price.Recurring.UsageType;
    meter?: string | null;
  } | null;
  lookupKey: string | null;
  nickname: string | null;
  active: boolean;
  metadata: Record<string, string>;
};

export function buildPrice(input: PriceInput): Stripe.Price {
  return {
    id: input.id ?? newId("price"),
    object: "price",
    active: input.active,
    billing_scheme: "per_unit",
    created: input.created,
    currency: input.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: input.lookupKey,
    metadata: input.metadata,
    nickname: input.nickname,
    product: input.product,
    recurring: input.recurring
      ? {
          interval: input.recurring.interval,
          interval_count: input.recurring.intervalCount,
          meter: input.recurring.meter ?? null,
          trial_period_days: input.recurring.trialPeriodDays,
          usage_type: input.recurring.usageType ?? "licensed",
        }
      : null,
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: input.recurring ? "recurring" : "one_time",
    unit_amount: input.unitAmount,
    unit_amount_decimal: decimal(input.unitAmount),
  };
}

/** The legacy `plan` object Stripe still embeds on subscription items. */
export function planFromPrice(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring;
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: recurring?.interval ?? "month",
    interval_count: recurring?.interval_count ?? 1,
    livemode: false,
    metadata: price.metadata,
    meter: recurring?.meter ?? null,
    nickname: price.nickname,
    product: typeof price.product === "string" ? price.product : price.product.id,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: recurring?.trial_period_days ?? null,
    usage_type: recurring?.usage_type ?? "licensed",
  };
}

/** True for a price billed from a meter's usage (`recurring.usage_type: metered`). */
export function isMetered(price: Stripe.Price): boolean {
  return price.recurring?.usage_type === "metered";
}
