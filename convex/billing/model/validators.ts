import { v, type Infer } from "convex/values";
import { COMPLEXITIES, INTERVALS, TIERS } from "./plans";

/** Shared validators, defined once and reused by the schema and functions. */

export const vTier = v.union(...TIERS.map((t) => v.literal(t)));
export const vInterval = v.union(...INTERVALS.map((i) => v.literal(i)));
export const vComplexity = v.union(...COMPLEXITIES.map((c) => v.literal(c)));

/** Stripe subscription statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status). */
export const SUBSCRIPTION_STATUSES = [
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
] as const;
export const vSubscriptionStatus = v.union(...SUBSCRIPTION_STATUSES.map((s) => v.literal(s)));
export type SubscriptionStatus = Infer<typeof vSubscriptionStatus>;

/** Stripe invoice statuses (https://docs.stripe.com/api/invoices/object#invoice_object-status). */
export const INVOICE_STATUSES = ["draft", "open", "paid", "uncollectible", "void"] as const;
export const vInvoiceStatus = v.union(...INVOICE_STATUSES.map((s) => v.literal(s)));
export type InvoiceStatus = Infer<typeof vInvoiceStatus>;

/** Lifecycle of a queued webhook event. */
/**
 * `waiting`: the event can't apply until another one lands (its customer,
 * subscription or price); it is parked without further backoff and woken
 * when that dependency arrives (never dead-lettered for it).
 */
export const WEBHOOK_EVENT_STATUSES = ["pending", "succeeded", "ignored", "failed_retrying", "waiting", "dead"] as const;
export const vWebhookEventStatus = v.union(...WEBHOOK_EVENT_STATUSES.map((s) => v.literal(s)));
export type WebhookEventStatus = Infer<typeof vWebhookEventStatus>;

/** Why the token ledger moved. */
export const LEDGER_REASONS = [
  "period_grant", // a new period's allowance (invoice.paid or the free-tier reset)
  "period_expire", // unused allowance of the period that ended
  "rollover", // part of that unused allowance carried into the new period (the plan's rollover policy)
  "plan_change", // allowance raised (paid upgrade) or lowered (downgrade applied at once) within a window
  "consume", // a feature use
  "top_up", // a one-off purchase of tokens
  "admin_grant", // an operator's grant or correction from the dashboard
  "promotional_grant", // an operator's promotional grant (usually expiring)
  "grant_expire", // what was left of a grant when it expired
  "hold", // tokens reserved for a job (`tokens.reserve`)
  "hold_settle", // a hold settled: the unused part returned (+) or the extra charged (−)
  "hold_release", // a hold released (job failed) or expired: everything returned
  "refund_clawback", // a refunded top-up's tokens taken back (unspent from the pack, spent from the balance)
  "dispute_freeze", // a disputed top-up's unspent tokens frozen
  "dispute_release", // a dispute won: the frozen tokens back
  "dispute_lost", // a dispute lost: frozen tokens removed, spent ones taken from the balance
] as const;
export const vLedgerReason = v.union(...LEDGER_REASONS.map((r) => v.literal(r)));
export type LedgerReason = Infer<typeof vLedgerReason>;

/** The purchasable tiers, for arguments that name a plan to buy or switch to. */
export const vPaidTier = v.union(v.literal("starter"), v.literal("pro"), v.literal("elite"));

/** Stripe's `cancellation_details.feedback` values (https://docs.stripe.com/api/subscriptions/update#update_subscription-cancellation_details-feedback). */
export const CANCELLATION_FEEDBACK = [
  "customer_service",
  "low_quality",
  "missing_features",
  "other",
  "switched_service",
  "too_complex",
  "too_expensive",
  "unused",
] as const;
export const vCancellationFeedback = v.union(...CANCELLATION_FEEDBACK.map((f) => v.literal(f)));
export type CancellationFeedback = Infer<typeof vCancellationFeedback>;

/** A plan on one billing interval (a price in the catalogue). */
export const vPlanRef = v.object({ tier: vTier, interval: vInterval });

/**
 * What a token grant is (`tokenGrants.category`): the current plan's
 * allowance, a purchased pack, an operator's promotional or admin grant, or
 * allowance rolled over from an earlier period.
 */
export const GRANT_CATEGORIES = ["plan_allowance", "purchased", "promotional", "admin", "rollover"] as const;
export const vGrantCategory = v.union(...GRANT_CATEGORIES.map((c) => v.literal(c)));
export type GrantCategory = Infer<typeof vGrantCategory>;

/**
 * `active`: may be drawn on; `depleted`: nothing left (a returned hold can
 * revive it); `expired`: past its expiry, replaced by the next period's
 * allowance, or removed by a lost dispute; `frozen`: its unspent tokens are
 * held back while its payment is disputed (`frozen` on the grant).
 */
export const GRANT_STATUSES = ["active", "depleted", "expired", "frozen"] as const;
export const vGrantStatus = v.union(...GRANT_STATUSES.map((s) => v.literal(s)));
export type GrantStatus = Infer<typeof vGrantStatus>;

/** One part of a debit: the grant it drew on and how many tokens. */
export const vDraw = v.object({ grantId: v.id("tokenGrants"), amount: v.number() });

/** `open`: tokens reserved; `settled`: charged; `released`: returned by the caller; `expired`: returned by the hold cron after its TTL. */
export const HOLD_STATUSES = ["open", "settled", "released", "expired"] as const;
export const vHoldStatus = v.union(...HOLD_STATUSES.map((s) => v.literal(s)));
export type HoldStatus = Infer<typeof vHoldStatus>;

/** An auto-recharge attempt (`autoRechargeAttempts.status`). */
export const vAutoRechargeStatus = v.union(
  v.literal("pending"),
  v.literal("succeeded"),
  v.literal("failed"),
  v.literal("requires_action"),
);

/**
 * One invoice line as mirrored (`invoices.lines`) and shown: Stripe's
 * description, its quantity when Stripe gives one, `amount` in minor units
 * of the invoice's currency before discounts and tax (negative for a credit
 * or proration), and `usage: true` for the metered overage line.
 */
export const vInvoiceLine = v.object({
  description: v.string(),
  quantity: v.optional(v.number()),
  amount: v.number(),
  usage: v.optional(v.boolean()),
});

/** Dunning stages (`billingAccounts.dunningStage`), in order: see docs/DUNNING.md. */
export const DUNNING_STAGES = ["overdue", "suspended", "restricted"] as const;
export const vDunningStage = v.union(...DUNNING_STAGES.map((s) => v.literal(s)));
export type DunningStage = Infer<typeof vDunningStage>;
