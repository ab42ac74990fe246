import { useConvex, useMutation } from "convex/react";
import { useCallback, useRef, useState } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { BILLING_CONFIG, type Complexity, type Tier } from "@/convex/billing/model/plans";
import { useConfirm } from "@/src/components/confirm";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { billingErrorData, humanizeError } from "@/src/lib/errors";
import { tokens } from "@/src/lib/format";
import { featureName } from "@/src/features/billing/lib/pricing";
import { useSession } from "@/src/lib/session";

/** Runs costing at least this many tokens ask for confirmation first. */
export const CONFIRM_THRESHOLD = 10;

export type GuardOptions = { complexity?: Complexity };

export type GuardOutcome<T> =
  | { status: "ran"; result: T; cost: number; remaining: number; duplicate: boolean }
  | {
      status: "blocked";
      reason: "insufficient_tokens" | "tier_required" | "signed_out";
      requiredTier?: Tier;
      /** From the check that blocked it, when known: the run's cost and the balance then. */
      cost?: number;
      remaining?: number;
    }
  | { status: "cancelled" }
  | { status: "failed"; error: unknown }
  /** Another attempt of this guard is still in flight (e.g. a double click). */
  | { status: "busy" };

/**
 * Wraps a token-costing operation:
 *
 * 1. `tokens.check({ feature, complexity })`, a fresh one-shot query through
 *    the Convex client, so the decision uses the live balance and tier;
 * 2. not allowed → opens the upgrade modal (or sign-in) and does not run;
 * 3. cost ≥ CONFIRM_THRESHOLD → asks for confirmation with cost and what remains;
 * 4. runs `run()`;
 * 5. only after `run()` succeeds, `tokens.consume` with an idempotency key made
 *    once when the attempt starts.
 *
 * Run-then-consume (rather than reserve-then-settle) keeps the ledger simple: a
 * failed or cancelled run can never cost anything, and the idempotency key
 * makes a retried consume count once. The trade-off: if the balance is spent
 * elsewhere between the check and the consume, the consume fails with
 * INSUFFICIENT_TOKENS after the work ran; we then withhold the result and show
 * the upgrade path, so nothing is used without being paid for.
 *
 * One attempt at a time per hook instance: a second call while one is in
 * flight returns `{ status: "busy" }` without side effects.
 */
export function useTokenGuard() {
  const convex = useConvex();
  const consume = useMutation(api.tokens.consume);
  const confirm = useConfirm();
  const { openUpgrade } = useUpgradeModal();
  const { openSignIn } = useSession();
  const inFlight = useRef(false);
  const [pendingFeature, setPendingFeature] = useState<string | null>(null);

  const guard = useCallback(
    async <T>(feature: string, run: () => Promise<T>, options: GuardOptions = {}): Promise<GuardOutcome<T>> => {
      if (inFlight.current) return { status: "busy" };
      inFlight.current = true;
      setPendingFeature(feature);
      const idempotencyKey = crypto.randomUUID();
      const complexity = options.complexity;
      const name = featureName(feature);
      try {
        let check;
        try {
          check = await convex.query(api.tokens.check, complexity ? { feature, complexity } : { feature });
        } catch (error) {
          const human = humanizeError(error);
          toast.error(`Couldn't start ${name}`, { description: human.description ?? human.title });
          return { status: "failed", error };
        }

        if (!check.allowed) {
          switch (check.reason) {
            case "signed_out":
              toast.info("Sign in to run analyses", { action: { label: "Sign in", onClick: openSignIn } });
              openSignIn();
              return { status: "blocked", reason: "signed_out" };
            case "tier_required":
              openUpgrade({ reason: "tier_required", feature, requiredTier: check.requiredTier });
              return { status: "blocked", reason: "tier_required", requiredTier: check.requiredTier };
            default:
              openUpgrade({ reason: check.remaining > 0 ? "insufficient_tokens" : "no_tokens", feature });
              return { status: "blocked", reason: "insufficient_tokens", cost: check.cost, remaining: check.remaining };
          }
        }

        if (check.cost >= CONFIRM_THRESHOLD) {
          const ok = await confirm({
            title: `Run ${name}?`,
            body: `This uses ${tokens(check.cost)}. You have ${tokens(check.remaining)}; ${tokens(
              Math.max(0, check.remaining - check.cost),
            )} will remain.`,
            confirmLabel: `Use ${tokens(check.cost)}`,
          });
          if (!ok) return { status: "cancelled" };
        }

        let result: T;
        try {
          result = await run();
        } catch (error) {
          toast.error(`${name} failed`, { description: "No tokens were used. Please try again." });
          return { status: "failed", error };
        }

        let consumed: { cost: number; remaining: number; duplicate: boolean };
        try {
          const args = complexity ? { feature, complexity, idempotencyKey } : { feature, idempotencyKey };
          try {
            consumed = await consume(args);
          } catch (error) {
            // A transport failure leaves the outcome unknown; the same key makes a retry count once.
            if (billingErrorData(error)) throw error;
            consumed = await consume(args);
          }
        } catch (error) {
          const data = billingErrorData(error);
          if (data?.code === "INSUFFICIENT_TOKENS") {
            toast.error("Not enough tokens", { description: "Your balance changed while this was running." });
            openUpgrade({ reason: "no_tokens", feature });
            return { status: "blocked", reason: "insufficient_tokens" };
          }
          if (data?.code === "TIER_REQUIRED") {
            const requiredTier = data.tier as Tier | undefined;
            openUpgrade({ reason: "tier_required", feature, requiredTier });
            return { status: "blocked", reason: "tier_required", requiredTier };
          }
          const human = humanizeError(error);
          toast.error(`Couldn't record ${name}`, { description: human.description ?? human.title });
          return { status: "failed", error };
        }

        toast.success(`${name} complete`, {
          description: `Used ${tokens(consumed.cost)} · ${tokens(consumed.remaining)} left`,
        });
        if (consumed.remaining === 0) {
          toast.warning("That was your last token", {
            id: "tokens-low",
            description: "Upgrade for a bigger allowance.",
            action: { label: "Upgrade", onClick: () => openUpgrade({ reason: "no_tokens" }) },
          });
        } else if (consumed.remaining <= BILLING_CONFIG.lowTokensThreshold) {
          toast.warning(`Only ${tokens(consumed.remaining)} left`, {
            id: "tokens-low",
            action: { label: "Upgrade", onClick: () => openUpgrade({ reason: "low_tokens" }) },
          });
        }
        return { status: "ran", result, ...consumed };
      } finally {
        inFlight.current = false;
        setPendingFeature(null);
      }
    },
    [confirm, consume, convex, openSignIn, openUpgrade],
  );

  return { guard, pendingFeature };
}
