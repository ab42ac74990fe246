import type { SubscriptionView } from "@/src/features/billing/lib/types";

const LABELS: Record<SubscriptionView["status"], { label: string; tone: string }> = {
  active: { label: "Active", tone: "success" },
  trialing: { label: "Trialing", tone: "info" },
  past_due: { label: "Past due", tone: "danger" },
  canceled: { label: "Canceled", tone: "muted" },
  unpaid: { label: "Unpaid", tone: "danger" },
  incomplete: { label: "Incomplete", tone: "warning" },
  incomplete_expired: { label: "Expired", tone: "muted" },
  paused: { label: "Paused", tone: "warning" },
  none: { label: "No subscription", tone: "muted" },
};

export function StatusBadge({ status }: { status: SubscriptionView["status"] }) {
  const { label, tone } = LABELS[status];
  return (
    <span className={`pill pill-${tone}`} data-testid="subscription-status" data-status={status}>
      {label}
    </span>
  );
}
