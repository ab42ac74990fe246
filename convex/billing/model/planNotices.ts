/**
 * Plan-change notifications (docs/NOTIFICATIONS.md), raised from the state
 * the Stripe event handlers applied, never from the in-app actions: a
 * replayed or reordered event finds the state already moved and notifies
 * nothing more, and the dedupe key makes a repeat of the same change a no-op.
 *
 * - `plan_changed`: the plan the subscription and payments grant
 *   (`billingAccounts.planTier`, kept by `settleAccount`) moved: an upgrade
 *   once its invoice is paid, a scheduled downgrade at the renewal, the end
 *   of a subscription (to Free); a trial's start says "trial" (its allowance
 *   is the trial's, nothing was paid). A dunning suspension or a staff override
 *   changes the tier, not the plan, and says nothing here. Key:
 *   `plan_changed:<subscription or none>:<tier>:<period start, ms>`.
 * - `plan_scheduled`: a change now waits for the period end: a Subscription
 *   Schedule's next phase (a downgrade or a shorter interval) or a
 *   cancellation at the period end (`cancel_at_period_end` / `cancel_at`).
 *   Key: `plan_scheduled:<subscription>:<tier>_<interval> or cancel:<effective ms>`.
 *
 * Both are non-critical: their email can be turned off in the preferences.
 * Times are Convex ms.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { notify } from "./notifications";
import { PLANS, tierRank, type Interval, type Tier } from "./plans";

/** Where the notices point: the billing page (plan, invoices, resume). */
const BILLING_LINK = "/billing";

/**
 * The start (ms) of the subscription period the account is in at `nowMs`,
 * as the mirror knows it: its current period, or, once `nowMs` has passed
 * that period's end (a renewal whose subscription event has not come yet),
 * the next one, which starts there. So a change at a renewal gets the same
 * period whichever of the renewal's events arrives first. 0 when unknown.
 */
export function periodStartAt(
  subscription: Pick<
    Doc<"subscriptions">,
    "currentPeriodStart" | "currentPeriodEnd"
  > | null,
  nowMs: number,
): number {
  if (!subscription) return 0;
  if (
    subscription.currentPeriodEnd !== undefined &&
    nowMs >= subscription.currentPeriodEnd
  )
    return subscription.currentPeriodEnd;
  return subscription.currentPeriodStart ?? 0;
}

/** "1 March 2026" (UTC). */
function formatDay(ms: number): string {
  return new Intl.DateTimeFormat("en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(ms);
}

function planName(tier: Tier, interval?: Interval): string {
  const name = PLANS[tier].name;
  return interval === undefined || tier === "free"
    ? name
    : `${name} (${interval === "month" ? "monthly" : "yearly"})`;
}

/**
 * A move to Free while Stripe still bills the subscription (a converted
 * trial's first invoice not paid yet: the trial no longer covers, the money
 * has not arrived), and the move back when it is paid: not a plan change to
 * announce. Said otherwise, one delivery order would tell the customer their
 * subscription ended and the other would not (docs/TRIALS.md).
 */
function isPaymentPending(
  subscription: Doc<"subscriptions"> | null,
  from: Tier,
  to: Tier,
  nowMs: number,
): boolean {
  if (
    !subscription ||
    !["active", "trialing", "past_due"].includes(subscription.status)
  )
    return false;
  if (to === "free") return true;
  const firstPaidPeriod =
    subscription.trialEnd !== undefined &&
    periodStartAt(subscription, nowMs) === subscription.trialEnd;
  return from === "free" && firstPaidPeriod;
}

/**
 * Notifies that the account's plan moved from `from` to `to` (once per
 * subscription, target and period; see the module doc).
 */
export async function notifyPlanChanged(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  subscription: Doc<"subscriptions"> | null,
  from: Tier,
  to: Tier,
  nowMs: number,
): Promise<void> {
  if (isPaymentPending(subscription, from, to, nowMs)) return;
  const subscriptionId = subscription?.stripeSubscriptionId ?? "none";
  const period = periodStartAt(subscription, nowMs);
  const trialEnd =
    subscription?.status === "trialing" ? subscription.trialEnd : undefined;
  const text =
    trialEnd !== undefined && to !== "free" && tierRank(to) > tierRank(from)
      ? {
          // A trial is not a paid plan: say so (docs/TRIALS.md).
          title: `Your ${PLANS[to].name} trial has started`,
          body: `Your ${PLANS[to].name} trial runs until ${formatDay(trialEnd)}. Its features and trial allowance apply now.`,
        }
      : to === "free"
        ? {
            title: "Your plan is now Free",
            body: `Your ${PLANS[from].name} subscription has ended and the account is on the Free plan. You can subscribe again from the billing page at any time.`,
          }
        : tierRank(to) > tierRank(from)
          ? {
              title: `You are now on ${PLANS[to].name}`,
              body: `Your account moved from ${PLANS[from].name} to ${PLANS[to].name}. Its features and token allowance apply now.`,
            }
          : {
              title: `Your plan is now ${PLANS[to].name}`,
              body: `Your account moved from ${PLANS[from].name} to ${PLANS[to].name}, as scheduled. The new allowance applies from this period.`,
            };
  await notify(ctx, {
    accountId,
    kind: "plan_changed",
    dedupeKey: `plan_changed:${subscriptionId}:${to}:${period}`,
    ...text,
    link: BILLING_LINK,
    critical: false,
  });
}

/**
 * Notifies a plan change scheduled for `change.effectiveAt` (ms) on
 * `subscription` (a Subscription Schedule's next phase).
 */
export async function notifyPlanScheduled(
  ctx: MutationCtx,
  subscription: Pick<
    Doc<"subscriptions">,
    "accountId" | "stripeSubscriptionId" | "tier" | "interval"
  >,
  change: { tier: Tier; interval: Interval; effectiveAt: number },
): Promise<void> {
  const current = planName(subscription.tier, subscription.interval);
  const next = planName(change.tier, change.interval);
  await notify(ctx, {
    accountId: subscription.accountId,
    kind: "plan_scheduled",
    dedupeKey: `plan_scheduled:${subscription.stripeSubscriptionId}:${change.tier}_${change.interval}:${change.effectiveAt}`,
    title: "Plan change scheduled",
    body: `Your plan changes from ${current} to ${next} on ${formatDay(change.effectiveAt)}. You keep ${current} until then; you can cancel the change from the billing page.`,
    link: BILLING_LINK,
    critical: false,
  });
}

/** When a subscription scheduled to end will end (ms), or undefined when no cancellation is scheduled. */
export function scheduledCancelAt(
  subscription: Pick<
    Doc<"subscriptions">,
    "status" | "cancelAtPeriodEnd" | "cancelAt" | "currentPeriodEnd"
  >,
): number | undefined {
  if (
    subscription.status === "canceled" ||
    subscription.status === "incomplete_expired"
  )
    return undefined;
  if (subscription.cancelAt !== undefined) return subscription.cancelAt;
  return subscription.cancelAtPeriodEnd
    ? subscription.currentPeriodEnd
    : undefined;
}

/** Notifies that `subscription` will end at `endsAt` (ms): a cancellation at the period end. */
export async function notifyCancelScheduled(
  ctx: MutationCtx,
  subscription: Pick<
    Doc<"subscriptions">,
    "accountId" | "stripeSubscriptionId" | "tier"
  >,
  endsAt: number,
): Promise<void> {
  const current = PLANS[subscription.tier].name;
  await notify(ctx, {
    accountId: subscription.accountId,
    kind: "plan_scheduled",
    dedupeKey: `plan_scheduled:${subscription.stripeSubscriptionId}:cancel:${endsAt}`,
    title: "Cancellation scheduled",
    body: `Your ${current} subscription ends on ${formatDay(endsAt)}. You keep ${current} until then, and can resume it from the billing page before that day.`,
    link: BILLING_LINK,
    critical: false,
  });
}
