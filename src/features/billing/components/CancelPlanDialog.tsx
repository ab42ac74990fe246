import { useAction } from "convex/react";
import { useId, useState } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import type { CancellationFeedback } from "@/convex/billing/model/validators";
import { Dialog } from "@/src/components/Dialog";
import { humanizeError } from "@/src/lib/errors";
import { formatDate } from "@/src/lib/format";

/** Stripe's `cancellation_details.feedback` values, with the wording customers see. */
export const CANCEL_REASONS: readonly { value: CancellationFeedback; label: string }[] = [
  { value: "too_expensive", label: "It's too expensive" },
  { value: "unused", label: "I don't use it enough" },
  { value: "missing_features", label: "It's missing features I need" },
  { value: "switched_service", label: "I'm switching to another service" },
  { value: "too_complex", label: "It's too complicated" },
  { value: "low_quality", label: "The quality isn't good enough" },
  { value: "customer_service", label: "I wasn't happy with customer service" },
  { value: "other", label: "Another reason" },
];

const COMMENT_MAX = 500;

/**
 * "Cancel plan": an optional reason (radio list of Stripe's feedback values)
 * and comment, then `billing.cancelSubscription` — the plan stays until the
 * period end. `onCanceled` gets the end date (ms).
 */
export function CancelPlanDialog({
  planName,
  periodEnd,
  onClose,
  onCanceled,
}: {
  planName: string;
  periodEnd: number | null;
  onClose: () => void;
  onCanceled: (cancelAt: number) => void;
}) {
  const cancelSubscription = useAction(api.billing.cancelSubscription);
  const [feedback, setFeedback] = useState<CancellationFeedback | null>(null);
  const [comment, setComment] = useState("");
  const [pending, setPending] = useState(false);
  const name = useId();
  const commentId = useId();

  const submit = async () => {
    if (pending) return;
    setPending(true);
    try {
      const trimmed = comment.trim();
      const { cancelAt } = await cancelSubscription({
        ...(feedback ? { feedback } : {}),
        ...(trimmed ? { comment: trimmed.slice(0, COMMENT_MAX) } : {}),
      });
      toast.success(`Your plan ends on ${formatDate(cancelAt)}`, { description: `You keep ${planName} and its tokens until then.` });
      onCanceled(cancelAt);
    } catch (error) {
      setPending(false);
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    }
  };

  return (
    <Dialog
      open
      onClose={onClose}
      title={`Cancel your ${planName} plan?`}
      description={
        periodEnd
          ? `You keep ${planName} and its tokens until ${formatDate(periodEnd)}; you won't be charged again.`
          : `You keep ${planName} until the end of the period you paid for; you won't be charged again.`
      }
      testId="cancel-dialog"
      closeTestId="cancel-dialog-close"
      footer={
        <>
          <button type="button" className="button button-ghost" data-testid="cancel-keep" onClick={onClose}>
            Keep my plan
          </button>
          <button
            type="button"
            className="button button-danger"
            data-testid="cancel-confirm"
            disabled={pending}
            aria-busy={pending}
            onClick={() => void submit()}
          >
            {pending ? "Canceling…" : "Cancel plan"}
          </button>
        </>
      }
    >
      <fieldset className="radio-list">
        <legend>Why are you canceling? (optional)</legend>
        {CANCEL_REASONS.map((reason) => (
          <label key={reason.value} className="radio">
            <input
              type="radio"
              name={name}
              value={reason.value}
              checked={feedback === reason.value}
              onChange={() => setFeedback(reason.value)}
              data-testid={`cancel-reason-${reason.value}`}
            />
            {reason.label}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={commentId}>Anything else we should know? (optional)</label>
        <textarea id={commentId} rows={3} maxLength={COMMENT_MAX} value={comment} onChange={(e) => setComment(e.target.value)} data-testid="cancel-comment" />
      </div>
    </Dialog>
  );
}
