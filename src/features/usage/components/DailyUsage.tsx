import { useQuery } from "convex/react";
import { lazy, Suspense, useId, useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { EmptyState } from "@/src/components/EmptyState";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { Skeleton } from "@/src/components/Skeleton";
import { formatCount, formatDate } from "@/src/lib/format";
import { ROUTES } from "@/src/lib/routes";
import { featureName } from "../lib/labels";
import { usageSeries, type UsageSeries } from "../lib/series";
import { UsageTable } from "./UsageTable";

// Chart.js comes with the chart's own chunk, fetched when this card first has data to draw.
const UsageChart = lazy(() => import("./UsageChart"));

/** "42 tokens this period (Standard analysis 30, Quick analysis 12); 17 in the previous period." */
function summaryOf(series: UsageSeries): string {
  const parts = series.features.map((f) => `${featureName(f)} ${formatCount(series.byFeature[f]!.reduce((a, b) => a + b, 0))}`);
  return (
    `Tokens used per day: ${formatCount(series.currentTotal)} this period` +
    (parts.length > 0 ? ` (${parts.join(", ")})` : "") +
    `; ${formatCount(series.previousTotal)} in the previous period.`
  );
}

/**
 * Tokens per day this period, stacked by feature, with the previous period's
 * daily totals as a dashed line (toggle), from the pre-aggregated
 * `tokens.usage` rows. The chart is lazy (its own chunk); a table of the
 * same numbers is always in the page for screen readers and can be shown.
 */
export function DailyUsage() {
  const usage = useQuery(api.tokens.usage);
  const series = useMemo(() => (usage ? usageSeries(usage) : null), [usage]);
  const [showPrevious, setShowPrevious] = useState(true);
  const [showTable, setShowTable] = useState(false);
  const tableId = useId();
  const hasUsage = series !== null && (series.currentTotal > 0 || series.previousTotal > 0);
  return (
    <section className="card" aria-labelledby="usage-daily-title" data-testid="usage-daily">
      <div className="card-head usage-daily-head">
        <h2 id="usage-daily-title">Tokens per day</h2>
        {usage && series ? (
          <span className="muted" data-testid="usage-period">
            {formatDate(usage.current.start)} – {formatDate(usage.current.end - 1)} ·{" "}
            <strong data-testid="usage-period-total">{formatCount(series.currentTotal)}</strong> used
            {series.previousTotal > 0 || series.currentTotal > 0 ? ` (previous period ${formatCount(series.previousTotal)})` : ""}
          </span>
        ) : null}
      </div>
      {usage === undefined || usage === null || series === null ? (
        <Skeleton lines={5} label="Loading daily usage" />
      ) : !hasUsage ? (
        <EmptyState title="No usage yet" testId="usage-daily-empty">
          Tokens you spend show up here by day and feature. <Link to={ROUTES.dashboard.path}>Run an analysis</Link> to get started.
        </EmptyState>
      ) : (
        <figure className="usage-figure">
          <figcaption className="muted usage-caption" data-testid="usage-chart-caption">
            Tokens used each day of this period, stacked by feature
            {showPrevious ? "; the dashed line is the previous period's total on the same day of its period" : ""}.
          </figcaption>
          <div className="usage-controls">
            <label className="checkbox">
              <input
                type="checkbox"
                checked={showPrevious}
                onChange={(e) => setShowPrevious(e.target.checked)}
                data-testid="usage-compare"
              />
              Compare with the previous period
            </label>
            <button
              type="button"
              className="button button-ghost usage-table-toggle"
              aria-expanded={showTable}
              aria-controls={tableId}
              onClick={() => setShowTable((v) => !v)}
              data-testid="usage-table-toggle"
            >
              {showTable ? "Hide table" : "Show as table"}
            </button>
          </div>
          <ErrorBoundary
            fallback={() => (
              <p className="muted usage-chart-failed" role="status" data-testid="usage-chart-failed">
                The chart couldn't load. Choose “Show as table” to see the same numbers.
              </p>
            )}
          >
            <Suspense fallback={<Skeleton lines={6} label="Loading chart" className="usage-chart-loading" />}>
              <UsageChart series={series} showPrevious={showPrevious} summary={summaryOf(series)} />
            </Suspense>
          </ErrorBoundary>
          <UsageTable series={series} id={tableId} visible={showTable} />
        </figure>
      )}
    </section>
  );
}
