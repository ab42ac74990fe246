import { screen, waitFor, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { browser } from "@/src/features/billing/lib/browser";
import { formatDate } from "@/src/lib/format";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { DAY, NOW, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const usd = (n: number) => new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(n);

function upgradePreview(overrides: Record<string, unknown> = {}) {
  return {
    kind: "upgrade",
    tier: "elite",
    interval: "month",
    currency: "usd",
    dueNow: 5500,
    creditApplied: 1500,
    prorationCredit: 1200,
    newPlanCharge: 8200,
    otherCharges: 0,
    nextInvoiceAmount: 9900,
    nextInvoiceAt: NOW + 30 * DAY,
    effectiveAt: NOW,
    tokensNow: 350,
    allowanceAfter: 500,
    ...overrides,
  };
}

function downgradePreview(overrides: Record<string, unknown> = {}) {
  return {
    kind: "downgrade",
    tier: "starter",
    interval: "month",
    currency: "usd",
    dueNow: 0,
    creditApplied: 0,
    prorationCredit: 0,
    newPlanCharge: 0,
    otherCharges: 0,
    nextInvoiceAmount: 900,
    nextInvoiceAt: NOW + 30 * DAY,
    effectiveAt: NOW + 30 * DAY,
    tokensNow: 0,
    allowanceAfter: 50,
    ...overrides,
  };
}

function pro(overrides: Partial<SubscriptionView> = {}): SubscriptionView {
  return paid("pro", { planTier: "pro", ...overrides });
}

function card(tier: string) {
  return within(screen.getByTestId(`pricing-card-${tier}`));
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  sessionStorage.clear();
});

afterEach(() => vi.restoreAllMocks());

describe("pricing cards for a subscriber", () => {
  it("marks the plan current only on its own interval; yearly of the same tier is an upgrade", async () => {
    fake.setQuery("billing:subscription", pro());
    const { user } = renderApp(<PricingPage />);

    expect(card("pro").getByTestId("current-plan-pro")).toHaveTextContent("Current plan");
    expect(screen.getByTestId("upgrade-button-elite")).toHaveTextContent("Upgrade");
    expect(screen.getByTestId("switch-button-starter")).toHaveTextContent("Switch at period end");
    expect(card("free").getByText("Included")).toBeInTheDocument();
    expect(screen.queryByText("Contact to downgrade")).toBeNull();

    await user.click(screen.getByTestId("interval-toggle"));
    expect(screen.queryByTestId("current-plan-pro")).toBeNull();
    expect(screen.getByTestId("pricing-card-pro")).not.toHaveAttribute("data-current");
    expect(screen.getByTestId("upgrade-button-pro")).toHaveTextContent("Upgrade");
    expect(screen.getByTestId("upgrade-button-elite")).toBeInTheDocument();
  });

  it("a yearly subscriber opens on yearly; their tier on monthly is a switch at period end", async () => {
    fake.setQuery("billing:subscription", pro({ interval: "year" }));
    const { user } = renderApp(<PricingPage />);

    expect(screen.getByTestId("interval-toggle")).toHaveAttribute("aria-checked", "true");
    expect(screen.getByTestId("current-plan-pro")).toBeInTheDocument();
    await user.click(screen.getByTestId("interval-toggle"));
    expect(screen.queryByTestId("current-plan-pro")).toBeNull();
    expect(screen.getByTestId("switch-button-pro")).toHaveTextContent("Switch at period end");
  });

  it("uses the subscription's own plan (planTier), not the access tier that trails it", () => {
    fake.setQuery("billing:subscription", paid("starter", { planTier: "pro" }));
    renderApp(<PricingPage />);
    expect(screen.getByTestId("current-plan-pro")).toBeInTheDocument();
    expect(screen.queryByTestId("current-plan-starter")).toBeNull();
  });

  it("with a payment needing attention, change buttons say to pay first and link to the invoice", () => {
    fake.setQuery(
      "billing:subscription",
      pro({ status: "past_due", attention: { kind: "past_due", hostedInvoiceUrl: "https://invoice.stripe.com/i/due", amountDue: 2900, currency: "usd" } }),
    );
    renderApp(<PricingPage />);
    expect(screen.queryByTestId("upgrade-button-elite")).toBeNull();
    const payFirst = screen.getByTestId("pay-first-elite");
    expect(payFirst).toHaveTextContent("Pay your open invoice first");
    expect(payFirst).toHaveAttribute("href", "https://invoice.stripe.com/i/due");
    expect(screen.getByTestId("pay-first-starter")).toBeInTheDocument();
  });

  it("a card that is already scheduled says when it starts", () => {
    fake.setQuery("billing:subscription", pro({ scheduledChange: { tier: "starter", interval: "month", effectiveAt: NOW + 30 * DAY } }));
    renderApp(<PricingPage />);
    expect(screen.getByTestId("pricing-action-starter")).toHaveTextContent(`Starts on ${formatDate(NOW + 30 * DAY)}`);
  });
});

describe("upgrade: preview, confirm, wait for the plan", () => {
  it("shows the exact amounts, confirms with changePlan, waits for the live plan, then closes", async () => {
    fake.setQuery("billing:subscription", pro());
    const preview = fake.setAction("billing:previewPlanChange", () => upgradePreview());
    const change = fake.setAction("billing:changePlan", () => ({
      status: "applied",
      effectiveAt: NOW,
      hostedInvoiceUrl: null,
      message: "Payment received.",
    }));
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://never" }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    const dialog = screen.getByTestId("plan-change-dialog");
    expect(screen.getByRole("dialog", { name: "Upgrade to Elite (monthly)" })).toBeInTheDocument();
    await waitFor(() => expect(dialog).toHaveAttribute("data-state", "ready"));
    expect(preview).toHaveBeenCalledWith({ tier: "elite", interval: "month" });

    expect(screen.getByTestId("plan-change-due-now")).toHaveTextContent(usd(55));
    expect(screen.getByTestId("plan-change-credit-applied")).toHaveTextContent(`−${usd(15)}`);
    expect(screen.getByTestId("plan-change-proration-credit")).toHaveTextContent(`−${usd(12)}`);
    // The new plan's line too, so the lines add up to what is due: 82 − 12 − 15 = 55.
    expect(screen.getByTestId("plan-change-new-plan-charge")).toHaveTextContent(usd(82));
    expect(screen.getByTestId("plan-change-new-plan-charge").previousElementSibling).toHaveTextContent(/^Elite \(monthly\) until /);
    expect(screen.queryByTestId("plan-change-other-charges")).toBeNull();
    expect(within(dialog).getByText("Unused time on Pro (monthly)")).toBeInTheDocument();
    expect(screen.getByTestId("plan-change-next-invoice")).toHaveTextContent(`Then ${usd(99)} on ${formatDate(NOW + 30 * DAY)}.`);
    expect(screen.getByTestId("plan-change-tokens-now")).toHaveTextContent("+350 tokens now");
    expect(screen.getByTestId("plan-change-allowance")).toHaveTextContent("500 tokens per month");

    const confirm = screen.getByTestId("plan-change-confirm");
    expect(confirm).toHaveTextContent(`Pay ${usd(55)} and upgrade`);
    await user.click(confirm);
    expect(change).toHaveBeenCalledWith({ tier: "elite", interval: "month" });
    expect(checkout).not.toHaveBeenCalled();

    expect(await screen.findByText("Upgrading to Elite (monthly)")).toBeInTheDocument();
    expect(dialog).toHaveAttribute("data-state", "waiting");
    expect(screen.getByTestId("plan-change-waiting")).toHaveTextContent("Waiting for payment confirmation…");

    // The webhook lands: the subscription flips live and the dialog closes.
    fake.pushQuery("billing:subscription", paid("elite", { planTier: "elite" }));
    await waitFor(() => expect(screen.queryByTestId("plan-change-dialog")).toBeNull());
    expect(await screen.findByText("You're on Elite (monthly)")).toBeInTheDocument();
  });

  it("monthly → yearly on the same tier goes through the same preview", async () => {
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => upgradePreview({ tier: "pro", interval: "year", tokensNow: 0 }));
    const change = fake.setAction("billing:changePlan", () => ({ status: "applied", effectiveAt: NOW, hostedInvoiceUrl: null, message: "" }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("interval-toggle"));
    await user.click(screen.getByTestId("upgrade-button-pro"));
    await user.click(await screen.findByTestId("plan-change-confirm"));
    expect(change).toHaveBeenCalledWith({ tier: "pro", interval: "year" });
    expect(screen.queryByTestId("plan-change-tokens-now")).toBeNull();
  });

  it("requires_action: asks to confirm the payment with a link to the invoice", async () => {
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => upgradePreview());
    fake.setAction("billing:changePlan", () => ({
      status: "requires_action",
      effectiveAt: null,
      hostedInvoiceUrl: "https://invoice.stripe.com/i/3ds",
      message: "Your bank asks you to confirm this payment.",
    }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    await user.click(await screen.findByTestId("plan-change-confirm"));

    const box = await screen.findByTestId("plan-change-requires-action");
    expect(box).toHaveTextContent("Confirm your payment");
    expect(box).toHaveTextContent("Your bank asks you to confirm this payment.");
    expect(screen.getByTestId("plan-change-confirm-payment")).toHaveAttribute("href", "https://invoice.stripe.com/i/3ds");
    expect(screen.getByTestId("plan-change-dialog")).toHaveAttribute("data-state", "requires_action");
  });

  it("payment_failed: says so clearly, nothing unlocks, and offers to update the card", async () => {
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => upgradePreview());
    fake.setAction("billing:changePlan", () => ({
      status: "payment_failed",
      effectiveAt: null,
      hostedInvoiceUrl: null,
      message: "Your card was declined.",
    }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    await user.click(await screen.findByTestId("plan-change-confirm"));

    const failed = await screen.findByTestId("plan-change-failed");
    expect(failed).toHaveAttribute("role", "alert");
    expect(failed).toHaveTextContent("Your payment didn't go through — your plan hasn't changed.");
    expect(failed).toHaveTextContent("Your card was declined.");
    expect(screen.getByTestId("plan-change-update-card")).toBeInTheDocument();
    expect(screen.getByTestId("plan-change-dialog")).toHaveAttribute("data-state", "payment_failed");
    expect(screen.queryByTestId("plan-change-waiting")).toBeNull();
  });

  it("a refused preview (PAYMENT_REQUIRED) shows why, with the invoice to pay", async () => {
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => {
      throw new ConvexError({ code: "PAYMENT_REQUIRED", message: "Pay first", hostedInvoiceUrl: "https://invoice.stripe.com/i/open" });
    });
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    const error = await screen.findByTestId("plan-change-error");
    expect(error).toHaveTextContent("Pay your open invoice first");
    expect(screen.getByTestId("plan-change-pay-invoice")).toHaveAttribute("href", "https://invoice.stripe.com/i/open");
    expect(screen.queryByTestId("plan-change-confirm")).toBeNull();
  });

  it("a lost connection while previewing offers Try again", async () => {
    fake.setQuery("billing:subscription", pro());
    let calls = 0;
    const preview = fake.setAction("billing:previewPlanChange", () => {
      calls += 1;
      if (calls === 1) throw new Error("Connection lost while action was in flight");
      return upgradePreview();
    });
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    expect(await screen.findByTestId("plan-change-error")).toHaveTextContent("Couldn't reach the server");
    await user.click(screen.getByTestId("plan-change-retry"));
    expect(await screen.findByTestId("plan-change-confirm")).toBeInTheDocument();
    expect(preview).toHaveBeenCalledTimes(2);
  });

  it("CHANGE_PENDING on confirm becomes a toast and the dialog stays ready", async () => {
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => upgradePreview());
    fake.setAction("billing:changePlan", () => {
      throw new ConvexError({ code: "CHANGE_PENDING", message: "pending" });
    });
    const { user } = renderApp(<PricingPage />);
    await user.click(screen.getByTestId("upgrade-button-elite"));
    await user.click(await screen.findByTestId("plan-change-confirm"));
    expect(await screen.findByText("A plan change is already in progress")).toBeInTheDocument();
    expect(screen.getByTestId("plan-change-dialog")).toHaveAttribute("data-state", "ready");
  });
});

describe("downgrade: switch at period end", () => {
  it("previews the effective date and new price, confirms, and closes with the scheduled date", async () => {
    vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
    fake.setQuery("billing:subscription", pro());
    fake.setAction("billing:previewPlanChange", () => downgradePreview());
    const change = fake.setAction("billing:changePlan", () => ({
      status: "scheduled",
      effectiveAt: NOW + 30 * DAY,
      hostedInvoiceUrl: null,
      message: "You keep Pro until then.",
    }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("switch-button-starter"));
    expect(screen.getByRole("dialog", { name: "Switch to Starter (monthly)" })).toBeInTheDocument();
    const effective = await screen.findByTestId("plan-change-effective");
    expect(effective).toHaveTextContent(`Switches on ${formatDate(NOW + 30 * DAY)}`);
    expect(effective).toHaveTextContent("You keep Pro (monthly) and its tokens until then.");
    expect(screen.getByTestId("plan-change-next-invoice")).toHaveTextContent(`${usd(9)} on ${formatDate(NOW + 30 * DAY)}`);
    expect(screen.getByTestId("plan-change-due-now")).toHaveTextContent(usd(0));

    await user.click(screen.getByTestId("plan-change-confirm"));
    expect(change).toHaveBeenCalledWith({ tier: "starter", interval: "month" });
    expect(await screen.findByText(`Your plan switches to Starter (monthly) on ${formatDate(NOW + 30 * DAY)}`)).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByTestId("plan-change-dialog")).toBeNull());
  });
});

describe("upgrade modal for a subscriber", () => {
  function Opener() {
    const { openUpgrade } = useUpgradeModal();
    return (
      <button type="button" onClick={() => openUpgrade({ reason: "manual" })}>
        Open upgrade
      </button>
    );
  }

  it("opens the plan-change preview instead of Checkout or the Portal", async () => {
    fake.setQuery("billing:subscription", pro());
    const preview = fake.setAction("billing:previewPlanChange", () => upgradePreview());
    const portal = fake.setAction("billing:createPortalSession", () => ({ url: "https://never" }));
    const { user } = renderApp(<Opener />);

    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    await user.click(screen.getByTestId("upgrade-modal-upgrade-elite"));

    expect(screen.queryByTestId("upgrade-modal")).toBeNull();
    expect(await screen.findByTestId("plan-change-confirm")).toBeInTheDocument();
    expect(preview).toHaveBeenCalledWith({ tier: "elite", interval: "month" });
    expect(portal).not.toHaveBeenCalled();
  });

  it("with a payment needing attention, it says to pay first", async () => {
    fake.setQuery("billing:subscription", pro({ attention: { kind: "unpaid", hostedInvoiceUrl: "https://invoice.stripe.com/i/u", amountDue: 2900, currency: "usd" } }));
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    expect(screen.getByTestId("upgrade-modal-pay-first-elite")).toHaveAttribute("href", "https://invoice.stripe.com/i/u");
    expect(screen.queryByTestId("upgrade-modal-upgrade-elite")).toBeNull();
  });
});
