import { screen, waitFor } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { useState } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Complexity } from "@/convex/billing/model/plans";
import { AnalysisCard } from "@/src/app/dashboard/AnalysisCard";
import { useTokenGuard } from "@/src/features/billing/hooks/useTokenGuard";
import { fake } from "./helpers/fakeConvex";
import { plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

type Check = { allowed: boolean; cost: number; remaining: number; reason: string; requiredTier?: string };

function Harness({ run, feature, complexity }: { run: () => Promise<string>; feature: string; complexity?: Complexity }) {
  const { guard } = useTokenGuard();
  const [outcomes, setOutcomes] = useState<string[]>([]);
  return (
    <>
      <button
        type="button"
        onClick={() =>
          void guard(feature, run, { complexity }).then((o) => setOutcomes((prev) => [...prev, o.status]))
        }
      >
        Run it
      </button>
      <output data-testid="outcomes">{outcomes.join(",")}</output>
    </>
  );
}

function setCheck(check: Check) {
  fake.setQuery("tokens:check", () => check);
}

let consume: ReturnType<typeof fake.setMutation>;

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", subscription());
  consume = fake.setMutation("tokens:consume", () => ({ cost: 3, remaining: 37, duplicate: false }));
});

const outcomes = () => screen.getByTestId("outcomes");

describe("useTokenGuard", () => {
  it("blocked by tier: opens the upgrade modal for the required tier and does not run", async () => {
    setCheck({ allowed: false, cost: 20, remaining: 40, reason: "tier_required", requiredTier: "pro" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="deep_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    expect(await screen.findByRole("dialog", { name: "Deep analysis needs Pro" })).toBeInTheDocument();
    expect(outcomes()).toHaveTextContent("blocked");
    expect(run).not.toHaveBeenCalled();
    expect(consume).not.toHaveBeenCalled();
  });

  it("blocked by balance: opens the out-of-tokens upgrade and does not run", async () => {
    setCheck({ allowed: false, cost: 10, remaining: 2, reason: "insufficient_tokens" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    expect(await screen.findByRole("dialog", { name: "Not enough tokens for Bulk analysis" })).toBeInTheDocument();
    expect(run).not.toHaveBeenCalled();
    expect(consume).not.toHaveBeenCalled();
  });

  it("with no tokens at all, the modal says so", async () => {
    setCheck({ allowed: false, cost: 1, remaining: 0, reason: "insufficient_tokens" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="quick_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByRole("dialog", { name: "You're out of tokens" })).toBeInTheDocument();
    expect(run).not.toHaveBeenCalled();
  });

  it("checks with the feature and complexity", async () => {
    setCheck({ allowed: true, cost: 2, remaining: 40, reason: "ok" });
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="standard_analysis" complexity="low" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(fake.oneShotCalls).toEqual([{ name: "tokens:check", args: { feature: "standard_analysis", complexity: "low" } }]);
  });

  it("high cost: confirms with cost and what remains, then runs and consumes once", async () => {
    setCheck({ allowed: true, cost: 15, remaining: 40, reason: "ok" });
    consume = fake.setMutation("tokens:consume", () => ({ cost: 15, remaining: 25, duplicate: false }));
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" complexity="high" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    const confirm = await screen.findByRole("alertdialog", { name: "Run Bulk analysis?" });
    expect(confirm).toHaveTextContent("This uses 15 tokens. You have 40 tokens; 25 tokens will remain.");
    expect(run).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("confirm-accept"));

    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(run).toHaveBeenCalledTimes(1);
    expect(consume).toHaveBeenCalledTimes(1);
    const args = consume.mock.calls[0]![0];
    expect(args).toMatchObject({ feature: "bulk_analysis", complexity: "high" });
    expect(args.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(await screen.findByText("Bulk analysis complete")).toBeInTheDocument();
  });

  it("cancelled confirmation: no run, no consume", async () => {
    setCheck({ allowed: true, cost: 20, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    await user.click(await screen.findByTestId("confirm-cancel"));

    await waitFor(() => expect(outcomes()).toHaveTextContent("cancelled"));
    expect(run).not.toHaveBeenCalled();
    expect(consume).not.toHaveBeenCalled();
  });

  it("Escape on the confirmation cancels too", async () => {
    setCheck({ allowed: true, cost: 20, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await screen.findByRole("alertdialog");
    await user.keyboard("{Escape}");
    await waitFor(() => expect(outcomes()).toHaveTextContent("cancelled"));
    expect(run).not.toHaveBeenCalled();
  });

  it("low cost runs without asking", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(consume).toHaveBeenCalledTimes(1);
  });

  it("a failed run consumes nothing and says so", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.reject(new Error("boom")));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    await waitFor(() => expect(outcomes()).toHaveTextContent("failed"));
    expect(run).toHaveBeenCalledTimes(1);
    expect(consume).not.toHaveBeenCalled();
    expect(await screen.findByText("Standard analysis failed")).toBeInTheDocument();
    expect(screen.getByText("No tokens were used. Please try again.")).toBeInTheDocument();
  });

  it("a double click during an attempt starts one attempt and consumes once", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    let finish!: (v: string) => void;
    const run = vi.fn(() => new Promise<string>((r) => (finish = r)));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);

    await user.dblClick(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(run).toHaveBeenCalledTimes(1));
    await user.click(screen.getByRole("button", { name: "Run it" }));
    finish("done");

    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(outcomes().textContent?.split(",").sort()).toEqual(["busy", "busy", "ran"]);
    expect(run).toHaveBeenCalledTimes(1);
    expect(consume).toHaveBeenCalledTimes(1);
  });

  it("each attempt gets its own idempotency key; a transport retry reuses it", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    let calls = 0;
    consume = fake.setMutation("tokens:consume", () => {
      calls += 1;
      if (calls === 1) throw new Error("Connection lost");
      return { cost: 3, remaining: 37, duplicate: calls === 2 };
    });
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran,ran"));

    const keys = consume.mock.calls.map((c) => c[0].idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it("INSUFFICIENT_TOKENS at consume (balance spent meanwhile) opens the upgrade path", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 3, reason: "ok" });
    consume = fake.setMutation("tokens:consume", () => {
      throw new ConvexError({ code: "INSUFFICIENT_TOKENS", message: "no", required: 3, available: 0 });
    });
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByRole("dialog", { name: "You're out of tokens" })).toBeInTheDocument();
    expect(outcomes()).toHaveTextContent("blocked");
    expect(consume).toHaveBeenCalledTimes(1);
  });

  it("warns on the last token and when few are left", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 1, reason: "ok" });
    consume = fake.setMutation("tokens:consume", () => ({ cost: 1, remaining: 0, duplicate: false }));
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="quick_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByText("That was your last token")).toBeInTheDocument();

    consume = fake.setMutation("tokens:consume", () => ({ cost: 1, remaining: 3, duplicate: false }));
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByText("Only 3 tokens left")).toBeInTheDocument();
  });
});

describe("AnalysisCard", () => {
  it("runs through the guard, shows the result, and its button is disabled while running", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 40, reason: "ok" });
    consume = fake.setMutation("tokens:consume", () => ({ cost: 1, remaining: 39, duplicate: false }));
    const { user } = renderApp(<AnalysisCard feature="quick_analysis" />);

    const button = screen.getByTestId("analysis-run-quick_analysis");
    await user.dblClick(button);
    expect(button).toBeDisabled();
    expect(await screen.findByTestId("analysis-result-quick_analysis", {}, { timeout: 3000 })).toHaveTextContent(
      "Quick analysis found 2 insights",
    );
    expect(consume).toHaveBeenCalledTimes(1);
    expect(consume.mock.calls[0]![0]).toMatchObject({ feature: "quick_analysis", complexity: "medium" });
  });

  it("with 'Simulate a failure' the run fails and nothing is consumed", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 40, reason: "ok" });
    const { user } = renderApp(<AnalysisCard feature="quick_analysis" />);
    await user.click(screen.getByTestId("analysis-fail-quick_analysis"));
    await user.click(screen.getByTestId("analysis-run-quick_analysis"));
    expect(await screen.findByText("Quick analysis failed", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(consume).not.toHaveBeenCalled();
  });
});
