/**
 * InvoiceList's lines disclosure (issue 12, "Usage invoices"): an invoice
 * with stored lines can be expanded to show them — description, quantity,
 * amount in the invoice's currency, usage lines badged; one without lines
 * has no disclosure.
 */
import { screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvoiceList } from "@/src/features/billing/components/InvoiceList";
import { formatCredit, formatMoney } from "@/src/lib/format";
import type { InvoiceView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { invoiceView } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function invoice(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return invoiceView({ billingReason: "subscription_cycle", amountDue: 5780, amountPaid: 5780, total: 5780, ...overrides });
}

const monthly = invoice({
  lines: [
    { description: "1 × Pro (at $29.00 / month)", quantity: 1, amount: 2900 },
    { description: "Overage tokens (2,400 × $0.012)", quantity: 2400, amount: 2880, usage: true },
  ],
});

beforeEach(() => fake.reset());
afterEach(() => vi.restoreAllMocks());

describe("invoice lines", () => {
  it("expands an invoice to its lines: description, quantity, amount, usage badged", async () => {
    fake.setQuery("billing:invoices", [monthly]);
    const { user } = renderApp(<InvoiceList />);

    const toggle = screen.getByTestId("invoice-lines-ABC-0001");
    expect(toggle).toHaveAccessibleName("Show lines of invoice ABC-0001");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    const panel = screen.getByTestId("invoice-lines-panel-ABC-0001");
    expect(toggle).toHaveAttribute("aria-controls", panel.id);
    expect(panel).not.toBeVisible();

    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(toggle).toHaveAccessibleName("Hide lines of invoice ABC-0001");
    expect(panel).toBeVisible();
    const table = within(panel).getByRole("table", { name: "Lines of invoice ABC-0001" });
    const [base, usage] = within(table).getAllByTestId("invoice-line");
    expect(within(base!).getByText("1 × Pro (at $29.00 / month)")).toBeInTheDocument();
    expect(within(base!).getByTestId("invoice-line-quantity")).toHaveTextContent(/^1$/);
    expect(within(base!).getByTestId("invoice-line-amount").textContent).toBe(formatMoney(2900, "usd"));
    expect(within(base!).queryByTestId("invoice-line-usage")).toBeNull();

    expect(usage).toHaveAttribute("data-usage", "true");
    expect(within(usage!).getByTestId("invoice-line-usage")).toHaveTextContent("usage");
    expect(within(usage!).getByTestId("invoice-line-quantity")).toHaveTextContent(new Intl.NumberFormat().format(2400));
    expect(within(usage!).getByTestId("invoice-line-amount").textContent).toBe(formatMoney(2880, "usd"));

    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(panel).not.toBeVisible();
  });

  it("formats amounts in the invoice's currency, credits with a minus sign, and leaves a missing quantity blank", async () => {
    fake.setQuery("billing:invoices", [
      invoice({
        id: "in_eur",
        number: null,
        status: "draft",
        currency: "eur",
        lines: [
          { description: "Unused time on Pro", amount: -1450 },
          { description: "Remaining time on Elite", quantity: 1, amount: 4950 },
        ],
      }),
    ]);
    const { user } = renderApp(<InvoiceList />);
    // A draft has no number: the disclosure is named by the invoice id.
    const toggle = screen.getByTestId("invoice-lines-in_eur");
    expect(toggle).toHaveAccessibleName("Show lines of draft invoice");
    await user.click(toggle);
    const [credit, charge] = screen.getAllByTestId("invoice-line");
    expect(within(credit!).getByTestId("invoice-line-amount").textContent).toBe(formatCredit(-1450, "eur"));
    expect(within(credit!).getByTestId("invoice-line-quantity")).toBeEmptyDOMElement();
    expect(within(charge!).getByTestId("invoice-line-amount").textContent).toBe(
      new Intl.NumberFormat(undefined, { style: "currency", currency: "EUR" }).format(49.5),
    );
  });

  it("each invoice opens on its own; an invoice without stored lines has no disclosure", async () => {
    fake.setQuery("billing:invoices", [
      monthly,
      invoice({ id: "in_2", number: "ABC-0002", lines: [{ description: "1 × Starter", quantity: 1, amount: 900 }] }),
      invoice({ id: "in_old", number: "ABC-0000" }),
      invoice({ id: "in_empty", number: "ABC-000E", lines: [] }),
    ]);
    const { user } = renderApp(<InvoiceList />);
    const rows = screen.getAllByTestId("invoice-row");
    expect(rows).toHaveLength(4);
    expect(within(rows[2]!).queryByRole("button")).toBeNull();
    expect(within(rows[3]!).queryByRole("button")).toBeNull();
    expect(screen.queryByTestId("invoice-lines-panel-ABC-0000")).toBeNull();

    await user.click(screen.getByTestId("invoice-lines-ABC-0002"));
    expect(screen.getByTestId("invoice-lines-panel-ABC-0002")).toBeVisible();
    expect(screen.getByTestId("invoice-lines-panel-ABC-0001")).not.toBeVisible();
    expect(screen.getByTestId("invoice-lines-ABC-0001")).toHaveAttribute("aria-expanded", "false");
  });
});
