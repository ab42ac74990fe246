/**
 * In-app plan changes on the caller's subscription (Stripe side of
 * `billing.previewPlanChange`, `billing.changePlan`,
 * `billing.cancelScheduledChange`, `billing.cancelSubscription`,
 * `billing.resumeSubscription`). See docs/PLAN_CHANGES.md for the rules.
 *
 * Units: money in integer minor units of `currency`; times in Convex ms.
 */
import { v, type Infer } from "convex/values";
import type { ActionCtx } from "../_generated/server";
import { fail } from "./errors";
import type { CancellationFeedback } from "./validators";
import { vInterval, vTier } from "./validators";
import type { Interval, PaidTier } from "./plans";

export const vPlanChangePreview = v.object({
  /** `upgrade` applies now (prorated, paid first); `downgrade` waits for the period end. */
  kind: v.union(v.literal("upgrade"), v.literal("downgrade")),
  tier: vTier,
  interval: vInterval,
  currency: v.string(),
  /** Charged now (after credit), minor units; 0 for a downgrade. */
  dueNow: v.number(),
  /** Customer credit balance used towards `dueNow`, minor units (≥ 0). */
  creditApplied: v.number(),
  /** Credit for the unused time on the current plan included in `dueNow`, minor units (≥ 0). */
  prorationCredit: v.number(),
  /** The next regular invoice's amount, minor units, and when it comes (ms). */
  nextInvoiceAmount: v.number(),
  nextInvoiceAt: v.number(),
  /** When the new plan starts (ms): now for an upgrade, the period end for a downgrade. */
  effectiveAt: v.number(),
  /** Tokens the change adds to this window's allowance once paid (0 for a downgrade). */
  tokensNow: v.number(),
  /** The new plan's monthly allowance. */
  allowanceAfter: v.number(),
});
export type PlanChangePreview = Infer<typeof vPlanChangePreview>;

export const vPlanChangeResult = v.object({
  /**
   * `applied`: paid, the plan flips when Stripe's events arrive;
   * `scheduled`: takes effect at `effectiveAt`;
   * `requires_action`: 3-D Secure — confirm at `hostedInvoiceUrl`, nothing changes until then;
   * `payment_failed`: the card was declined, nothing changed.
   */
  status: v.union(v.literal("applied"), v.literal("scheduled"), v.literal("requires_action"), v.literal("payment_failed")),
  effectiveAt: v.union(v.number(), v.null()),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  /** A sentence for the customer. */
  message: v.string(),
});
export type PlanChangeResult = Infer<typeof vPlanChangeResult>;

type PlanArgs = { tier: PaidTier; interval: Interval };

function notYet(): never {
  fail("STRIPE_ERROR", "Plan changes are not available yet.");
}

export async function previewPlanChange(_ctx: ActionCtx, _args: PlanArgs): Promise<PlanChangePreview> {
  notYet();
}

export async function changePlan(_ctx: ActionCtx, _args: PlanArgs): Promise<PlanChangeResult> {
  notYet();
}

export async function cancelScheduledChange(_ctx: ActionCtx): Promise<{ canceled: boolean }> {
  notYet();
}

export async function cancelSubscription(
  _ctx: ActionCtx,
  _args: { feedback?: CancellationFeedback; comment?: string },
): Promise<{ cancelAt: number }> {
  notYet();
}

export async function resumeSubscription(_ctx: ActionCtx): Promise<{ resumed: boolean }> {
  notYet();
}
