/**
 * Simulator settings: webhook target, delivery retries, chaos and dunning.
 * Set at start (CLI flags / env / `startStripeSimulator` options) and changed
 * at run time through `POST /_sim/config` (a partial object, merged).
 */

export type ChaosConfig = {
  /** Probability (0..1) that a delivery is sent twice. */
  duplicateRate: number;
  /** Shuffle the events produced by one operation before delivery. */
  shuffle: boolean;
  /** Wait before each delivery attempt, in ms (min..max, uniform). */
  delayMs: [number, number];
  /** Probability (0..1) that an event is never delivered. */
  dropRate: number;
  /** Drop the next N events (deterministic; counts down). */
  dropNext: number;
  /** Drop every event of these types (deterministic). */
  dropTypes: string[];
  /** Seed for the chaos random numbers (shuffle, rates, delays); `null` = Math.random. */
  seed: number | null;
};

export type DunningConfig = {
  /** Days between the failed renewal attempt and each retry (Smart-Retries-like). */
  retryDays: number[];
  /**
   * The subscription after the last retry fails, as the Dashboard's
   * "Subscription status" setting under Manage failed payments: `cancel`
   * (`customer.subscription.deleted`), `unpaid` (`customer.subscription.updated`
   * → `unpaid`) or `past_due` ("leave the subscription past-due": no event,
   * the open invoice stops being retried and can still be paid).
   */
  finalAction: "cancel" | "unpaid" | "past_due";
};

export type SimConfig = {
  /** Webhook endpoint URL set from the CLI/env (kept across `/_sim/reset`). */
  webhookUrl: string | null;
  /** Its signing secret (`whsec_…`). */
  webhookSecret: string | null;
  /** Delays before each retry of a failed delivery, in ms; its length is the retry count. */
  retryDelaysMs: number[];
  /** Per-attempt HTTP timeout, ms. */
  deliveryTimeoutMs: number;
  chaos: ChaosConfig;
  dunning: DunningConfig;
  /**
   * How the portal's "Cancel plan" schedules the cancel:
   * `at_period_end` sets `cancel_at_period_end: true` (classic billing mode);
   * `cancel_at` sets only `cancel_at` = period end, as flexible billing mode
   * does (get-convex/stripe#18, stripe-node#2470).
   */
  portalCancelStyle: "at_period_end" | "cancel_at";
  /** Seconds before `trial_end` at which `trial_will_end` fires (Stripe: 3 days). */
  trialWillEndSeconds: number;
};

export function defaultConfig(): SimConfig {
  return {
    webhookUrl: null,
    webhookSecret: null,
    retryDelaysMs: [1_000, 5_000, 25_000],
    deliveryTimeoutMs: 10_000,
    chaos: {
      duplicateRate: 0,
      shuffle: false,
      delayMs: [0, 0],
      dropRate: 0,
      dropNext: 0,
      dropTypes: [],
      seed: null,
    },
    dunning: { retryDays: [3, 5, 7], finalAction: "cancel" },
    portalCancelStyle: "at_period_end",
    trialWillEndSeconds: 3 * 24 * 3600,
  };
}

export type SimConfigPatch = Partial<Omit<SimConfig, "chaos" | "dunning">> & {
  chaos?: Partial<ChaosConfig>;
  dunning?: Partial<DunningConfig>;
};

/** Merges a partial config (from JSON) into `base`, validating types loosely. */
export function mergeConfig(base: SimConfig, patch: SimConfigPatch): SimConfig {
  const chaos = { ...base.chaos, ...(patch.chaos ?? {}) };
  if (typeof chaos.delayMs === "number") chaos.delayMs = [chaos.delayMs, chaos.delayMs];
  return {
    ...base,
    ...patch,
    chaos,
    dunning: { ...base.dunning, ...(patch.dunning ?? {}) },
  };
}
