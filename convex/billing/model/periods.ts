/**
 * Free-tier allowance periods: calendar months in UTC.
 *
 * All inputs and outputs are Convex milliseconds since the epoch. Only the
 * `Date.UTC` / `getUTC*` functions are used, so the result never depends on
 * the server's time zone; `Date.UTC` normalises month 12 to January of the
 * next year, which handles the December → January rollover.
 */

export type Period = {
  /** `free:YYYY-MM`, e.g. `free:2026-02`. */
  periodKey: string;
  /** First millisecond of the month, UTC. */
  periodStart: number;
  /** First millisecond of the next month, UTC (exclusive end). */
  periodEnd: number;
};

/** `YYYY-MM` of the UTC month containing `ms`. */
export function utcMonthId(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new Error(`Invalid time: ${ms}`);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** Start (inclusive) and end (exclusive) of the UTC calendar month containing `ms`. */
export function utcMonthBounds(ms: number): { start: number; end: number } {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new Error(`Invalid time: ${ms}`);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

/**
 * The monthly period of `tier` containing `ms`, for allowances not paid
 * through Stripe (the free tier, staff overrides): periodKey
 * `<tier>:YYYY-MM`.
 */
export function monthlyPeriod(tier: string, ms: number): Period {
  const { start, end } = utcMonthBounds(ms);
  return { periodKey: `${tier}:${utcMonthId(ms)}`, periodStart: start, periodEnd: end };
}

/** The free-tier period containing `ms`. */
export function freePeriod(ms: number): Period {
  return monthlyPeriod("free", ms);
}

/** Ledger `sourceKey` of a monthly period's grant, e.g. `period:free:2026-02`. */
export function freePeriodSourceKey(period: Pick<Period, "periodKey">): string {
  return `period:${period.periodKey}`;
}
