import { PLANS, nextTier, type Tier } from "@/convex/billing/model/plans";
import { useUpgradeModal, type UpgradeReason } from "@/src/features/billing/components/upgrade/context";
import { formatCount, formatDate, tokens } from "@/src/lib/format";
import { featureName } from "@/src/features/billing/lib/pricing";
import type { TokenBalance } from "@/src/features/billing/lib/types";

export type PromptTrigger = "low_tokens" | "no_tokens" | "analysis_blocked";

type Context = { remaining: number; featureName: string; requiredTierName: string | null; cost: number | null; byTokens: boolean };

const COPY: Record<PromptTrigger, { title: (c: Context) => string; tone: string }> = {
  low_tokens: { title: (c) => `Running low: ${tokens(c.remaining)} left`, tone: "warning" },
  no_tokens: { title: () => "You're out of tokens", tone: "danger" },
  analysis_blocked: {
    title: (c) =>
      c.byTokens
        ? c.cost !== null
          ? `${c.featureName} needs ${tokens(c.cost)}; you have ${formatCount(c.remaining)}`
          : `Not enough tokens for ${c.featureName}`
        : `${c.featureName} needs ${c.requiredTierName ?? "a higher plan"}`,
    tone: "accent",
  },
};

function upgradeReason(trigger: PromptTrigger, byTokens: boolean): UpgradeReason {
  if (trigger === "analysis_blocked") return byTokens ? "insufficient_tokens" : "tier_required";
  return trigger;
}

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
  blockedBy = "tier_required",
  cost,
  onDismiss,
}: {
  trigger: PromptTrigger;
  balance: TokenBalance | null;
  currentTier: Tier;
  /** For analysis_blocked: the tier that unlocks the feature. */
  requiredTier?: Tier;
  feature?: string;
  /** For analysis_blocked: whether the plan or the balance stopped the run (default: the plan). */
  blockedBy?: "tier_required" | "insufficient_tokens";
  /** For analysis_blocked by tokens: what the run costs. */
  cost?: number;
  onDismiss?: () => void;
}) {
  const { openUpgrade } = useUpgradeModal();
  const copy = COPY[trigger];
  const byTokens = trigger === "analysis_blocked" && blockedBy === "insufficient_tokens";
  const recommended = trigger === "analysis_blocked" && !byTokens && requiredTier ? requiredTier : nextTier(currentTier);
  const plan = recommended ? PLANS[recommended] : null;
  const remaining = balance?.remaining ?? 0;
  const total = balance ? balance.allowance + balance.purchased : 0;
  const title = copy.title({
    remaining,
    featureName: feature ? featureName(feature) : "That analysis",
    requiredTierName: requiredTier ? PLANS[requiredTier].name : null,
    cost: cost ?? null,
    byTokens,
  });

  return (
    <aside
      className={`upgrade-prompt tone-${copy.tone}`}
      data-testid="upgrade-prompt"
      data-trigger={trigger}
      role={trigger === "no_tokens" ? "alert" : "status"}
    >
      <div className="upgrade-prompt-main">
        <h2 className="upgrade-prompt-title">{title}</h2>
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
              {trigger === "analysis_blocked" && !byTokens ? " and unlocks it." : "."}
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
            onClick={() => openUpgrade({ reason: upgradeReason(trigger, byTokens), feature, requiredTier: recommended ?? undefined })}
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
