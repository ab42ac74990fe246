/**
 * Trials in the UI (docs/TRIALS.md): "Start 14-day trial" on the pricing page
 * only while the account has not used its trial, Checkout asked for the
 * trial, and the subscription card's "Trial: N days left" with "Add a card"
 * when no card is on file.
 */
import { screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BillingPage } from "@/src/features/billing/components/BillingPage";
import { CheckoutSuccessPage } from "@/src/features/billing/components/CheckoutSuccessPage";
import { formatDate } from "@/src/lib/format";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { trialDaysLeft } from "@/src/features/billing/components/TrialNotice";
import { browser } from "@/src/features/billing/lib/browser";
import { fake } from "./helpers/fakeConvex";
import { DAY, balance, paid, plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

let redirect: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  fake.reset();
  sessionStorage.clear();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:balance", balance());
  fake.setQuery("billing:invoices", []);
  redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
});
afterEach(() => vi.restoreAllMocks());

describe("pricing page trial offer", () => {
  it("an account that never had a trial sees Start 14-day trial on Starter and Pro, not on Elite, and Checkout asks for the trial", async () => {
    fake.setQuery("billing:subscription", subscription());
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.example/cs_trial" }));
    const { user } = renderApp(<PricingPage />);
    const starter = within(screen.getByTestId("pricing-card-starter"));
    expect(starter.getByTestId("start-trial-starter")).toHaveTextContent("Start 14-day trial");
    expect(within(screen.getByTestId("pricing-card-pro")).getByTestId("start-trial-pro")).toBeInTheDocument();
    expect(within(screen.getByTestId("pricing-card-elite")).queryByTestId("start-trial-elite")).toBeNull();
    await user.click(starter.getByTestId("start-trial-starter"));
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.example/cs_trial"));
    expect(checkout).toHaveBeenCalledWith({ tier: "starter", interval: "month", trial: true });
  });

  it("an account that used its trial sees only Upgrade", () => {
    fake.setQuery("billing:subscription", subscription({ trialUsed: true }));
    renderApp(<PricingPage />);
    expect(screen.queryByTestId("start-trial-starter")).toBeNull();
    expect(screen.queryByTestId("start-trial-pro")).toBeNull();
    expect(screen.getByTestId("upgrade-button-starter")).toHaveTextContent("Upgrade");
    expect(screen.getByTestId("trial-used-starter")).toHaveTextContent("You've already had your free trial.");
    expect(screen.getByTestId("trial-used-pro")).toBeInTheDocument();
    expect(screen.queryByTestId("trial-used-elite")).toBeNull();
  });

  it("an account that never had a trial sees no 'already had' note", () => {
    fake.setQuery("billing:subscription", subscription());
    renderApp(<PricingPage />);
    expect(screen.queryByTestId("trial-used-starter")).toBeNull();
  });
});

describe("checkout success for a trial", () => {
  it("says the trial started and when it ends, not that the plan is paid", () => {
    const trialEnd = Date.UTC(2026, 11, 13, 12);
    fake.setQuery("billing:subscription", paid("pro", { status: "trialing", trialEnd, trialUsed: true, hasPaymentMethod: true }));
    renderApp(<CheckoutSuccessPage />, { route: "/billing/success?session_id=cs_trial" });
    expect(screen.getByTestId("success-status")).toHaveAttribute("data-state", "active");
    expect(screen.getByRole("heading", { name: "Your Pro trial has started" })).toBeInTheDocument();
    expect(screen.getByTestId("success-status")).toHaveTextContent(`The trial ends on ${formatDate(trialEnd)}.`);
    expect(screen.queryByText(/You're on Pro/)).toBeNull();
  });
});

describe("subscription card during a trial", () => {
  it("counts whole days left", () => {
    expect(trialDaysLeft(10 * DAY, 0)).toBe(10);
    expect(trialDaysLeft(10 * DAY, 1)).toBe(10);
    expect(trialDaysLeft(10 * DAY, 9 * DAY + 1)).toBe(1);
    expect(trialDaysLeft(10 * DAY, 11 * DAY)).toBe(0);
  });

  it("without a card: Trial: N days left and Add a card, which opens the Portal", async () => {
    fake.setQuery("billing:subscription", paid("starter", { status: "trialing", trialEnd: Date.now() + 5 * DAY - 1000, trialUsed: true, hasPaymentMethod: false }));
    const portal = fake.setAction("billing:createPortalSession", () => ({ url: "https://portal.example/bps_1" }));
    const { user } = renderApp(<BillingPage />);
    expect(screen.getByTestId("trial-days-left")).toHaveTextContent("Trial: 5 days left");
    expect(screen.getByTestId("trial-notice")).toHaveTextContent("Add a card before");
    await user.click(screen.getByTestId("trial-add-card"));
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://portal.example/bps_1"));
    expect(portal).toHaveBeenCalled();
  });

  it("with a card on file: days left and no Add a card", () => {
    fake.setQuery("billing:subscription", paid("pro", { status: "trialing", trialEnd: Date.now() + DAY - 1000, trialUsed: true, hasPaymentMethod: true }));
    renderApp(<BillingPage />);
    expect(screen.getByTestId("trial-days-left")).toHaveTextContent("Trial: 1 day left");
    expect(screen.queryByTestId("trial-add-card")).toBeNull();
  });

  it("a trial that ended without a card says the trial ended, not the plan", () => {
    const trialEnd = Date.now() - 2 * DAY;
    fake.setQuery(
      "billing:subscription",
      paid("starter", { status: "canceled", tier: "free", planTier: "starter", trialEnd, endedAt: trialEnd, trialUsed: true, hasPaymentMethod: false }),
    );
    renderApp(<BillingPage />);
    expect(screen.getByTestId("plan-ended")).toHaveTextContent(`Your Starter trial ended on ${formatDate(trialEnd)}.`);
    expect(screen.queryByTestId("trial-notice")).toBeNull();
  });

  it("no trial notice on an active plan", () => {
    fake.setQuery("billing:subscription", paid("pro"));
    renderApp(<BillingPage />);
    expect(screen.queryByTestId("trial-notice")).toBeNull();
  });
});

describe("plan changes during a trial (TRIAL_ACTIVE)", () => {
  const onTrial = () => paid("starter", { status: "trialing", trialEnd: Date.now() + 5 * DAY, trialUsed: true, hasPaymentMethod: false });

  it("the pricing page offers no change: other plans read 'Available after your trial'", () => {
    fake.setQuery("billing:subscription", onTrial());
    renderApp(<PricingPage />);
    for (const tier of ["pro", "elite"] as const) {
      expect(within(screen.getByTestId(`pricing-card-${tier}`)).getByTestId(`pricing-action-${tier}`)).toHaveTextContent("Available after your trial");
      expect(screen.queryByTestId(`upgrade-button-${tier}`)).toBeNull();
    }
    expect(screen.queryByTestId("switch-button-free")).toBeNull();
  });

  it("the subscription card shows when the trial ends, with no renewal date and no interval switch", () => {
    fake.setQuery("billing:subscription", onTrial());
    renderApp(<BillingPage />);
    expect(screen.getByTestId("trial-ends")).toBeInTheDocument();
    expect(screen.queryByTestId("renews-on")).toBeNull();
    expect(screen.queryByTestId("switch-interval")).toBeNull();
  });
});
