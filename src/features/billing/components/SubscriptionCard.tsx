import { Link } from "react-router-dom";
import { usePortal } from "../../../hooks/usePortal";
import { formatDate } from "../../../lib/format";
import { tierName } from "../../../lib/pricing";
import type { SubscriptionView } from "../../../lib/types";
import { StatusBadge } from "./StatusBadge";

/** Tier, status, interval, renewal / cancellation / trial dates and the portal button. */
export function SubscriptionCard({ subscription }: { subscription: SubscriptionView }) {
  const { openPortal, pending } = usePortal();
  const s = subscription;
  const cancelDate = s.cancelAt ?? s.currentPeriodEnd;
  const ended = s.status === "canceled" || s.status === "incomplete_expired";

  return (
    <section className="card" aria-labelledby="subscription-title">
      <div className="card-head">
        <h2 id="subscription-title">Your plan</h2>
        <StatusBadge status={s.status} />
      </div>
      <p className="plan-line">
        <span className="plan-name" data-testid="subscription-tier" data-tier={s.tier}>
          {tierName(s.tier)}
        </span>
        {s.interval ? (
          <span className="muted" data-testid="subscription-interval">
            {" "}
            · billed {s.interval === "month" ? "monthly" : "yearly"}
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
        {s.cancelScheduled && cancelDate && !ended ? (
          <div>
            <dt>Cancels on</dt>
            <dd data-testid="cancels-on">{formatDate(cancelDate)}</dd>
          </div>
        ) : s.currentPeriodEnd && !ended && s.status !== "none" ? (
          <div>
            <dt>Renews on</dt>
            <dd data-testid="renews-on">{formatDate(s.currentPeriodEnd)}</dd>
          </div>
        ) : null}
      </dl>
      {s.cancelScheduled && cancelDate && !ended ? (
        <p className="notice notice-info" data-testid="cancel-notice">
          {s.status === "past_due"
            ? // Past due, the plan only lasts to the grace end unless the invoice is paid.
              `Your ${tierName(s.tier)} plan is set to end on ${formatDate(cancelDate)}. ${
                s.graceEndsAt ? `Pay the overdue invoice by ${formatDate(s.graceEndsAt)} to keep it until then.` : "Pay the overdue invoice to keep it until then."
              }`
            : `Your ${tierName(s.tier)} plan stays active until ${formatDate(cancelDate)}. You can resume it in Manage billing.`}
        </p>
      ) : null}
      <div className="actions">
        {s.hasCustomer ? (
          <button
            type="button"
            className="button button-secondary"
            data-testid="manage-billing"
            disabled={pending}
            aria-busy={pending}
            onClick={() => void openPortal()}
          >
            {pending ? "Opening…" : "Manage billing"}
          </button>
        ) : null}
        {s.tier !== "elite" && s.tier !== "internal" ? (
          <Link className="button button-primary" to="/pricing">
            {s.tier === "free" ? "See plans" : "Change plan"}
          </Link>
        ) : null}
      </div>
    </section>
  );
}
