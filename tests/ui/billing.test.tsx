import { screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router-dom";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BillingPage } from "@/src/features/billing/components/BillingPage";
import { browser } from "@/src/features/billing/lib/browser";
import { formatDate } from "@/src/lib/format";
import type { InvoiceView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { DAY, NOW, balance, invoiceView, paid, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function invoice(overrides: Partial<InvoiceView> = {}): InvoiceView {
  return invoiceView(overrides);
}

beforeEach(() => {
  fake.reset();
  sessionStorage.clear();
  fake.setQuery("tokens:balance", balance());
  fake.setQuery("billing:invoices", []);
});
afterEach(() => vi.restoreAllMocks());

describe("subscription manager", () => {
  it("shows tier, status, interval and renewal date", () => {
    fake.setQuery("billing:subscription", paid("pro", { interval: "year" }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("subscription-tier")).toHaveTextContent("Pro");
    expect(screen.getByTestId("subscription-status")).toHaveTextContent("Active");
    expect(screen.getByTestId("subscription-interval")).toHaveTextContent("billed yearly");
    expect(screen.getByTestId("renews-on")).toHaveTextContent(formatDate(NOW + 30 * DAY));
    expect(screen.queryByTestId("cancels-on")).toBeNull();
    // The payment banner lives in the app layout, not on this page.
    expect(screen.queryByTestId("payment-banner")).toBeNull();
  });

  it("shows 'Cancels on' when cancellation is scheduled, using cancelAt when set", () => {
    fake.setQuery("billing:subscription", paid("pro", { cancelScheduled: true, cancelAt: NOW + 10 * DAY }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("cancels-on")).toHaveTextContent(formatDate(NOW + 10 * DAY));
    expect(screen.queryByTestId("renews-on")).toBeNull();
  });

  it("a scheduled cancellation while past due does not promise the plan until the cancel date", () => {
    fake.setQuery(
      "billing:subscription",
      paid("pro", { status: "past_due", cancelScheduled: true, cancelAtPeriodEnd: true, graceEndsAt: NOW + 7 * DAY }),
    );
    renderApp(<BillingPage />);
    expect(screen.getByTestId("cancels-on")).toHaveTextContent(formatDate(NOW + 30 * DAY));
    const notice = screen.getByTestId("cancel-notice");
    expect(notice).toHaveTextContent(`Pay the overdue invoice by ${formatDate(NOW + 7 * DAY)} to keep it until then.`);
    expect(notice).not.toHaveTextContent("stays active");
  });

  it("shows the trial end while trialing", () => {
    fake.setQuery("billing:subscription", paid("starter", { status: "trialing", trialEnd: NOW + 7 * DAY }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("subscription-status")).toHaveTextContent("Trialing");
    expect(screen.getByTestId("trial-ends")).toHaveTextContent(formatDate(NOW + 7 * DAY));
  });

  it("canceled: status badge, no renewal date", () => {
    fake.setQuery("billing:subscription", paid("free", { status: "canceled" }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("subscription-status")).toHaveTextContent("Canceled");
    expect(screen.queryByTestId("renews-on")).toBeNull();
  });

  it("Manage billing redirects to the portal; NO_CUSTOMER becomes a friendly toast", async () => {
    const redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
    fake.setAction("billing:createPortalSession", () => {
      throw new ConvexError({ code: "NO_CUSTOMER", message: "no customer" });
    });
    fake.setQuery("billing:subscription", paid("pro"));
    const { user } = renderApp(<BillingPage />);

    await user.click(screen.getByTestId("manage-billing"));
    expect(await screen.findByText("No billing account yet")).toBeInTheDocument();
    expect(redirect).not.toHaveBeenCalled();
    expect(screen.getByTestId("manage-billing")).toBeEnabled();
  });

  it("a free user without a customer gets no Manage billing button", () => {
    fake.setQuery("billing:subscription", subscription());
    renderApp(<BillingPage />);
    expect(screen.queryByTestId("manage-billing")).toBeNull();
    expect(screen.getByTestId("subscription-status")).toHaveTextContent("No subscription");
  });

  it("shows skeletons while loading", () => {
    fake.deleteQuery("tokens:balance");
    fake.deleteQuery("billing:invoices");
    renderApp(<BillingPage />);
    expect(screen.getByRole("status", { name: "Loading subscription" })).toBeInTheDocument();
    expect(screen.getByRole("status", { name: "Loading token usage" })).toBeInTheDocument();
    expect(screen.getByRole("status", { name: "Loading invoices" })).toBeInTheDocument();
  });
});

describe("token usage", () => {
  it("shows used vs allowance + purchased, remaining and reset date", () => {
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("tokens:balance", balance({ allowance: 50, purchased: 100, used: 30, remaining: 120, periodEnd: NOW + 5 * DAY }));
    renderApp(<BillingPage />);
    const usage = screen.getByTestId("token-usage");
    expect(within(usage).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "30");
    expect(within(usage).getByRole("progressbar")).toHaveAttribute("aria-valuemax", "150");
    expect(screen.getByTestId("token-usage-remaining")).toHaveTextContent("120");
    expect(usage).toHaveTextContent("30 of 150 used");
    expect(screen.getByTestId("tokens-reset")).toHaveTextContent(formatDate(NOW + 5 * DAY));
  });

  it("tokens held by running jobs are said, and still count toward the total; none held, no line", () => {
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("tokens:balance", balance({ allowance: 50, used: 10, held: 15, remaining: 25 }));
    renderApp(<BillingPage />);
    const held = screen.getByTestId("tokens-held");
    expect(held).toHaveTextContent("15 tokens reserved for running jobs");
    expect(held).toHaveAttribute("data-held", "15");
    expect(screen.getByTestId("token-usage-remaining")).toHaveTextContent("25");
    expect(within(screen.getByTestId("token-usage")).getByRole("progressbar")).toHaveAttribute("aria-valuemax", "50");

    fake.pushQuery("tokens:balance", balance({ allowance: 50, used: 25, held: 0, remaining: 25 }));
    expect(screen.queryByTestId("tokens-held")).toBeNull();
    expect(screen.getByTestId("token-usage")).toHaveTextContent("25 of 50 used");
  });

  it("while past due, promises the next allowance on payment instead of a reset date", () => {
    fake.setQuery("billing:subscription", paid("pro", { status: "past_due", graceEndsAt: NOW + 7 * DAY }));
    fake.setQuery("tokens:balance", balance({ allowance: 150, used: 20, remaining: 130, periodEnd: NOW - DAY }));
    renderApp(<BillingPage />);
    const reset = screen.getByTestId("tokens-reset");
    expect(reset).toHaveTextContent("Your next allowance is added once the overdue payment goes through");
    expect(reset).not.toHaveTextContent(formatDate(NOW - DAY));
  });
});

describe("token packs", () => {
  it("buys a pack through a one-off Checkout and remembers it for the success page", async () => {
    const redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
    const topUp = fake.setAction("billing:createTopUpCheckoutSession", () => ({ url: "https://checkout.stripe.com/c/pay/cs_pack" }));
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("tokens:balance", balance({ purchased: 20 }));
    const { user } = renderApp(<BillingPage />);

    await user.click(screen.getByTestId("buy-tokens-pack_500"));

    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_pack"));
    expect(topUp).toHaveBeenCalledWith({ packId: "pack_500" });
    expect(JSON.parse(sessionStorage.getItem("billing.checkout.topUp")!)).toEqual({ packId: "pack_500", tokens: 500, purchasedBefore: 20 });
  });
});

describe("invoices", () => {
  it("lists invoices with number, date, money in the invoice currency, status and links", () => {
    fake.setQuery("billing:subscription", paid("pro"));
    fake.setQuery("billing:invoices", [
      invoice(),
      invoice({ id: "in_2", number: "ABC-0002", currency: "jpy", amountDue: 3000, amountPaid: 0, status: "open" }),
      invoice({ id: "in_3", number: "ABC-0003", currency: "eur", amountPaid: 1999 }),
    ]);
    renderApp(<BillingPage />);
    const rows = screen.getAllByTestId("invoice-row");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent("ABC-0001");
    expect(within(rows[0]!).getByTestId("invoice-amount").textContent).toBe(new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(29));
    expect(within(rows[1]!).getByTestId("invoice-amount").textContent).toBe(new Intl.NumberFormat(undefined, { style: "currency", currency: "JPY" }).format(3000));
    expect(within(rows[1]!).getByTestId("invoice-status")).toHaveTextContent("open");
    expect(within(rows[2]!).getByTestId("invoice-amount").textContent).toBe(new Intl.NumberFormat(undefined, { style: "currency", currency: "EUR" }).format(19.99));
    expect(within(rows[0]!).getByRole("link", { name: "View invoice ABC-0001 (opens in a new tab)" })).toHaveAttribute("href", "https://invoice.stripe.com/i/1");
    expect(within(rows[0]!).getByRole("link", { name: "Download invoice ABC-0001 as PDF (opens in a new tab)" })).toHaveAttribute("href", "https://pay.stripe.com/invoice/1/pdf");
    expect(rows[0]).toHaveTextContent(formatDate(NOW - DAY));
  });

  it("asks for the last 6 and shows an empty state when there are none", () => {
    fake.setQuery("billing:subscription", paid("pro"));
    const seen: unknown[] = [];
    fake.setQuery("billing:invoices", (args: unknown) => {
      seen.push(args);
      return [];
    });
    renderApp(<BillingPage />);
    expect(seen[0]).toEqual({ limit: 6 });
    expect(screen.getByTestId("invoices-empty")).toHaveTextContent("No invoices yet");
  });
});

describe("plan management on /billing", () => {
  const usd = (n: number) => new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(n);

  it("shows the credit balance when there is some", () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", creditBalance: 1500, creditCurrency: "usd" }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("credit-balance")).toHaveTextContent(`You have ${usd(15)} of credit, applied to your next invoices.`);
  });

  it("no credit line without credit", () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    renderApp(<BillingPage />);
    expect(screen.queryByTestId("credit-balance")).toBeNull();
  });

  it("a scheduled change says when it switches; Keep cancels it", async () => {
    const effectiveAt = NOW + 30 * DAY;
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", scheduledChange: { tier: "starter", interval: "month", effectiveAt } }));
    const cancel = fake.setAction("billing:cancelScheduledChange", () => ({ canceled: true }));
    const { user } = renderApp(<BillingPage />);

    expect(screen.getByTestId("scheduled-change")).toHaveTextContent(`Switches to Starter (monthly) on ${formatDate(effectiveAt)}.`);
    const keep = screen.getByTestId("keep-current-plan");
    expect(keep).toHaveTextContent("Keep Pro (monthly)");
    await user.click(keep);
    expect(cancel).toHaveBeenCalledTimes(1);
    expect(await screen.findByText("You'll stay on Pro (monthly)")).toBeInTheDocument();
    expect(screen.queryByTestId("scheduled-change")).toBeNull();
  });

  it("an upgrade awaiting payment links to the invoice", () => {
    fake.setQuery(
      "billing:subscription",
      paid("pro", {
        planTier: "pro",
        pendingUpdate: { tier: "elite", interval: "month", expiresAt: NOW + DAY },
        attention: { kind: "action_required", hostedInvoiceUrl: "https://invoice.stripe.com/i/pending", amountDue: 7000, currency: "usd" },
      }),
    );
    renderApp(<BillingPage />);
    expect(screen.getByTestId("pending-update")).toHaveTextContent("Your upgrade to Elite is waiting for payment");
    expect(screen.getByTestId("pending-update-pay")).toHaveAttribute("href", "https://invoice.stripe.com/i/pending");
    // No interval switch while something is unpaid.
    expect(screen.queryByTestId("switch-interval")).toBeNull();
  });

  it("an ended plan says when it ended and offers to re-subscribe", async () => {
    fake.setQuery("billing:subscription", subscription({ status: "canceled", planTier: "starter", endedAt: NOW - 3 * DAY, hasCustomer: true }));
    fake.setQuery("plans:list", []);
    const { user } = renderApp(
      <Routes>
        <Route path="/billing" element={<BillingPage />} />
        <Route path="/pricing" element={<p>Pricing page</p>} />
      </Routes>,
      { route: "/billing" },
    );
    expect(screen.getByTestId("plan-ended")).toHaveTextContent(`Your Starter plan ended on ${formatDate(NOW - 3 * DAY)}.`);
    expect(screen.queryByTestId("cancel-plan")).toBeNull();
    await user.click(screen.getByTestId("resubscribe"));
    expect(screen.getByText("Pricing page")).toBeInTheDocument();
  });

  it("Cancel plan: reason and comment, then the end date with Resume plan", async () => {
    const cancelAt = NOW + 30 * DAY;
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    const cancel = fake.setAction("billing:cancelSubscription", () => ({ cancelAt }));
    const resume = fake.setAction("billing:resumeSubscription", () => ({ resumed: true }));
    const { user } = renderApp(<BillingPage />);

    await user.click(screen.getByTestId("cancel-plan"));
    const dialog = screen.getByRole("dialog", { name: "Cancel your Pro plan?" });
    const reasons = within(dialog).getAllByRole("radio");
    expect(reasons).toHaveLength(8);
    await user.click(within(dialog).getByRole("radio", { name: "It's too expensive" }));
    expect(screen.getByTestId("cancel-reason-too_expensive")).toBeChecked();
    await user.type(screen.getByTestId("cancel-comment"), "  Budget cuts  ");
    await user.click(screen.getByTestId("cancel-confirm"));

    expect(cancel).toHaveBeenCalledWith({ feedback: "too_expensive", comment: "Budget cuts" });
    await waitFor(() => expect(screen.queryByTestId("cancel-dialog")).toBeNull());
    expect(screen.getByTestId("cancel-notice")).toHaveTextContent(`Your plan ends on ${formatDate(cancelAt)}.`);
    expect(screen.getByTestId("cancels-on")).toHaveTextContent(formatDate(cancelAt));
    expect(screen.queryByTestId("cancel-plan")).toBeNull();

    // The webhook confirms it; then Resume plan undoes it.
    fake.pushQuery("billing:subscription", paid("pro", { planTier: "pro", cancelScheduled: true, cancelAtPeriodEnd: true }));
    await user.click(screen.getByTestId("resume-plan"));
    expect(resume).toHaveBeenCalledTimes(1);
    expect(await screen.findByText("Your Pro plan will continue")).toBeInTheDocument();
    expect(screen.queryByTestId("cancel-notice")).toBeNull();
    expect(screen.getByTestId("cancel-plan")).toBeInTheDocument();
  });

  it("Cancel plan without a reason sends no feedback; Keep my plan closes without canceling", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    const cancel = fake.setAction("billing:cancelSubscription", () => ({ cancelAt: NOW + 30 * DAY }));
    const { user } = renderApp(<BillingPage />);

    await user.click(screen.getByTestId("cancel-plan"));
    await user.click(screen.getByTestId("cancel-keep"));
    expect(screen.queryByTestId("cancel-dialog")).toBeNull();
    expect(cancel).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("cancel-plan"));
    await user.click(screen.getByTestId("cancel-confirm"));
    expect(cancel).toHaveBeenCalledWith({});
  });

  it("a failed cancel keeps the dialog open with a toast", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    fake.setAction("billing:cancelSubscription", () => {
      throw new ConvexError({ code: "STRIPE_ERROR", message: "down" });
    });
    const { user } = renderApp(<BillingPage />);
    await user.click(screen.getByTestId("cancel-plan"));
    await user.click(screen.getByTestId("cancel-confirm"));
    expect(await screen.findByText("The payment provider didn't respond")).toBeInTheDocument();
    expect(screen.getByTestId("cancel-confirm")).toBeEnabled();
  });

  it("Switch to yearly opens the plan-change preview for the same tier on yearly", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    const preview = fake.setAction("billing:previewPlanChange", () => new Promise(() => undefined));
    const { user } = renderApp(<BillingPage />);

    const button = screen.getByTestId("switch-interval");
    expect(button).toHaveTextContent("Switch to yearly");
    await user.click(button);
    expect(screen.getByRole("dialog", { name: "Upgrade to Pro (yearly)" })).toBeInTheDocument();
    expect(preview).toHaveBeenCalledWith({ tier: "pro", interval: "year" });
  });

  it("a yearly subscriber is offered Switch to monthly", () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", interval: "year" }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("switch-interval")).toHaveTextContent("Switch to monthly");
    expect(screen.getByTestId("manage-billing")).toHaveTextContent("Manage payment method / invoices");
  });

  it("invoice rows: token pack receipts, credit invoices and invoices paid with credit", () => {
    fake.setQuery("billing:subscription", paid("pro"));
    fake.setQuery("billing:invoices", [
      invoice({ id: "in_top", kind: "top_up", description: "100 tokens", billingReason: "manual", amountDue: 900, amountPaid: 900, total: 900 }),
      invoice({ id: "in_credit", total: -1500, amountDue: 0, amountPaid: 0, creditAdded: 1500, billingReason: "subscription_update" }),
      invoice({ id: "in_part", total: 2900, amountDue: 1400, amountPaid: 1400, creditApplied: 1500 }),
      invoice({ id: "in_full", total: 2900, amountDue: 0, amountPaid: 0, creditApplied: 2900 }),
    ]);
    renderApp(<BillingPage />);
    const [top, credit, part, full] = screen.getAllByTestId("invoice-row");

    expect(top).toHaveAttribute("data-kind", "top_up");
    expect(within(top!).getByTestId("invoice-description")).toHaveTextContent("Token pack — 100 tokens");
    expect(within(top!).getByTestId("invoice-amount")).toHaveTextContent(usd(9));

    expect(within(credit!).getByTestId("invoice-amount")).toHaveTextContent(`Credit −${usd(15)}`);
    expect(within(credit!).getByTestId("invoice-status")).toHaveTextContent("Credit added to balance");
    expect(credit).not.toHaveTextContent(usd(0));

    expect(within(part!).getByTestId("invoice-amount")).toHaveTextContent(usd(29));
    expect(within(part!).getByTestId("invoice-credit-applied")).toHaveTextContent(`paid with ${usd(15)} credit`);
    expect(within(full!).getByTestId("invoice-credit-applied")).toHaveTextContent(`paid with ${usd(29)} credit`);
    expect(within(full!).getByTestId("invoice-status")).toHaveTextContent("paid");
  });
});
