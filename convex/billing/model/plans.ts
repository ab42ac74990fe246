/**
 * The plan catalogue: the one typed module shared by `convex/` (server) and
 * `src/` (client). Nothing here is secret.
 *
 * - Tiers are ordered `free < starter < pro < elite`; `internal` is a staff
 *   tier that ranks above everything and is never purchasable.
 * - Prices are referenced by Stripe **lookup key** only. The server resolves a
 *   lookup key to a Stripe price id at checkout time
 *   (https://docs.stripe.com/products-prices/manage-prices#lookup-keys); the
 *   client never sends a price id.
 * - `displayAmount` is in minor units of `currency` and is what the seed script
 *   creates in Stripe; Stripe's price is the one actually charged.
 * - Currencies (`CURRENCIES`, docs/BILLING_COMPONENT.md "Currencies"): every
 *   price is in `DEFAULT_CURRENCY` (USD) and carries `currencyOptions`, its
 *   amount in each other sold currency, which the seed script creates as the
 *   Stripe price's `currency_options`. Checkout charges the currency asked
 *   for (`currency`); `amountIn` reads any of them.
 * - `tokensPerPeriod` is the allowance granted each month, on every plan and
 *   interval: free accounts per UTC month, subscribers per monthly window on
 *   their subscription's anchor day (a yearly plan gets it twelve times a year).
 */

export const TIERS = ["free", "starter", "pro", "elite", "internal"] as const;
export type Tier = (typeof TIERS)[number];

export const PAID_TIERS = ["starter", "pro", "elite"] as const;
export type PaidTier = (typeof PAID_TIERS)[number];

export const INTERVALS = ["month", "year"] as const;
export type Interval = (typeof INTERVALS)[number];

/**
 * The currencies the catalogue sells in, lower case as Stripe writes them.
 * The first is the default: every Stripe price's own `currency`; the others
 * are its `currency_options`.
 */
export const CURRENCIES = ["usd", "eur", "gbp"] as const;
export type Currency = (typeof CURRENCIES)[number];
export const DEFAULT_CURRENCY = "usd" satisfies Currency;

/** Whether `value` is one of `CURRENCIES` (case-sensitive: Stripe writes lower case). */
export function isCurrency(value: string | null | undefined): value is Currency {
  return value != null && (CURRENCIES as readonly string[]).includes(value);
}

/** A price's amount in each non-default currency: minor units (cents, pence), integers. */
export type CurrencyOptions = Record<Exclude<Currency, typeof DEFAULT_CURRENCY>, number>;

export type PlanPrice = {
  /** Stripe price lookup key, e.g. `pro_monthly`. */
  lookupKey: string;
  /** Display amount in minor units of `currency` (cents for USD). */
  displayAmount: number;
  /** ISO 4217 currency code, lower case as Stripe writes it: `DEFAULT_CURRENCY`. */
  currency: string;
  /** The same price in the other `CURRENCIES` (minor units): the Stripe price's `currency_options`. */
  currencyOptions: CurrencyOptions;
};

/**
 * The amount of a price in `currency`, minor units: `displayAmount` for its
 * own currency, else its `currencyOptions` entry; null for a currency it is
 * not sold in.
 */
export function amountIn(
  price: { displayAmount: number; currency: string; currencyOptions: CurrencyOptions },
  currency: string,
): number | null {
  if (currency === price.currency) return price.displayAmount;
  return isCurrency(currency) && currency !== DEFAULT_CURRENCY ? price.currencyOptions[currency] : null;
}

export type Plan = {
  tier: Tier;
  /** Position in the upgrade order; higher is better. */
  rank: number;
  name: string;
  description: string;
  features: string[];
  /** Tokens granted each month (a subscriber's monthly window; a free UTC month). Integer. */
  tokensPerPeriod: number;
  /** Whether a customer can buy it through Checkout. */
  purchasable: boolean;
  /** Monthly and yearly prices; `null` for tiers that are not sold. */
  prices: Record<Interval, PlanPrice> | null;
  /**
   * Unused allowance carried into the next period, or `null` for none: up
   * to `maxTokens`, as a `rollover` grant that expires after `periods`
   * periods (see `ledger.startPeriod`).
   */
  rollover: { maxTokens: number; periods: number } | null;
  /**
   * The overage policy (`docs/CREDITS.md`, "Overage"): `null` blocks a run
   * the balance cannot cover; otherwise up to `capTokens` tokens a period
   * may be used beyond it, recorded as overage for metered billing at
   * `unitAmount` minor units of `currency` a token, reported to Stripe's
   * meter and billed on the next invoice (`OVERAGE_METER`). Allowed only
   * while the account's subscription is active and carries the metered
   * price (monthly plans; `account.overageBillable`), so nothing is used
   * that Stripe can't bill.
   */
  overage: OveragePolicy | null;
  /**
   * The free trial Checkout offers on this plan (docs/TRIALS.md), or `null`
   * for none. One trial per account and per Stripe customer.
   */
  trial: TrialPolicy | null;
  /**
   * Per-seat billing for organisation accounts (`docs/SEATS.md`), or absent
   * for a flat plan. The subscription's quantity is the number of seats;
   * personal accounts always buy one.
   */
  seats?: SeatConfig;
};

/**
 * How a per-seat plan counts and pays seats (`docs/SEATS.md`):
 *
 * - `mode`: `"chosen"` — organisation admins pick the number of seats
 *   (at least the member count); `"members"` — seats follow the member
 *   count, synced on every membership change.
 * - `allowance`: `"perSeat"` — the plan's `tokensPerPeriod` for every seat,
 *   pooled in the organisation's balance; `{ scales: … }` — the plan's
 *   `tokensPerPeriod` covers `includedSeats` seats and each seat beyond adds
 *   `tokensPerExtraSeat` (integers).
 * - `min` / `max`: the seats Checkout and seat changes accept (integers ≥ 1).
 */
export type SeatConfig = {
  mode: "chosen" | "members";
  allowance: "perSeat" | { scales: { includedSeats: number; tokensPerExtraSeat: number } };
  min: number;
  max: number;
};

/** The plan's seat config, or null for a flat plan. */
export function seatConfig(tier: Tier): SeatConfig | null {
  return PLANS[tier].seats ?? null;
}

/**
 * The monthly allowance of `tier` paid for `seats` seats (integer tokens):
 * `tokensPerPeriod` for a flat plan or one seat; see `SeatConfig.allowance`.
 */
export function seatAllowance(tier: Tier, seats: number): number {
  const plan = PLANS[tier];
  const config = plan.seats;
  const count = Math.max(1, Math.floor(seats));
  if (!config) return plan.tokensPerPeriod;
  if (config.allowance === "perSeat") return plan.tokensPerPeriod * count;
  const { includedSeats, tokensPerExtraSeat } = config.allowance.scales;
  return plan.tokensPerPeriod + Math.max(0, count - includedSeats) * tokensPerExtraSeat;
}

/**
 * A plan's trial:
 * - `days`: its length (`subscription_data.trial_period_days`);
 * - `tokens`: the allowance granted once when it starts (integer; may be
 *   smaller than `tokensPerPeriod`, the paid allowance granted once the
 *   first paid invoice converts it);
 * - `cardRequired`: `false` for a card-less trial (Checkout's
 *   `payment_method_collection: "if_required"`, nothing is due today);
 * - `missingPaymentMethod`: what Stripe does at the trial end when no card
 *   is on file (`trial_settings.end_behavior.missing_payment_method`):
 *   `cancel` (back to free), `pause` (status `paused`, no paid access until
 *   a card is added and it resumes) or `create_invoice` (an open invoice,
 *   `past_due`, the dunning path).
 */
export type TrialPolicy = {
  days: number;
  tokens: number;
  cardRequired: boolean;
  missingPaymentMethod: "cancel" | "pause" | "create_invoice";
};

export type OveragePolicy = { capTokens: number; unitAmount: number; currency: string };

/** The overage price per token in `currency` (minor units), or null when not sold in it. */
export function overageUnitAmount(currency: string): number | null {
  const price = OVERAGE_METER.price;
  return amountIn({ displayAmount: price.unitAmount, currency: price.currency, currencyOptions: price.currencyOptions }, currency);
}

/**
 * The Stripe Billing Meter overage is reported to, and the monthly metered
 * price that bills it on the subscription invoice at the period end
 * (https://docs.stripe.com/billing/subscriptions/usage-based). Both are
 * created by `npm run seed:stripe`: the meter is found by `eventName`, the
 * price by `lookupKey`. Meter events carry `payload.stripe_customer_id` and
 * `payload.value` (Stripe's default payload keys), summed per period.
 * `unitAmount` is in minor units of `currency` per token; a plan's
 * `overage.unitAmount` must equal it (a test checks).
 */
export const OVERAGE_METER = {
  eventName: "overage_tokens",
  displayName: "Overage tokens",
  price: {
    lookupKey: "overage_tokens_monthly",
    unitAmount: 12,
    currency: "usd",
    /** Per token in the other currencies, minor units (the price's `currency_options`). */
    currencyOptions: { eur: 11, gbp: 10 },
    interval: "month" as Interval,
  },
} as const;

export const PLANS: Record<Tier, Plan> = {
  free: {
    tier: "free",
    rank: 0,
    name: "Free",
    description: "Try the product with a small monthly allowance.",
    features: ["5 tokens a month", "Quick, standard and bulk analyses", "Community support"],
    tokensPerPeriod: 5,
    purchasable: false,
    prices: null,
    rollover: null,
    overage: null,
    trial: null,
  },
  starter: {
    tier: "starter",
    rank: 1,
    name: "Starter",
    description: "For individuals getting real work done.",
    features: ["50 tokens a month", "Quick, standard and bulk analyses", "Email support"],
    tokensPerPeriod: 50,
    purchasable: true,
    prices: {
      month: { lookupKey: "starter_monthly", displayAmount: 900, currency: "usd", currencyOptions: { eur: 900, gbp: 800 } },
      year: { lookupKey: "starter_yearly", displayAmount: 9000, currency: "usd", currencyOptions: { eur: 9000, gbp: 8000 } },
    },
    rollover: null,
    overage: null,
    trial: { days: 14, tokens: 20, cardRequired: false, missingPaymentMethod: "cancel" },
  },
  pro: {
    tier: "pro",
    rank: 2,
    name: "Pro",
    description: "For professionals who need deep analyses.",
    features: ["150 tokens a month", "Up to 75 unused tokens roll over a month", "Deep analyses", "Up to 100 more tokens a month beyond your balance, billed by usage", "Priority support"],
    tokensPerPeriod: 150,
    purchasable: true,
    prices: {
      month: { lookupKey: "pro_monthly", displayAmount: 2900, currency: "usd", currencyOptions: { eur: 2700, gbp: 2300 } },
      year: { lookupKey: "pro_yearly", displayAmount: 29000, currency: "usd", currencyOptions: { eur: 27000, gbp: 23000 } },
    },
    rollover: { maxTokens: 75, periods: 1 },
    overage: { capTokens: 100, unitAmount: OVERAGE_METER.price.unitAmount, currency: OVERAGE_METER.price.currency },
    trial: { days: 14, tokens: 50, cardRequired: true, missingPaymentMethod: "create_invoice" },
    seats: { mode: "chosen", allowance: "perSeat", min: 1, max: 50 },
  },
  elite: {
    tier: "elite",
    rank: 3,
    name: "Elite",
    description: "For teams running analyses all day.",
    features: ["500 tokens a month", "Unused tokens roll over for two months", "Up to 500 more tokens a month beyond your balance, billed by usage", "Everything in Pro", "Dedicated support"],
    tokensPerPeriod: 500,
    purchasable: true,
    prices: {
      month: { lookupKey: "elite_monthly", displayAmount: 9900, currency: "usd", currencyOptions: { eur: 9500, gbp: 7900 } },
      year: { lookupKey: "elite_yearly", displayAmount: 99000, currency: "usd", currencyOptions: { eur: 95000, gbp: 79000 } },
    },
    rollover: { maxTokens: 500, periods: 2 },
    overage: { capTokens: 500, unitAmount: OVERAGE_METER.price.unitAmount, currency: OVERAGE_METER.price.currency },
    trial: null,
    seats: { mode: "members", allowance: { scales: { includedSeats: 1, tokensPerExtraSeat: 250 } }, min: 1, max: 200 },
  },
  internal: {
    tier: "internal",
    rank: 100,
    name: "Internal",
    description: "Staff accounts.",
    features: ["Unlimited staff access"],
    tokensPerPeriod: 10_000,
    purchasable: false,
    prices: null,
    rollover: null,
    overage: null,
    trial: null,
  },
};

/** Plans shown on the pricing page, in upgrade order (no `internal`). */
export const PUBLIC_TIERS: readonly Tier[] = ["free", "starter", "pro", "elite"];

export function tierRank(tier: Tier): number {
  return PLANS[tier].rank;
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

/** Finds the tier and interval a Stripe price lookup key belongs to. */
export function planForLookupKey(
  lookupKey: string | null | undefined,
): { tier: PaidTier; interval: Interval } | null {
  if (!lookupKey) return null;
  for (const tier of PAID_TIERS) {
    const prices = PLANS[tier].prices;
    if (!prices) continue;
    for (const interval of INTERVALS) {
      if (prices[interval].lookupKey === lookupKey) return { tier, interval };
    }
  }
  return null;
}

/** All lookup keys the catalogue sells (what the seed script creates). */
export function allLookupKeys(): string[] {
  return PAID_TIERS.flatMap((tier) => {
    const prices = PLANS[tier].prices;
    return prices ? INTERVALS.map((i) => prices[i].lookupKey) : [];
  });
}

/** The next purchasable tier above `tier`, or null at the top. */
export function nextTier(tier: Tier): PaidTier | null {
  const rank = tierRank(tier);
  return PAID_TIERS.find((t) => tierRank(t) > rank) ?? null;
}

// ---------------------------------------------------------------------------
// Token costs per feature
// ---------------------------------------------------------------------------

export const COMPLEXITIES = ["low", "medium", "high"] as const;
export type Complexity = (typeof COMPLEXITIES)[number];

/** Multipliers applied to a feature's base cost; the result is rounded up. */
export const COMPLEXITY_MULTIPLIERS: Record<Complexity, number> = {
  low: 0.7,
  medium: 1,
  high: 1.5,
};

export type FeatureCost = {
  name: string;
  /** Base cost in tokens at `medium` complexity. Integer. */
  baseCost: number;
  /** Lowest tier allowed to use the feature. */
  minTier: Tier;
  /** `false`: never runs into overage, whatever the plan allows (default: the plan decides). */
  overage?: boolean;
};

export const FEATURES: Record<string, FeatureCost> = {
  quick_analysis: { name: "Quick analysis", baseCost: 1, minTier: "free" },
  standard_analysis: { name: "Standard analysis", baseCost: 3, minTier: "free" },
  bulk_analysis: { name: "Bulk analysis", baseCost: 10, minTier: "free" },
  deep_analysis: { name: "Deep analysis", baseCost: 20, minTier: "pro" },
};

/** Cost of a feature that is not in `FEATURES`. */
export const DEFAULT_FEATURE_COST = 5;

/**
 * Token cost of one use of `feature` at `complexity`, as an integer.
 * Uses integer arithmetic (tenths) so 0.7 × 10 is exactly 7, never 7.000001.
 */
export function featureCost(feature: string, complexity: Complexity = "medium"): number {
  const base = FEATURES[feature]?.baseCost ?? DEFAULT_FEATURE_COST;
  const tenths = Math.round(COMPLEXITY_MULTIPLIERS[complexity] * 10);
  return Math.ceil((base * tenths) / 10);
}

/**
 * The overage policy for `feature` on `tier`: the plan's, unless the
 * feature opts out (`FEATURES[feature].overage === false`). `null` = block.
 */
export function overagePolicy(tier: Tier, feature: string): OveragePolicy | null {
  if (FEATURES[feature]?.overage === false) return null;
  return PLANS[tier].overage;
}

/** The minimum tier a feature needs (`free` for unknown features). */
export function featureMinTier(feature: string): Tier {
  return FEATURES[feature]?.minTier ?? "free";
}

// ---------------------------------------------------------------------------
// One-off token top-ups (Checkout in `payment` mode)
// ---------------------------------------------------------------------------

export type TokenPack = {
  id: string;
  /** Tokens added to the purchased balance. Integer. */
  tokens: number;
  /** Stripe price lookup key of the one-off price. */
  lookupKey: string;
  /** Display amount in minor units of `currency`. */
  displayAmount: number;
  currency: string;
  /** The same pack in the other `CURRENCIES` (minor units): the price's `currency_options`. */
  currencyOptions: CurrencyOptions;
};

export const TOKEN_PACKS: readonly TokenPack[] = [
  { id: "pack_100", tokens: 100, lookupKey: "tokens_100", displayAmount: 1000, currency: "usd", currencyOptions: { eur: 1000, gbp: 900 } },
  { id: "pack_500", tokens: 500, lookupKey: "tokens_500", displayAmount: 4000, currency: "usd", currencyOptions: { eur: 3800, gbp: 3200 } },
];

/** The token pack `packId` (`undefined`, or an id we do not sell: `null`). */
export function tokenPack(packId: string | undefined): TokenPack | null {
  return TOKEN_PACKS.find((p) => p.id === packId) ?? null;
}

/** Billing settings that are policy, not plan data. */
export const BILLING_CONFIG = {
  /**
   * Legacy: the 7-day grace the dunning timeline replaced. Nothing reads it
   * for access any more; suspension is `dunning`'s `suspended` step.
   */
  pastDueGraceDays: 7,
  /**
   * The dunning timeline (`model/dunning.ts`, docs/DUNNING.md). Days count
   * from the oldest unpaid subscription invoice's due date
   * (`billingAccounts.overdueSince`). Each step fires once per overdue
   * episode, in day order, with an audit entry and a notification of its
   * `kind`; `stage` is where the account is once it has fired:
   * `overdue` (reminders only, the plan stays), `suspended` (paid features
   * off, tokens frozen, paying still works), `restricted` (members reach only
   * billing). `adminBanner` puts the overdue banner in front of the
   * account's admins on every page. Days must be ascending integers ≥ 0.
   */
  dunning: {
    steps: [
      { id: "day_0_payment_failed", day: 0, kind: "payment_failed", stage: "overdue", adminBanner: false },
      { id: "day_3_reminder", day: 3, kind: "dunning_reminder", stage: "overdue", adminBanner: false },
      { id: "day_7_reminder", day: 7, kind: "dunning_reminder", stage: "overdue", adminBanner: false },
      { id: "day_14_reminder", day: 14, kind: "dunning_reminder", stage: "overdue", adminBanner: true },
      { id: "day_30_suspended", day: 30, kind: "dunning_suspended", stage: "suspended", adminBanner: true },
      { id: "day_45_restricted", day: 45, kind: "dunning_restricted", stage: "restricted", adminBanner: true },
    ],
    /** Accounts one sweep transaction handles (each reads ≲ 60 documents: far under a quarter of Convex's limits). */
    sweepBatch: 50,
  },
  /** Webhook processing attempts before an event goes to `dead`. */
  maxWebhookAttempts: 8,
  /** First retry delay in ms; doubles per attempt, with ±20% jitter, capped below. */
  webhookRetryBaseMs: 2_000,
  webhookRetryMaxMs: 60 * 60 * 1000,
  /** Days a settled webhook event's raw payload is kept before compaction (the event row stays). */
  webhookPayloadRetentionDays: 30,
  /** Tokens at or under which the client shows the low-tokens prompt. */
  lowTokensThreshold: 5,
  /**
   * Token alerts (`model/alerts.ts`), each fired at most once per allowance
   * period when a debit crosses it: `allowance_used` at `percent` of the
   * period's allowance consumed, `low_balance` when the spendable balance
   * falls to `tokens` or below.
   */
  tokenAlerts: [
    { id: "allowance_80", kind: "allowance_used", percent: 80 },
    { id: "allowance_100", kind: "allowance_used", percent: 100 },
    { id: "low_balance", kind: "low_balance", tokens: 5 },
  ],
  /**
   * Auto-recharge (`model/autoRecharge.ts`): the customer picks a threshold
   * (tokens), a pack and a monthly cap (minor units) within these bounds.
   */
  autoRecharge: {
    minThresholdTokens: 1,
    maxThresholdTokens: 1_000,
    /** Highest monthly cap a customer may set, minor units ($1,000). */
    maxMonthlyCap: 100_000,
    /** Failed attempts in a row after which it turns itself off. */
    maxConsecutiveFailures: 3,
    /** A pending attempt untouched this long (ms) is charged again with the same idempotency key. */
    staleAfterMs: 5 * 60_000,
    /** Charging runs per attempt before it is recorded as failed (Stripe unreachable). */
    maxTries: 5,
  },
  /**
   * Stripe Tax on Checkout (subscriptions and token packs): `true` sends
   * `automatic_tax: { enabled: true }`, so Stripe computes tax from the
   * billing address Checkout collects and adds it to the invoice. In live
   * and test mode it needs Stripe Tax enabled in the Dashboard with an
   * origin address, else Checkout refuses the session; set `false` to sell
   * without tax (the address and tax IDs are still collected).
   */
  automaticTax: true,
} as const;
