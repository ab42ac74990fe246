/**
 * Shapes `tokens.usage` (daily rows per UTC day and feature) into what the
 * chart and its table show: one value per day of the current period for each
 * feature, and the previous period's daily totals aligned by day number
 * (day 1 with day 1), so the two periods compare side by side.
 */
import type { PeriodUsage, UsageView } from "./types";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Most days one period shows (periods are at most a month; the server reads 62 days for two). */
export const MAX_PERIOD_DAYS = 31;

/** `YYYY-MM-DD` of `ms` in UTC, as the server keys usage rows. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC days a period `[start, end)` touches, oldest first (at most `MAX_PERIOD_DAYS`). */
export function periodDays(period: Pick<PeriodUsage, "start" | "end">): string[] {
  if (!(period.end > period.start)) return [];
  const last = utcDay(period.end - 1);
  const days: string[] = [];
  for (let t = Date.parse(`${utcDay(period.start)}T00:00:00Z`); days.length < MAX_PERIOD_DAYS; t += DAY_MS) {
    const day = utcDay(t);
    days.push(day);
    if (day >= last) break;
  }
  return days;
}

export type UsageSeries = {
  /** The current period's days. */
  days: string[];
  /** The previous period's day at each index of `days`, or null past its end. */
  previousDays: (string | null)[];
  /** Features used this period, most tokens first. */
  features: string[];
  /** Tokens per feature per day of `days`. */
  byFeature: Record<string, number[]>;
  /** Tokens per day of `days`, all features. */
  totals: number[];
  /** The previous period's tokens per aligned day (0 where it had none). */
  previousTotals: number[];
  currentTotal: number;
  previousTotal: number;
};

export function usageSeries(usage: UsageView): UsageSeries {
  const days = periodDays(usage.current);
  const previous = periodDays(usage.previous);
  const index = new Map(days.map((d, i) => [d, i]));
  const previousIndex = new Map(previous.map((d, i) => [d, i]));

  const byFeature: Record<string, number[]> = {};
  const totals = days.map(() => 0);
  const featureTotals = new Map<string, number>();
  for (const row of usage.current.days) {
    const i = index.get(row.day);
    if (i === undefined) continue;
    (byFeature[row.feature] ??= days.map(() => 0))[i]! += row.tokens;
    totals[i]! += row.tokens;
    featureTotals.set(row.feature, (featureTotals.get(row.feature) ?? 0) + row.tokens);
  }
  const previousTotals = days.map(() => 0);
  let previousTotal = 0;
  for (const row of usage.previous.days) {
    const i = previousIndex.get(row.day);
    if (i === undefined) continue;
    previousTotal += row.tokens;
    if (i < days.length) previousTotals[i]! += row.tokens;
  }
  const features = [...featureTotals.keys()].sort((a, b) => featureTotals.get(b)! - featureTotals.get(a)! || a.localeCompare(b));
  return {
    days,
    previousDays: days.map((_, i) => previous[i] ?? null),
    features,
    byFeature,
    totals,
    previousTotals,
    currentTotal: totals.reduce((a, b) => a + b, 0),
    previousTotal,
  };
}

/** A `YYYY-MM-DD` day as the reader's locale writes it ("Mar 5" / "Mar 5, 2026"), read as UTC. */
export function formatDay(day: string, withYear = false, locale?: string): string {
  return new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    ...(withYear ? { year: "numeric" } : {}),
    timeZone: "UTC",
  }).format(new Date(`${day}T00:00:00Z`));
}
