import { useQuery } from "convex/react";
import { useState } from "react";
import { api } from "@/convex/_generated/api";
import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";
import { formatDate, formatMoney } from "@/src/lib/format";
import { subscribedTier } from "@/src/features/billing/lib/planChange";
import { tierName } from "@/src/features/billing/lib/pricing";
import type { SubscriptionView } from "@/src/features/billing/lib/types";

type Kind = NonNullable<SubscriptionView["attention"]>["kind"];

const DAY_MS = 86_400_000;

/**
 * The dunning wording (docs/DUNNING.md) for a failed renewal on the timeline:
 * "Payment overdue for N days" — N from `overdueSince`, never fewer than the
 * last step's day — and what the stage means. Null when the account is not
 * on the timeline or the banner asks for a 3-D Secure confirmation.
 */
function overdueText(
  s: SubscriptionView,
  kind: Kind,
  plan: string,
  amount: string | null,
  nowMs: number,
): { title: string; detail: string } | null {
  const d = s.dunning;
  if (!d || kind === "action_required" || kind === "incomplete") return null;
  const days = Math.max(d.stepDay ?? 0, Math.floor((nowMs - d.overdueSince) / DAY_MS), 0);
  const overdue = `Payment overdue for ${days} ${days === 1 ? "day" : "days"}.`;
  const due = amount ? ` Amount due: ${amount}.` : "";
  switch (d.stage) {
    case "restricted":
      return { title: `Your account is restricted. ${overdue}`, detail: `Only Billing is available until the invoice is paid; paying restores everything at once.${due}` };
    case "suspended":
      return {
        title: `Your account is suspended. ${overdue}`,
        detail: `${plan} features are off and tokens are frozen until you pay${d.restrictsAt ? `; from ${formatDate(d.restrictsAt)} only Billing stays available` : ""}.${due}`,
      };
    default:
      return {
        title: overdue,
        detail: `Update your card or pay the invoice${d.suspendsAt ? ` by ${formatDate(d.suspendsAt)}` : ""} to keep ${plan}.${due}${d.adminBanner ? " If it stays unpaid, paid features will be suspended for everyone on this account." : ""}`,
      };
  }
}

/** The payment to act on: the server's `attention`, else what the status alone says (older views). */
function attentionOf(s: SubscriptionView): NonNullable<SubscriptionView["attention"]> | null {
  if (s.attention) return s.attention;
  if (s.status === "past_due" || s.status === "unpaid") return { kind: s.status, hostedInvoiceUrl: null, amountDue: null, currency: null };
  return null;
}

const CONTENT: Record<Kind, { title: string; payLabel: string; tone: "danger" | "warning" }> = {
  past_due: { title: "Your last payment failed.", payLabel: "Pay invoice", tone: "danger" },
  action_required: { title: "Confirm your payment.", payLabel: "Confirm payment", tone: "warning" },
  unpaid: { title: "Your plan is on hold: the invoice is unpaid.", payLabel: "Pay invoice", tone: "danger" },
  incomplete: { title: "Your subscription isn't active yet.", payLabel: "Complete payment", tone: "warning" },
};

/**
 * The banner on every signed-in page while a payment needs the customer:
 * a failed renewal (past_due, with the grace end), a 3-D Secure confirmation
 * (action_required — a confirmation, not a decline), an unpaid or an
 * incomplete subscription. "Pay invoice" opens Stripe's hosted invoice;
 * "Update card" opens the Customer Portal. Organisation members see the
 * banner without the buttons: paying is the admins'.
 */
export function PaymentBanner() {
  const subscription = useQuery(api.billing.subscription);
  const { openPortal, pending } = usePortal();
  const member = useIsOrgMember();
  // Overdue days are counted at mount; the banner re-renders whenever the subscription changes.
  const [now] = useState(() => Date.now());
  if (!subscription) return null;
  const attention = attentionOf(subscription);
  if (!attention) return null;

  const plan = tierName(subscribedTier(subscription));
  const amount = attention.amountDue !== null && attention.currency ? formatMoney(attention.amountDue, attention.currency) : null;
  const grace = subscription.graceEndsAt ? formatDate(subscription.graceEndsAt) : null;
  const { title, payLabel, tone } = CONTENT[attention.kind];
  const overdue = overdueText(subscription, attention.kind, plan, amount, now);

  let detail: string;
  switch (attention.kind) {
    case "past_due":
      detail = `Update your card or pay the invoice${grace ? ` by ${grace}` : ""} to keep ${plan}.${amount ? ` Amount due: ${amount}.` : ""}`;
      break;
    case "action_required":
      detail = `Your bank asks you to confirm the payment${amount ? ` of ${amount}` : ""} for ${plan}. It only takes a moment.`;
      break;
    case "unpaid":
      detail = `Pay the open invoice${amount ? ` of ${amount}` : ""} or update your card to restore ${plan}.`;
      break;
    case "incomplete":
      detail = `Complete the first payment${amount ? ` of ${amount}` : ""} to start ${plan}.`;
      break;
  }
  const urgent = tone === "danger";

  return (
    <div className={`banner banner-${tone}`} role={urgent ? "alert" : "status"} data-testid="payment-banner" data-kind={attention.kind}
      data-stage={subscription.dunning?.stage ?? undefined}
      data-admin-banner={subscription.dunning?.adminBanner ? "true" : undefined}
    >
      <div>
        <strong>{overdue?.title ?? title}</strong> {overdue?.detail ?? detail}
      </div>
      {member ? (
        <AdminOnlyNote detail="An admin of this organisation can pay it." testId="payment-banner-admin-only" />
      ) : (
      <div className="actions">
        {attention.hostedInvoiceUrl ? (
          <a className={`button ${urgent ? "button-danger" : "button-primary"}`} href={attention.hostedInvoiceUrl} data-testid="payment-banner-pay">
            {payLabel}
          </a>
        ) : null}
        {attention.kind !== "action_required" || !attention.hostedInvoiceUrl ? (
          <button
            type="button"
            className="button button-secondary"
            data-testid="payment-banner-update-card"
            disabled={pending}
            aria-busy={pending}
            onClick={() => void openPortal()}
          >
            {pending ? "Opening…" : attention.kind === "action_required" ? "Open Manage billing" : "Update card"}
          </button>
        ) : null}
      </div>
      )}
    </div>
  );
}
