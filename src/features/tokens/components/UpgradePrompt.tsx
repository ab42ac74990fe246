import { PLANS, nextTier, type Tier } from "../../../../convex/model/plans";
import { useUpgradeModal, type UpgradeReason } from "../../../components/upgrade/context";
import { formatCount, formatDate, tokens } from "../../../lib/format";
import type { TokenBalance } from "../../../lib/types";

export type PromptTrigger = "low_tokens" | "no_tokens" | "analysis_blocked";

const COPY: Record<PromptTrigger, { title: (remaining: number) => string; tone: string; reason: UpgradeReason }> = {
  low_tokens: { title: (n) => `Running low: ${tokens(n)} left`, tone: "warning", reason: "low_tokens" },
  no_tokens: { title: () => "You're out of tokens", tone: "danger", reason: "no_tokens" },
  analysis_blocked: { title: () => "That analysis needs a higher plan", tone: "accent", reason: "tier_required" },
};

/**
 * Nudge to upgrade, with usage and the recommended next tier's benefits.
 * Urgency differs per trigger: low (amber, polite), out (red, alert), blocked (accent).
 */
export function UpgradePrompt({
  trigger,
  balance,
  currentTier,
  requiredTier,
  feature,
  onDismiss,
}: {
  trigger: PromptTrigger;
  balance: TokenBalance | null;
  currentTier: Tier;
  /** For analysis_blocked: the tier that unlocks the feature. */
  requiredTier?: Tier;
  feature?: string;
  onDismiss?: () => void;
}) {
  const { openUpgrade } = useUpgradeModal();
  const copy = COPY[trigger];
  const recommended = trigger === "analysis_blocked" && requiredTier ? requiredTier : nextTier(currentTier);
  const plan = recommended ? PLANS[recommended] : null;
  const remaining = balance?.remaining ?? 0;
  const total = balance ? balance.allowance + balance.purchased : 0;

  return (
    <aside
      className={`upgrade-prompt tone-${copy.tone}`}
      data-testid="upgrade-prompt"
      data-trigger={trigger}
      role={trigger === "no_tokens" ? "alert" : "status"}
    >
      <div className="upgrade-prompt-main">
        <h2 className="upgrade-prompt-title">{copy.title(remaining)}</h2>
        {balance ? (
          <p className="muted" data-testid="upgrade-prompt-usage">
            {formatCount(balance.used)} of {formatCount(total)} tokens used this period
            {balance.periodEnd ? ` · resets ${formatDate(balance.periodEnd)}` : ""}
          </p>
        ) : null}
        {plan ? (
          <div className="upgrade-prompt-plan">
            <p>
              <strong>{plan.name}</strong> gives you {tokens(plan.tokensPerPeriod)} per period
              {trigger === "analysis_blocked" ? " and unlocks it." : "."}
            </p>
            <ul className="checklist inline">
              {plan.features.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
          </div>
        ) : (
          <p className="muted">You're on the top plan; your allowance refills at the next period.</p>
        )}
      </div>
      <div className="upgrade-prompt-actions">
        {plan ? (
          <button
            type="button"
            className={`button ${trigger === "no_tokens" ? "button-danger" : "button-primary"}`}
            data-testid="upgrade-prompt-upgrade"
            onClick={() => openUpgrade({ reason: copy.reason, feature, requiredTier: recommended ?? undefined })}
          >
            Upgrade to {plan.name}
          </button>
        ) : null}
        {onDismiss ? (
          <button type="button" className="button button-ghost" data-testid="upgrade-prompt-dismiss" onClick={onDismiss}>
            Dismiss
          </button>
        ) : null}
      </div>
    </aside>
  );
}
