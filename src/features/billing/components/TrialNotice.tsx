import { useState } from "react";
import { EndTrialDialog } from "@/src/features/billing/components/endTrial/EndTrialDialog";
import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { tierName } from "@/src/features/billing/lib/pricing";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { formatDate } from "@/src/lib/format";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Whole days left of a trial ending at `trialEnd` (ms), counting a started day; 0 once it has ended. */
export function trialDaysLeft(trialEnd: number, now: number): number {
  return Math.max(0, Math.ceil((trialEnd - now) / DAY_MS));
}

/**
 * A trialing subscription's notice (docs/TRIALS.md): "Trial: N days left"
 * and, when Stripe has no card to charge at the end (`hasPaymentMethod`
 * false), "Add a card", which opens the Customer Portal to add one; with a
 * card on file, "Start paid plan now", which ends the trial early once paid
 * (`EndTrialDialog`). Admins only get the buttons (`canManage`). Renders
 * nothing outside a trial.
 */
export function TrialNotice({ subscription: s, canManage }: { subscription: SubscriptionView; canManage: boolean }) {
  const { openPortal, pending } = usePortal();
  const [now] = useState(() => Date.now());
  const [ending, setEnding] = useState(false);
  // The dialog outlives the notice (same place in the tree): once paid the
  // subscription turns active, and the dialog closes itself.
  const dialog = ending ? <EndTrialDialog onClose={() => setEnding(false)} /> : null;
  const trialing = s.status === "trialing" && s.trialEnd !== null;
  const days = s.trialEnd !== null ? trialDaysLeft(s.trialEnd, now) : 0;
  const noCard = s.hasPaymentMethod === false;
  const plan = tierName(s.planTier ?? s.tier);
  return (
    <>
      {trialing && s.trialEnd !== null ? (
        <div className={`notice ${noCard ? "notice-warning" : "notice-info"}`} data-testid="trial-notice" data-card={noCard ? "missing" : "on-file"}>
          <p>
            <strong data-testid="trial-days-left">Trial: {days === 1 ? "1 day left" : `${days} days left`}</strong>{" "}
            {noCard
              ? `Add a card before ${formatDate(s.trialEnd)} to keep ${plan}; without one your trial ends then.`
              : `Your card on file is charged on ${formatDate(s.trialEnd)} and ${plan} continues.`}
          </p>
          {noCard && canManage ? (
            <button type="button" className="button button-primary" data-testid="trial-add-card" disabled={pending} aria-busy={pending} onClick={() => void openPortal()}>
              {pending ? "Opening…" : "Add a card"}
            </button>
          ) : null}
          {!noCard && canManage ? (
            <button type="button" className="button button-secondary" data-testid="trial-start-paid" onClick={() => setEnding(true)}>
              Start paid plan now
            </button>
          ) : null}
        </div>
      ) : null}
      {dialog}
    </>
  );
}
