import { useQuery } from "convex/react";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { SkeletonCard } from "@/src/components/Skeleton";
import { formatCount, formatDate } from "@/src/lib/format";
import { billingErrorData, humanizeError } from "@/src/lib/errors";
import { ROUTES } from "@/src/lib/routes";
import { statusLabel } from "../lib/format";
import type { AccountDetail } from "../lib/types";
import { accountTitle } from "./AccountsList";
import { ActionDialog, type ActionKind } from "./ActionDialog";
import { AuditLogTable } from "./AuditLogTable";
import { DetailSections } from "./DetailSections";
import { LedgerTable } from "./LedgerTable";
import { StatusPill } from "./Pill";
import { StaffGate } from "./StaffGate";
import "../admin.css";

/** /admin/accounts/:accountId (staff): one account, its billing state, history and the console actions. */
export function AccountDetailPage() {
  const { accountId } = useParams();
  return (
    <StaffGate>
      <div className="stack admin-page">
        <p>
          <Link to={ROUTES.admin.path} className="link" data-testid="admin-back">
            ← All accounts
          </Link>
        </p>
        {accountId ? (
          <ErrorBoundary resetKey={accountId} fallback={(error, reset) => <DetailError error={error} reset={reset} />}>
            <AccountDetailView accountId={accountId} />
          </ErrorBoundary>
        ) : null}
      </div>
    </StaffGate>
  );
}

/** `admin.accountDetail` failed: NOT_FOUND is a wrong or removed account; anything else can be retried. */
function DetailError({ error, reset }: { error: unknown; reset: () => void }) {
  if (billingErrorData(error)?.code === "NOT_FOUND") {
    return (
      <EmptyState title="No such account" testId="admin-account-missing">
        The link may be wrong or the account removed. <Link to={ROUTES.admin.path}>Back to the list</Link>.
      </EmptyState>
    );
  }
  return (
    <div className="error-state card" role="alert" data-testid="error-state">
      <h2>The account failed to load</h2>
      <p className="muted">{humanizeError(error).description ?? "Please try again."}</p>
      <button type="button" className="button button-secondary" onClick={reset}>
        Try again
      </button>
    </div>
  );
}

function AccountDetailView({ accountId }: { accountId: string }) {
  const detail = useQuery(api.admin.accountDetail, { accountId });
  if (detail === undefined) {
    return (
      <>
        <SkeletonCard label="Loading the account" lines={4} />
        <SkeletonCard label="Loading the subscription" lines={3} />
      </>
    );
  }
  return (
    <>
      <AccountHeader detail={detail} />
      <DetailSections detail={detail} />
      <ErrorBoundary>
        <LedgerTable accountId={accountId} />
      </ErrorBoundary>
      <ErrorBoundary>
        <AuditLogTable accountId={accountId} />
      </ErrorBoundary>
    </>
  );
}

const ACTIONS: { kind: ActionKind; label: string; tone?: "danger" }[] = [
  { kind: "grant", label: "Grant tokens" },
  { kind: "debit", label: "Debit tokens", tone: "danger" },
  { kind: "comp", label: "Comp a tier" },
  { kind: "clearComp", label: "Clear comp" },
  { kind: "coupon", label: "Attach coupon" },
  { kind: "resync", label: "Resync from Stripe" },
  { kind: "dunning", label: "Run dunning now" },
  { kind: "freeReset", label: "Force free reset" },
  { kind: "replay", label: "Replay dead events" },
];

function AccountHeader({ detail }: { detail: AccountDetail }) {
  const { account } = detail;
  const [open, setOpen] = useState<ActionKind | null>(null);
  const title = accountTitle(account);
  const hasDead = detail.events.some((e) => e.status === "dead");
  const disabled = (kind: ActionKind): string | null => {
    if (kind === "clearComp" && !account.tierOverride) return "No comp to clear";
    if (kind === "resync" && !account.stripeCustomerId) return "No Stripe customer yet";
    if (kind === "coupon" && !detail.subscription) return "No subscription to discount";
    if (kind === "replay" && !hasDead) return "No dead events";
    return null;
  };
  return (
    <section className="card" aria-labelledby="admin-account-title" data-testid="admin-account">
      <div className="card-head admin-account-head">
        <div>
          <h1 id="admin-account-title" data-testid="admin-account-title">
            {title}
          </h1>
          <p className="muted admin-subline">
            {account.kind === "organization" ? "Organisation" : "Personal"} · <code className="admin-id">{account.ownerKey}</code>
            {account.email && account.email !== title ? ` · ${account.email}` : ""}
          </p>
        </div>
        <StatusPill status={account.subscriptionStatus} testId="admin-account-status" />
      </div>
      <dl className="facts">
        <div>
          <dt>Tier</dt>
          <dd data-testid="admin-detail-tier" data-tier={account.tier}>
            {statusLabel(account.tier)}
          </dd>
        </div>
        <div>
          <dt>Comp</dt>
          <dd data-testid="admin-detail-comp">
            {account.tierOverride
              ? `${statusLabel(account.tierOverride)}${account.tierOverrideUntil ? ` until ${formatDate(account.tierOverrideUntil)}` : ""}`
              : "None"}
          </dd>
        </div>
        <div>
          <dt>Token balance</dt>
          <dd data-testid="admin-detail-balance">{formatCount(account.balance)}</dd>
        </div>
        <div>
          <dt>Overdue</dt>
          <dd data-testid="admin-detail-overdue">
            {account.overdueDays === null ? "No" : `${formatCount(account.overdueDays)} ${account.overdueDays === 1 ? "day" : "days"}`}
          </dd>
        </div>
        <div>
          <dt>Stripe customer</dt>
          <dd>{account.stripeCustomerId ? <code className="admin-id">{account.stripeCustomerId}</code> : "None"}</dd>
        </div>
      </dl>
      <div className="admin-actions" role="group" aria-label="Console actions">
        {ACTIONS.map(({ kind, label, tone }) => {
          const why = disabled(kind);
          return (
            <button
              key={kind}
              type="button"
              className={`button ${tone === "danger" ? "button-ghost admin-danger" : "button-secondary"}`}
              onClick={() => setOpen(kind)}
              disabled={why !== null}
              title={why ?? undefined}
              data-testid={`admin-action-${kind}`}
            >
              {label}
            </button>
          );
        })}
      </div>
      {open ? <ActionDialog kind={open} target={{ accountId: account.accountId, label: title }} onClose={() => setOpen(null)} /> : null}
    </section>
  );
}
