/**
 * Client rules for in-app plan changes (billing.previewPlanChange / changePlan).
 * They mirror the server's so the buttons offer what it will accept; the
 * server stays the authority (its preview says `upgrade` or `downgrade`).
 */
import { tierRank, type Interval, type PaidTier, type Tier } from "@/convex/billing/model/plans";
import { tierName } from "./pricing";
import type { SubscriptionView } from "./types";

/** Statuses of a subscription Stripe still bills: plans change in the app, not through Checkout. */
const BILLED_STATUSES: readonly string[] = ["active", "trialing", "past_due", "unpaid"];

type Billed = Pick<SubscriptionView, "tier" | "status" | "hasCustomer">;

/** True when the caller has a subscription Stripe bills (the server refuses a second Checkout). */
export function hasBilledSubscription(s: Billed | null | undefined): boolean {
  return !!s && s.hasCustomer && BILLED_STATUSES.includes(s.status) && s.tier !== "internal";
}

/** The plan the subscription itself is on (what Stripe bills); `tier` may trail it while unpaid. */
export function subscribedTier(s: Pick<SubscriptionView, "tier" | "planTier">): Tier {
  return s.planTier ?? s.tier;
}

export type ChangeDirection = "current" | "upgrade" | "downgrade";

/**
 * How `tier` on `interval` relates to the current plan: a higher tier, or the
 * same tier billed yearly instead of monthly, is an upgrade (applies now,
 * prorated); a lower tier or a shorter interval is a downgrade (at period end).
 */
export function changeDirection(current: { tier: Tier; interval: Interval | null }, tier: Tier, interval: Interval): ChangeDirection {
  const diff = tierRank(tier) - tierRank(current.tier);
  if (diff > 0) return "upgrade";
  if (diff < 0) return "downgrade";
  if (current.interval === null || current.interval === interval) return "current";
  return interval === "year" ? "upgrade" : "downgrade";
}

export type PlanChangeTarget = { tier: PaidTier; interval: Interval };

/** "Pro (yearly)". */
export function planLabel(tier: Tier, interval: Interval | null): string {
  return interval ? `${tierName(tier)} (${interval === "year" ? "yearly" : "monthly"})` : tierName(tier);
}

/** True once the live subscription shows the target plan, paid and in force. */
export function changeLanded(s: SubscriptionView | null | undefined, target: PlanChangeTarget): boolean {
  return !!s && s.tier === target.tier && subscribedTier(s) === target.tier && s.interval === target.interval && s.pendingUpdate === null;
}
