import { createContext, useContext } from "react";
import type { Tier } from "@/convex/billing/model/plans";

/** Why the upgrade modal was opened; changes its title and which tier it recommends. */
export type UpgradeReason = "manual" | "tier_required" | "no_tokens" | "insufficient_tokens" | "low_tokens";

export type UpgradeRequest = {
  reason: UpgradeReason;
  /** Feature key from FEATURES that triggered it, if any. */
  feature?: string;
  /** Lowest tier that unlocks what was asked for. */
  requiredTier?: Tier;
};

export type UpgradeModalApi = {
  openUpgrade: (request?: UpgradeRequest) => void;
  closeUpgrade: () => void;
};

export const UpgradeModalContext = createContext<UpgradeModalApi | null>(null);

/** Opens the shared UpgradeModal from anywhere under <UpgradeModalProvider>. */
export function useUpgradeModal(): UpgradeModalApi {
  const value = useContext(UpgradeModalContext);
  if (!value) throw new Error("useUpgradeModal must be used inside <UpgradeModalProvider>");
  return value;
}
