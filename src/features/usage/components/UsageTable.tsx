import { formatCount } from "@/src/lib/format";
import { featureName } from "../lib/labels";
import { formatDay, type UsageSeries } from "../lib/series";

/**
 * The chart's numbers as a table: one row per day with usage in either
 * period (current day's tokens per feature, its total, and the previous
 * period's same day), then the period totals. Always in the page for
 * assistive technology; shown on screen when `visible`.
 */
export function UsageTable({ series, id, visible }: { series: UsageSeries; id: string; visible: boolean }) {
  const rows = series.days.flatMap((day, i) => (series.totals[i]! > 0 || series.previousTotals[i]! > 0 ? [{ day, i }] : []));
  return (
    <div id={id} className={visible ? "table-wrap usage-table" : "sr-only"} data-testid="usage-table" data-visible={visible}>
      {/* Hidden, it is a plain table: the shared `.table` styles hide its header row on narrow screens. */}
      <table className={visible ? "table" : undefined}>
        <caption className={visible ? "usage-table-caption muted" : undefined}>Tokens used per day this period, by feature, with the previous period's same day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.features.map((f) => (
              <th scope="col" className="num" key={f}>
                {featureName(f)}
              </th>
            ))}
            <th scope="col" className="num">
              Total
            </th>
            <th scope="col" className="num">
              Previous period
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={series.features.length + 3}>No usage in either period.</td>
            </tr>
          ) : (
            rows.map(({ day, i }) => (
              <tr key={day} data-testid="usage-table-row" data-day={day}>
                <th scope="row" data-label="Day">
                  {formatDay(day, true)}
                </th>
                {series.features.map((f) => (
                  <td className="num" data-label={featureName(f)} key={f}>
                    {formatCount(series.byFeature[f]?.[i] ?? 0)}
                  </td>
                ))}
                <td className="num" data-label="Total" data-testid="usage-table-total">
                  {formatCount(series.totals[i]!)}
                </td>
                <td className="num" data-label="Previous period">
                  {formatCount(series.previousTotals[i]!)}
                </td>
              </tr>
            ))
          )}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" data-label="Day">
              Whole period
            </th>
            {series.features.map((f) => (
              <td className="num" data-label={featureName(f)} key={f}>
                {formatCount((series.byFeature[f] ?? []).reduce((a, b) => a + b, 0))}
              </td>
            ))}
            <td className="num" data-label="Total" data-testid="usage-table-period-total">
              {formatCount(series.currentTotal)}
            </td>
            <td className="num" data-label="Previous period" data-testid="usage-table-previous-total">
              {formatCount(series.previousTotal)}
            </td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
