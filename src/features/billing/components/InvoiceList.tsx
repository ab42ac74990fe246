import { useQuery } from "convex/react";
import { api } from "../../../../convex/_generated/api";
import { EmptyState } from "../../../components/EmptyState";
import { Skeleton } from "../../../components/Skeleton";
import { formatDate, formatMoney } from "../../../lib/format";
import type { InvoiceView } from "../../../lib/types";

const STATUS_TONE: Record<string, string> = {
  paid: "success",
  open: "warning",
  draft: "muted",
  uncollectible: "danger",
  void: "muted",
};

/** What the row's amount column shows: the amount paid once paid, else what is due. */
function invoiceAmount(invoice: InvoiceView): number {
  return invoice.status === "paid" ? invoice.amountPaid : invoice.amountDue;
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
              {invoices.map((invoice) => (
                <tr key={invoice.id} data-testid="invoice-row" data-invoice-id={invoice.id}>
                  <td data-label="Invoice">{invoice.number ?? "Draft"}</td>
                  <td data-label="Date">{formatDate(invoice.createdAt)}</td>
                  <td data-label="Amount" className="num" data-testid="invoice-amount">
                    {formatMoney(invoiceAmount(invoice), invoice.currency)}
                  </td>
                  <td data-label="Status">
                    <span className={`pill capitalize pill-${STATUS_TONE[invoice.status] ?? "muted"}`} data-testid="invoice-status" data-status={invoice.status}>
                      {invoice.status}
                    </span>
                  </td>
                  <td className="links">
                    {invoice.hostedInvoiceUrl ? (
                      <a
                        href={invoice.hostedInvoiceUrl}
                        target="_blank"
                        rel="noreferrer"
                        aria-label={`View ${invoiceLabel(invoice)} (opens in a new tab)`}
                      >
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
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
