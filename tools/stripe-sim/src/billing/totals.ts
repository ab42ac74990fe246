/**
 * Discounts and tax on an amount breakdown, shared by invoices, previews and
 * Checkout Sessions so all three agree. Amounts are integer minor units.
 *
 * Order, as Stripe: subtotal (line amounts) − discounts (each coupon in turn
 * on what is left of every discountable line) = total excluding tax; tax is
 * exclusive, per line on its discounted amount (billing/tax.ts); total =
 * total excluding tax + tax.
 */
import type Stripe from "stripe";
import type { SimContext } from "../context.ts";
import { taxOf, type TaxRule } from "./tax.ts";

/** A discount and its coupon. */
export type AppliedDiscount = { discount: Stripe.Discount; coupon: Stripe.Coupon };

export type LineTotals = { discounts: { discount: string; amount: number }[]; taxable: number; tax: number };

export type Totals = {
  subtotal: number;
  discountTotals: { discount: string; amount: number }[];
  totalExcludingTax: number;
  tax: number;
  total: number;
  lines: LineTotals[];
};

/** What a coupon takes off `currency` amounts: a fraction (percent) or a fixed amount (`null` when the coupon has no amount in that currency). */
function couponOff(coupon: Stripe.Coupon, currency: string): { percent: number } | { amount: number } | null {
  if (coupon.percent_off !== null) return { percent: coupon.percent_off };
  if (coupon.amount_off === null) return null;
  if (coupon.currency === currency) return { amount: coupon.amount_off };
  const option = coupon.currency_options?.[currency];
  return option ? { amount: option.amount_off } : null;
}

/** Splits `amount` over `bases` in proportion (floors, the rest to the largest base). */
function allocate(amount: number, bases: number[]): number[] {
  const sum = bases.reduce((s, b) => s + b, 0);
  if (sum <= 0) return bases.map(() => 0);
  const shares = bases.map((b) => Math.floor((amount * b) / sum));
  const rest = amount - shares.reduce((s, x) => s + x, 0);
  const largest = bases.indexOf(Math.max(...bases));
  shares[largest] = (shares[largest] ?? 0) + rest;
  return shares;
}

/**
 * Applies `discounts` then `tax` to `lines` (`amount` minor units,
 * `discountable` false for prorations). Percent discounts round per line half
 * up; an amount-off coupon is capped at what is left and split in proportion.
 */
export function computeTotals(
  lines: { amount: number; discountable: boolean }[],
  discounts: AppliedDiscount[],
  currency: string,
  tax: TaxRule | null,
): Totals {
  const left = lines.map((l) => l.amount);
  const perLine: LineTotals[] = lines.map(() => ({ discounts: [], taxable: 0, tax: 0 }));
  const discountTotals: { discount: string; amount: number }[] = [];
  for (const { discount, coupon } of discounts) {
    const off = couponOff(coupon, currency);
    if (!off) continue;
    const bases = lines.map((l, i) => (l.discountable ? Math.max(left[i] ?? 0, 0) : 0));
    const cut =
      "percent" in off
        ? bases.map((b) => Math.floor((b * off.percent) / 100 + 0.5))
        : allocate(Math.min(off.amount, bases.reduce((s, b) => s + b, 0)), bases);
    let total = 0;
    cut.forEach((amount, i) => {
      if (amount <= 0) return;
      left[i] = (left[i] ?? 0) - amount;
      perLine[i]?.discounts.push({ discount: discount.id, amount });
      total += amount;
    });
    discountTotals.push({ discount: discount.id, amount: total });
  }
  for (const [i, line] of perLine.entries()) {
    line.taxable = left[i] ?? 0;
    line.tax = tax ? taxOf(line.taxable, tax.percent) : 0;
  }
  const subtotal = lines.reduce((s, l) => s + l.amount, 0);
  const totalExcludingTax = left.reduce((s, x) => s + x, 0);
  const taxTotal = perLine.reduce((s, l) => s + l.tax, 0);
  return { subtotal, discountTotals, totalExcludingTax, tax: taxTotal, total: totalExcludingTax + taxTotal, lines: perLine };
}

/** The coupon behind a discount (deleted coupons included). */
export function couponOf(ctx: SimContext, discount: Stripe.Discount): Stripe.Coupon | null {
  const id = typeof discount.source.coupon === "string" ? discount.source.coupon : (discount.source.coupon?.id ?? "");
  return ctx.store.state.coupons[id] ?? ctx.store.state.deletedCoupons[id] ?? null;
}

/** One `total_taxes` / line `taxes` entry. */
export function taxEntry(amount: number, taxable: number, rule: TaxRule): Stripe.Invoice.TotalTax {
  return {
    amount,
    tax_behavior: "exclusive",
    tax_rate_details: { tax_rate: rule.taxRate },
    taxability_reason: rule.reason,
    taxable_amount: taxable,
    type: "tax_rate_details",
  };
}

/**
 * Writes `totals` onto `invoice`: line `discount_amounts`, `discounts`,
 * `taxes`; invoice `discounts`, `total_discount_amounts`, `total_taxes`,
 * `subtotal`, `total_excluding_tax`, `total`, and `amount_due` /
 * `amount_remaining` after the customer balance (`starting_balance`).
 */
export function writeInvoiceTotals(invoice: Stripe.Invoice, totals: Totals, tax: TaxRule | null): void {
  invoice.lines.data.forEach((line, i) => {
    const t = totals.lines[i];
    if (!t) return;
    line.discount_amounts = t.discounts;
    line.discounts = t.discounts.map((d) => d.discount);
    line.taxes = tax ? [taxEntry(t.tax, t.taxable, tax)] : [];
  });
  invoice.discounts = totals.discountTotals.map((d) => d.discount);
  invoice.total_discount_amounts = totals.discountTotals;
  invoice.total_taxes = tax ? [taxEntry(totals.tax, totals.totalExcludingTax, tax)] : [];
  invoice.subtotal = totals.subtotal;
  invoice.subtotal_excluding_tax = totals.subtotal;
  invoice.total_excluding_tax = totals.totalExcludingTax;
  invoice.total = totals.total;
  // A credit balance (negative) pays first; a debt is added; a negative total is never due.
  const due = totals.total < 0 ? 0 : Math.max(totals.total + invoice.starting_balance, 0);
  invoice.amount_due = due;
  invoice.amount_remaining = due;
}
