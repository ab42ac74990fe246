import { useQuery } from "convex/react";
import { useId, useState } from "react";
import { api } from "@/convex/_generated/api";
import { COMPLEXITIES, FEATURES, featureCost, type Complexity, type Tier } from "@/convex/billing/model/plans";
import { tokens } from "@/src/lib/format";
import { featureName } from "@/src/features/billing/lib/pricing";
import { simulateAnalysis, type AnalysisResult } from "./simulateAnalysis";
import { useTokenGuard } from "@/src/features/billing/hooks/useTokenGuard";

/** A run the token guard refused, as the dashboard's analysis_blocked prompt shows it. */
export type BlockedAnalysis = {
  feature: string;
  reason: "tier_required" | "insufficient_tokens";
  requiredTier?: Tier;
  cost?: number;
  /** The balance when it was blocked; the prompt goes stale once it changes. */
  remaining?: number;
};

const COMPLEXITY_LABEL: Record<Complexity, string> = { low: "Light", medium: "Normal", high: "Thorough" };

/** One demo analysis: pick a complexity, run it through the token guard, see the result. */
export function AnalysisCard({
  feature,
  onBlocked,
}: {
  feature: string;
  onBlocked?: (info: BlockedAnalysis) => void;
}) {
  const meta = FEATURES[feature];
  const [complexity, setComplexity] = useState<Complexity>("medium");
  const [simulateFailure, setSimulateFailure] = useState(false);
  const [result, setResult] = useState<AnalysisResult | null>(null);
  const check = useQuery(api.tokens.check, { feature, complexity });
  const { guard, pendingFeature } = useTokenGuard();
  const selectId = useId();
  const running = pendingFeature !== null;
  // Until the live check arrives, show the catalogue's cost (same formula as the server).
  const cost = check?.cost ?? featureCost(feature, complexity);

  const onRun = async () => {
    const outcome = await guard(feature, () => simulateAnalysis(feature, complexity, { fail: simulateFailure }), { complexity });
    if (outcome.status === "ran") setResult(outcome.result);
    if (outcome.status === "blocked" && outcome.reason !== "signed_out") {
      onBlocked?.({ feature, reason: outcome.reason, requiredTier: outcome.requiredTier, cost: outcome.cost, remaining: outcome.remaining });
    }
  };

  return (
    <article className="card analysis-card" data-testid={`analysis-${feature}`} aria-labelledby={`${selectId}-title`}>
      <div className="card-head">
        <h3 id={`${selectId}-title`}>{featureName(feature)}</h3>
        <span className="pill pill-muted" data-testid={`analysis-cost-${feature}`} data-cost={cost}>
          {tokens(cost)}
        </span>
      </div>
      <label className="field" htmlFor={selectId}>
        <span>Depth</span>
        <select
          id={selectId}
          value={complexity}
          data-testid={`analysis-complexity-${feature}`}
          onChange={(e) => setComplexity(e.target.value as Complexity)}
          disabled={running}
        >
          {COMPLEXITIES.map((c) => (
            <option key={c} value={c}>
              {COMPLEXITY_LABEL[c]} · {tokens(featureCost(feature, c))}
            </option>
          ))}
        </select>
      </label>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={simulateFailure}
          data-testid={`analysis-fail-${feature}`}
          onChange={(e) => setSimulateFailure(e.target.checked)}
        />
        <span className="muted">Simulate a failure</span>
      </label>
      {check && !check.allowed && check.reason === "insufficient_tokens" ? (
        <p className="hint hint-warning">Not enough tokens ({tokens(check.remaining)} left)</p>
      ) : null}
      <button
        type="button"
        className="button button-primary button-block"
        data-testid={`analysis-run-${feature}`}
        disabled={running}
        aria-busy={running}
        onClick={() => void onRun()}
      >
        {running ? "Running…" : `Run ${meta?.name.toLowerCase() ?? "analysis"}`}
      </button>
      {result ? (
        <p className="result" data-testid={`analysis-result-${feature}`}>
          {result.summary}
        </p>
      ) : null}
    </article>
  );
}
