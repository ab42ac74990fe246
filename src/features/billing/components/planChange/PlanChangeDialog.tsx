import { useAction, useQuery } from "convex/react";
import { useEffect, useState, type ReactNode } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { usePortal } from "@/src/features/billing/hooks/usePortal";
import { browser } from "@/src/features/billing/lib/browser";
import { humanizeError } from "@/src/lib/errors";
import type { PaymentDialogStep } from "@/src/features/billing/lib/paymentDialog";
import { formatCount, formatCredit, formatDate, formatMoney } from "@/src/lib/format";
import { changeLanded, planLabel, subscribedTier, type PlanChangeTarget } from "@/src/features/billing/lib/planChange";
import { tierName } from "@/src/features/billing/lib/pricing";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import type { FunctionReturnType } from "convex/server";
import { Dialog } from "@/src/components/Dialog";
import { Skeleton } from "@/src/components/Skeleton";

type Preview = FunctionReturnType<typeof api.billing.previewPlanChange>;

/** The dialog's steps; `data-state` on `plan-change-dialog`. */
type Step = PaymentDialogStep<Preview>;

/** After this long waiting for the webhook, say so (the dialog still closes when the plan lands). */
const SLOW_MS = 30_000;

/**
 * Preview → confirm → `billing.changePlan` for a subscriber. An upgrade shows
 * what is due now (net of credit), the credit used, the unused-time credit,
 * the next invoice and the tokens it adds; on `applied` it waits for the live
 * subscription to show the new plan, then closes. A downgrade shows when it
 * takes effect and the new price; on `scheduled` it closes with a toast.
 */
export function PlanChangeDialog({ target, onClose }: { target: PlanChangeTarget; onClose: () => void }) {
  const previewPlanChange = useAction(api.billing.previewPlanChange);
  const changePlan = useAction(api.billing.changePlan);
  const subscription = useQuery(api.billing.subscription);
  const { openPortal, pending: portalPending } = usePortal();
  const [state, setState] = useState<Step>({ step: "loading" });
  const [attempt, setAttempt] = useState(0);
  const [slow, setSlow] = useState(false);

  const { tier, interval } = target;
  useEffect(() => {
    let live = true;
    previewPlanChange({ tier, interval }).then(
      (preview) => live && setState({ step: "ready", preview }),
      (error: unknown) => live && setState({ step: "error", error: humanizeError(error) }),
    );
    return () => {
      live = false;
    };
  }, [previewPlanChange, tier, interval, attempt]);

  const waiting = state.step === "waiting";
  const landed = waiting && changeLanded(subscription, target);
  useEffect(() => {
    if (!landed) return;
    toast.success(`You're on ${planLabel(target.tier, target.interval)}`, { id: "plan-change-landed" });
    onClose();
  }, [landed, onClose, target.tier, target.interval]);

  useEffect(() => {
    if (!waiting) return;
    const timer = setTimeout(() => setSlow(true), SLOW_MS);
    return () => clearTimeout(timer);
  }, [waiting]);

  const label = planLabel(target.tier, target.interval);
  const upgrade = state.step !== "loading" && state.step !== "error" ? state.preview.kind === "upgrade" : null;

  async function confirm(preview: Preview): Promise<void> {
    setState({ step: "submitting", preview });
    try {
      const result = await changePlan({ tier, interval });
      switch (result.status) {
        case "applied":
          toast.success(`Upgrading to ${label}`, { description: result.message });
          setState({ step: "waiting", preview });
          return;
        case "scheduled": {
          const when = result.effectiveAt ?? preview.effectiveAt;
          toast.success(`Your plan switches to ${label} on ${formatDate(when)}`, {
            description: "Until then you keep your current plan and its tokens.",
          });
          onClose();
          return;
        }
        case "requires_action":
          setState({ step: "requires_action", preview, url: result.hostedInvoiceUrl, message: result.message });
          return;
        case "payment_failed":
          setState({ step: "payment_failed", preview, message: result.message });
          return;
      }
    } catch (error) {
      setState({ step: "ready", preview });
      const human = humanizeError(error);
      const url = human.hostedInvoiceUrl;
      toast.error(human.title, {
        description: human.description,
        action: url
          ? { label: "Pay invoice", onClick: () => browser.redirect(url) }
          : human.code === "NETWORK"
            ? { label: "Retry", onClick: () => void confirm(preview) }
            : undefined,
      });
    }
  }

  const retryPreview = () => {
    setState({ step: "loading" });
    setAttempt((n) => n + 1);
  };

  let body: ReactNode;
  let footer: ReactNode;
  const closeButton = (text: string) => (
    <button type="button" className="button button-ghost" data-testid="plan-change-cancel" onClick={onClose}>
      {text}
    </button>
  );

  switch (state.step) {
    case "loading":
      body = <Skeleton lines={4} label="Calculating the exact amounts" />;
      footer = closeButton("Cancel");
      break;
    case "error":
      body = (
        <div className="notice notice-danger" role="alert" data-testid="plan-change-error">
          <strong>{state.error.title}</strong>
          {state.error.description ? <p>{state.error.description}</p> : null}
          {state.error.hostedInvoiceUrl ? (
            <a className="button button-primary" href={state.error.hostedInvoiceUrl} data-testid="plan-change-pay-invoice">
              Pay invoice
            </a>
          ) : null}
        </div>
      );
      footer = (
        <>
          {closeButton("Close")}
          {state.error.retryable ? (
            <button type="button" className="button button-primary" data-testid="plan-change-retry" onClick={retryPreview}>
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
      const confirmLabel =
        preview.kind === "downgrade"
          ? "Confirm switch"
          : preview.dueNow > 0
            ? `Pay ${formatMoney(preview.dueNow, preview.currency)} and upgrade`
            : "Confirm upgrade";
      body = <PreviewDetails preview={preview} subscription={subscription ?? null} />;
      footer = (
        <>
          {closeButton("Cancel")}
          <button
            type="button"
            className="button button-primary"
            data-testid="plan-change-confirm"
            data-autofocus
            disabled={submitting}
            aria-busy={submitting}
            onClick={() => void confirm(preview)}
          >
            {submitting ? "Confirming…" : confirmLabel}
          </button>
        </>
      );
      break;
    }
    case "waiting":
      body = (
        <div role="status" data-testid="plan-change-waiting">
          <p>
            <span className="spinner" aria-hidden="true" /> Waiting for payment confirmation…
          </p>
          <p className="muted">
            {slow
              ? "This is taking longer than usual. You can close this window: your plan updates as soon as the payment is confirmed."
              : `${tierName(target.tier)} unlocks as soon as the payment is confirmed.`}
          </p>
        </div>
      );
      footer = closeButton("Close");
      break;
    case "requires_action":
      body = (
        <div className="notice notice-info" role="status" data-testid="plan-change-requires-action">
          <strong>Confirm your payment</strong>
          <p>{state.message || "Your bank asks you to confirm this payment. Your plan changes once it's confirmed."}</p>
          {state.url ? (
            <a className="button button-primary" href={state.url} data-testid="plan-change-confirm-payment">
              Confirm payment
            </a>
          ) : (
            <button
              type="button"
              className="button button-primary"
              data-testid="plan-change-confirm-payment"
              disabled={portalPending}
              onClick={() => void openPortal()}
            >
              Confirm in Manage billing
            </button>
          )}
        </div>
      );
      footer = closeButton("Close");
      break;
    case "payment_failed": {
      const { preview } = state;
      body = (
        <div className="notice notice-danger" role="alert" data-testid="plan-change-failed">
          <strong>Your payment didn't go through — your plan hasn't changed.</strong>
          <p>{state.message}</p>
        </div>
      );
      footer = (
        <>
          {closeButton("Close")}
          <button
            type="button"
            className="button button-secondary"
            data-testid="plan-change-update-card"
            disabled={portalPending}
            onClick={() => void openPortal()}
          >
            Update card
          </button>
          <button type="button" className="button button-primary" data-testid="plan-change-try-again" onClick={() => setState({ step: "ready", preview })}>
            Try again
          </button>
        </>
      );
      break;
    }
  }

  const title = upgrade === false ? `Switch to ${label}` : `Upgrade to ${label}`;
  return (
    <Dialog open onClose={onClose} title={title} testId="plan-change-dialog" closeTestId="plan-change-close" dataState={state.step} footer={footer}>
      {body}
    </Dialog>
  );
}

function PreviewDetails({ preview, subscription }: { preview: Preview; subscription: SubscriptionView | null }) {
  const money = (amount: number) => formatMoney(amount, preview.currency);
  const current = subscription ? planLabel(subscribedTier(subscription), subscription.interval) : "your current plan";
  if (preview.kind === "downgrade") {
    return (
      <div className="stack-sm" data-testid="plan-change-preview" data-kind="downgrade">
        <p data-testid="plan-change-effective">
          Switches on <strong>{formatDate(preview.effectiveAt)}</strong>, at the end of your current period. You keep {current} and its tokens until then.
        </p>
        <dl className="amounts">
          <div>
            <dt>Due now</dt>
            <dd data-testid="plan-change-due-now">{money(preview.dueNow)}</dd>
          </div>
          <div>
            <dt>New price</dt>
            <dd data-testid="plan-change-next-invoice">
              {money(preview.nextInvoiceAmount)} on {formatDate(preview.nextInvoiceAt)}
            </dd>
          </div>
        </dl>
        <p className="muted" data-testid="plan-change-allowance">
          {formatCount(preview.allowanceAfter)} tokens per month from then.
        </p>
      </div>
    );
  }
  return (
    <div className="stack-sm" data-testid="plan-change-preview" data-kind="upgrade">
      <dl className="amounts">
        {preview.newPlanCharge > 0 ? (
          <div>
            <dt>
              {planLabel(preview.tier, preview.interval)} until {formatDate(preview.nextInvoiceAt)}
            </dt>
            <dd data-testid="plan-change-new-plan-charge">{money(preview.newPlanCharge)}</dd>
          </div>
        ) : null}
        {preview.prorationCredit > 0 ? (
          <div>
            <dt>Unused time on {current}</dt>
            <dd data-testid="plan-change-proration-credit">{formatCredit(preview.prorationCredit, preview.currency)}</dd>
          </div>
        ) : null}
        {preview.otherCharges !== 0 ? (
          <div>
            <dt>Usage and other charges</dt>
            <dd data-testid="plan-change-other-charges">{preview.otherCharges > 0 ? money(preview.otherCharges) : formatCredit(-preview.otherCharges, preview.currency)}</dd>
          </div>
        ) : null}
        {preview.adjustments && preview.adjustments.discount > 0 ? (
          <div>
            <dt>Discount</dt>
            <dd data-testid="plan-change-discount">{formatCredit(preview.adjustments.discount, preview.currency)}</dd>
          </div>
        ) : null}
        {preview.adjustments && preview.adjustments.tax > 0 ? (
          <div>
            <dt>Tax</dt>
            <dd data-testid="plan-change-tax">{money(preview.adjustments.tax)}</dd>
          </div>
        ) : null}
        {preview.creditApplied > 0 ? (
          <div>
            <dt>Credit applied</dt>
            <dd data-testid="plan-change-credit-applied">{formatCredit(preview.creditApplied, preview.currency)}</dd>
          </div>
        ) : null}
        <div className="amounts-total">
          <dt>Due now</dt>
          <dd data-testid="plan-change-due-now">{money(preview.dueNow)}</dd>
        </div>
      </dl>
      <p data-testid="plan-change-next-invoice">
        Then {money(preview.nextInvoiceAmount)} on {formatDate(preview.nextInvoiceAt)}.
      </p>
      {preview.tokensNow > 0 ? (
        <p className="tokens-line" data-testid="plan-change-tokens-now">
          <strong>+{formatCount(preview.tokensNow)} tokens now</strong>, once the payment goes through.
        </p>
      ) : null}
      <p className="muted" data-testid="plan-change-allowance">
        {formatCount(preview.allowanceAfter)} tokens per month after that.
      </p>
    </div>
  );
}
