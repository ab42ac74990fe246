/**
 * Tax and discounts on screen (issue 12, parts 3 and 4): an invoice's lines
 * panel ends with Subtotal, Discount, Tax and Total in the invoice's currency,
 * adding up to what was charged; the plan-change dialog shows the discount
 * and tax of the upgrade invoice.
 */
import { screen, waitFor, within } from "@testing-library/react";
import { beforeEach, afterEach, describe, expect, it, vi } from "vitest";
import { InvoiceList } from "@/src/features/billing/components/InvoiceList";
import { PlanChangeDialog } from "@/src/features/billing/components/planChange/PlanChangeDialog";
import { formatCredit, formatMoney } from "@/src/lib/format";
import type { InvoiceView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { DAY, NOW, invoiceView, paid } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function invoice(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return invoiceView({ number: "TAX-0001", amountDue: 2552, amountPaid: 2552, total: 2552, invoicePdf: null, lines: [{ description: "1 × Pro (at $29.00 / month)", quantity: 1, amount: 2900 }], ...overrides });
}

/** Parses a formatted amount back to minor units ("$25.52" → 2552, "−$5.80" → -580). */
function minor(text: string | null): number {
  const negative = /^[−-]/.test(text ?? "");
  const digits = (text ?? "").replace(/[^0-9]/g, "");
  return (negative ? -1 : 1) * Number(digits);
}

beforeEach(() => fake.reset());
afterEach(() => vi.restoreAllMocks());

describe("invoice totals", () => {
  it("shows Subtotal, Discount −, Tax and Total that add up to the amount charged", async () => {
    fake.setQuery("billing:invoices", [invoice({ subtotal: 2900, discount: 580, tax: 232 })]);
    const { user } = renderApp(<InvoiceList />);
    await user.click(screen.getByTestId("invoice-lines-TAX-0001"));
    const panel = screen.getByTestId("invoice-lines-panel-TAX-0001");

    const subtotal = within(panel).getByTestId("invoice-subtotal");
    const discount = within(panel).getByTestId("invoice-discount");
    const tax = within(panel).getByTestId("invoice-tax");
    const total = within(panel).getByTestId("invoice-total");
    expect(subtotal.textContent).toBe(formatMoney(2900, "usd"));
    expect(discount.textContent).toBe(formatCredit(580, "usd"));
    expect(discount.textContent).toMatch(/^−/);
    expect(tax.textContent).toBe(formatMoney(232, "usd"));
    expect(total.textContent).toBe(formatMoney(2552, "usd"));
    expect(within(panel).getByRole("rowheader", { name: "Discount" })).toBeInTheDocument();
    expect(within(panel).getByRole("rowheader", { name: "Tax" })).toBeInTheDocument();

    // Honest money: the rows add up to the total, which is what was charged.
    expect(minor(subtotal.textContent) + minor(discount.textContent) + minor(tax.textContent)).toBe(minor(total.textContent));
    expect(screen.getByTestId("invoice-amount").textContent).toBe(total.textContent);
  });

  it("formats them in the invoice's currency", async () => {
    fake.setQuery("billing:invoices", [invoice({ currency: "eur", subtotal: 2900, discount: 290, tax: 522, total: 3132, amountPaid: 3132 })]);
    const { user } = renderApp(<InvoiceList />);
    await user.click(screen.getByTestId("invoice-lines-TAX-0001"));
    expect(screen.getByTestId("invoice-tax").textContent).toBe(formatMoney(522, "eur"));
    expect(screen.getByTestId("invoice-discount").textContent).toBe(formatCredit(290, "eur"));
    expect(screen.getByTestId("invoice-total").textContent).toBe(formatMoney(3132, "eur"));
  });

  it("without discount or tax: Subtotal and Total only, equal", async () => {
    fake.setQuery("billing:invoices", [invoice({ total: 2900, amountDue: 2900, amountPaid: 2900 })]);
    const { user } = renderApp(<InvoiceList />);
    await user.click(screen.getByTestId("invoice-lines-TAX-0001"));
    expect(screen.getByTestId("invoice-subtotal").textContent).toBe(formatMoney(2900, "usd"));
    expect(screen.getByTestId("invoice-total").textContent).toBe(formatMoney(2900, "usd"));
    expect(screen.queryByTestId("invoice-discount")).toBeNull();
    expect(screen.queryByTestId("invoice-tax")).toBeNull();
  });

  it("an invoice with tax but no stored lines still has the disclosure, with the totals", async () => {
    fake.setQuery("billing:invoices", [invoice({ lines: undefined, subtotal: 2900, tax: 290, total: 3190, amountPaid: 3190 })]);
    const { user } = renderApp(<InvoiceList />);
    await user.click(screen.getByTestId("invoice-lines-TAX-0001"));
    expect(screen.getByTestId("invoice-tax").textContent).toBe(formatMoney(290, "usd"));
    expect(screen.getByTestId("invoice-total").textContent).toBe(formatMoney(3190, "usd"));
  });

  it("inclusive tax is shown as included, not added", async () => {
    fake.setQuery("billing:invoices", [invoice({ total: 2900, amountPaid: 2900, taxIncluded: 483 })]);
    const { user } = renderApp(<InvoiceList />);
    await user.click(screen.getByTestId("invoice-lines-TAX-0001"));
    expect(screen.getByTestId("invoice-tax-included").textContent).toBe(formatMoney(483, "usd"));
    expect(screen.queryByTestId("invoice-tax")).toBeNull();
    expect(screen.getByTestId("invoice-total").textContent).toBe(formatMoney(2900, "usd"));
  });
});

describe("plan-change preview", () => {
  const preview = {
    kind: "upgrade",
    tier: "elite",
    interval: "month",
    currency: "usd",
    dueNow: 3080,
    creditApplied: 0,
    prorationCredit: 1450,
    newPlanCharge: 4950,
    otherCharges: 0,
    nextInvoiceAmount: 7920,
    nextInvoiceAt: NOW + 15 * DAY,
    effectiveAt: NOW,
    tokensNow: 350,
    allowanceAfter: 500,
  };

  it("shows the discount and tax of the upgrade invoice", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    fake.setAction("billing:previewPlanChange", () => ({ ...preview, adjustments: { subtotal: 3500, discount: 700, tax: 280, total: 3080 } }));
    renderApp(<PlanChangeDialog target={{ tier: "elite", interval: "month" }} onClose={() => {}} />);
    await waitFor(() => expect(screen.getByTestId("plan-change-discount")).toBeInTheDocument());
    expect(screen.getByTestId("plan-change-discount").textContent).toBe(formatCredit(700, "usd"));
    expect(screen.getByTestId("plan-change-tax").textContent).toBe(formatMoney(280, "usd"));
    expect(screen.getByTestId("plan-change-due-now").textContent).toBe(formatMoney(3080, "usd"));
  });

  it("shows neither without them", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    fake.setAction("billing:previewPlanChange", () => preview);
    renderApp(<PlanChangeDialog target={{ tier: "elite", interval: "month" }} onClose={() => {}} />);
    await waitFor(() => expect(screen.getByTestId("plan-change-due-now")).toBeInTheDocument());
    expect(screen.queryByTestId("plan-change-discount")).toBeNull();
    expect(screen.queryByTestId("plan-change-tax")).toBeNull();
  });
});
