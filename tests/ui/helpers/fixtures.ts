import { listPlanViews } from "@/convex/billing/model/planViews";
import type { SubscriptionView, TokenBalance } from "@/src/features/billing/lib/types";

/** What plans.list returns (built from the shared catalogue, as the server does). */
export const plans = listPlanViews();

const DAY = 24 * 60 * 60 * 1000;
export const NOW = Date.UTC(2026, 2, 5, 12, 0, 0);

export function subscription(overrides: Partial<SubscriptionView> = {}): SubscriptionView {
  return {
    tier: "free",
    status: "none",
    interval: null,
    currentPeriodEnd: null,
    cancelAtPeriodEnd: false,
    cancelAt: null,
    cancelScheduled: false,
    trialEnd: null,
    graceEndsAt: null,
    hasCustomer: false,
    planTier: null,
    endedAt: null,
    pendingUpdate: null,
    scheduledChange: null,
    creditBalance: 0,
    creditCurrency: null,
    attention: null,
    ...overrides,
  };
}

export function paid(tier: SubscriptionView["tier"], overrides: Partial<SubscriptionView> = {}): SubscriptionView {
  return subscription({
    tier,
    status: "active",
    interval: "month",
    currentPeriodEnd: NOW + 30 * DAY,
    hasCustomer: true,
    ...overrides,
  });
}

export function balance(overrides: Partial<TokenBalance> = {}): TokenBalance {
  return { allowance: 50, purchased: 0, used: 10, held: 0, remaining: 40, overage: 0, periodEnd: NOW + 20 * DAY, ...overrides };
}

export { DAY };
