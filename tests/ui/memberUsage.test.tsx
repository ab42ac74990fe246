/**
 * "Usage by member" on /usage (issue 10 §3): organisation admins see each
 * member's tokens this period (and the previous one) with their cap and set
 * or remove caps; members see only their own usage and when they hit their
 * cap; personal accounts see neither. Loading, empty and error states.
 */
import { screen, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { MemberUsage } from "@/src/features/usage/components/MemberUsage";
import { humanizeError } from "@/src/lib/errors";
import { fake } from "./helpers/fakeConvex";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const START = Date.UTC(2026, 10, 1);
const END = Date.UTC(2026, 11, 1);
const org = (role: "admin" | "member") => ({ status: "ok", kind: "organization", orgId: "org_acme", name: "Acme", role, accountReady: true });

function member(name: string, used: number, cap: number | null, extra: Record<string, unknown> = {}) {
  return { memberKey: `user:${name.toLowerCase()}`, name, email: `${name.toLowerCase()}@example.test`, used, held: 0, cap, isYou: false, ...extra };
}

function period(members: ReturnType<typeof member>[], periodKey = "free:2026-11") {
  return { periodKey, periodStart: START, periodEnd: END, members, truncated: false };
}

beforeEach(() => {
  fake.reset();
});

describe("Usage by member (admins)", () => {
  it("lists each member's usage this period with their cap, and the previous period on request", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("memberUsage:list", {
      current: period([member("Grace", 42, 50, { held: 3 }), member("Ada", 7, null, { isYou: true })]),
      previous: { ...period([member("Grace", 90, 50)], "free:2026-10"), periodStart: Date.UTC(2026, 9, 1), periodEnd: START },
    });
    const { user } = renderApp(<MemberUsage />);
    const rows = await screen.findAllByTestId("member-usage-row");
    expect(rows.map((r) => within(r).getByTestId("member-usage-name").textContent)).toEqual(["Grace", "Ada (you)"]);
    expect(within(rows[0]!).getByTestId("member-usage-used")).toHaveTextContent("42");
    expect(within(rows[0]!).getByTestId("member-usage-held")).toHaveTextContent("3 reserved");
    expect(within(rows[0]!).getByTestId("member-usage-cap")).toHaveTextContent("50 tokens");
    expect(within(rows[1]!).getByTestId("member-usage-cap")).toHaveTextContent("No cap");

    await user.click(screen.getByTestId("member-usage-period-toggle"));
    expect(screen.getByTestId("member-usage-period")).toHaveTextContent("Previous period");
    const previous = screen.getAllByTestId("member-usage-row");
    expect(previous).toHaveLength(1);
    expect(within(previous[0]!).getByTestId("member-usage-used")).toHaveTextContent("90");
    expect(screen.queryByTestId("member-cap-edit")).not.toBeInTheDocument();
  }, 20_000);

  it("sets a cap and removes one, with a toast each", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("memberUsage:list", { current: period([member("Grace", 42, null), member("Bob", 1, 10)]), previous: null });
    const setCap = fake.setMutation("memberUsage:setCap", () => ({ before: null, after: 50 }));
    const { user } = renderApp(<MemberUsage />);
    const rows = await screen.findAllByTestId("member-usage-row");
    const grace = rows[0]!;
    const bob = rows[1]!;

    await user.click(within(grace).getByTestId("member-cap-edit"));
    await user.type(within(grace).getByTestId("member-cap-input"), "50");
    await user.click(within(grace).getByTestId("member-cap-save"));
    expect(setCap).toHaveBeenCalledWith({ memberKey: "user:grace", capTokens: 50 });
    expect(await screen.findByText("Grace can use up to 50 tokens a period")).toBeInTheDocument();

    await user.click(within(bob).getByTestId("member-cap-edit"));
    await user.click(within(bob).getByTestId("member-cap-remove"));
    expect(setCap).toHaveBeenLastCalledWith({ memberKey: "user:bob", capTokens: null });
    expect(await screen.findByText("Removed Bob's cap")).toBeInTheDocument();
  }, 20_000);

  it("a refused change says why and keeps the editor open", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("memberUsage:list", { current: period([member("Grace", 42, null)]), previous: null });
    fake.setMutation("memberUsage:setCap", () => {
      throw new ConvexError({ code: "FORBIDDEN", message: "Only organisation admins can manage billing." });
    });
    const { user } = renderApp(<MemberUsage />);
    const grace = (await screen.findAllByTestId("member-usage-row"))[0]!;
    await user.click(within(grace).getByTestId("member-cap-edit"));
    await user.type(within(grace).getByTestId("member-cap-input"), "5");
    await user.click(within(grace).getByTestId("member-cap-save"));
    expect(await screen.findByText("Couldn't change Grace's cap")).toBeInTheDocument();
    expect(screen.getByText("Only organisation admins can manage billing.")).toBeInTheDocument();
    expect(within(grace).getByTestId("member-cap-input")).toHaveValue(5);
  }, 20_000);

  it("loading, then empty when nobody has used tokens", async () => {
    fake.setQuery("users:activeAccount", org("admin"));
    renderApp(<MemberUsage />);
    expect(screen.getByLabelText("Loading usage by member")).toBeInTheDocument();
    fake.pushQuery("memberUsage:list", { current: period([]), previous: null });
    expect(await screen.findByTestId("member-usage-empty")).toHaveTextContent("No member has used tokens this period");
  });

  it("a failing query shows the error panel, not a blank page", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    fake.setQuery("users:activeAccount", org("admin"));
    fake.setQuery("memberUsage:list", () => {
      throw new Error("boom");
    });
    renderApp(
      <ErrorBoundary>
        <MemberUsage />
      </ErrorBoundary>,
    );
    expect(await screen.findByRole("button", { name: /try again/i })).toBeInTheDocument();
  });
});

describe("members and personal accounts", () => {
  it("a member sees their own usage and cap, and when they have reached it", async () => {
    fake.setQuery("users:activeAccount", org("member"));
    fake.setQuery("memberUsage:mine", { used: 4, held: 0, cap: 10, periodEnd: END });
    renderApp(<MemberUsage />);
    expect(await screen.findByTestId("member-own-usage-text")).toHaveTextContent("You've used 4 of your 10 tokens limit this period.");
    expect(screen.queryByTestId("member-cap-reached")).not.toBeInTheDocument();
    expect(screen.queryByTestId("member-usage")).not.toBeInTheDocument();
    fake.pushQuery("memberUsage:mine", { used: 10, held: 0, cap: 10, periodEnd: END });
    expect(await screen.findByTestId("member-cap-reached")).toHaveTextContent("ask an organisation admin to raise it");
  });

  it("personal accounts show nothing", () => {
    fake.setQuery("users:activeAccount", { status: "ok", kind: "personal", orgId: null, name: "Ada", role: "admin", accountReady: true });
    fake.setQuery("memberUsage:list", null);
    renderApp(<MemberUsage />);
    expect(screen.queryByTestId("member-usage")).not.toBeInTheDocument();
    expect(screen.queryByTestId("member-own-usage")).not.toBeInTheDocument();
  });

  it("the cap error reads as a limit the member can act on", () => {
    const human = humanizeError(
      new ConvexError({ code: "MEMBER_CAP_REACHED", message: "…", required: 3, available: 2, cap: 5 }),
    );
    expect(human.title).toBe("You've reached your token limit for this period");
    expect(human.description).toBe(
      "Your organisation's admins limit you to 5 tokens a period; you have 2 left and this needs 3. Ask an admin to raise your limit.",
    );
    expect(human.retryable).toBe(false);
  });
});
