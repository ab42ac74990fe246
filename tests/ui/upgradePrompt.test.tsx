import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AnalysesPanel, dashboardTrigger } from "@/src/app/dashboard/AnalysesPanel";
import { LockedFeature } from "@/src/features/billing/components/tokens/LockedFeature";
import { UpgradePrompt } from "@/src/features/billing/components/tokens/UpgradePrompt";
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
    expect(prompt).toHaveTextContent("Deep analysis needs Pro");
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
  it("shows low_tokens at the threshold once tokens are used, no_tokens at zero, none with plenty", () => {
    // Free's untouched 5-token allowance is not "running low".
    fake.setQuery("tokens:balance", balance({ allowance: 5, used: 0, remaining: 5 }));
    renderApp(<AnalysesPanel />);
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();

    fake.pushQuery("tokens:balance", balance({ allowance: 5, used: 1, remaining: 4 }));
    expect(screen.getByTestId("upgrade-prompt")).toHaveAttribute("data-trigger", "low_tokens");

    fake.pushQuery("tokens:balance", balance({ allowance: 5, used: 5, remaining: 0 }));
    expect(screen.getByTestId("upgrade-prompt")).toHaveAttribute("data-trigger", "no_tokens");

    fake.pushQuery("tokens:balance", balance({ allowance: 50, used: 0, remaining: 50 }));
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();
  });

  it("a run blocked for tokens shows analysis_blocked with cost and balance, until the balance changes", async () => {
    fake.setQuery("tokens:balance", balance({ allowance: 50, used: 42, remaining: 8 }));
    fake.setQuery("tokens:check", (args: { feature: string }) =>
      args.feature === "bulk_analysis"
        ? { allowed: false, cost: 10, remaining: 8, reason: "insufficient_tokens" }
        : { allowed: true, cost: 1, remaining: 8, reason: "ok" },
    );
    fake.setQuery("billing:subscription", paid("starter"));
    const { user } = renderApp(<AnalysesPanel />);
    // 8 left is above the low-tokens threshold: no prompt yet.
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();

    await user.click(screen.getByTestId("analysis-run-bulk_analysis"));
    await user.click(await screen.findByTestId("upgrade-modal-dismiss"));
    const prompt = screen.getByTestId("upgrade-prompt");
    expect(prompt).toHaveAttribute("data-trigger", "analysis_blocked");
    expect(prompt).toHaveTextContent("Bulk analysis needs 10 tokens; you have 8");
    expect(prompt).toHaveTextContent("Pro gives you 150 tokens per period.");
    expect(prompt).not.toHaveTextContent("unlocks it");
    await user.click(screen.getByTestId("upgrade-prompt-upgrade"));
    expect(screen.getByRole("dialog", { name: "Not enough tokens for Bulk analysis" })).toBeInTheDocument();
    await user.click(screen.getByTestId("upgrade-modal-dismiss"));

    // A top-up changes the balance: the block no longer describes the account.
    fake.pushQuery("tokens:balance", balance({ allowance: 50, purchased: 100, used: 42, remaining: 108 }));
    expect(screen.queryByTestId("upgrade-prompt")).toBeNull();
  });

  it("trigger precedence: a live tier block, then out of tokens, then a token block at the same balance, then low", () => {
    const low = balance({ allowance: 5, used: 2, remaining: 3 });
    const empty = balance({ allowance: 5, used: 5, remaining: 0 });
    const tierBlock = { feature: "deep_analysis", reason: "tier_required" as const, requiredTier: "pro" as const };
    const tokenBlock = { feature: "bulk_analysis", reason: "insufficient_tokens" as const, cost: 10, remaining: 3 };
    expect(dashboardTrigger(empty, "free", tierBlock)).toBe("analysis_blocked");
    expect(dashboardTrigger(low, "pro", tierBlock)).toBe("low_tokens");
    expect(dashboardTrigger(empty, "free", { ...tokenBlock, remaining: 0 })).toBe("no_tokens");
    expect(dashboardTrigger(low, "free", tokenBlock)).toBe("analysis_blocked");
    expect(dashboardTrigger(balance({ remaining: 2 }), "free", tokenBlock)).toBe("low_tokens");
    expect(dashboardTrigger(balance({ remaining: 40 }), "free", null)).toBeNull();
    // Free's whole allowance is 5 tokens: untouched, it is not "running low".
    expect(dashboardTrigger(balance({ allowance: 5, used: 0, remaining: 5 }), "free", null)).toBeNull();
    expect(dashboardTrigger(balance({ allowance: 5, used: 1, remaining: 4 }), "free", null)).toBe("low_tokens");
    expect(dashboardTrigger(undefined, "free", null)).toBeNull();
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
