/** Prices an invoice's lines: its discounts and automatic tax (billing/totals.ts), and the customer's address and tax ids as the invoice shows them. */
import type Stripe from "stripe";
import type { SimContext } from "../context.ts";
import { customerTaxIds, customerTaxRule } from "./tax.ts";
import { computeTotals, writeInvoiceTotals, type AppliedDiscount } from "./totals.ts";

/**
 * Applies `discounts` and, with `automaticTax`, the customer's tax
 * (billing/tax.ts; no tax and `automatic_tax.status: requires_location_inputs`
 * when the customer has no address country) to `invoice`, in place.
 */
export function priceInvoice(
  ctx: SimContext,
  invoice: Stripe.Invoice,
  customer: Stripe.Customer,
  opts: { discounts: AppliedDiscount[]; automaticTax: boolean },
): void {
  const rule = opts.automaticTax ? customerTaxRule(ctx, customer) : null;
  const lines = invoice.lines.data.map((l) => ({ amount: l.amount, discountable: l.discountable }));
  writeInvoiceTotals(invoice, computeTotals(lines, opts.discounts, invoice.currency, rule), rule);
  invoice.customer_address = customer.address ?? null;
  invoice.customer_tax_ids = customerTaxIds(ctx, customer.id).map((t) => ({ type: t.type, value: t.value }));
  if (opts.automaticTax) {
    invoice.automatic_tax = {
      disabled_reason: null,
      enabled: true,
      liability: { type: "self" },
      provider: "stripe",
      status: rule ? "complete" : "requires_location_inputs",
    };
  }
}

/** The ids of discounts that took something off `invoice` (a `once` coupon is used up by these). */
export function discountsThatApplied(invoice: Stripe.Invoice): string[] {
  return (invoice.total_discount_amounts ?? []).filter((d) => d.amount > 0).map((d) => (typeof d.discount === "string" ? d.discount : d.discount.id));
}
