import { TokenPacks } from "@/src/features/billing/components/pricing/TokenPacks";
import { formatCount, formatDate, formatMoney, tokens } from "@/src/lib/format";
import type { TokenBalance } from "@/src/features/billing/lib/types";

/**
 * Used vs available this period, remaining count and the next reset date.
 * Tokens reserved by running jobs (`held`) are neither used nor remaining
 * yet; while there are any, a line says how many.
 * While the subscription is past due the next allowance only comes with the
 * paid renewal invoice, so no reset date is promised then. While dunning
 * freezes the tokens (`balance.frozen`) it says so, and offers no packs:
 * bought tokens would be frozen too.
 */
export function TokenUsage({ balance, pastDue = false }: { balance: TokenBalance; pastDue?: boolean }) {
  const total = Math.max(balance.allowance + balance.purchased, balance.used + balance.held + balance.remaining, 0);
  const percent = total > 0 ? Math.min(100, Math.round((balance.used / total) * 100)) : 0;
  const tone = balance.remaining === 0 ? "danger" : percent >= 80 ? "warning" : "ok";
  return (
    <section className="card" aria-labelledby="usage-title" data-testid="token-usage">
      <div className="card-head">
        <h2 id="usage-title">Token usage</h2>
        <span className="muted">
          <strong data-testid="token-usage-remaining">{formatCount(balance.remaining)}</strong> remaining
        </span>
      </div>
      <div
        className={`progress progress-${tone}`}
        role="progressbar"
        aria-label="Tokens used this period"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={balance.used}
        aria-valuetext={`${balance.used} of ${total} tokens used`}
      >
        <span className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="usage-line">
        {formatCount(balance.used)} of {formatCount(total)} used
        <span className="muted">
          {" "}
          ({formatCount(balance.allowance)} plan allowance
          {balance.purchased > 0 ? ` + ${formatCount(balance.purchased)} purchased` : ""})
        </span>
      </p>
      {balance.held > 0 ? (
        <p className="muted" data-testid="tokens-held" data-held={balance.held}>
          {tokens(balance.held)} reserved for running jobs: charged when they finish, given back if they fail.
        </p>
      ) : null}
      {balance.overage > 0 ? (
        <p className="muted" data-testid="tokens-overage" data-overage={balance.overage}>
          {tokens(balance.overage)} used beyond your balance this period
          {balance.overageAmount !== undefined && balance.overageCurrency ? (
            <>
              {", about "}
              <strong data-testid="tokens-overage-amount">{formatMoney(balance.overageAmount, balance.overageCurrency)}</strong>
            </>
          ) : null}
          , billed as overage on your next invoice.
        </p>
      ) : null}
      {balance.overageCap !== undefined ? (
        <p className="muted" data-testid="tokens-overage-cap" data-cap={balance.overageCap}>
          When your balance runs out, runs go on as overage, up to {tokens(balance.overageCap)} a period
          {balance.overage > 0 ? ` (${formatCount(Math.max(0, balance.overageCap - balance.overage))} left)` : ""}; past
          that, runs stop until you top up or your allowance renews.
        </p>
      ) : null}
      {balance.frozen ? (
        <p className="notice notice-danger" data-testid="tokens-frozen">
          Your {tokens(balance.remaining)} are frozen: no run can use them until the overdue invoice is paid. Paying unfreezes them at once.
        </p>
      ) : null}
      {pastDue ? (
        <p className="muted" data-testid="tokens-reset">
          Your next allowance is added once the overdue payment goes through. Purchased tokens carry over.
        </p>
      ) : balance.periodEnd ? (
        <p className="muted" data-testid="tokens-reset">
          Allowance resets on {formatDate(balance.periodEnd)}. Purchased tokens carry over.
        </p>
      ) : null}
      {balance.frozen ? null : (
        <>
          <h3 className="subheading">Need more tokens?</h3>
          <TokenPacks purchasedBefore={balance.purchased} />
        </>
      )}
    </section>
  );
}
