import { useConvex, useMutation } from "convex/react";
import { useCallback, useRef, useState } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { BILLING_CONFIG, type Complexity, type Tier } from "@/convex/billing/model/plans";
import { useConfirm } from "@/src/components/confirm";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { billingErrorData, humanizeError } from "@/src/lib/errors";
import { formatMoney, tokens } from "@/src/lib/format";
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
      /** From the check (or reserve) that blocked it, when known: the run's cost and the balance then. */
      cost?: number;
      remaining?: number;
    }
  | { status: "cancelled" }
  | { status: "failed"; error: unknown }
  /** Another attempt of this guard is still in flight (e.g. a double click). */
  | { status: "busy" };

/**
 * Calls `call`; on a transport failure (no typed backend error, so the
 * outcome is unknown) calls it once more. Every call this guard retries is
 * idempotent: the same idempotency key or hold id counts once.
 */
async function withOneRetry<R>(call: () => Promise<R>): Promise<R> {
  try {
    return await call();
  } catch (error) {
    if (billingErrorData(error)) throw error;
    return await call();
  }
}

/**
 * Wraps a token-costing operation: reserve → run → settle.
 *
 * 1. `tokens.check({ feature, complexity })`, a fresh one-shot query through
 *    the Convex client, so the decision uses the live balance and tier;
 * 2. not allowed → opens the upgrade modal (or sign-in) and does not run;
 * 3. cost ≥ CONFIRM_THRESHOLD → asks for confirmation with cost and what remains;
 * 4. `tokens.reserve` with an idempotency key made once when the attempt
 *    starts: the feature's price leaves the spendable balance before any work
 *    starts (the balance shows it as `held`). A refusal here
 *    (`INSUFFICIENT_TOKENS`, `TIER_REQUIRED`: the balance or plan changed
 *    since the check) opens the upgrade path and nothing runs;
 * 5. runs `run()`;
 * 6. success → `tokens.settle({ holdId })` charges what was reserved, once;
 *    failure → `tokens.release({ holdId })` gives it all back.
 *
 * Why reserve first: with run-then-consume, a spend elsewhere between the
 * check and the consume left finished work unpaid (its result had to be
 * withheld). Tokens set aside before the work starts cannot be spent by
 * anything else, so finished work is always paid for, and a failed run still
 * costs nothing. A transport failure on reserve, settle or release is retried
 * once: the idempotency key returns the same hold, and the same hold id
 * settles or releases once. If a release never lands, the hold's TTL (10
 * minutes) returns the tokens anyway (a cron releases expired holds).
 *
 * One attempt at a time per hook instance: a second call while one is in
 * flight returns `{ status: "busy" }` without side effects.
 */
export function useTokenGuard() {
  const convex = useConvex();
  const reserve = useMutation(api.tokens.reserve);
  const settle = useMutation(api.tokens.settle);
  const release = useMutation(api.tokens.release);
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

        // Past the balance under the plan's overage policy: always say what it will cost.
        const overage = check.overage ?? 0;
        if (check.cost >= CONFIRM_THRESHOLD || overage > 0) {
          const ok = await confirm({
            title: `Run ${name}?`,
            body:
              overage > 0
                ? `This uses ${tokens(check.cost)}. You have ${tokens(check.remaining)}, so ${tokens(overage)} will be billed as overage (${formatMoney(
                    check.overageAmount ?? 0,
                    check.currency ?? "usd",
                  )}) on your next invoice.`
                : `This uses ${tokens(check.cost)}. You have ${tokens(check.remaining)}; ${tokens(
                    Math.max(0, check.remaining - check.cost),
                  )} will remain. They're set aside while it runs and given back if it fails.`,
            confirmLabel: `Use ${tokens(check.cost)}`,
          });
          if (!ok) return { status: "cancelled" };
        }

        let hold: { holdId: string; amount: number };
        try {
          const args = complexity ? { feature, complexity, idempotencyKey } : { feature, idempotencyKey };
          hold = await withOneRetry(() => reserve(args));
        } catch (error) {
          const data = billingErrorData(error);
          if (data?.code === "INSUFFICIENT_TOKENS") {
            // The balance changed since the check: nothing was reserved and nothing runs.
            const available = data.available;
            openUpgrade({ reason: available !== undefined && available > 0 ? "insufficient_tokens" : "no_tokens", feature });
            return { status: "blocked", reason: "insufficient_tokens", cost: data.required, remaining: available };
          }
          if (data?.code === "TIER_REQUIRED") {
            const requiredTier = data.tier as Tier | undefined;
            openUpgrade({ reason: "tier_required", feature, requiredTier });
            return { status: "blocked", reason: "tier_required", requiredTier };
          }
          const human = humanizeError(error);
          toast.error(`Couldn't start ${name}`, { description: human.description ?? human.title });
          return { status: "failed", error };
        }

        let result: T;
        try {
          result = await run();
        } catch (error) {
          try {
            await withOneRetry(() => release({ holdId: hold.holdId }));
            toast.error(`${name} failed`, { description: "No tokens were used. Please try again." });
          } catch {
            toast.error(`${name} failed`, {
              description: `No tokens were used: the ${tokens(hold.amount)} set aside come back automatically when the hold expires.`,
            });
          }
          return { status: "failed", error };
        }

        let settled: { charged: number; remaining: number; duplicate: boolean };
        try {
          settled = await withOneRetry(() => settle({ holdId: hold.holdId }));
        } catch (error) {
          // The work ran but its charge is not on record; an open hold gives its
          // tokens back when it expires, so the result is withheld, as unpaid.
          const human = humanizeError(error);
          toast.error(`Couldn't record ${name}`, {
            description:
              billingErrorData(error)?.code === "HOLD_CLOSED"
                ? "Its reservation was already closed, so nothing was charged. Please run it again."
                : `${human.title}. If it wasn't charged, the ${tokens(hold.amount)} set aside come back when the hold expires.`,
          });
          return { status: "failed", error };
        }

        toast.success(`${name} complete`, {
          description: `Used ${tokens(settled.charged)} · ${tokens(settled.remaining)} left`,
        });
        if (settled.remaining === 0) {
          toast.warning("That was your last token", {
            id: "tokens-low",
            description: "Upgrade for a bigger allowance.",
            action: { label: "Upgrade", onClick: () => openUpgrade({ reason: "no_tokens" }) },
          });
        } else if (settled.remaining <= BILLING_CONFIG.lowTokensThreshold) {
          toast.warning(`Only ${tokens(settled.remaining)} left`, {
            id: "tokens-low",
            action: { label: "Upgrade", onClick: () => openUpgrade({ reason: "low_tokens" }) },
          });
        }
        return { status: "ran", result, cost: settled.charged, remaining: settled.remaining, duplicate: settled.duplicate };
      } finally {
        inFlight.current = false;
        setPendingFeature(null);
      }
    },
    [confirm, convex, openSignIn, openUpgrade, release, reserve, settle],
  );

  return { guard, pendingFeature };
}
