import { useQuery } from "convex/react";
import type { ReactNode } from "react";
import { api } from "@/convex/_generated/api";
import { PLANS, tierRank, type Tier } from "@/convex/billing/model/plans";
import { Skeleton } from "@/src/components/Skeleton";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { tokens } from "@/src/lib/format";
import { featureName } from "@/src/features/billing/lib/pricing";

/**
 * Renders `children` when the caller's tier is at least `minTier`; otherwise a
 * lock saying what unlocks it, with an upgrade button that opens the modal.
 * This is presentation only: the server enforces tiers in tokens.check/consume.
 */
export function LockedFeature({ minTier, feature, children }: { minTier: Tier; feature?: string; children: ReactNode }) {
  const subscription = useQuery(api.billing.subscription);
  const { openUpgrade } = useUpgradeModal();
  if (subscription === undefined) return <Skeleton lines={3} label="Checking your plan" />;
  const tier: Tier = subscription?.tier ?? "free";
  if (tierRank(tier) >= tierRank(minTier)) return <>{children}</>;
  const plan = PLANS[minTier];
  const name = feature ? featureName(feature) : "This feature";
  return (
    <div className="locked" data-testid="locked-feature" data-required-tier={minTier} data-feature={feature}>
      <span className="lock-icon" aria-hidden="true">
        <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" strokeLinejoin="round">
          <rect x="4" y="11" width="16" height="10" rx="2" />
          <path d="M8 11V7a4 4 0 0 1 8 0v4" />
        </svg>
      </span>
      <p>
        <strong>{name}</strong> is available on {plan.name} and above.
      </p>
      <p className="muted">
        {plan.name} includes {tokens(plan.tokensPerPeriod)} per period. {plan.features.slice(1).join(" · ")}
      </p>
      <button
        type="button"
        className="button button-primary"
        data-testid={`locked-feature-upgrade${feature ? `-${feature}` : ""}`}
        onClick={() => openUpgrade({ reason: "tier_required", feature, requiredTier: minTier })}
      >
        Unlock with {plan.name}
      </button>
    </div>
  );
}
