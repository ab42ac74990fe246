import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AnalysesPanel } from "../../src/features/tokens/components/AnalysesPanel";
import { LockedFeature } from "../../src/features/tokens/components/LockedFeature";
import { UpgradePrompt } from "../../src/features/tokens/components/UpgradePrompt";
import { fake } from "./helpers/fakeConvex";
import { balance, paid, plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", subscription());
  fake.setQuery("tokens:check", { allowed: true, cost: 1, remaining: 3, reason: "ok" });
});

describe("UpgradePrompt", () => {
  it("low_tokens: usage, the next tier's benefits, polite warning styling", () => {
    renderApp(<UpgradePrompt trigger="low_tokens" balance={balance({ allowance: 5, used: 2, remaining: 3 })} currentTier="free" />);
    const prompt = screen.getByTestId("upgrade-prompt");
    expect(prompt).toHaveAttribute("data-trigger", "low_tokens");
    expect(prompt).toHaveAttribute("role", "status");
    expect(prompt).toHaveClass("tone-warning");
    expect(prompt).toHaveTextContent("Running low: 3 tokens left");
    expect(screen.getByTestId("upgrade-prompt-usage")).toHaveTextContent("2 of 5 tokens used this period");
    expect(prompt).toHaveTextContent("Starter gives you 50 tokens per period");
    expect(screen.getByTestId("upgrade-prompt-upgrade")).toHaveTextContent("Upgrade to Starter");
  });

  it("no_tokens: an alert with danger styling recommending the next tier above the current", () => {
    renderApp(<UpgradePrompt trigger="no_tokens" balance={balance({ allowance: 50, used: 50, remaining: 0 })} currentTier="starter" />);
    const prompt = screen.getByRole("alert");
    expect(prompt).toHaveAttribute("data-trigger", "no_tokens");
    expect(prompt).toHaveClass("tone-danger");
    expect(prompt).toHaveTextContent("You're out of tokens");
    expect(prompt).toHaveTextContent("Pro gives you 150 tokens per period");
  });

  it("analysis_blocked: recommends the tier that unlocks the feature and opens the modal", async () => {
    const { user } = renderApp(
      <UpgradePrompt trigger="analysis_blocked" balance={balance()} currentTier="free" requiredTier="pro" feature="deep_analysis" />,
    );
    const prompt = screen.getByTestId("upgrade-prompt");
    expect(prompt).toHaveAttribute("data-trigger", "analysis_blocked");
    expect(prompt).toHaveClass("tone-accent");
    expect(prompt).toHaveTextContent("Pro gives you 150 tokens per period and unlocks it.");
    await user.click(screen.getByTestId("upgrade-prompt-upgrade"));
    expect(screen.getByRole("dialog", { name: "Deep analysis needs Pro" })).toBeInTheDocument();
  });

  it("on the top tier there is nothing to upgrade to", () => {
    renderApp(<UpgradePrompt trigger="no_tokens" balance={balance({ remaining: 0 })} currentTier="elite" />);
    expect(screen.queryByTestId("upgrade-prompt-upgrade")).toBeNull();
    expect(screen.getByTestId("upgrade-prompt")).toHaveTextContent("You're on the top plan");
  });
});

describe("dashboard prompt triggers", () => {
  it("shows low_tokens at the threshold, no_tokens at zero, none with plenty", () => {
    fake.setQuery("tokens:balance", balance({ allowance: 5, used: 0, remaining: 5 }));
    renderApp(<AnalysesPanel />);
    expect(screen.getByTestId("upgrade-prompt")).toHaveAttribute("data-trigger", "low_tokens");

    fake.pushQuery("tokens:balance", balance({ allowance: 5, used: 5, remaining: 0 }));
    expect(screen.getByTestId("upgrade-prompt")).toHaveAttribute("data-trigger", "no_tokens");

    fake.pushQuery("tokens:balance", balance({ allowance: 50, used: 0, remaining: 50 }));
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();
  });

  it("low_tokens can be dismissed", async () => {
    fake.setQuery("tokens:balance", balance({ allowance: 5, used: 1, remaining: 4 }));
    const { user } = renderApp(<AnalysesPanel />);
    await user.click(screen.getByTestId("upgrade-prompt-dismiss"));
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();
  });

  it("locks deep analysis below Pro and unlocks it on Pro", () => {
    fake.setQuery("tokens:balance", balance());
    renderApp(<AnalysesPanel />);
    expect(screen.getByTestId("locked-feature")).toHaveAttribute("data-required-tier", "pro");
    expect(screen.queryByTestId("analysis-run-deep_analysis")).toBeNull();
    for (const f of ["quick_analysis", "standard_analysis", "bulk_analysis"]) {
      expect(screen.getByTestId(`analysis-run-${f}`)).toBeInTheDocument();
    }

    fake.pushQuery("billing:subscription", paid("pro"));
    expect(screen.queryByTestId("locked-feature")).toBeNull();
    expect(screen.getByTestId("analysis-run-deep_analysis")).toBeInTheDocument();
  });
});

describe("LockedFeature", () => {
  it("shows what unlocks it and opens the modal for that tier", async () => {
    const { user } = renderApp(
      <LockedFeature minTier="pro" feature="deep_analysis">
        <p>secret</p>
      </LockedFeature>,
    );
    expect(screen.queryByText("secret")).toBeNull();
    expect(screen.getByTestId("locked-feature")).toHaveTextContent("Deep analysis is available on Pro and above.");
    await user.click(screen.getByRole("button", { name: "Unlock with Pro" }));
    expect(screen.getByRole("dialog", { name: "Deep analysis needs Pro" })).toBeInTheDocument();
  });

  it("renders the feature at or above the tier, and a skeleton while loading", () => {
    fake.deleteQuery("billing:subscription");
    renderApp(
      <LockedFeature minTier="pro">
        <p>secret</p>
      </LockedFeature>,
    );
    expect(screen.getByRole("status", { name: "Checking your plan" })).toBeInTheDocument();
    fake.pushQuery("billing:subscription", paid("elite"));
    expect(screen.getByText("secret")).toBeInTheDocument();
  });
});
