/**
 * Billing calendar: period boundaries on the UTC calendar, as Stripe
 * computes them (month ends clamped: Jan 31 → Feb 28 → Mar 31).
 */
import type Stripe from "stripe";
import { invalid } from "./errors.ts";

export const DAY = 24 * 3600;

/** A billing interval: a price's `recurring`, or a schedule phase's `duration`. */
export type Interval = Pick<Stripe.Price.Recurring, "interval" | "interval_count">;

/** `anchor` plus `months` calendar months in UTC, clamped to the month's last day (Jan 31 → Feb 28). */
export function addMonths(anchor: number, months: number): number {
  const d = new Date(anchor * 1000);
  const day = d.getUTCDate();
  const target = new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return Math.floor(target.getTime() / 1000);
}

/** The `k`-th period boundary after `anchor` for a recurring price. */
export function boundary(anchor: number, recurring: Interval, k: number): number {
  const n = recurring.interval_count * k;
  switch (recurring.interval) {
    case "day":
      return anchor + n * DAY;
    case "week":
      return anchor + n * 7 * DAY;
    case "year":
      return addMonths(anchor, 12 * n);
    default:
      return addMonths(anchor, n);
  }
}

/** First period boundary strictly after `after`, counted from the billing cycle anchor. */
export function nextBoundary(anchor: number, recurring: Interval, after: number): number {
  let k = 1;
  let t = boundary(anchor, recurring, k);
  while (t <= after) t = boundary(anchor, recurring, ++k);
  return t;
}

export function recurringOf(price: Stripe.Price): Stripe.Price.Recurring {
  if (!price.recurring) throw invalid(`The price ${price.id} is not recurring.`, "price");
  return price.recurring;
}

/** Rough length of one billing interval in days, to compare intervals ("shortening"). */
export function intervalDays(recurring: Stripe.Price.Recurring): number {
  const days: Record<string, number> = { day: 1, week: 7, month: 30, year: 365 };
  const per = days[recurring.interval] ?? 30;
  return per * recurring.interval_count;
}
