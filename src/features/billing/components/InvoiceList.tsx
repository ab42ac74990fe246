import { useId, useState } from "react";
import { useQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount, formatCredit, formatDate, formatMoney } from "@/src/lib/format";
import type { InvoiceLineView, InvoiceView } from "@/src/features/billing/lib/types";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

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

/** A line's amount: a credit or proration (negative) with a real minus sign. */
function lineAmount(line: InvoiceLineView, currency: string): string {
  return line.amount < 0 ? formatCredit(line.amount, currency) : formatMoney(line.amount, currency);
}

/**
 * The totals under an invoice's lines, in its currency: Subtotal, then
 * Discount (−) and Tax when the invoice has them, "Tax included" for
 * inclusive tax, and Total. They add up: subtotal − discount + tax = total
 * (the subtotal is the total when Stripe applied neither).
 */
function InvoiceTotals({ invoice }: { invoice: InvoiceView }) {
  const { currency } = invoice;
  const signed = (amount: number) => (amount < 0 ? formatCredit(amount, currency) : formatMoney(amount, currency));
  const rows: Array<{ label: string; value: string; testId: string; total?: boolean }> = [
    { label: "Subtotal", value: signed(invoice.subtotal ?? invoice.total), testId: "invoice-subtotal" },
  ];
  if (invoice.discount) rows.push({ label: "Discount", value: formatCredit(invoice.discount, currency), testId: "invoice-discount" });
  if (invoice.tax) rows.push({ label: "Tax", value: formatMoney(invoice.tax, currency), testId: "invoice-tax" });
  if (invoice.taxIncluded) {
    rows.push({ label: "Tax included", value: formatMoney(invoice.taxIncluded, currency), testId: "invoice-tax-included" });
  }
  rows.push({ label: "Total", value: signed(invoice.total), testId: "invoice-total", total: true });
  return (
    <tfoot>
      {rows.map((row) => (
        <tr key={row.testId} className={row.total ? "invoice-totals-total" : "invoice-totals-row"}>
          <th scope="row" colSpan={2} className="num">
            {row.label}
          </th>
          <td className="num" data-testid={row.testId}>
            {row.value}
          </td>
        </tr>
      ))}
    </tfoot>
  );
}

/** Whether an invoice has something to show under "Show lines": its lines, or a discount or tax. */
function hasDetails(invoice: InvoiceView): boolean {
  return (invoice.lines?.length ?? 0) > 0 || Boolean(invoice.discount || invoice.tax || invoice.taxIncluded);
}

/** Columns of the invoices table: the lines row spans them all. */
const INVOICE_COLUMNS = 5;

/**
 * One invoice: its row and, when it has stored lines or a discount or tax, a
 * "Lines" disclosure (`invoice-lines-<number or id>`) that shows them below
 * the row as a small table — description (usage lines badged), quantity,
 * amount in the invoice's currency — with the totals under it (`InvoiceTotals`:
 * `invoice-subtotal`, `invoice-discount`, `invoice-tax`, `invoice-total`).
 */
function InvoiceRows({ invoice }: { invoice: InvoiceView }) {
  const [expanded, setExpanded] = useState(false);
  const panelId = useId();
  const description = invoiceDescription(invoice);
  const credit = invoice.total < 0;
  const lines = invoice.lines ?? [];
  const details = hasDetails(invoice);
  const key = invoice.number ?? invoice.id;
  // The accessible name starts with the visible text, then says which invoice.
  const toggleText = expanded ? "Hide lines" : "Show lines";
  return (
    <>
      <tr data-testid="invoice-row" data-invoice-id={invoice.id} data-kind={invoice.kind}>
        <td data-label="Invoice">
          {invoice.number ?? "Draft"}
          {description ? (
            <span className="invoice-description muted" data-testid="invoice-description">
              {description}
            </span>
          ) : null}
          {details ? (
            <button
              type="button"
              className="button button-ghost invoice-lines-toggle"
              aria-expanded={expanded}
              aria-controls={panelId}
              aria-label={`${toggleText} of ${invoiceLabel(invoice)}`}
              onClick={() => setExpanded((open) => !open)}
              data-testid={`invoice-lines-${key}`}
            >
              {toggleText}
            </button>
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
      {details ? (
        <tr className="invoice-lines-row" id={panelId} hidden={!expanded} data-testid={`invoice-lines-panel-${key}`}>
          <td colSpan={INVOICE_COLUMNS}>
            <table className="table invoice-lines">
              <caption className="sr-only">Lines of {invoiceLabel(invoice)}</caption>
              <thead>
                <tr>
                  <th scope="col">Description</th>
                  <th scope="col" className="num">
                    Quantity
                  </th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                </tr>
              </thead>
              <tbody>
                {lines.map((line, index) => (
                  <tr key={index} data-testid="invoice-line" data-usage={line.usage || undefined}>
                    <td data-label="Description">
                      {line.description}
                      {line.usage ? (
                        <span className="pill pill-info invoice-line-usage" data-testid="invoice-line-usage">
                          usage
                        </span>
                      ) : null}
                    </td>
                    <td data-label="Quantity" className="num" data-testid="invoice-line-quantity">
                      {line.quantity === undefined ? "" : formatCount(line.quantity)}
                    </td>
                    <td data-label="Amount" className="num" data-testid="invoice-line-amount">
                      {lineAmount(line, invoice.currency)}
                    </td>
                  </tr>
                ))}
              </tbody>
              <InvoiceTotals invoice={invoice} />
            </table>
          </td>
        </tr>
      ) : null}
    </>
  );
}

/**
 * The last invoices (billing.invoices, newest first) with links to Stripe's
 * hosted page and PDF; each invoice with stored lines can be expanded to
 * show them.
 */
export function InvoiceList({ limit = 6 }: { limit?: number }) {
  const invoices = useQuery(api.billing.invoices, { limit });
  // Members get [] from the server (adminQuery): say why rather than "no invoices".
  const member = useIsOrgMember();
  return (
    <section className="card" aria-labelledby="invoices-title">
      <h2 id="invoices-title">Invoices</h2>
      {member ? (
        <AdminOnlyNote detail="Invoices and payment details are visible to organisation admins only." testId="invoices-admin-only" />
      ) : invoices === undefined ? (
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
                <InvoiceRows key={invoice.id} invoice={invoice} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
