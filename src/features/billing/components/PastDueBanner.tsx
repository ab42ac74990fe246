import { usePortal } from "../../../hooks/usePortal";
import { formatDate } from "../../../lib/format";
import { tierName } from "../../../lib/pricing";
import type { SubscriptionView } from "../../../lib/types";

/** Shown while a payment failed and the grace period runs; links to the portal to pay or update the card. */
export function PastDueBanner({ subscription }: { subscription: SubscriptionView }) {
  const { openPortal, pending } = usePortal();
  if (subscription.status !== "past_due") return null;
  return (
    <div className="banner banner-danger" role="alert" data-testid="past-due-banner">
      <div>
        <strong>Your last payment failed.</strong>{" "}
        {subscription.graceEndsAt
          ? `Update your payment method by ${formatDate(subscription.graceEndsAt)} to keep ${tierName(subscription.tier)}.`
          : "Update your payment method to keep your plan."}
      </div>
      <button
        type="button"
        className="button button-danger"
        data-testid="past-due-pay"
        disabled={pending}
        onClick={() => void openPortal()}
      >
        {pending ? "Opening…" : "Update payment method"}
      </button>
    </div>
  );
}
