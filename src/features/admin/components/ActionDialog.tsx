import { useAction, useMutation } from "convex/react";
import { useId, useState, type FormEvent } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { PUBLIC_TIERS, TIERS, type Tier } from "@/convex/billing/model/plans";
import { Dialog } from "@/src/components/Dialog";
import { humanizeError } from "@/src/lib/errors";
import { formatDate, tokens } from "@/src/lib/format";
import { statusLabel } from "../lib/format";

export type ActionKind = "grant" | "debit" | "comp" | "clearComp" | "coupon" | "resync" | "dunning" | "freeReset" | "replay";

/** What an action acts on: an account (all but a queue-wide replay), and for a replay the events. */
export type ActionTarget = { accountId?: string; label: string; eventIds?: string[] };

type Copy = { title: string; description: string; submit: string };

const COPY: Record<ActionKind, Copy> = {
  grant: { title: "Grant tokens", description: "Adds a support grant to the balance, through the ledger.", submit: "Grant" },
  debit: { title: "Debit tokens", description: "Takes tokens from the balance, through the ledger.", submit: "Debit" },
  comp: {
    title: "Comp a tier",
    description: "The account gets this tier now, whatever Stripe says, until the expiry; then it lapses by itself.",
    submit: "Comp",
  },
  clearComp: { title: "Clear the comp", description: "Ends the staff tier override now; the tier follows Stripe again.", submit: "Clear comp" },
  coupon: {
    title: "Attach a coupon",
    description: "Adds a Stripe coupon (by its id) to the live subscription's discounts; its next invoices are discounted.",
    submit: "Attach",
  },
  resync: {
    title: "Resync from Stripe",
    description: "Fetches the customer's subscriptions and invoices from Stripe and applies them under the normal ordering rules.",
    submit: "Resync",
  },
  dunning: { title: "Run dunning now", description: "Runs the dunning step for this account now instead of at its next scheduled time.", submit: "Run dunning" },
  freeReset: { title: "Force a free-period reset", description: "Starts a new free period now, with a fresh free allowance.", submit: "Reset" },
  replay: { title: "Replay dead events", description: "Puts dead Stripe events back in the queue to be applied again.", submit: "Replay" },
};

const DAY_MS = 86_400_000;

/** "2026-12-29" for a date input, `days` from `now` in local time. */
function dateInputValue(now: number, days: number): string {
  const d = new Date(now + days * DAY_MS);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The end of the chosen local day (ms), or null when the input isn't a date. */
export function endOfDay(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const ms = new Date(`${value}T23:59:59`).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** A positive whole number from the input, else null. */
export function parseAmount(value: string): number | null {
  if (!/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * One console action as a dialog: its fields, a required reason (the submit
 * stays disabled until there is one), then a confirmation step that says
 * exactly what will happen, then the call. Success and failure are sonner
 * toasts (failures through `humanizeError`); a failure returns to the form.
 * Grants and debits carry an idempotency key made when the dialog opens, so
 * a retried click can't apply twice.
 */
export function ActionDialog({ kind, target, onClose }: { kind: ActionKind; target: ActionTarget; onClose: () => void }) {
  const copy = COPY[kind];
  const reasonId = useId();
  const [now] = useState(() => Date.now());
  const [idempotencyKey] = useState(() => `console:${kind}:${crypto.randomUUID()}`);
  const [amount, setAmount] = useState("");
  const [couponId, setCouponId] = useState("");
  const [tier, setTier] = useState<Tier>("pro");
  const [until, setUntil] = useState(() => dateInputValue(now, 30));
  const [reason, setReason] = useState("");
  const [step, setStep] = useState<"form" | "confirm" | "submitting">("form");

  const grantTokens = useMutation(api.admin.grantTokens);
  const debitTokens = useMutation(api.admin.debitTokens);
  const compTier = useMutation(api.admin.compTier);
  const clearComp = useMutation(api.admin.clearComp);
  const replayDeadEvents = useMutation(api.admin.replayDeadEvents);
  const runDunningNow = useMutation(api.admin.runDunningNow);
  const forceFreeReset = useMutation(api.admin.forceFreeReset);
  const resyncCustomer = useAction(api.admin.resyncCustomer);
  const attachCoupon = useAction(api.admin.attachCoupon);

  const trimmedReason = reason.trim();
  const parsedAmount = parseAmount(amount);
  const expiresAt = endOfDay(until);
  const fieldsValid =
    kind === "grant" || kind === "debit"
      ? parsedAmount !== null
      : kind === "comp"
        ? expiresAt !== null && expiresAt > now
        : kind === "coupon"
          ? couponId.trim().length > 0
          : true;
  const canSubmit = fieldsValid && trimmedReason.length > 0;

  const summary = (() => {
    switch (kind) {
      case "grant":
        return `Grant ${tokens(parsedAmount ?? 0)} to ${target.label}.`;
      case "debit":
        return `Debit ${tokens(parsedAmount ?? 0)} from ${target.label}.`;
      case "comp":
        return `Give ${target.label} the ${statusLabel(tier)} tier until ${expiresAt ? formatDate(expiresAt) : "—"}.`;
      case "clearComp":
        return `End the comped tier of ${target.label} now.`;
      case "coupon":
        return `Attach coupon ${couponId.trim()} to the subscription of ${target.label}.`;
      case "resync":
        return `Fetch ${target.label} from Stripe and apply what changed.`;
      case "dunning":
        return `Run the dunning step for ${target.label} now.`;
      case "freeReset":
        return `Reset the free period of ${target.label} now.`;
      case "replay":
        return target.eventIds
          ? `Replay ${target.eventIds.length === 1 ? "1 dead event" : `${target.eventIds.length} dead events`} (${target.label}).`
          : `Replay every dead event of ${target.label}.`;
    }
  })();

  const run = async (): Promise<string> => {
    const accountId = target.accountId;
    const need = () => {
      if (!accountId) throw new Error("No account");
      return accountId;
    };
    const r = trimmedReason;
    switch (kind) {
      case "grant":
        await grantTokens({ accountId: need(), amount: parsedAmount!, reason: r, idempotencyKey });
        return `Granted ${tokens(parsedAmount!)}`;
      case "debit":
        await debitTokens({ accountId: need(), amount: parsedAmount!, reason: r, idempotencyKey });
        return `Debited ${tokens(parsedAmount!)}`;
      case "comp":
        await compTier({ accountId: need(), tier, expiresAt: expiresAt!, reason: r });
        return `Comped ${statusLabel(tier)} until ${formatDate(expiresAt!)}`;
      case "clearComp":
        await clearComp({ accountId: need(), reason: r });
        return "Comp cleared";
      case "coupon": {
        const attached = await attachCoupon({ accountId: need(), couponId: couponId.trim(), reason: r });
        return attached.status === "attached"
          ? `Coupon ${attached.couponName ?? attached.couponId} attached`
          : `The subscription already has coupon ${attached.couponId}`;
      }
      case "resync":
        await resyncCustomer({ accountId: need(), reason: r });
        return "Resynced from Stripe";
      case "dunning":
      {
        const result = await runDunningNow({ accountId: need(), reason: r });
        if (result.overdueDays === null) return "Nothing is overdue: no dunning step to run";
        return result.fired.length > 0
          ? `Dunning: ${result.overdueDays} days overdue, ran ${result.fired.join(", ")}`
          : `Dunning: ${result.overdueDays} days overdue, no step due yet`;
      }
      case "freeReset":
        await forceFreeReset({ accountId: need(), reason: r });
        return "Free period reset";
      case "replay":
        await replayDeadEvents({ ...(accountId ? { accountId } : {}), ...(target.eventIds ? { eventIds: target.eventIds } : {}), reason: r });
        return "Dead events queued again";
    }
  };

  const onReview = (event: FormEvent) => {
    event.preventDefault();
    if (canSubmit) setStep("confirm");
  };

  const onConfirm = () => {
    setStep("submitting");
    run().then(
      (message) => {
        toast.success(message, { description: target.label });
        onClose();
      },
      (error: unknown) => {
        const human = humanizeError(error);
        toast.error(`${copy.title} failed: ${human.title}`, { description: human.description });
        setStep("form");
      },
    );
  };

  const formId = `${reasonId}-form`;
  return (
    <Dialog
      open
      onClose={() => step !== "submitting" && onClose()}
      title={step === "form" ? copy.title : `${copy.title}?`}
      description={step === "form" ? copy.description : undefined}
      testId="admin-action-dialog"
      dataState={step}
      footer={
        step === "form" ? (
          <>
            <button type="button" className="button button-ghost" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" form={formId} className="button button-primary" disabled={!canSubmit} data-testid="admin-action-review">
              Review
            </button>
          </>
        ) : (
          <>
            <button type="button" className="button button-ghost" onClick={() => setStep("form")} disabled={step === "submitting"}>
              Back
            </button>
            <button
              type="button"
              className={`button ${kind === "debit" ? "button-danger" : "button-primary"}`}
              onClick={onConfirm}
              disabled={step === "submitting"}
              aria-busy={step === "submitting"}
              data-testid="admin-action-confirm"
              data-autofocus
            >
              {step === "submitting" ? "Working…" : copy.submit}
            </button>
          </>
        )
      }
    >
      {step === "form" ? (
        <form id={formId} className="stack-sm admin-action-form" onSubmit={onReview} noValidate>
          {kind === "grant" || kind === "debit" ? (
            <label className="field">
              Tokens
              <input
                type="number"
                inputMode="numeric"
                min={1}
                step={1}
                value={amount}
                onChange={(e) => setAmount(e.target.value)}
                data-testid="admin-action-amount"
                data-autofocus
                required
              />
            </label>
          ) : null}
          {kind === "coupon" ? (
            <label className="field">
              Stripe coupon id
              <input
                type="text"
                value={couponId}
                onChange={(e) => setCouponId(e.target.value)}
                placeholder="e.g. WELCOME20"
                data-testid="admin-action-coupon-id"
                data-autofocus
                required
              />
            </label>
          ) : null}
          {kind === "comp" ? (
            <div className="field-row">
              <label className="field">
                Tier
                <select value={tier} onChange={(e) => setTier(e.target.value as Tier)} data-testid="admin-action-tier">
                  {TIERS.filter((t) => t !== "free").map((t) => (
                    <option key={t} value={t}>
                      {statusLabel(t)}
                      {PUBLIC_TIERS.includes(t) ? "" : " (staff)"}
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                Until (end of day)
                <input type="date" value={until} min={dateInputValue(now, 1)} onChange={(e) => setUntil(e.target.value)} data-testid="admin-action-until" />
              </label>
            </div>
          ) : null}
          <label className="field admin-reason" htmlFor={reasonId}>
            Reason (required, kept in the audit log)
          </label>
          <textarea
            id={reasonId}
            className="admin-textarea"
            rows={3}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="e.g. Ticket #123: refund for the outage on March 3"
            data-testid="admin-action-reason"
            required
            {...(kind === "grant" || kind === "debit" || kind === "coupon" ? {} : { "data-autofocus": true })}
          />
        </form>
      ) : (
        <div className="stack-sm" data-testid="admin-action-summary">
          <p className="admin-summary">{summary}</p>
          <p className="muted">Reason: {trimmedReason}</p>
        </div>
      )}
    </Dialog>
  );
}
