import { useQuery } from "convex/react";
import { useState } from "react";
import { api } from "../../../../convex/_generated/api";
import { BILLING_CONFIG, FEATURES, type Tier } from "../../../../convex/model/plans";
import { AnalysisCard } from "./AnalysisCard";
import { LockedFeature } from "./LockedFeature";
import { UpgradePrompt, type PromptTrigger } from "./UpgradePrompt";

/** The dashboard's demo: every feature in FEATURES, each going through the token guard. */
export function AnalysesPanel() {
  const balance = useQuery(api.tokens.balance);
  const subscription = useQuery(api.billing.subscription);
  const [blocked, setBlocked] = useState<{ feature: string; requiredTier?: Tier } | null>(null);
  const [dismissed, setDismissed] = useState<PromptTrigger | null>(null);

  const currentTier: Tier = subscription?.tier ?? "free";
  let trigger: PromptTrigger | null = null;
  if (blocked) trigger = "analysis_blocked";
  else if (balance && balance.remaining === 0) trigger = "no_tokens";
  else if (balance && balance.remaining <= BILLING_CONFIG.lowTokensThreshold) trigger = "low_tokens";
  // Out-of-tokens cannot be dismissed; it is the state of the account.
  const showPrompt = trigger !== null && (trigger === "no_tokens" || dismissed !== trigger);

  return (
    <section className="stack" aria-labelledby="analyses-title">
      {showPrompt && trigger ? (
        <UpgradePrompt
          trigger={trigger}
          balance={balance ?? null}
          currentTier={currentTier}
          requiredTier={blocked?.requiredTier}
          feature={blocked?.feature}
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
            <AnalysisCard key={key} feature={key} onBlocked={(info) => info.reason === "tier_required" && setBlocked(info)} />
          ) : (
            <LockedFeature key={key} minTier={meta.minTier} feature={key}>
              <AnalysisCard feature={key} onBlocked={(info) => info.reason === "tier_required" && setBlocked(info)} />
            </LockedFeature>
          ),
        )}
      </div>
    </section>
  );
}
