import { useAction, useQuery } from "convex/react";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useLocation } from "react-router-dom";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import type { SeatPreview, SeatsView } from "@/convex/billing/model/seats";
import { EmptyState } from "@/src/components/EmptyState";
import { SkeletonCard } from "@/src/components/Skeleton";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useActiveAccount, useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";
import { humanizeError } from "@/src/lib/errors";
import { formatCredit, formatDate, formatMoney, tokens } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { membersLabel, newRequestId, SEATS_ANCHOR, seatsLabel } from "./seatsText";
import "./seats.css";

/**
 * Seats on /billing (docs/SEATS.md), for an organisation's account:
 *
 * - admins of a per-seat plan whose seats they choose (Pro) pick a number
 *   (never fewer than the members, within the plan's range), see Stripe's
 *   prorated preview (due now, the next invoice; minor units formatted with
 *   Intl in the billed currency) and confirm; the card follows the
 *   subscription live, so the seats and allowance change once Stripe's
 *   events arrive (an increase only once its invoice is paid);
 * - on a plan whose seats follow the members (Elite) the count is read-only;
 * - members see the seats read-only; personal accounts see nothing.
 */
export function SeatsCard() {
  const account = useActiveAccount();
  const member = useIsOrgMember();
  if (account === undefined) return null;
  if (!account || account.status !== "ok" || account.kind !== "organization") {
    return member ? <MemberSeats /> : null;
  }
  return member ? <MemberSeats /> : <AdminSeats />;
}

function Frame({ children, pill }: { children: ReactNode; pill?: ReactNode }) {
  const ref = useRef<HTMLElement>(null);
  const { hash } = useLocation();
  // The "add seats" prompts link to /billing#seats: bring the card into view.
  useEffect(() => {
    if (hash === `#${SEATS_ANCHOR}`) ref.current?.scrollIntoView?.({ block: "start" });
  }, [hash]);
  return (
    <section ref={ref} id={SEATS_ANCHOR} className="card stack" aria-labelledby="seats-title" data-testid="seats-card">
      <div className="card-head">
        <h2 id="seats-title">Seats</h2>
        {pill}
      </div>
      {children}
    </section>
  );
}

/** Members: the seats, read-only (`seats.summary`). */
function MemberSeats() {
  const summary = useQuery(api.seats.summary);
  if (summary === undefined) return <SkeletonCard label="Loading seats" />;
  if (!summary || !summary.perSeat) return null;
  return (
    <Frame>
      <p data-testid="seats-summary">
        {seatsLabel(summary.seats)} for {membersLabel(summary.members)}.
      </p>
      <AdminOnlyNote detail="An admin of this organisation adds or removes seats." testId="seats-admin-only" />
    </Frame>
  );
}

type Confirming = { preview: SeatPreview; requestId: string };

function AdminSeats() {
  const view = useQuery(api.seats.view);
  if (view === undefined) return <SkeletonCard label="Loading seats" />;
  if (view === null) return null;
  if (!view.perSeat) {
    return (
      <Frame>
        <EmptyState title={view.tier ? "Your plan is not billed per seat." : "No seats yet."} testId="seats-empty">
          {view.tier ? (
            "Everyone in your organisation shares the plan's allowance."
          ) : (
            <>
              Seats come with a per-seat plan. <Link to={ROUTES.pricing.path}>Choose a plan</Link> to buy seats for your organisation.
            </>
          )}
        </EmptyState>
      </Frame>
    );
  }
  return <SeatPicker view={view} />;
}

function SeatPicker({ view }: { view: SeatsView }) {
  const previewSeats = useAction(api.seats.preview);
  const changeSeats = useAction(api.seats.change);
  const [draft, setDraft] = useState<number | null>(null);
  const [busy, setBusy] = useState<"preview" | "confirm" | null>(null);
  const [confirming, setConfirming] = useState<Confirming | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** A change Stripe accepted whose events have not arrived yet (the view still shows `from`). */
  const [awaiting, setAwaiting] = useState<{ from: number; to: number } | null>(null);

  const chosen = view.mode === "chosen";
  const min = chosen ? Math.max(view.min, view.members) : view.min;
  const max = view.max;
  const target = draft ?? Math.min(max, Math.max(view.seats, min));
  const valid = Number.isInteger(target) && target >= min && target <= max;
  const pending = awaiting !== null && awaiting.from === view.seats;
  const disabled = view.blocked !== null || busy !== null || pending;

  const pick = (seats: number) => {
    setDraft(seats);
    setConfirming(null);
    setError(null);
  };

  const preview = async () => {
    setBusy("preview");
    setError(null);
    try {
      setConfirming({ preview: await previewSeats({ seats: target }), requestId: newRequestId() });
    } catch (e) {
      const human = humanizeError(e);
      setError(human.description ? `${human.title} ${human.description}` : human.title);
      toast.error(human.title, { description: human.description });
    } finally {
      setBusy(null);
    }
  };

  const confirm = async (c: Confirming) => {
    setBusy("confirm");
    try {
      const result = await changeSeats({ seats: c.preview.to, requestId: c.requestId });
      if (result.status === "applied") {
        toast.success(result.message);
        setAwaiting({ from: c.preview.from, to: result.seats });
        setDraft(null);
        setConfirming(null);
      } else if (result.status === "requires_action") {
        toast.warning(result.message, result.hostedInvoiceUrl ? { action: { label: "Pay invoice", onClick: () => window.location.assign(result.hostedInvoiceUrl!) } } : {});
        setConfirming(null);
      } else if (result.status === "payment_failed") {
        toast.error(result.message);
        setConfirming(null);
      } else {
        toast.info(result.message);
        setConfirming(null);
      }
    } catch (e) {
      const human = humanizeError(e);
      toast.error(human.title, { description: human.description });
    } finally {
      setBusy(null);
    }
  };

  return (
    <Frame
      pill={
        <span className={`pill ${view.overCapacity ? "pill-warning" : "pill-muted"}`} data-testid="seats-count">
          {seatsLabel(view.seats)}
        </span>
      }
    >
      <dl className="seats-facts" data-testid="seats-facts">
        <div>
          <dt>Seats</dt>
          <dd data-testid="seats-current">{view.seats}</dd>
        </div>
        <div>
          <dt>Members</dt>
          <dd data-testid="seats-members">{view.members}</dd>
        </div>
        <div>
          <dt>Tokens this period</dt>
          <dd data-testid="seats-allowance">{tokens(view.windowAllowance)}</dd>
        </div>
      </dl>
      {view.paidSeats !== null && view.paidSeats > view.seats ? (
        <p className="muted" data-testid="seats-paid-note">
          You keep the allowance of {seatsLabel(view.paidSeats)} until this period ends.
        </p>
      ) : null}
      {view.overCapacity ? (
        <p className="banner banner-warning" role="status" data-testid="seats-over-capacity">
          {membersLabel(view.members)}, {seatsLabel(view.seats)}: add {seatsLabel(view.members - view.seats)} to cover everyone.
        </p>
      ) : null}
      {view.blocked ? (
        <p className="muted" role="note" data-testid="seats-blocked">
          {view.blocked}
        </p>
      ) : null}
      {pending ? (
        <p className="muted" role="status" data-testid="seats-updating">
          Updating to {seatsLabel(awaiting?.to ?? view.seats)}… the seats and their tokens appear once Stripe confirms the payment.
        </p>
      ) : null}

      {chosen ? (
        <>
          <div className="seats-stepper" role="group" aria-label="Number of seats">
            <button type="button" className="button button-secondary" aria-label="One seat fewer" disabled={disabled || target <= min} onClick={() => pick(target - 1)} data-testid="seats-minus">
              −
            </button>
            <label className="field">
              <span className="sr-only">Seats</span>
              <input
                type="number"
                inputMode="numeric"
                min={min}
                max={max}
                step={1}
                value={Number.isNaN(target) ? "" : target}
                disabled={disabled}
                onChange={(e) => pick(e.target.value === "" ? Number.NaN : Number(e.target.value))}
                data-testid="seats-input"
              />
            </label>
            <button type="button" className="button button-secondary" aria-label="One seat more" disabled={disabled || target >= max} onClick={() => pick(target + 1)} data-testid="seats-plus">
              +
            </button>
            <span className="muted">
              {min}–{max} seats · each adds {tokens(view.allowancePerExtraSeat)} a month
            </span>
          </div>
          {!valid ? (
            <p className="seats-error-text" role="alert" data-testid="seats-invalid">
              {target < min && view.members > view.min
                ? `Keep at least ${seatsLabel(min)}: your organisation has ${membersLabel(view.members)}.`
                : `Choose between ${min} and ${max} seats.`}
            </p>
          ) : null}
          {error ? (
            <p className="seats-error-text" role="alert" data-testid="seats-error">
              {error}
            </p>
          ) : null}
          {confirming ? (
            <PreviewPanel
              preview={confirming.preview}
              busy={busy === "confirm"}
              onConfirm={() => void confirm(confirming)}
              onCancel={() => setConfirming(null)}
            />
          ) : (
            <div className="actions">
              <button
                type="button"
                className="button button-primary"
                disabled={disabled || !valid || target === view.seats}
                aria-busy={busy === "preview"}
                onClick={() => void preview()}
                data-testid="seats-preview"
              >
                {busy === "preview" ? "Calculating…" : "Preview"}
              </button>
            </div>
          )}
        </>
      ) : (
        <p className="muted" data-testid="seats-follow-members">
          Seats follow your member count: adding or removing a member updates them, and the change is prorated on your invoice.
        </p>
      )}
    </Frame>
  );
}

function PreviewPanel({ preview, busy, onConfirm, onCancel }: { preview: SeatPreview; busy: boolean; onConfirm: () => void; onCancel: () => void }) {
  const money = (amount: number) => formatMoney(amount, preview.currency);
  const increase = preview.kind === "increase";
  return (
    <div className="stack seats-preview" role="region" aria-label="Seat change preview" data-testid="seats-preview-panel">
      <p>
        <strong>
          {seatsLabel(preview.from)} → {seatsLabel(preview.to)}
        </strong>
      </p>
      <dl className="seats-facts">
        <div>
          <dt>Due now</dt>
          <dd data-testid="seats-due-now">{money(preview.dueNow)}</dd>
        </div>
        <div>
          <dt>Next invoice, {formatDate(preview.nextInvoiceAt)}</dt>
          <dd data-testid="seats-next-invoice">{money(preview.nextInvoiceAmount)}</dd>
        </div>
        <div>
          <dt>Tokens a month</dt>
          <dd data-testid="seats-allowance-after">
            {tokens(preview.allowanceBefore)} → {tokens(preview.allowanceAfter)}
          </dd>
        </div>
      </dl>
      <p className="muted fine-print" data-testid="seats-preview-note">
        {increase
          ? `Prorated for the rest of this period${preview.prorationCredit > 0 ? ` (includes ${formatCredit(preview.prorationCredit, preview.currency)} for the unused time of your current seats)` : ""}. Your card is charged ${money(preview.dueNow)} now; the new seats and their tokens arrive once it is paid. Then ${seatsLabel(preview.to)} at ${money(preview.unitAmount)} each.`
          : `Nothing is charged or credited now; you keep this period's tokens. From the next invoice you pay for ${seatsLabel(preview.to)} at ${money(preview.unitAmount)} each.`}
      </p>
      <div className="actions">
        <button type="button" className="button button-primary" disabled={busy} aria-busy={busy} onClick={onConfirm} data-testid="seats-confirm">
          {busy ? "Confirming…" : increase ? `Pay ${money(preview.dueNow)} and add seats` : `Remove ${seatsLabel(preview.from - preview.to)}`}
        </button>
        <button type="button" className="button button-secondary" disabled={busy} onClick={onCancel} data-testid="seats-cancel">
          Cancel
        </button>
      </div>
    </div>
  );
}
