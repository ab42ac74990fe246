import { useAction } from "convex/react";
import { useState } from "react";
import { Link } from "react-router-dom";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { PAID_TIERS, type PaidTier } from "@/convex/billing/model/plans";
import { usePlanChange } from "@/src/features/billing/components/planChange/context";
import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { humanizeError } from "@/src/lib/errors";
import { formatDate, formatMoney } from "@/src/lib/format";
import { hasBilledSubscription, planLabel, subscribedTier } from "@/src/features/billing/lib/planChange";
import { tierName } from "@/src/features/billing/lib/pricing";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { CancelPlanDialog } from "./CancelPlanDialog";
import { StatusBadge } from "./StatusBadge";
import { TrialNotice } from "./TrialNotice";
import { ROUTES } from "@/src/lib/routes";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

/**
 * What the customer just did (cancel / resume / keep the current plan), shown
 * until the live subscription catches up: each override holds the server value
 * it was made against and stops applying once that value changes.
 */
type CancelOverride = { basis: boolean; cancelAt: number | null };

function isPaidTier(tier: string): tier is PaidTier {
  return (PAID_TIERS as readonly string[]).includes(tier);
}

/**
 * Tier, status, interval, renewal / cancellation / trial dates, credit,
 * scheduled and pending changes, and the plan's actions: switch interval,
 * cancel / resume, keep the current plan, and the Customer Portal for the
 * payment method and invoices. An organisation member sees the plan and its
 * dates with `AdminOnlyNote` in place of every action.
 */
export function SubscriptionCard({ subscription }: { subscription: SubscriptionView }) {
  const { openPortal, pending: portalPending } = usePortal();
  const { openPlanChange } = usePlanChange();
  const resumeSubscription = useAction(api.billing.resumeSubscription);
  const cancelScheduledChange = useAction(api.billing.cancelScheduledChange);
  const [busy, setBusy] = useState<"resume" | "keep" | null>(null);
  const [cancelOpen, setCancelOpen] = useState(false);
  const [cancelOverride, setCancelOverride] = useState<CancelOverride | null>(null);
  const [keptChange, setKeptChange] = useState<number | null>(null);
  const member = useIsOrgMember();

  const s = subscription;
  const ended = s.status === "canceled" || s.status === "incomplete_expired";
  const subscribed = hasBilledSubscription(s);
  const planTier = subscribedTier(s);
  // Suspended or restricted by dunning: access is down to free, but the plan
  // (and what is owed for it) is still the subscribed one.
  const frozenStage = s.dunning?.stage === "suspended" || s.dunning?.stage === "restricted" ? s.dunning.stage : null;
  const shownTier = frozenStage ? planTier : s.tier;
  const current = planLabel(planTier, s.interval);

  const override = cancelOverride && cancelOverride.basis === s.cancelScheduled ? cancelOverride : null;
  const cancelScheduled = override ? override.cancelAt !== null : s.cancelScheduled;
  const cancelDate = override?.cancelAt ?? s.cancelAt ?? s.currentPeriodEnd;
  const scheduledChange = s.scheduledChange && s.scheduledChange.effectiveAt !== keptChange ? s.scheduledChange : null;

  const run = async <T,>(key: "resume" | "keep", call: () => Promise<T>, done: (result: T) => void) => {
    if (busy) return;
    setBusy(key);
    try {
      done(await call());
    } catch (error) {
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    } finally {
      setBusy(null);
    }
  };

  const resume = () =>
    run(
      "resume",
      () => resumeSubscription({}),
      ({ resumed }) => {
        setCancelOverride({ basis: s.cancelScheduled, cancelAt: null });
        if (resumed) {
          toast.success(`Your ${tierName(planTier)} plan will continue`, {
            description: s.currentPeriodEnd ? `It renews on ${formatDate(s.currentPeriodEnd)}.` : undefined,
          });
        } else {
          toast.info("Your plan wasn't set to end");
        }
      },
    );

  const keepCurrent = (effectiveAt: number) =>
    run(
      "keep",
      () => cancelScheduledChange({}),
      () => {
        setKeptChange(effectiveAt);
        toast.success(`You'll stay on ${current}`);
      },
    );

  const otherInterval = s.interval === "month" ? "year" : "month";
  const canSwitchInterval =
    subscribed &&
    s.interval !== null &&
    isPaidTier(planTier) &&
    s.status !== "trialing" &&
    !s.attention &&
    !s.pendingUpdate &&
    !cancelScheduled &&
    !scheduledChange;
  const endedPlan = s.planTier && s.planTier !== "free" ? tierName(s.planTier) : null;
  // Ended during or at the end of its trial (e.g. no card at the end): it was a trial, not a paid plan.
  const endedTrial = s.endedAt !== null && s.trialEnd !== null && s.endedAt <= s.trialEnd;

  return (
    <section className="card" aria-labelledby="subscription-title">
      <div className="card-head">
        <h2 id="subscription-title">Your plan</h2>
        <StatusBadge status={s.status} />
      </div>
      <p className="plan-line">
        <span className="plan-name" data-testid="subscription-tier" data-tier={shownTier}>
          {tierName(shownTier)}
        </span>
        {s.interval && !ended ? (
          <span className="muted" data-testid="subscription-interval">
            {" "}
            · billed {s.interval === "month" ? "monthly" : "yearly"}
          </span>
        ) : null}
        {frozenStage ? (
          <span className="pill pill-danger plan-stage" data-testid="subscription-dunning-stage" data-stage={frozenStage}>
            {frozenStage === "suspended" ? "Suspended" : "Restricted"}
          </span>
        ) : null}
      </p>
      <dl className="facts">
        {s.trialEnd && s.status === "trialing" ? (
          <div>
            <dt>Trial ends</dt>
            <dd data-testid="trial-ends">{formatDate(s.trialEnd)}</dd>
          </div>
        ) : null}
        {cancelScheduled && cancelDate && !ended ? (
          <div>
            <dt>Ends on</dt>
            <dd data-testid="cancels-on">{formatDate(cancelDate)}</dd>
          </div>
        ) : s.currentPeriodEnd && !ended && s.status !== "none" && s.status !== "trialing" ? (
          <div>
            <dt>Renews on</dt>
            <dd data-testid="renews-on">{formatDate(s.currentPeriodEnd)}</dd>
          </div>
        ) : null}
      </dl>

      <TrialNotice subscription={s} canManage={!member} />

      {ended && s.endedAt ? (
        <div className="notice notice-info" data-testid="plan-ended">
          <p>
            {endedPlan
              ? `Your ${endedPlan} ${endedTrial ? "trial" : "plan"} ended on ${formatDate(s.endedAt)}.`
              : `Your ${endedTrial ? "trial" : "plan"} ended on ${formatDate(s.endedAt)}.`}
          </p>
          {member ? null : <Link className="button button-primary" to={ROUTES.pricing.path} data-testid="resubscribe">
            Re-subscribe
          </Link>}
        </div>
      ) : null}

      {cancelScheduled && cancelDate && !ended ? (
        <div className="notice notice-info" data-testid="cancel-notice">
          <p>
            {s.status === "past_due"
              ? // Past due, the plan only lasts to the grace end unless the invoice is paid.
                `Your ${tierName(planTier)} plan is set to end on ${formatDate(cancelDate)}. ${
                  s.graceEndsAt
                    ? `Pay the overdue invoice by ${formatDate(s.graceEndsAt)} to keep it until then.`
                    : "Pay the overdue invoice to keep it until then."
                }`
              : `Your plan ends on ${formatDate(cancelDate)}. You keep ${tierName(planTier)} and its tokens until then.`}
          </p>
          {subscribed && !member ? (
            <button
              type="button"
              className="button button-secondary"
              data-testid="resume-plan"
              disabled={busy !== null}
              aria-busy={busy === "resume"}
              onClick={() => void resume()}
            >
              {busy === "resume" ? "Resuming…" : "Resume plan"}
            </button>
          ) : null}
        </div>
      ) : null}

      {scheduledChange && !ended ? (
        <div className="notice notice-info" data-testid="scheduled-change" data-tier={scheduledChange.tier} data-interval={scheduledChange.interval}>
          <p>
            Switches to {planLabel(scheduledChange.tier, scheduledChange.interval)} on {formatDate(scheduledChange.effectiveAt)}.
          </p>
          {member ? null : <button
            type="button"
            className="button button-secondary"
            data-testid="keep-current-plan"
            disabled={busy !== null}
            aria-busy={busy === "keep"}
            onClick={() => void keepCurrent(scheduledChange.effectiveAt)}
          >
            {busy === "keep" ? "Keeping…" : `Keep ${current}`}
          </button>}
        </div>
      ) : null}

      {s.pendingUpdate && !ended ? (
        <div className="notice notice-warning" data-testid="pending-update" data-tier={s.pendingUpdate.tier}>
          <p>
            Your upgrade to {tierName(s.pendingUpdate.tier)} is waiting for payment. If it isn't paid by {formatDate(s.pendingUpdate.expiresAt)}, you stay on{" "}
            {tierName(planTier)}.
          </p>
          {s.attention?.hostedInvoiceUrl && !member ? (
            <a className="button button-primary" href={s.attention.hostedInvoiceUrl} data-testid="pending-update-pay">
              Pay now
            </a>
          ) : null}
        </div>
      ) : null}

      {s.creditBalance > 0 && s.creditCurrency ? (
        <p className="notice notice-success" data-testid="credit-balance" data-amount={s.creditBalance}>
          You have {formatMoney(s.creditBalance, s.creditCurrency)} of credit, applied to your next invoices.
        </p>
      ) : null}

      {member ? (
        <AdminOnlyNote detail="You can see the plan and use its tokens." />
      ) : (
      <div className="actions">
        {s.hasCustomer ? (
          <button
            type="button"
            className="button button-secondary"
            data-testid="manage-billing"
            disabled={portalPending}
            aria-busy={portalPending}
            onClick={() => void openPortal()}
          >
            {portalPending ? "Opening…" : "Manage payment method / invoices"}
          </button>
        ) : null}
        {canSwitchInterval && isPaidTier(planTier) ? (
          <button
            type="button"
            className="button button-secondary"
            data-testid="switch-interval"
            data-interval={otherInterval}
            onClick={() => openPlanChange({ tier: planTier, interval: otherInterval })}
          >
            {otherInterval === "year" ? "Switch to yearly" : "Switch to monthly"}
          </button>
        ) : null}
        {!(ended && s.endedAt) && shownTier !== "elite" && shownTier !== "internal" ? (
          <Link className="button button-primary" to={ROUTES.pricing.path} data-testid="change-plan">
            {shownTier === "free" ? "See plans" : "Change plan"}
          </Link>
        ) : null}
        {subscribed && !cancelScheduled ? (
          <button type="button" className="button button-ghost" data-testid="cancel-plan" onClick={() => setCancelOpen(true)}>
            Cancel plan
          </button>
        ) : null}
      </div>
      )}
      {cancelOpen && !member ? (
        <CancelPlanDialog
          planName={tierName(planTier)}
          periodEnd={s.currentPeriodEnd}
          onClose={() => setCancelOpen(false)}
          onCanceled={(cancelAt) => {
            setCancelOverride({ basis: s.cancelScheduled, cancelAt });
            setCancelOpen(false);
          }}
        />
      ) : null}
    </section>
  );
}
