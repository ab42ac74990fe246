import { screen, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AutoRechargeCard } from "@/src/features/billing/components/tokens/AutoRechargeCard";
import { fake } from "./helpers/fakeConvex";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

type Settings = {
  enabled: boolean;
  thresholdTokens: number;
  packId: string;
  monthlyCap: number;
  currency: string;
  spentThisMonth: number;
  consecutiveFailures: number;
  disabledReason: "failures" | null;
  lastAttempt: null | Attempt;
  recent: Attempt[];
};

type Attempt = {
  status: "pending" | "succeeded" | "failed" | "requires_action";
  tokens: number;
  amount: number;
  currency: string;
  failureMessage: string | null;
  actionUrl: string | null;
  createdAt: number;
};

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    enabled: true,
    thresholdTokens: 20,
    packId: "pack_500",
    monthlyCap: 8000,
    currency: "usd",
    spentThisMonth: 4000,
    consecutiveFailures: 0,
    disabledReason: null,
    lastAttempt: null,
    recent: overrides.lastAttempt ? [overrides.lastAttempt] : [],
    ...overrides,
  };
}

const attempt = (overrides: Partial<NonNullable<Settings["lastAttempt"]>>) => ({
  status: "succeeded" as const,
  tokens: 100,
  amount: 1000,
  currency: "usd",
  failureMessage: null,
  actionUrl: null,
  createdAt: 1,
  ...overrides,
});

beforeEach(() => {
  fake.reset();
  fake.setQuery("billing:currency", { billedCurrency: null });
});

describe("auto-recharge settings", () => {
  it("starts off with sensible defaults, and turning it on sends the choice in minor units", async () => {
    fake.setQuery("tokens:autoRecharge", null);
    const save = fake.setAction("tokens:setAutoRecharge", () => null);
    const { user } = renderApp(<AutoRechargeCard />);
    const card = await screen.findByTestId("auto-recharge");
    expect(within(card).getByTestId("auto-recharge-state")).toHaveTextContent("Off");
    expect(within(card).getByTestId("auto-recharge-threshold")).toHaveValue(10);
    expect(within(card).getByTestId("auto-recharge-cap")).toHaveValue(50);
    expect(card).toHaveTextContent("authorise us to charge your saved card $10.00 each time");

    await user.clear(within(card).getByTestId("auto-recharge-threshold"));
    await user.type(within(card).getByTestId("auto-recharge-threshold"), "25");
    await user.selectOptions(within(card).getByTestId("auto-recharge-pack"), "pack_500");
    await user.clear(within(card).getByTestId("auto-recharge-cap"));
    await user.type(within(card).getByTestId("auto-recharge-cap"), "120.5");
    await user.click(within(card).getByTestId("auto-recharge-save"));
    expect(save).toHaveBeenCalledWith({ enabled: true, thresholdTokens: 25, packId: "pack_500", monthlyCap: 12050 });
    expect(await screen.findByText("Auto-recharge is on")).toBeInTheDocument();
  });

  it("an account billed in GBP sees and sets everything in pounds", async () => {
    fake.setQuery("billing:currency", { billedCurrency: "gbp" });
    fake.setQuery("tokens:autoRecharge", null);
    const save = fake.setAction("tokens:setAutoRecharge", () => null);
    const { user } = renderApp(<AutoRechargeCard />);
    const card = await screen.findByTestId("auto-recharge");
    expect(card).toHaveTextContent("authorise us to charge your saved card £9.00 each time");
    expect(card).toHaveTextContent("Monthly limit (GBP)");
    expect(within(card).getByRole("option", { name: /500 tokens for £32\.00/ })).toBeInTheDocument();
    await user.clear(within(card).getByTestId("auto-recharge-cap"));
    await user.type(within(card).getByTestId("auto-recharge-cap"), "27");
    await user.click(within(card).getByTestId("auto-recharge-save"));
    expect(save).toHaveBeenCalledWith({ enabled: true, thresholdTokens: 10, packId: "pack_100", monthlyCap: 2700 });
  });

  it("when on, says what it will buy and what this month has cost, and can be turned off", async () => {
    fake.setQuery("tokens:autoRecharge", settings({ lastAttempt: attempt({ tokens: 500, amount: 4000 }) }));
    const save = fake.setAction("tokens:setAutoRecharge", () => null);
    const { user } = renderApp(<AutoRechargeCard />);
    const card = await screen.findByTestId("auto-recharge");
    expect(within(card).getByTestId("auto-recharge-state")).toHaveTextContent("On");
    expect(within(card).getByTestId("auto-recharge-summary")).toHaveTextContent(
      "When fewer than 20 tokens remain, we buy 500 tokens for $40.00 with your saved card. This month: $40.00 of $80.00.",
    );
    expect(within(card).getByTestId("auto-recharge-last")).toHaveTextContent("Last bought 500 tokens for $40.00.");
    await user.click(within(card).getByTestId("auto-recharge-off"));
    expect(save).toHaveBeenCalledWith({ enabled: false, thresholdTokens: 20, packId: "pack_500", monthlyCap: 8000 });
  });

  it("lists recent purchases with date, amount and whether the card was charged", async () => {
    const paid = attempt({ createdAt: Date.UTC(2026, 10, 20, 12) });
    const declined = attempt({ status: "failed", createdAt: Date.UTC(2026, 10, 18, 12), failureMessage: "your card was declined." });
    fake.setQuery("tokens:autoRecharge", settings({ lastAttempt: paid, recent: [paid, declined] }));
    const { user } = renderApp(<AutoRechargeCard />);
    const recent = await screen.findByTestId("auto-recharge-recent");
    await user.click(within(recent).getByText("Recent auto-recharges"));
    const rows = within(recent).getAllByTestId("auto-recharge-row");
    expect(rows.map((r) => r.textContent)).toEqual(["Nov 20, 2026100$10.00Paid", "Nov 18, 2026100$10.00Declined, not charged"]);
  });

  it("a bank asking to confirm shows the link to complete the purchase", async () => {
    const url = "https://checkout.stripe.test/c/pay/cs_confirm";
    fake.setQuery("tokens:autoRecharge", settings({ consecutiveFailures: 1, lastAttempt: attempt({ status: "requires_action", actionUrl: url }) }));
    renderApp(<AutoRechargeCard />);
    const last = await screen.findByTestId("auto-recharge-last");
    expect(last).toHaveAttribute("data-status", "requires_action");
    expect(within(last).getByTestId("auto-recharge-confirm")).toHaveAttribute("href", url);
  });

  it("says it turned itself off after failed payments, with the last decline", async () => {
    fake.setQuery(
      "tokens:autoRecharge",
      settings({
        enabled: false,
        disabledReason: "failures",
        consecutiveFailures: 3,
        lastAttempt: attempt({ status: "failed", failureMessage: "your card has insufficient funds." }),
      }),
    );
    renderApp(<AutoRechargeCard />);
    expect(await screen.findByTestId("auto-recharge-disabled")).toHaveTextContent("turned itself off after 3 failed payments");
    expect(screen.getByTestId("auto-recharge-last")).toHaveTextContent("failed: your card has insufficient funds.");
    expect(screen.getByTestId("auto-recharge-save")).toHaveTextContent("Turn on");
  });

  it("no saved card: a clear toast, and the form keeps what was typed", async () => {
    fake.setQuery("tokens:autoRecharge", null);
    fake.setAction("tokens:setAutoRecharge", () => {
      throw new ConvexError({ code: "NO_PAYMENT_METHOD", message: "Auto-recharge needs a saved card." });
    });
    const { user } = renderApp(<AutoRechargeCard />);
    const threshold = await screen.findByTestId("auto-recharge-threshold");
    await user.clear(threshold);
    await user.type(threshold, "30");
    await user.click(screen.getByTestId("auto-recharge-save"));
    expect(await screen.findByText("No saved card")).toBeInTheDocument();
    expect(screen.getByText("Auto-recharge needs a saved card.")).toBeInTheDocument();
    expect(threshold).toHaveValue(30);
  });

  it("shows a placeholder while loading", () => {
    renderApp(<AutoRechargeCard />);
    expect(screen.getByLabelText("Loading auto-recharge")).toBeInTheDocument();
  });
});
