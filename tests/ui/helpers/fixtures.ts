import { listPlanViews } from "@/convex/billing/model/planViews";
import type { InvoiceView, SubscriptionView, TokenBalance } from "@/src/features/billing/lib/types";

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
    trialUsed: false,
    hasPaymentMethod: null,
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

/** A paid $29.00 subscription invoice as `billing.invoices` returns it; `overrides` change any field. */
export function invoiceView(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return {
    id: "in_1",
    number: "ABC-0001",
    status: "paid",
    billingReason: "subscription_create",
    amountDue: 2900,
    amountPaid: 2900,
    amountRemaining: 0,
    currency: "usd",
    createdAt: NOW - DAY,
    periodStart: NOW - DAY,
    periodEnd: NOW + 29 * DAY,
    hostedInvoiceUrl: "https://invoice.stripe.com/i/1",
    invoicePdf: "https://pay.stripe.com/invoice/1/pdf",
    total: 2900,
    creditApplied: 0,
    creditAdded: 0,
    description: null,
    kind: "subscription",
    ...overrides,
  };
}
