import { useQuery } from "convex/react";
import { useState } from "react";
import { api } from "@/convex/_generated/api";
import { FEATURES, tierRank, type Tier } from "@/convex/billing/model/plans";
import { isRunningLow } from "@/src/features/billing/lib/tokens";
import type { TokenBalance } from "@/src/features/billing/lib/types";
import { AnalysisCard, type BlockedAnalysis } from "./AnalysisCard";
import { LockedFeature } from "@/src/features/billing/components/tokens/LockedFeature";
import { UpgradePrompt, type PromptTrigger } from "@/src/features/billing/components/tokens/UpgradePrompt";

/**
 * Which prompt the dashboard shows. A blocked run is the most specific reason
 * while it still holds: a tier block until the plan reaches the required tier;
 * a token block until the balance changes (at 0, "out of tokens" says it all).
 */
export function dashboardTrigger(
  balance: TokenBalance | null | undefined,
  currentTier: Tier,
  blocked: BlockedAnalysis | null,
): PromptTrigger | null {
  const remaining = balance?.remaining;
  if (blocked?.reason === "tier_required" && (!blocked.requiredTier || tierRank(currentTier) < tierRank(blocked.requiredTier))) {
    return "analysis_blocked";
  }
  if (remaining === 0) return "no_tokens";
  if (blocked?.reason === "insufficient_tokens" && remaining !== undefined && remaining === blocked.remaining) return "analysis_blocked";
  if (balance && isRunningLow(balance)) return "low_tokens";
  return null;
}

/** The dashboard's demo: every feature in FEATURES, each going through the token guard. */
export function AnalysesPanel() {
  const balance = useQuery(api.tokens.balance);
  const subscription = useQuery(api.billing.subscription);
  const [blocked, setBlocked] = useState<BlockedAnalysis | null>(null);
  const [dismissed, setDismissed] = useState<PromptTrigger | null>(null);

  const currentTier: Tier = subscription?.tier ?? "free";
  const trigger = dashboardTrigger(balance, currentTier, blocked);
  const blockedNow = trigger === "analysis_blocked" ? blocked : null;
  // Out-of-tokens cannot be dismissed; it is the state of the account.
  const showPrompt = trigger !== null && (trigger === "no_tokens" || dismissed !== trigger);
  const onBlocked = (info: BlockedAnalysis) => {
    setBlocked(info);
    // A new block is news even if an earlier block's prompt was dismissed.
    setDismissed((d) => (d === "analysis_blocked" ? null : d));
  };

  return (
    <section className="stack" aria-labelledby="analyses-title">
      {showPrompt && trigger ? (
        <UpgradePrompt
          trigger={trigger}
          balance={balance ?? null}
          currentTier={currentTier}
          requiredTier={blockedNow?.requiredTier}
          feature={blockedNow?.feature}
          blockedBy={blockedNow?.reason}
          cost={blockedNow?.cost}
          onDismiss={
            trigger === "no_tokens"
              ? undefined
              : () => {
                  setDismissed(trigger);
                  setBlocked(null);
                }
          }
        />
      ) : null}
      <div className="section-head">
        <div>
          <h2 id="analyses-title">Analyses</h2>
          <p className="muted">Each run costs tokens; heavier runs ask before spending. Failed runs are free.</p>
        </div>
      </div>
      <div className="analysis-grid">
        {Object.entries(FEATURES).map(([key, meta]) =>
          meta.minTier === "free" ? (
            <AnalysisCard key={key} feature={key} onBlocked={onBlocked} />
          ) : (
            <LockedFeature key={key} minTier={meta.minTier} feature={key}>
              <AnalysisCard feature={key} onBlocked={onBlocked} />
            </LockedFeature>
          ),
        )}
      </div>
    </section>
  );
}
