import { screen, waitFor } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { useState } from "react";
import { toast } from "sonner";
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

type Mut = ReturnType<typeof fake.setMutation>;
let consume: Mut;
let reserve: Mut;
let settle: Mut;
let release: Mut;

/** reserve answers a fresh open hold of `amount` per idempotency key (the same key, the same hold). */
function setReserve(amount: number, remainingAfter = 40 - amount) {
  const holds = new Map<unknown, string>();
  reserve = fake.setMutation("tokens:reserve", (args) => {
    const duplicate = holds.has(args.idempotencyKey);
    if (!duplicate) holds.set(args.idempotencyKey, `hold_${holds.size + 1}`);
    return {
      holdId: holds.get(args.idempotencyKey),
      status: "open",
      amount,
      expiresAt: Date.now() + 600_000,
      remaining: remainingAfter,
      duplicate,
    };
  });
}

function setSettle(charged: number, remaining: number) {
  settle = fake.setMutation("tokens:settle", () => ({ charged, returned: 0, shortfall: 0, remaining, duplicate: false }));
}

beforeEach(() => {
  // sonner keeps toasts in a module-level store and replays undismissed ones to a new Toaster.
  toast.dismiss();
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", subscription());
  // The guard no longer consumes; registered so a stray call is seen, not thrown.
  consume = fake.setMutation("tokens:consume", () => ({ cost: 3, remaining: 37, duplicate: false }));
  setReserve(3);
  setSettle(3, 37);
  release = fake.setMutation("tokens:release", () => ({ returned: 3, remaining: 40, duplicate: false }));
});

/** The guard's calls to the token mutations, in order. */
function tokenCalls(): string[] {
  const all = [
    ...reserve.mock.invocationCallOrder.map((n) => [n, "reserve"] as const),
    ...settle.mock.invocationCallOrder.map((n) => [n, "settle"] as const),
    ...release.mock.invocationCallOrder.map((n) => [n, "release"] as const),
    ...consume.mock.invocationCallOrder.map((n) => [n, "consume"] as const),
  ];
  return all.sort((a, b) => a[0] - b[0]).map(([, name]) => name);
}

const outcomes = () => screen.getByTestId("outcomes");

describe("useTokenGuard", () => {
  it("blocked by tier: opens the upgrade modal for the required tier and does not reserve or run", async () => {
    setCheck({ allowed: false, cost: 20, remaining: 40, reason: "tier_required", requiredTier: "pro" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="deep_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    expect(await screen.findByRole("dialog", { name: "Deep analysis needs Pro" })).toBeInTheDocument();
    expect(outcomes()).toHaveTextContent("blocked");
    expect(run).not.toHaveBeenCalled();
    expect(tokenCalls()).toEqual([]);
  });

  it("blocked by balance: opens the out-of-tokens upgrade and does not reserve or run", async () => {
    setCheck({ allowed: false, cost: 10, remaining: 2, reason: "insufficient_tokens" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    expect(await screen.findByRole("dialog", { name: "Not enough tokens for Bulk analysis" })).toBeInTheDocument();
    expect(run).not.toHaveBeenCalled();
    expect(tokenCalls()).toEqual([]);
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

  it("a successful run reserves, runs, then settles that hold once, and never consumes", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" complexity="medium" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(tokenCalls()).toEqual(["reserve", "settle"]);
    expect(consume).not.toHaveBeenCalled();
    const reserveArgs = reserve.mock.calls[0]![0];
    expect(reserveArgs).toMatchObject({ feature: "standard_analysis", complexity: "medium" });
    expect(reserveArgs.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    // The client names no amount: the server reserves the catalogue price.
    expect(Object.keys(reserveArgs).sort()).toEqual(["complexity", "feature", "idempotencyKey"]);
    expect(settle.mock.calls).toEqual([[{ holdId: "hold_1" }]]);
    // The work runs between the reserve and the settle.
    const [reservedAt] = reserve.mock.invocationCallOrder;
    const [ranAt] = run.mock.invocationCallOrder;
    const [settledAt] = settle.mock.invocationCallOrder;
    expect(reservedAt! < ranAt! && ranAt! < settledAt!).toBe(true);
    expect(await screen.findByText("Standard analysis complete")).toBeInTheDocument();
    expect(screen.getByText("Used 3 tokens · 37 tokens left")).toBeInTheDocument();
  });

  it("the outcome reports what settle charged and what remains", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    setSettle(3, 31);
    let outcome: unknown;
    function Probe() {
      const { guard } = useTokenGuard();
      return (
        <button type="button" onClick={() => void guard("standard_analysis", () => Promise.resolve(7)).then((o) => (outcome = o))}>
          Go
        </button>
      );
    }
    const { user } = renderApp(<Probe />);
    await user.click(screen.getByRole("button", { name: "Go" }));
    await waitFor(() => expect(outcome).toEqual({ status: "ran", result: 7, cost: 3, remaining: 31, duplicate: false }));
  });

  it("high cost: confirms with cost and what remains before reserving, then runs and settles once", async () => {
    setCheck({ allowed: true, cost: 15, remaining: 40, reason: "ok" });
    setReserve(15);
    setSettle(15, 25);
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" complexity="high" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    const confirm = await screen.findByRole("alertdialog", { name: "Run Bulk analysis?" });
    expect(confirm).toHaveTextContent("This uses 15 tokens. You have 40 tokens; 25 tokens will remain.");
    expect(confirm).toHaveTextContent("They're set aside while it runs and given back if it fails.");
    expect(run).not.toHaveBeenCalled();
    expect(reserve).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("confirm-accept"));

    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(run).toHaveBeenCalledTimes(1);
    expect(tokenCalls()).toEqual(["reserve", "settle"]);
    expect(reserve.mock.calls[0]![0]).toMatchObject({ feature: "bulk_analysis", complexity: "high" });
    expect(await screen.findByText("Bulk analysis complete")).toBeInTheDocument();
  });

  it("cancelled confirmation: nothing reserved, nothing run", async () => {
    setCheck({ allowed: true, cost: 20, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="bulk_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    await user.click(await screen.findByTestId("confirm-cancel"));

    await waitFor(() => expect(outcomes()).toHaveTextContent("cancelled"));
    expect(run).not.toHaveBeenCalled();
    expect(tokenCalls()).toEqual([]);
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
    expect(tokenCalls()).toEqual([]);
  });

  it("low cost runs without asking", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.resolve("result"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(tokenCalls()).toEqual(["reserve", "settle"]);
  });

  it("a failed run releases its hold, settles nothing, and says no tokens were used", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    const run = vi.fn(() => Promise.reject(new Error("boom")));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    await waitFor(() => expect(outcomes()).toHaveTextContent("failed"));
    expect(run).toHaveBeenCalledTimes(1);
    expect(tokenCalls()).toEqual(["reserve", "release"]);
    expect(release.mock.calls).toEqual([[{ holdId: "hold_1" }]]);
    expect(await screen.findByText("Standard analysis failed")).toBeInTheDocument();
    expect(screen.getByText("No tokens were used. Please try again.")).toBeInTheDocument();
  });

  it("a failed run whose release also fails says the tokens come back when the hold expires", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    release = fake.setMutation("tokens:release", () => {
      throw new Error("Connection lost while action was in flight");
    });
    const { user } = renderApp(<Harness run={() => Promise.reject(new Error("boom"))} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    await waitFor(() => expect(outcomes()).toHaveTextContent("failed"));
    // A transport failure is retried once, with the same hold.
    expect(release.mock.calls).toEqual([[{ holdId: "hold_1" }], [{ holdId: "hold_1" }]]);
    expect(settle).not.toHaveBeenCalled();
    expect(await screen.findByText("Standard analysis failed")).toBeInTheDocument();
    expect(
      screen.getByText("No tokens were used: the 3 tokens set aside come back automatically when the hold expires."),
    ).toBeInTheDocument();
  });

  it("a double click during an attempt starts one attempt, reserves and settles once", async () => {
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
    expect(tokenCalls()).toEqual(["reserve", "settle"]);
  });

  it("each attempt gets its own idempotency key; a reserve transport retry reuses it", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    let calls = 0;
    reserve = fake.setMutation("tokens:reserve", (args) => {
      calls += 1;
      if (calls === 1) throw new Error("Connection lost");
      return { holdId: `hold_${String(args.idempotencyKey)}`, status: "open", amount: 3, expiresAt: 0, remaining: 37, duplicate: calls === 2 };
    });
    const run = vi.fn(() => Promise.resolve("x"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("ran,ran"));

    const keys = reserve.mock.calls.map((c) => c[0].idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    // One run and one settle per attempt, each on its attempt's hold.
    expect(run).toHaveBeenCalledTimes(2);
    expect(settle.mock.calls.map((c) => c[0].holdId)).toEqual([`hold_${String(keys[0])}`, `hold_${String(keys[2])}`]);
  });

  it("a second reserve transport failure gives up before running", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    reserve = fake.setMutation("tokens:reserve", () => {
      throw new Error("Connection lost");
    });
    const run = vi.fn(() => Promise.resolve("x"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("failed"));
    expect(reserve).toHaveBeenCalledTimes(2);
    expect(run).not.toHaveBeenCalled();
    expect(await screen.findByText("Couldn't start Standard analysis")).toBeInTheDocument();
  });

  it("a transport error on settle retries once with the same hold id; the run counts once", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    let calls = 0;
    settle = fake.setMutation("tokens:settle", () => {
      calls += 1;
      if (calls === 1) throw new Error("Connection lost");
      // The first attempt landed before the connection dropped: the repeat is a duplicate.
      return { charged: 3, returned: 0, shortfall: 0, remaining: 37, duplicate: true };
    });
    const run = vi.fn(() => Promise.resolve("x"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);

    await user.click(screen.getByRole("button", { name: "Run it" }));

    await waitFor(() => expect(outcomes()).toHaveTextContent("ran"));
    expect(settle.mock.calls).toEqual([[{ holdId: "hold_1" }], [{ holdId: "hold_1" }]]);
    expect(run).toHaveBeenCalledTimes(1);
    expect(reserve).toHaveBeenCalledTimes(1);
    expect(release).not.toHaveBeenCalled();
    expect(await screen.findByText("Used 3 tokens · 37 tokens left")).toBeInTheDocument();
  });

  it("a typed error on settle is not retried and the result is withheld", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 40, reason: "ok" });
    settle = fake.setMutation("tokens:settle", () => {
      throw new ConvexError({ code: "HOLD_CLOSED", message: "This hold was released; reserve again to run the job." });
    });
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    await waitFor(() => expect(outcomes()).toHaveTextContent("failed"));
    expect(settle).toHaveBeenCalledTimes(1);
    expect(release).not.toHaveBeenCalled();
    expect(await screen.findByText("Couldn't record Standard analysis")).toBeInTheDocument();
    expect(screen.getByText("Its reservation was already closed, so nothing was charged. Please run it again.")).toBeInTheDocument();
  });

  it("INSUFFICIENT_TOKENS at reserve (balance spent since the check) opens the upgrade path and never runs", async () => {
    setCheck({ allowed: true, cost: 3, remaining: 3, reason: "ok" });
    reserve = fake.setMutation("tokens:reserve", () => {
      throw new ConvexError({ code: "INSUFFICIENT_TOKENS", message: "no", required: 3, available: 0 });
    });
    const run = vi.fn(() => Promise.resolve("x"));
    const { user } = renderApp(<Harness run={run} feature="standard_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByRole("dialog", { name: "You're out of tokens" })).toBeInTheDocument();
    expect(outcomes()).toHaveTextContent("blocked");
    // A typed refusal is an answer, not a transport failure: no retry.
    expect(reserve).toHaveBeenCalledTimes(1);
    expect(run).not.toHaveBeenCalled();
    expect(settle).not.toHaveBeenCalled();
    expect(release).not.toHaveBeenCalled();
    expect(consume).not.toHaveBeenCalled();
  });

  it("INSUFFICIENT_TOKENS at reserve with some tokens left names the feature", async () => {
    setCheck({ allowed: true, cost: 10, remaining: 12, reason: "ok" });
    reserve = fake.setMutation("tokens:reserve", () => {
      throw new ConvexError({ code: "INSUFFICIENT_TOKENS", message: "no", required: 10, available: 4 });
    });
    let outcome: unknown;
    function Probe() {
      const { guard } = useTokenGuard();
      return (
        <button type="button" onClick={() => void guard("bulk_analysis", () => Promise.resolve(1)).then((o) => (outcome = o))}>
          Go
        </button>
      );
    }
    const { user } = renderApp(<Probe />);
    await user.click(screen.getByRole("button", { name: "Go" }));
    await user.click(await screen.findByTestId("confirm-accept"));
    expect(await screen.findByRole("dialog", { name: "Not enough tokens for Bulk analysis" })).toBeInTheDocument();
    expect(outcome).toEqual({ status: "blocked", reason: "insufficient_tokens", cost: 10, remaining: 4 });
  });

  it("TIER_REQUIRED at reserve opens the upgrade modal for that tier and never runs", async () => {
    setCheck({ allowed: true, cost: 5, remaining: 40, reason: "ok" });
    reserve = fake.setMutation("tokens:reserve", () => {
      throw new ConvexError({ code: "TIER_REQUIRED", message: "needs pro", tier: "pro" });
    });
    const run = vi.fn(() => Promise.resolve("x"));
    const { user } = renderApp(<Harness run={run} feature="deep_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByRole("dialog", { name: "Deep analysis needs Pro" })).toBeInTheDocument();
    expect(outcomes()).toHaveTextContent("blocked");
    expect(run).not.toHaveBeenCalled();
  });

  it("warns on the last token and when few are left", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 1, reason: "ok" });
    setReserve(1);
    setSettle(1, 0);
    const { user } = renderApp(<Harness run={() => Promise.resolve("x")} feature="quick_analysis" />);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByText("That was your last token")).toBeInTheDocument();

    setSettle(1, 3);
    await user.click(screen.getByRole("button", { name: "Run it" }));
    expect(await screen.findByText("Only 3 tokens left")).toBeInTheDocument();
  });
});

describe("AnalysisCard", () => {
  it("runs through the guard (reserve, then settle), shows the result, and its button is disabled while running", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 40, reason: "ok" });
    setReserve(1);
    setSettle(1, 39);
    const { user } = renderApp(<AnalysisCard feature="quick_analysis" />);

    const button = screen.getByTestId("analysis-run-quick_analysis");
    await user.dblClick(button);
    expect(button).toBeDisabled();
    expect(await screen.findByTestId("analysis-result-quick_analysis", {}, { timeout: 3000 })).toHaveTextContent(
      "Quick analysis found 2 insights",
    );
    expect(tokenCalls()).toEqual(["reserve", "settle"]);
    expect(reserve.mock.calls[0]![0]).toMatchObject({ feature: "quick_analysis", complexity: "medium" });
  });

  it("with 'Simulate a failure' the run fails, its hold is released and nothing is charged", async () => {
    setCheck({ allowed: true, cost: 1, remaining: 40, reason: "ok" });
    setReserve(1);
    const { user } = renderApp(<AnalysisCard feature="quick_analysis" />);
    await user.click(screen.getByTestId("analysis-fail-quick_analysis"));
    await user.click(screen.getByTestId("analysis-run-quick_analysis"));
    expect(await screen.findByText("Quick analysis failed", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(screen.getByText("No tokens were used. Please try again.")).toBeInTheDocument();
    expect(tokenCalls()).toEqual(["reserve", "release"]);
    expect(screen.queryByTestId("analysis-result-quick_analysis")).toBeNull();
  });
});
