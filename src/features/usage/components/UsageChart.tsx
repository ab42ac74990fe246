/**
 * The daily usage chart, drawn with uPlot on a canvas. Loaded on demand
 * with `React.lazy` from DailyUsage, so uPlot (and its stylesheet) live in
 * their own chunk: neither the entry bundle nor the page's first paint
 * waits for them.
 *
 * Bars are stacked by drawing each feature's running total, tallest first,
 * so the next one covers its lower part; the legend (an HTML table uPlot
 * keeps live) shows each feature's own tokens for the day under the
 * pointer, or for the whole period when the pointer is elsewhere. The
 * previous period is a dashed line of daily totals, aligned by day number.
 * The canvas is an image to assistive technology, labelled with a summary;
 * UsageTable has every number.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { FEATURES } from "@/convex/billing/model/plans";
import { formatCount } from "@/src/lib/format";
import { featureName } from "../lib/labels";
import { formatDay, type UsageSeries } from "../lib/series";

/** One colour per catalogue feature (in catalogue order), then the rest for features it doesn't list. */
const PALETTE = ["#4f46e5", "#0f8a5f", "#c26a00", "#1f6fbf", "#b4236b", "#6d28d9", "#4b5563"];
const CATALOGUE = Object.keys(FEATURES);
const MUTED = "#5f6180";
const GRID = "#ececf3";
/** Steps between labelled days / tokens: whole numbers only. */
const DAY_STEPS = [1, 2, 3, 5, 7, 10, 14, 15];
const TOKEN_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

export function colourOf(feature: string, i: number): string {
  const known = CATALOGUE.indexOf(feature);
  return PALETTE[known >= 0 ? known % PALETTE.length : (CATALOGUE.length + i) % PALETTE.length]!;
}

/** Plot height for a container `width` px wide (shorter on phones). */
function heightFor(width: number): number {
  return width < 480 ? 220 : 280;
}

/**
 * uPlot's data and options: x = day index of the period; one bar series per
 * feature (top of the stack first, each the running total up to it), then
 * the previous period's line when `showPrevious`.
 */
export function chartSetup(series: UsageSeries, showPrevious: boolean, width: number): { data: uPlot.AlignedData; opts: uPlot.Options } {
  const x = series.days.map((_, i) => i);
  // Bottom of the stack first: the most used feature sits on the axis.
  const running: number[][] = [];
  series.features.forEach((f, k) => {
    const own = series.byFeature[f] ?? [];
    running.push(own.map((v, i) => v + (k > 0 ? running[k - 1]![i]! : 0)));
  });
  const stack = series.features.map((feature, k) => ({ feature, k })).reverse();
  const font = `12px ${typeof document === "undefined" ? "sans-serif" : getComputedStyle(document.body).fontFamily || "sans-serif"}`;
  const bars = uPlot.paths.bars!({ size: [0.7, 36], radius: 0.15 });

  const featureSeries: uPlot.Series[] = stack.map(({ feature, k }) => {
    const own = series.byFeature[feature] ?? [];
    const total = own.reduce((a, b) => a + b, 0);
    return {
      label: featureName(feature),
      fill: colourOf(feature, k),
      stroke: colourOf(feature, k),
      width: 0,
      paths: bars,
      points: { show: false },
      value: (_u, _v, _s, idx) => formatCount(idx == null ? total : (own[idx] ?? 0)),
    };
  });
  const previousSeries: uPlot.Series[] = showPrevious
    ? [
        {
          label: "Previous period",
          stroke: MUTED,
          width: 2,
          dash: [6, 4],
          points: { show: false },
          value: (_u, v, _s, idx) => {
            if (idx == null) return formatCount(series.previousTotal);
            const day = series.previousDays[idx];
            return day ? `${formatCount(Number(v ?? 0))} (${formatDay(day)})` : "—";
          },
        },
      ]
    : [];

  return {
    data: [x, ...stack.map(({ k }) => running[k]!), ...(showPrevious ? [series.previousTotals] : [])],
    opts: {
      width,
      height: heightFor(width),
      // Redraws replace the chart; no zooming by drag, no hover dots.
      cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
      legend: { live: true },
      scales: {
        x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
        y: { range: (_u, _min, max) => [0, max > 0 ? Math.ceil(max * 1.1) : 5] },
      },
      axes: [
        {
          font,
          stroke: MUTED,
          grid: { show: false },
          ticks: { show: false },
          incrs: DAY_STEPS,
          space: 48,
          values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && series.days[i] ? formatDay(series.days[i]) : "")),
        },
        {
          font,
          stroke: MUTED,
          grid: { stroke: GRID, width: 1 },
          ticks: { show: false },
          incrs: TOKEN_STEPS,
          size: 48,
          values: (_u, splits) => splits.map((v) => formatCount(v)),
        },
      ],
      series: [
        {
          label: "Day",
          value: (_u, v, _s, idx) => (idx == null ? "Whole period" : formatDay(series.days[Number(v)] ?? "", true)),
        },
        ...featureSeries,
        ...previousSeries,
      ],
    },
  };
}

export default function UsageChart({ series, showPrevious, summary }: { series: UsageSeries; showPrevious: boolean; summary: string }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const width = () => Math.max(240, Math.floor(el.clientWidth));
    const { data, opts } = chartSetup(series, showPrevious, width());
    const chart = new uPlot(opts, data, el);
    chart.ctx.canvas.setAttribute("role", "img");
    chart.ctx.canvas.setAttribute("aria-label", summary);
    const resize = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
      const w = width();
      if (w !== chart.width) chart.setSize({ width: w, height: heightFor(w) });
    });
    resize?.observe(el);
    return () => {
      resize?.disconnect();
      chart.destroy();
    };
  }, [series, showPrevious, summary]);
  return <div ref={container} className="usage-chart" data-testid="usage-chart" />;
}
