/**
 * /usage: balance by grant, the lazily loaded daily chart with its table,
 * the paginated ledger history and its CSV download.
 *
 * convex/react is the shared fake (helpers/convexReactMock) plus a
 * `usePaginatedQuery` over it: `fake.setQuery("tokens:history", pages)`
 * with `pages` an array of pages; each `loadMore` reveals the next one.
 * uPlot is replaced by a recorder (jsdom has no canvas): it keeps what the
 * chart was given and adds a canvas to its target.
 */
import { act, screen, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { UsagePage } from "@/src/features/usage/components/UsagePage";
import type { GrantView, LedgerEntry, UsageView } from "@/src/features/usage/lib/types";
import { formatDate } from "@/src/lib/format";
import { fake } from "./helpers/fakeConvex";
import { balance, DAY, NOW, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", async () => {
  const base = await import("./helpers/convexReactMock");
  const { useCallback, useState } = await import("react");
  type Ref = Parameters<typeof base.useQuery>[0];
  function usePaginatedQuery(ref: Ref, args: Record<string, unknown> | "skip", options: { initialNumItems: number }) {
    const pages = base.useQuery(ref, args === "skip" ? "skip" : { ...args, initialNumItems: options.initialNumItems }) as unknown[][] | undefined;
    const [loaded, setLoaded] = useState(1);
    const loadMore = useCallback((n: number) => {
      (globalThis as { __loadMoreCalls?: number[] }).__loadMoreCalls?.push(n);
      setLoaded((l) => l + 1);
    }, []);
    if (pages === undefined) return { results: [], status: "LoadingFirstPage", isLoading: true, loadMore };
    return {
      results: pages.slice(0, loaded).flat(),
      status: loaded >= pages.length ? "Exhausted" : "CanLoadMore",
      isLoading: false,
      loadMore,
    };
  }
  return { ...base, usePaginatedQuery };
});

type Recorded = { opts: { series: { label?: string; value?: unknown }[] }; data: number[][]; target: HTMLElement };
const charts: Recorded[] = [];
vi.mock("uplot", () => {
  class FakeUPlot {
    static paths = { bars: () => () => null };
    width: number;
    ctx: { canvas: HTMLCanvasElement };
    constructor(opts: Recorded["opts"] & { width: number }, data: number[][], target: HTMLElement) {
      this.width = opts.width;
      const canvas = document.createElement("canvas");
      target.append(canvas);
      this.ctx = { canvas };
      charts.push({ opts, data, target });
    }
    setSize() {}
    destroy() {
      this.ctx.canvas.remove();
    }
  }
  return { default: FakeUPlot };
});

const PERIOD_START = Date.UTC(2026, 2, 1);
const PERIOD_END = Date.UTC(2026, 3, 1);

function grants(): GrantView[] {
  return [
    {
      grantId: "g_promo",
      category: "promotional",
      amount: 20,
      remaining: 5,
      startsAt: NOW - 10 * DAY,
      expiresAt: NOW + 5 * DAY,
      priority: 100,
      note: "Spring promotion",
    },
    { grantId: "g_plan", category: "plan_allowance", amount: 50, remaining: 40, startsAt: PERIOD_START, expiresAt: PERIOD_END, priority: 100, note: "2026-03:starter" },
    { grantId: "g_pack", category: "purchased", amount: 100, remaining: 100, startsAt: NOW - DAY, expiresAt: null, priority: 100 },
  ];
}

function usage(overrides: Partial<{ current: UsageView["current"]["days"]; previous: UsageView["previous"]["days"] }> = {}): UsageView {
  return {
    current: {
      start: PERIOD_START,
      end: PERIOD_END,
      days: overrides.current ?? [
        { day: "2026-03-02", feature: "quick_analysis", tokens: 2, runs: 2 },
        { day: "2026-03-02", feature: "standard_analysis", tokens: 6, runs: 2 },
        { day: "2026-03-05", feature: "standard_analysis", tokens: 3, runs: 1 },
      ],
    },
    previous: {
      start: PERIOD_START - 31 * DAY,
      end: PERIOD_START,
      days: overrides.previous ?? [{ day: "2026-01-30", feature: "quick_analysis", tokens: 4, runs: 4 }],
    },
  };
}

let seq = 0;
function entry(fields: Partial<LedgerEntry> & Pick<LedgerEntry, "reason" | "amount" | "balanceAfter">): LedgerEntry {
  seq += 1;
  return { _id: `l${seq}`, _creationTime: NOW - seq * 60_000, sourceKey: `k${seq}`, ...fields };
}

function history(): LedgerEntry[][] {
  seq = 0;
  return [
    [
      entry({ reason: "hold_settle", amount: 0, balanceAfter: 145, feature: "standard_analysis", note: "Charged 3 of 3 reserved", drawnFrom: [] }),
      entry({
        reason: "hold",
        amount: -3,
        balanceAfter: 145,
        feature: "standard_analysis",
        drawnFrom: [
          { grantId: "g_promo", amount: 1, category: "promotional" },
          { grantId: "g_plan", amount: 2, category: "plan_allowance" },
        ],
      }),
      entry({
        reason: "consume",
        amount: -5,
        balanceAfter: 148,
        feature: "quick_analysis",
        drawnFrom: [
          { grantId: "g_plan", amount: 3, category: "plan_allowance" },
          { grantId: "g_pack", amount: 2, category: "purchased" },
        ],
      }),
    ],
    [
      entry({ reason: "admin_grant", amount: 10, balanceAfter: 153, note: 'Sorry, the "outage" is fixed' }),
      entry({ reason: "top_up", amount: 100, balanceAfter: 143, note: "Token pack pack_100 (100 tokens)" }),
      entry({ reason: "period_grant", amount: 50, balanceAfter: 43, note: "2026-03:starter" }),
    ],
  ];
}

function setAll() {
  fake.setQuery("tokens:grants", grants());
  fake.setQuery("tokens:balance", balance({ allowance: 50, purchased: 120, used: 5, held: 0, remaining: 145 }));
  fake.setQuery("tokens:usage", usage());
  fake.setQuery("tokens:history", history());
}

beforeEach(() => {
  fake.reset();
  charts.length = 0;
  (globalThis as { __loadMoreCalls?: number[] }).__loadMoreCalls = [];
});

afterEach(() => vi.restoreAllMocks());

describe("usage page: balance by grant", () => {
  it("lists the active grants in draw order with remaining of amount and expiry, and explains the order", async () => {
    setAll();
    renderApp(<UsagePage />);
    const rows = await screen.findAllByTestId("usage-grant");
    expect(rows.map((r) => r.getAttribute("data-category"))).toEqual(["promotional", "plan_allowance", "purchased"]);
    expect(within(rows[0]!).getByTestId("usage-grant-category")).toHaveTextContent("Promotional");
    expect(rows[0]).toHaveTextContent("Spring promotion");
    expect(within(rows[0]!).getByTestId("usage-grant-remaining")).toHaveTextContent("5 of 20");
    expect(within(rows[0]!).getByTestId("usage-grant-expiry")).toHaveTextContent(`Expires ${formatDate(NOW + 5 * DAY)}`);
    // A plan allowance's note is its internal period key: not shown.
    expect(rows[1]).not.toHaveTextContent("2026-03:starter");
    expect(within(rows[1]!).getByTestId("usage-grant-expiry")).toHaveTextContent(`Expires ${formatDate(PERIOD_END)}`);
    expect(within(rows[2]!).getByTestId("usage-grant-category")).toHaveTextContent("Purchased");
    expect(within(rows[2]!).getByTestId("usage-grant-expiry")).toHaveTextContent("Never expires");
    expect(screen.getByTestId("usage-draw-order")).toHaveTextContent(
      "Tokens are used in this order: promotional, then plan allowance, then purchased.",
    );
    expect(screen.getByTestId("usage-grants-total")).toHaveAttribute("data-available", "145");
  });

  it("says how many tokens running jobs hold, which the grants no longer count", async () => {
    setAll();
    fake.setQuery("tokens:balance", balance({ held: 15, remaining: 130 }));
    renderApp(<UsagePage />);
    expect(await screen.findByTestId("usage-held")).toHaveTextContent("15 tokens reserved for running jobs");
  });

  it("loading shows skeletons; no grants shows the empty state", () => {
    renderApp(<UsagePage />);
    expect(screen.getByRole("status", { name: "Loading your balance" })).toBeInTheDocument();
    expect(screen.getByRole("status", { name: "Loading daily usage" })).toBeInTheDocument();
    expect(screen.getByRole("status", { name: "Loading history" })).toBeInTheDocument();
    fake.pushQuery("tokens:grants", []);
    expect(screen.getByTestId("usage-grants-empty")).toHaveTextContent("No tokens right now");
  });
});

describe("usage page: tokens per day", () => {
  it("renders the loading fallback, then the lazily loaded chart with bars stacked by feature and the previous period", async () => {
    setAll();
    renderApp(<UsagePage />);
    // The chart's module is not loaded yet on the first render: the fallback stands in.
    expect(screen.getByRole("status", { name: "Loading chart" })).toBeInTheDocument();
    expect(screen.queryByTestId("usage-chart")).toBeNull();

    const chart = await screen.findByTestId("usage-chart");
    const canvas = chart.querySelector("canvas");
    expect(canvas).not.toBeNull();
    expect(canvas).toHaveAttribute("role", "img");
    expect(canvas?.getAttribute("aria-label")).toBe(
      "Tokens used per day: 11 this period (Standard analysis 9, Quick analysis 2); 4 in the previous period.",
    );
    expect(screen.queryByRole("status", { name: "Loading chart" })).toBeNull();

    const { opts, data } = charts.at(-1)!;
    expect(opts.series.map((s) => s.label)).toEqual(["Day", "Quick analysis", "Standard analysis", "Previous period"]);
    // March has 31 days; x is the day number of the period.
    expect(data[0]).toHaveLength(31);
    // Stacked: the top series is the running total, the bottom one the most used feature alone.
    expect(data[1]!.slice(0, 5)).toEqual([0, 8, 0, 0, 3]);
    expect(data[2]!.slice(0, 5)).toEqual([0, 6, 0, 0, 3]);
    // Previous period aligned by day number: Jan 30 is its day 2.
    expect(data[3]!.slice(0, 3)).toEqual([0, 4, 0]);
    expect(screen.getByTestId("usage-period-total")).toHaveTextContent("11");
  });

  it("the compare toggle drops the previous period; the table shows the same numbers", async () => {
    setAll();
    const { user } = renderApp(<UsagePage />);
    await screen.findByTestId("usage-chart");
    await user.click(screen.getByTestId("usage-compare"));
    expect(charts.at(-1)!.opts.series.map((s) => s.label)).toEqual(["Day", "Quick analysis", "Standard analysis"]);

    // Always there for assistive technology; shown on request.
    const table = screen.getByTestId("usage-table");
    expect(table).toHaveAttribute("data-visible", "false");
    const toggle = screen.getByTestId("usage-table-toggle");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(table).toHaveAttribute("data-visible", "true");
    const rows = within(table).getAllByTestId("usage-table-row");
    expect(rows.map((r) => r.getAttribute("data-day"))).toEqual(["2026-03-02", "2026-03-05"]);
    expect(within(rows[0]!).getAllByRole("cell").map((c) => c.textContent)).toEqual(["6", "2", "8", "4"]);
    expect(within(table).getByTestId("usage-table-period-total")).toHaveTextContent("11");
    expect(within(table).getByTestId("usage-table-previous-total")).toHaveTextContent("4");
  });

  it("no usage in either period shows the empty state and loads no chart", async () => {
    setAll();
    fake.setQuery("tokens:usage", usage({ current: [], previous: [] }));
    renderApp(<UsagePage />);
    expect(await screen.findByTestId("usage-daily-empty")).toHaveTextContent("No usage yet");
    expect(screen.queryByTestId("usage-chart")).toBeNull();
    expect(screen.queryByRole("status", { name: "Loading chart" })).toBeNull();
  });
});

describe("usage page: history", () => {
  it("each row says when, what happened, the signed amount, the balance after and what a debit drew from", async () => {
    setAll();
    renderApp(<UsagePage />);
    const rows = await screen.findAllByTestId("usage-history-row");
    expect(rows).toHaveLength(3);
    const [settle, hold, consume] = rows as [HTMLElement, HTMLElement, HTMLElement];
    expect(within(settle).getByTestId("usage-history-label")).toHaveTextContent("Standard analysis finished");
    expect(within(settle).getByTestId("usage-history-note")).toHaveTextContent("Charged 3 of 3 reserved");
    expect(within(settle).getByTestId("usage-history-amount")).toHaveTextContent(/^0$/);
    expect(within(hold).getByTestId("usage-history-label")).toHaveTextContent("Standard analysis started: tokens reserved");
    expect(within(hold).getByTestId("usage-history-drawn")).toHaveTextContent("1 from promotional, 2 from plan allowance");
    expect(within(hold).getByTestId("usage-history-amount")).toHaveTextContent("\u22123");
    expect(within(consume).getByTestId("usage-history-label")).toHaveTextContent("Used Quick analysis");
    expect(within(consume).getByTestId("usage-history-drawn")).toHaveTextContent("3 from plan allowance, 2 from purchased");
    expect(within(consume).getByTestId("usage-history-balance")).toHaveTextContent("148");
    expect(within(consume).getByRole("time")).toHaveAttribute("dateTime", new Date(NOW - 3 * 60_000).toISOString());
  });

  it("Load more fetches the next page; credits are signed +; internal notes stay hidden", async () => {
    setAll();
    const { user } = renderApp(<UsagePage />);
    await screen.findAllByTestId("usage-history-row");
    expect(screen.getByTestId("usage-history-count")).toHaveTextContent("Showing the latest 3 entries");
    await user.click(screen.getByTestId("usage-history-more"));
    expect((globalThis as { __loadMoreCalls?: number[] }).__loadMoreCalls).toEqual([25]);
    const rows = screen.getAllByTestId("usage-history-row");
    expect(rows).toHaveLength(6);
    expect(within(rows[3]!).getByTestId("usage-history-label")).toHaveTextContent("Tokens added by support");
    expect(within(rows[3]!).getByTestId("usage-history-amount")).toHaveTextContent("+10");
    expect(within(rows[4]!).getByTestId("usage-history-label")).toHaveTextContent("Token pack purchased");
    expect(rows[4]).not.toHaveTextContent("pack_100");
    expect(within(rows[5]!).getByTestId("usage-history-label")).toHaveTextContent("Plan allowance added");
    expect(rows[5]).not.toHaveTextContent("2026-03:starter");
    expect(screen.queryByTestId("usage-history-more")).toBeNull();
    expect(screen.getByTestId("usage-history-count")).toHaveTextContent("That's everything: 6 entries.");
  });

  it("an empty ledger shows the empty state and no download", async () => {
    setAll();
    fake.setQuery("tokens:history", [[]]);
    renderApp(<UsagePage />);
    expect(await screen.findByTestId("usage-history-empty")).toHaveTextContent("Nothing here yet");
    expect(screen.queryByTestId("usage-download-csv")).toBeNull();
  });

  it("Download CSV saves the loaded rows as a CSV file", async () => {
    setAll();
    const blobs: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return "blob:usage";
    });
    const revokeObjectURL = vi.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });
    const { user } = renderApp(<UsagePage />);
    await screen.findAllByTestId("usage-history-row");
    await user.click(screen.getByTestId("usage-history-more"));
    await user.click(screen.getByTestId("usage-download-csv"));

    expect(clicked).toHaveLength(1);
    expect(clicked[0]!.download).toMatch(/^token-history-\d{4}-\d{2}-\d{2}\.csv$/);
    expect(clicked[0]!.href).toBe("blob:usage");
    expect(blobs[0]!.type).toBe("text/csv;charset=utf-8");
    const lines = (await blobs[0]!.text()).split("\r\n");
    expect(lines[0]).toBe("Date (UTC),Type,Description,Feature,Amount,Balance after,Drawn from,Note,Entry ID");
    expect(lines).toHaveLength(1 + 6 + 1); // header, six rows, the final line end
    expect(lines[2]).toBe(
      `${new Date(NOW - 2 * 60_000).toISOString()},hold,Standard analysis started: tokens reserved,Standard analysis,-3,145,"1 from promotional, 2 from plan allowance",,l2`,
    );
    expect(lines[4]).toBe(`${new Date(NOW - 4 * 60_000).toISOString()},admin_grant,Tokens added by support,,10,153,,"Sorry, the ""outage"" is fixed",l4`);
    await act(() => new Promise((r) => setTimeout(r, 0)));
    expect(revokeObjectURL).toHaveBeenCalledWith("blob:usage");
  });
});

describe("usage page: errors and the route", () => {
  it("a failing query shows that section's error state; the other sections stay", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    setAll();
    fake.setQuery("tokens:usage", () => {
      throw new Error("Server Error");
    });
    renderApp(<UsagePage />);
    const error = await screen.findByTestId("error-state");
    expect(within(error).getByRole("button", { name: "Try again" })).toBeInTheDocument();
    expect(screen.getAllByTestId("usage-grant")).toHaveLength(3);
    expect(screen.getAllByTestId("usage-history-row")).toHaveLength(3);
  });

  function renderAt(path: string) {
    const router = createMemoryRouter(routes, { initialEntries: [path] });
    return renderApp(<RouterProvider router={router} />, { router: false });
  }

  it("/usage is in the signed-in nav and asks visitors to sign in", async () => {
    fake.setQuery("plans:list", plans);
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("billing:invoices", []);
    setAll();
    renderAt("/usage");
    expect(await screen.findByRole("heading", { name: "Usage", level: 1 })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Usage" })).toHaveAttribute("href", "/usage");

    fake.setAuth({ isAuthenticated: false });
    expect(await screen.findByText("Sign in to see your usage")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Usage" })).toBeNull();
  });
});
