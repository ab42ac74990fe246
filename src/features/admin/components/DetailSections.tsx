import type { ReactNode } from "react";
import { EmptyState } from "@/src/components/EmptyState";
import { formatCount, formatDate, formatMoney } from "@/src/lib/format";
import { formatDateTime, statusLabel } from "../lib/format";
import type { AccountDetail } from "../lib/types";
import { StatusPill } from "./Pill";

function Section({ id, title, testId, children }: { id: string; title: string; testId: string; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={id} data-testid={testId}>
      <div className="card-head">
        <h2 id={id}>{title}</h2>
      </div>
      {children}
    </section>
  );
}

/**
 * The account detail's bounded lists (`admin.accountDetail`): subscription
 * and scheduled change, invoices, grants, open holds, the Stripe events for
 * the customer with their queue status, and the notifications sent.
 */
export function DetailSections({ detail }: { detail: AccountDetail }) {
  const { subscription, scheduledChange } = detail;
  return (
    <>
      <div className="grid-2">
        <Section id="admin-sub-title" title="Subscription" testId="admin-subscription">
          {subscription ? (
            <dl className="facts">
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusPill status={subscription.status} testId="admin-subscription-status" />
                </dd>
              </div>
              <div>
                <dt>Plan</dt>
                <dd data-testid="admin-subscription-plan">
                  {statusLabel(subscription.tier)}
                  {subscription.interval ? ` (${subscription.interval}ly)` : ""}
                  {subscription.quantity > 1 ? ` × ${formatCount(subscription.quantity)}` : ""}
                </dd>
              </div>
              <div>
                <dt>{subscription.cancelAtPeriodEnd ? "Ends" : "Renews"}</dt>
                <dd>{subscription.currentPeriodEnd ? formatDate(subscription.currentPeriodEnd) : "—"}</dd>
              </div>
              <div>
                <dt>Stripe id</dt>
                <dd>
                  <code className="admin-id">{subscription.stripeSubscriptionId}</code>
                </dd>
              </div>
            </dl>
          ) : (
            <EmptyState title="No subscription" testId="admin-subscription-empty" />
          )}
        </Section>
        <Section id="admin-change-title" title="Scheduled change" testId="admin-scheduled-change">
          {scheduledChange ? (
            <p data-testid="admin-scheduled-change-text">
              To {statusLabel(scheduledChange.tier)}
              {scheduledChange.interval ? ` (${scheduledChange.interval}ly)` : ""} on {formatDate(scheduledChange.effectiveAt)}
              {scheduledChange.pendingPayment ? " · waits for its invoice to be paid" : ""}
            </p>
          ) : (
            <EmptyState title="Nothing scheduled" testId="admin-scheduled-change-empty" />
          )}
        </Section>
      </div>

      <Section id="admin-invoices-title" title="Invoices" testId="admin-invoices">
        {detail.invoices.length === 0 ? (
          <EmptyState title="No invoices" testId="admin-invoices-empty" />
        ) : (
          <div className="table-wrap">
            <table className="table admin-table">
              <caption className="sr-only">Latest invoices</caption>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Invoice</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Due
                  </th>
                  <th scope="col" className="num">
                    Paid
                  </th>
                </tr>
              </thead>
              <tbody>
                {detail.invoices.map((invoice) => (
                  <tr key={invoice.stripeInvoiceId} data-testid="admin-invoice-row">
                    <td data-label="Created">{formatDate(invoice.created)}</td>
                    <td data-label="Invoice">
                      {invoice.hostedInvoiceUrl ? (
                        <a href={invoice.hostedInvoiceUrl} target="_blank" rel="noreferrer">
                          {invoice.number ?? invoice.stripeInvoiceId}
                        </a>
                      ) : (
                        <code className="admin-id">{invoice.number ?? invoice.stripeInvoiceId}</code>
                      )}
                      {invoice.billingReason ? <span className="admin-subline muted">{statusLabel(invoice.billingReason)}</span> : null}
                    </td>
                    <td data-label="Status">
                      <StatusPill status={invoice.status} />
                    </td>
                    <td data-label="Due" className="num">
                      {formatMoney(invoice.amountDue, invoice.currency)}
                    </td>
                    <td data-label="Paid" className="num">
                      {formatMoney(invoice.amountPaid, invoice.currency)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <div className="grid-2">
        <Section id="admin-grants-title" title="Grants" testId="admin-grants">
          {detail.grants.length === 0 ? (
            <EmptyState title="No grants" testId="admin-grants-empty" />
          ) : (
            <div className="table-wrap">
              <table className="table admin-table">
                <caption className="sr-only">Token grants</caption>
                <thead>
                  <tr>
                    <th scope="col">Category</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">
                      Left / granted
                    </th>
                    <th scope="col">Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.grants.map((grant) => (
                    <tr key={grant.grantId} data-testid="admin-grant-row" data-category={grant.category}>
                      <td data-label="Category">
                        {statusLabel(grant.category)}
                        {grant.note ? <span className="admin-subline muted">{grant.note}</span> : null}
                      </td>
                      <td data-label="Status">
                        <StatusPill status={grant.status} />
                      </td>
                      <td data-label="Left / granted" className="num">
                        {formatCount(grant.remaining)} / {formatCount(grant.amount)}
                      </td>
                      <td data-label="Expires">{grant.expiresAt ? formatDate(grant.expiresAt) : "Never"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>
        <Section id="admin-holds-title" title="Open holds" testId="admin-holds">
          {detail.holds.length === 0 ? (
            <EmptyState title="No open holds" testId="admin-holds-empty" />
          ) : (
            <div className="table-wrap">
              <table className="table admin-table">
                <caption className="sr-only">Open token holds</caption>
                <thead>
                  <tr>
                    <th scope="col">Feature</th>
                    <th scope="col" className="num">
                      Tokens
                    </th>
                    <th scope="col">Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.holds.map((hold) => (
                    <tr key={hold.holdId} data-testid="admin-hold-row">
                      <td data-label="Feature">{hold.feature}</td>
                      <td data-label="Tokens" className="num">
                        {formatCount(hold.amount)}
                      </td>
                      <td data-label="Expires">{formatDateTime(hold.expiresAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Section>
      </div>

      <div className="grid-2">
        <Section id="admin-events-title" title="Stripe events" testId="admin-events">
          {detail.events.length === 0 ? (
            <EmptyState title="No Stripe events for this customer" testId="admin-events-empty" />
          ) : (
            <ul className="admin-list">
              {detail.events.map((event) => (
                <li key={event.eventId} data-testid="admin-event-row" data-status={event.status}>
                  <div className="admin-list-head">
                    <span>{event.type}</span>
                    <StatusPill status={event.status} />
                  </div>
                  <span className="admin-subline muted">
                    <code className="admin-id">{event.eventId}</code> · {formatDateTime(event.receivedAt)}
                  </span>
                  {event.waitingFor ? <span className="admin-subline muted">Waiting for {event.waitingFor}</span> : null}
                  {event.lastError ? (
                    <span className="admin-subline admin-error-text">
                      {event.lastError}
                      {event.attempts > 1 ? ` (after ${formatCount(event.attempts)} attempts)` : ""}
                    </span>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section id="admin-notifications-title" title="Notifications sent" testId="admin-notifications">
          {detail.notifications.length === 0 ? (
            <EmptyState title="No notifications sent" testId="admin-notifications-empty" />
          ) : (
            <ul className="admin-list">
              {detail.notifications.map((n) => (
                <li key={`${n.kind}-${n._creationTime}`} data-testid="admin-notification-row">
                  <div className="admin-list-head">
                    <span>{n.title}</span>
                    <span className={`pill ${n.readAt ? "pill-muted" : "pill-info"}`}>{n.readAt ? "Read" : "Unread"}</span>
                  </div>
                  <span className="admin-subline muted">
                    {statusLabel(n.kind)} · {formatDateTime(n._creationTime)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </Section>
      </div>
    </>
  );
}
