/**
 * "Start paid plan now" during a trial (docs/TRIALS.md, "Ending a trial
 * early"): offered to an admin with a card on file, never without a card or
 * to an organisation member; the dialog shows Stripe's preview honestly
 * (amount now, days given up, the paid allowance, the next renewal), then
 * confirms; a declined card says the trial continues.
 */
import { screen, waitFor, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BillingPage } from "@/src/features/billing/components/BillingPage";
import { formatDate } from "@/src/lib/format";
import { fake } from "./helpers/fakeConvex";
import { DAY, balance, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const TRIAL_END = Date.now() + 11 * DAY - 1000;
const RENEWAL = Date.now() + 30 * DAY;
const preview = {
  tier: "pro",
  interval: "month",
  currency: "eur",
  dueNow: 2900,
  trialEnd: TRIAL_END,
  nextRenewalAt: RENEWAL,
  allowance: 150,
  trialAllowance: 50,
};
const onTrial = (hasPaymentMethod: boolean) => paid("pro", { status: "trialing", trialEnd: TRIAL_END, trialUsed: true, hasPaymentMethod });

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:balance", balance());
  fake.setQuery("billing:invoices", []);
});
afterEach(() => vi.restoreAllMocks());

describe("Start paid plan now", () => {
  it("with a card: the dialog shows the amount in the account's currency, the days given up, the allowance and the renewal; confirm ends the trial", async () => {
    fake.setQuery("billing:subscription", onTrial(true));
    const previewCall = fake.setAction("billing:previewEndTrial", () => preview);
    const end = fake.setAction("billing:endTrialNow", () => ({ status: "paid", hostedInvoiceUrl: null, message: "Your trial has ended and Pro (monthly) has started." }));
    const { user } = renderApp(<BillingPage />);
    await user.click(screen.getByTestId("trial-start-paid"));
    const dialog = within(await screen.findByTestId("end-trial-dialog"));
    await waitFor(() => expect(screen.getByTestId("end-trial-dialog")).toHaveAttribute("data-state", "ready"));
    expect(previewCall).toHaveBeenCalledWith({});
    expect(dialog.getByTestId("end-trial-due-now")).toHaveTextContent("€29.00");
    expect(dialog.getByTestId("end-trial-days")).toHaveTextContent(`the 11 days left of it (until ${formatDate(TRIAL_END)}) are not added on`);
    expect(dialog.getByTestId("end-trial-allowance")).toHaveTextContent("150 tokens a month once the payment goes through, replacing your 50 trial tokens");
    expect(dialog.getByTestId("end-trial-renewal")).toHaveTextContent(`Your next renewal is on ${formatDate(RENEWAL)}`);
    expect(dialog.getByTestId("end-trial-confirm")).toHaveTextContent("Pay €29.00 and start now");
    await user.click(dialog.getByTestId("end-trial-confirm"));
    expect(end).toHaveBeenCalledWith({});
    await waitFor(() => expect(screen.getByTestId("end-trial-dialog")).toHaveAttribute("data-state", "waiting"));
    expect(await screen.findByText("Payment received")).toBeInTheDocument();
    // The webhooks turn the subscription active on Pro: the dialog closes.
    fake.setQuery("billing:subscription", paid("pro", { trialUsed: true, hasPaymentMethod: true }));
    await waitFor(() => expect(screen.queryByTestId("end-trial-dialog")).toBeNull());
    expect(await screen.findByText("You're on Pro (monthly)")).toBeInTheDocument();
  });

  it("a declined card: the dialog says the trial continues unchanged", async () => {
    fake.setQuery("billing:subscription", onTrial(true));
    fake.setAction("billing:previewEndTrial", () => preview);
    fake.setAction("billing:endTrialNow", () => ({
      status: "payment_failed",
      hostedInvoiceUrl: null,
      message: "Your card was declined, so nothing was charged and your trial continues unchanged. Update your card and try again.",
    }));
    const { user } = renderApp(<BillingPage />);
    await user.click(screen.getByTestId("trial-start-paid"));
    await user.click(await screen.findByTestId("end-trial-confirm"));
    expect(await screen.findByTestId("end-trial-failed")).toHaveTextContent("your trial continues unchanged");
    expect(screen.getByTestId("end-trial-update-card")).toBeInTheDocument();
  });

  it("a preview refused by the server shows its message", async () => {
    fake.setQuery("billing:subscription", onTrial(true));
    fake.setAction("billing:previewEndTrial", () => {
      throw new ConvexError({ code: "NOT_TRIALING", message: "Your subscription is not in a free trial." });
    });
    const { user } = renderApp(<BillingPage />);
    await user.click(screen.getByTestId("trial-start-paid"));
    expect(await screen.findByTestId("end-trial-error")).toHaveTextContent("Your trial has already ended");
  });

  it("without a card: no Start paid plan now, Add a card instead", () => {
    fake.setQuery("billing:subscription", onTrial(false));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("trial-add-card")).toBeInTheDocument();
    expect(screen.queryByTestId("trial-start-paid")).toBeNull();
  });

  it("an organisation member sees the trial but no button", () => {
    fake.setQuery("billing:subscription", onTrial(true));
    fake.setQuery("users:activeAccount", { status: "ok", kind: "organization", orgId: "org_acme", name: "Acme", role: "member", accountReady: true });
    renderApp(<BillingPage />);
    expect(screen.getByTestId("trial-notice")).toBeInTheDocument();
    expect(screen.queryByTestId("trial-start-paid")).toBeNull();
  });
});
