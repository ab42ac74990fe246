import { useQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCredit, formatDate, formatMoney } from "@/src/lib/format";
import type { InvoiceView } from "@/src/features/billing/lib/types";

const STATUS_TONE: Record<string, string> = {
  paid: "success",
  open: "warning",
  draft: "muted",
  uncollectible: "danger",
  void: "muted",
};

/**
 * What the row's amount column shows: a credit invoice (total < 0) as
 * "Credit −$15.00"; an invoice paid partly or fully from credit at its total;
 * else the amount paid once paid, or what is due.
 */
function invoiceAmount(invoice: InvoiceView): string {
  if (invoice.total < 0) return `Credit ${formatCredit(invoice.total, invoice.currency)}`;
  if (invoice.creditApplied > 0) return formatMoney(invoice.total, invoice.currency);
  return formatMoney(invoice.status === "paid" ? invoice.amountPaid : invoice.amountDue, invoice.currency);
}

/** "Token pack — 100 tokens" for top-up receipts, the description of other one-off invoices, else nothing. */
function invoiceDescription(invoice: InvoiceView): string | null {
  if (invoice.kind === "top_up") return invoice.description ? `Token pack — ${invoice.description}` : "Token pack";
  if (invoice.kind === "other") return invoice.description;
  return null;
}

/** The status pill: a credit invoice added to the balance rather than being paid. */
function statusLabel(invoice: InvoiceView): string {
  if (invoice.total < 0) return "Credit added to balance";
  return invoice.status;
}

/** Screen readers list links out of context: "View" alone does not say which invoice. */
function invoiceLabel(invoice: InvoiceView): string {
  return invoice.number ? `invoice ${invoice.number}` : "draft invoice";
}

/** The last invoices (billing.invoices, newest first) with links to Stripe's hosted page and PDF. */
export function InvoiceList({ limit = 6 }: { limit?: number }) {
  const invoices = useQuery(api.billing.invoices, { limit });
  return (
    <section className="card" aria-labelledby="invoices-title">
      <h2 id="invoices-title">Invoices</h2>
      {invoices === undefined ? (
        <Skeleton lines={3} label="Loading invoices" />
      ) : invoices.length === 0 ? (
        <EmptyState title="No invoices yet" testId="invoices-empty">
          Invoices appear here after your first payment.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Invoice</th>
                <th scope="col">Date</th>
                <th scope="col" className="num">
                  Amount
                </th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Links</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invoices.map((invoice) => {
                const description = invoiceDescription(invoice);
                const credit = invoice.total < 0;
                return (
                  <tr key={invoice.id} data-testid="invoice-row" data-invoice-id={invoice.id} data-kind={invoice.kind}>
                    <td data-label="Invoice">
                      {invoice.number ?? "Draft"}
                      {description ? (
                        <span className="invoice-description muted" data-testid="invoice-description">
                          {description}
                        </span>
                      ) : null}
                    </td>
                    <td data-label="Date">{formatDate(invoice.createdAt)}</td>
                    <td data-label="Amount" className="num">
                      <span data-testid="invoice-amount">{invoiceAmount(invoice)}</span>
                      {invoice.creditApplied > 0 && !credit ? (
                        <span className="invoice-credit muted" data-testid="invoice-credit-applied">
                          paid with {formatMoney(invoice.creditApplied, invoice.currency)} credit
                        </span>
                      ) : null}
                    </td>
                    <td data-label="Status">
                      <span
                        className={`pill${credit ? "" : " capitalize"} pill-${credit ? "info" : (STATUS_TONE[invoice.status] ?? "muted")}`}
                        data-testid="invoice-status"
                        data-status={invoice.status}
                        data-credit={credit || undefined}
                      >
                        {statusLabel(invoice)}
                      </span>
                    </td>
                    <td className="links">
                      {invoice.hostedInvoiceUrl ? (
                        <a href={invoice.hostedInvoiceUrl} target="_blank" rel="noreferrer" aria-label={`View ${invoiceLabel(invoice)} (opens in a new tab)`}>
                          View
                        </a>
                      ) : null}
                      {invoice.invoicePdf ? (
                        <a
                          href={invoice.invoicePdf}
                          target="_blank"
                          rel="noreferrer"
                          aria-label={`Download ${invoiceLabel(invoice)} as PDF (opens in a new tab)`}
                        >
                          PDF
                        </a>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
