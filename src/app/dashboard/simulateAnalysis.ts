import { FEATURES, type Complexity } from "@/convex/billing/model/plans";
import { featureName } from "@/src/features/billing/lib/pricing";

export type AnalysisResult = { summary: string; findings: number; durationMs: number };

const DURATION_MS: Record<Complexity, number> = { low: 300, medium: 600, high: 1000 };

/**
 * Stand-in for real work behind a token-costing feature: waits a little and
 * returns a made-up result, or throws when `fail` is set (to exercise the
 * "a failed run costs nothing" path by hand and in browser tests).
 */
export async function simulateAnalysis(feature: string, complexity: Complexity, { fail = false } = {}): Promise<AnalysisResult> {
  const durationMs = DURATION_MS[complexity];
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  if (fail) throw new Error("Simulated analysis failure");
  const base = FEATURES[feature]?.baseCost ?? 1;
  const findings = base * (complexity === "high" ? 3 : complexity === "medium" ? 2 : 1);
  return {
    summary: `${featureName(feature)} found ${findings} insight${findings === 1 ? "" : "s"}`,
    findings,
    durationMs,
  };
}
