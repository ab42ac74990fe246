import { usePaginatedQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { generatePath, Link, useSearchParams } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { TIERS, isTier } from "@/convex/billing/model/plans";
import { SUBSCRIPTION_STATUSES } from "@/convex/billing/model/validators";
import { EmptyState } from "@/src/components/EmptyState";
import { LoadMoreButton } from "@/src/components/LoadMoreButton";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount, formatDate, formatMoney } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { statusLabel } from "../lib/format";
import type { AccountFilters, AccountRow } from "../lib/types";
import { StatusPill } from "./Pill";

/** Accounts per page of `admin.listAccounts`. */
export const ACCOUNTS_PAGE_SIZE = 25;

/** The list's filters from the URL (`?q=&tier=&status=&overdue=1`), so Back from an account keeps them. */
export function filtersFromParams(params: URLSearchParams): AccountFilters {
  const filters: AccountFilters = {};
  const q = params.get("q")?.trim();
  if (q) filters.search = q;
  const tier = params.get("tier");
  if (tier && isTier(tier)) filters.tier = tier;
  const status = params.get("status");
  const known = SUBSCRIPTION_STATUSES.find((s) => s === status);
  if (known) filters.status = known;
  if (params.get("overdue") === "1") filters.overdue = true;
  return filters;
}

/**
 * The accounts list (`admin.listAccounts`, one page at a time): search by
 * email, organisation or person name, or Stripe customer id (`cus_…`);
 * filter by tier, subscription status and overdue. Each row links to the
 * account's detail page.
 */
export function AccountsList() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFromParams(params);
  const [draft, setDraft] = useState(filters.search ?? "");
  const { results, status, loadMore } = usePaginatedQuery(api.admin.listAccounts, filters, { initialNumItems: ACCOUNTS_PAGE_SIZE });

  const update = (key: string, value: string | null) => {
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  };
  const onSearch = (event: FormEvent) => {
    event.preventDefault();
    update("q", draft.trim() || null);
  };
  const filtered = Boolean(filters.search || filters.tier || filters.status || filters.overdue);

  return (
    <section className="card" aria-labelledby="admin-accounts-title" data-testid="admin-accounts">
      <div className="card-head">
        <h2 id="admin-accounts-title">Accounts</h2>
      </div>
      <div className="admin-filters">
        <form className="admin-search" role="search" onSubmit={onSearch}>
          <label className="field admin-search-field">
            Search
            <input
              type="search"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              placeholder="Email, organisation name or cus_…"
              data-testid="admin-search"
            />
          </label>
          <button type="submit" className="button button-secondary" data-testid="admin-search-submit">
            Search
          </button>
        </form>
        <label className="field">
          Tier
          <select value={filters.tier ?? ""} onChange={(e) => update("tier", e.target.value || null)} data-testid="admin-filter-tier">
            <option value="">All tiers</option>
            {TIERS.map((tier) => (
              <option key={tier} value={tier}>
                {statusLabel(tier)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Status
          <select value={filters.status ?? ""} onChange={(e) => update("status", e.target.value || null)} data-testid="admin-filter-status">
            <option value="">All statuses</option>
            {SUBSCRIPTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s)}
              </option>
            ))}
          </select>
        </label>
        <label className="checkbox admin-overdue">
          <input
            type="checkbox"
            checked={filters.overdue === true}
            onChange={(e) => update("overdue", e.target.checked ? "1" : null)}
            data-testid="admin-filter-overdue"
          />
          Overdue only
        </label>
      </div>
      {status === "LoadingFirstPage" ? (
        <Skeleton lines={6} label="Loading accounts" />
      ) : results.length === 0 ? (
        <EmptyState title={filtered ? "No accounts match" : "No accounts yet"} testId="admin-accounts-empty">
          {filtered ? "Try another search or clear the filters." : "Accounts appear once someone signs in."}
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table admin-table">
              <caption className="sr-only">Billing accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col">Tier</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Balance
                  </th>
                  <th scope="col" className="num">
                    Overdue
                  </th>
                  <th scope="col">Last invoice</th>
                  <th scope="col">Customer</th>
                </tr>
              </thead>
              <tbody>
                {results.map((row) => (
                  <AccountRowView key={row.accountId} row={row} />
                ))}
              </tbody>
            </table>
          </div>
          <div className="admin-more">
            <p className="muted" data-testid="admin-accounts-count">
              {status === "Exhausted" ? `${formatCount(results.length)} shown, that's all.` : `${formatCount(results.length)} shown.`}
            </p>
            <LoadMoreButton status={status} onLoadMore={() => loadMore(ACCOUNTS_PAGE_SIZE)} testId="admin-accounts-more" />
          </div>
        </>
      )}
    </section>
  );
}

/** The account's display name: its name, else its email, else its owner key. */
export function accountTitle(row: Pick<AccountRow, "name" | "email" | "ownerKey">): string {
  return row.name ?? row.email ?? row.ownerKey;
}

function AccountRowView({ row }: { row: AccountRow }) {
  return (
    <tr data-testid="admin-account-row" data-account-id={row.accountId}>
      <td data-label="Account">
        <Link to={generatePath(ROUTES.adminAccount.path, { accountId: row.accountId })} data-testid="admin-account-link">
          {accountTitle(row)}
        </Link>
        <span className="admin-subline muted">
          {row.kind === "organization" ? "Organisation" : "Personal"}
          {row.email && row.email !== accountTitle(row) ? ` · ${row.email}` : ""}
        </span>
      </td>
      <td data-label="Tier" data-testid="admin-account-tier">
        {statusLabel(row.tier)}
        {row.tierOverride ? (
          <span className="admin-subline muted" data-testid="admin-account-comp">
            Comped{row.tierOverrideUntil ? ` until ${formatDate(row.tierOverrideUntil)}` : ""}
          </span>
        ) : null}
      </td>
      <td data-label="Status">
        <StatusPill status={row.subscriptionStatus} />
      </td>
      <td data-label="Balance" className="num" data-testid="admin-account-balance">
        {formatCount(row.balance)}
      </td>
      <td data-label="Overdue" className="num" data-testid="admin-account-overdue">
        {row.overdueDays === null ? "—" : `${formatCount(row.overdueDays)} ${row.overdueDays === 1 ? "day" : "days"}`}
      </td>
      <td data-label="Last invoice">
        {row.lastInvoice ? (
          <>
            {formatMoney(row.lastInvoice.amountDue, row.lastInvoice.currency)} <StatusPill status={row.lastInvoice.status} />
            <span className="admin-subline muted">{formatDate(row.lastInvoice.created)}</span>
          </>
        ) : (
          <span className="muted">None</span>
        )}
      </td>
      <td data-label="Customer">
        {row.stripeCustomerId ? <code className="admin-id">{row.stripeCustomerId}</code> : <span className="muted">—</span>}
      </td>
    </tr>
  );
}
