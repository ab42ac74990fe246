import type { Interval } from "@/convex/billing/model/plans";

/**
 * Monthly/yearly switch. The switch itself (`testId`) flips the interval; the
 * two labels select their side.
 */
export function IntervalToggle({
  value,
  onChange,
  testId,
  savingsLabel,
}: {
  value: Interval;
  onChange: (interval: Interval) => void;
  testId: string;
  savingsLabel?: string | null;
}) {
  const yearly = value === "year";
  return (
    <div className="interval-toggle">
      <button type="button" className={`interval-label${yearly ? "" : " is-active"}`} onClick={() => onChange("month")}>
        Monthly
      </button>
      <button
        type="button"
        role="switch"
        aria-checked={yearly}
        aria-label="Bill yearly"
        className="switch"
        data-testid={testId}
        data-interval={value}
        onClick={() => onChange(yearly ? "month" : "year")}
      >
        <span className="switch-thumb" aria-hidden="true" />
      </button>
      <button type="button" className={`interval-label${yearly ? " is-active" : ""}`} onClick={() => onChange("year")}>
        Yearly
        {savingsLabel ? <span className="savings">{savingsLabel}</span> : null}
      </button>
    </div>
  );
}
