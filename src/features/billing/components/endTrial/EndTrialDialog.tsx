import { useAction, useQuery } from "convex/react";
import { useEffect, useState, type ReactNode } from "react";
import { toast } from "sonner";
import type { FunctionReturnType } from "convex/server";
import { api } from "@/convex/_generated/api";
import { Dialog } from "@/src/components/Dialog";
import { Skeleton } from "@/src/components/Skeleton";
import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { planLabel } from "@/src/features/billing/lib/planChange";
import { trialDaysLeft } from "@/src/features/billing/components/TrialNotice";
import { humanizeError } from "@/src/lib/errors";
import type { PaymentDialogStep } from "@/src/features/billing/lib/paymentDialog";
import { formatCount, formatDate, formatMoney } from "@/src/lib/format";

type Preview = FunctionReturnType<typeof api.billing.previewEndTrial>;

/** The dialog's steps; `data-state` on `end-trial-dialog`. */
type Step = PaymentDialogStep<Preview>;

/**
 * "Start paid plan now" (docs/TRIALS.md, "Ending a trial early"): the
 * preview from `billing.previewEndTrial` (what is charged now, the trial
 * days given up, the paid allowance, the next renewal), then
 * `billing.endTrialNow`. Paid → waits for the subscription to read active,
 * then closes with a toast; declined or 3-D Secure → says so, the trial
 * runs on unchanged.
 */
export function EndTrialDialog({ onClose }: { onClose: () => void }) {
  const previewEndTrial = useAction(api.billing.previewEndTrial);
  const endTrialNow = useAction(api.billing.endTrialNow);
  const subscription = useQuery(api.billing.subscription);
  const { openPortal, pending: portalPending } = usePortal();
  const [state, setState] = useState<Step>({ step: "loading" });
  const [attempt, setAttempt] = useState(0);
  const [now] = useState(() => Date.now());

  useEffect(() => {
    let live = true;
    previewEndTrial({}).then(
      (preview) => live && setState({ step: "ready", preview }),
      (error: unknown) => live && setState({ step: "error", error: humanizeError(error) }),
    );
    return () => {
      live = false;
    };
  }, [previewEndTrial, attempt]);

  // Paid: the webhooks turn the subscription active on the plan; then close.
  const landed = state.step === "waiting" && subscription?.status === "active" && subscription.tier === state.preview.tier;
  useEffect(() => {
    if (!landed || state.step !== "waiting") return;
    toast.success(`You're on ${planLabel(state.preview.tier, state.preview.interval)}`, {
      id: "end-trial-landed",
      description: `${formatCount(state.preview.allowance)} tokens a month from today.`,
    });
    onClose();
  }, [landed, onClose, state]);

  async function confirm(preview: Preview): Promise<void> {
    setState({ step: "submitting", preview });
    try {
      const result = await endTrialNow({});
      switch (result.status) {
        case "paid":
          toast.success("Payment received", { description: result.message });
          setState({ step: "waiting", preview });
          return;
        case "requires_action":
          setState({ step: "requires_action", preview, url: result.hostedInvoiceUrl, message: result.message });
          return;
        case "payment_failed":
          toast.error("Your card was declined", { description: "Your trial continues unchanged." });
          setState({ step: "payment_failed", preview, message: result.message });
          return;
      }
    } catch (error) {
      setState({ step: "ready", preview });
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    }
  }

  const closeButton = (text: string) => (
    <button type="button" className="button button-ghost" data-testid="end-trial-cancel" onClick={onClose}>
      {text}
    </button>
  );
  let body: ReactNode;
  let footer: ReactNode;
  switch (state.step) {
    case "loading":
      body = <Skeleton lines={4} label="Calculating what you'll pay" />;
      footer = closeButton("Cancel");
      break;
    case "error":
      body = (
        <div className="notice notice-danger" role="alert" data-testid="end-trial-error">
          <strong>{state.error.title}</strong>
          {state.error.description ? <p>{state.error.description}</p> : null}
        </div>
      );
      footer = (
        <>
          {closeButton("Close")}
          {state.error.retryable ? (
            <button
              type="button"
              className="button button-primary"
              data-testid="end-trial-retry"
              onClick={() => {
                setState({ step: "loading" });
                setAttempt((n) => n + 1);
              }}
            >
              Try again
            </button>
          ) : null}
        </>
      );
      break;
    case "ready":
    case "submitting": {
      const { preview } = state;
      const submitting = state.step === "submitting";
      body = <PreviewDetails preview={preview} now={now} />;
      footer = (
        <>
          {closeButton("Keep my trial")}
          <button
            type="button"
            className="button button-primary"
            data-testid="end-trial-confirm"
            data-autofocus
            disabled={submitting}
            aria-busy={submitting}
            onClick={() => void confirm(preview)}
          >
            {submitting ? "Paying…" : `Pay ${formatMoney(preview.dueNow, preview.currency)} and start now`}
          </button>
        </>
      );
      break;
    }
    case "waiting":
      body = (
        <div role="status" data-testid="end-trial-waiting">
          <p>
            <span className="spinner" aria-hidden="true" /> Payment received. Starting your plan…
          </p>
          <p className="muted">Your plan and tokens update as soon as Stripe confirms. You can close this window.</p>
        </div>
      );
      footer = closeButton("Close");
      break;
    case "requires_action":
      body = (
        <div className="notice notice-info" role="status" data-testid="end-trial-requires-action">
          <strong>Confirm your payment</strong>
          <p>{state.message}</p>
          {state.url ? (
            <a className="button button-primary" href={state.url} data-testid="end-trial-confirm-payment">
              Confirm payment
            </a>
          ) : null}
        </div>
      );
      footer = closeButton("Close");
      break;
    case "payment_failed":
      body = (
        <div className="notice notice-danger" role="alert" data-testid="end-trial-failed">
          <strong>Your payment didn't go through — your trial continues unchanged.</strong>
          <p>{state.message}</p>
        </div>
      );
      footer = (
        <>
          {closeButton("Close")}
          <button type="button" className="button button-secondary" data-testid="end-trial-update-card" disabled={portalPending} onClick={() => void openPortal()}>
            Update card
          </button>
        </>
      );
      break;
  }
  const title = state.step === "loading" || state.step === "error" ? "Start your paid plan now" : `Start ${planLabel(state.preview.tier, state.preview.interval)} now`;
  return (
    <Dialog open onClose={onClose} title={title} testId="end-trial-dialog" closeTestId="end-trial-close" dataState={state.step} footer={footer}>
      {body}
    </Dialog>
  );
}

function PreviewDetails({ preview, now }: { preview: Preview; now: number }) {
  const days = trialDaysLeft(preview.trialEnd, now);
  return (
    <div className="stack-sm" data-testid="end-trial-preview">
      <dl className="amounts">
        <div className="amounts-total">
          <dt>Charged now to your card</dt>
          <dd data-testid="end-trial-due-now">{formatMoney(preview.dueNow, preview.currency)}</dd>
        </div>
      </dl>
      <p data-testid="end-trial-days">
        Your trial ends now: the {days === 1 ? "1 day" : `${days} days`} left of it (until {formatDate(preview.trialEnd)}) are not added on.
      </p>
      <p className="tokens-line" data-testid="end-trial-allowance">
        <strong>{formatCount(preview.allowance)} tokens a month</strong> once the payment goes through, replacing your {formatCount(preview.trialAllowance)} trial tokens.
      </p>
      <p className="muted" data-testid="end-trial-renewal">
        Your next renewal is on {formatDate(preview.nextRenewalAt)}. If the payment fails, nothing is charged and your trial continues.
      </p>
    </div>
  );
}
