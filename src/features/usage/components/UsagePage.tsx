import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { DailyUsage } from "./DailyUsage";
import { GrantBalance } from "./GrantBalance";
import { LedgerHistory } from "./LedgerHistory";
import { MemberUsage } from "./MemberUsage";

/**
 * /usage (signed in): what the balance is made of, tokens per day this
 * period against the last, and every change to the balance. Each section
 * loads and fails on its own, so one failing query leaves the rest usable.
 */
export function UsagePage() {
  return (
    <div className="stack usage-page">
      <div>
        <h1>Usage</h1>
        <p className="muted usage-lead">Where your tokens come from, what you used them for, and every change to your balance.</p>
      </div>
      <ErrorBoundary>
        <GrantBalance />
      </ErrorBoundary>
      <ErrorBoundary>
        <DailyUsage />
      </ErrorBoundary>
      <ErrorBoundary>
        <MemberUsage />
      </ErrorBoundary>
      <ErrorBoundary>
        <LedgerHistory />
      </ErrorBoundary>
    </div>
  );
}
