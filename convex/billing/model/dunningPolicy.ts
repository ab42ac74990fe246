/**
 * The dunning timeline as pure functions of an account's dunning fields
 * (`billingAccounts.overdueSince`, `dunningStage`), shared by the access
 * policy (`model/access.ts`), the token debits (`model/tokens.ts`) and the
 * timeline itself (`model/dunning.ts`). No database access here.
 * Times are Convex milliseconds; days are whole days since `overdueSince`.
 */
import { v, type Infer } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { fail } from "./errors";
import { BILLING_CONFIG } from "./plans";
import { vDunningStage, type DunningStage } from "./validators";

export const DAY_MS = 24 * 60 * 60 * 1000;

export type DunningStepKind = "payment_failed" | "dunning_reminder" | "dunning_suspended" | "dunning_restricted";

/** One step of the timeline (see `BILLING_CONFIG.dunning`). */
export type DunningStep = {
  id: string;
  day: number;
  kind: DunningStepKind;
  stage: DunningStage;
  adminBanner: boolean;
};

/** The configured steps, in day order. */
export function dunningSteps(): readonly DunningStep[] {
  return BILLING_CONFIG.dunning.steps;
}

const STAGE_RANK: Record<DunningStage, number> = { overdue: 0, suspended: 1, restricted: 2 };

/** The later of two stages (`undefined` = not overdue). */
export function laterStage(a: DunningStage | undefined, b: DunningStage | undefined): DunningStage | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return STAGE_RANK[b] > STAGE_RANK[a] ? b : a;
}

/** Whole days overdue at `nowMs` (negative before the due date). */
export function overdueDays(overdueSince: number, nowMs: number): number {
  return Math.floor((nowMs - overdueSince) / DAY_MS);
}

/** The first step that suspends paid features (`stage` suspended or later), or undefined. */
function suspensionStep(): DunningStep | undefined {
  return dunningSteps().find((s) => s.stage !== "overdue");
}

/** True while the timeline has suspended the account's paid features (suspended or restricted). */
export function paidFeaturesSuspended(account: Pick<Doc<"billingAccounts">, "dunningStage">): boolean {
  return account.dunningStage === "suspended" || account.dunningStage === "restricted";
}

/**
 * When an overdue account's plan stops (ms): the suspension day counted from
 * `overdueSince`; undefined when nothing is overdue or it already stopped.
 * Stored as `billingAccounts.graceEndsAt` for the "pay by …" wording.
 */
export function dunningGraceEnd(account: Pick<Doc<"billingAccounts">, "overdueSince" | "dunningStage">): number | undefined {
  const step = suspensionStep();
  if (account.overdueSince === undefined || step === undefined || paidFeaturesSuspended(account)) return undefined;
  return account.overdueSince + step.day * DAY_MS;
}

/**
 * Refuses a token debit while the account is suspended (`ACCOUNT_SUSPENDED`)
 * or restricted (`ACCOUNT_RESTRICTED`): tokens are frozen until the overdue
 * invoice is paid. Grants, top-ups and payments are not debits and go on.
 */
export function requireTokensNotFrozen(account: Pick<Doc<"billingAccounts">, "dunningStage">): void {
  if (account.dunningStage === "restricted") {
    fail("ACCOUNT_RESTRICTED", "Your account is restricted until the overdue invoice is paid. Only billing is available.");
  }
  if (account.dunningStage === "suspended") {
    fail("ACCOUNT_SUSPENDED", "Your account is suspended until the overdue invoice is paid: tokens are frozen.");
  }
}

/**
 * What the customer and staff see of an overdue account (`accounts.subscription`'s
 * `dunning`): `overdueSince` (ms), the stage reached, the day of the last step
 * fired (`stepDay`: the banner never shows fewer overdue days), when the plan is
 * suspended and the account restricted (ms; null once past or not configured),
 * and whether the admin banner is up.
 */
export const vDunningView = v.object({
  overdueSince: v.number(),
  stage: v.union(vDunningStage, v.null()),
  stepDay: v.union(v.number(), v.null()),
  suspendsAt: v.union(v.number(), v.null()),
  restrictsAt: v.union(v.number(), v.null()),
  adminBanner: v.boolean(),
});
export type DunningView = Infer<typeof vDunningView>;

/** The `dunning` view of an account, or null when nothing is overdue. */
export function dunningView(
  account: Pick<Doc<"billingAccounts">, "overdueSince" | "dunningStage" | "dunningStep">,
): DunningView | null {
  if (account.overdueSince === undefined) return null;
  const steps = dunningSteps();
  const index = account.dunningStep === undefined ? -1 : steps.findIndex((s) => s.id === account.dunningStep);
  const reached = steps.slice(0, index + 1);
  const at = (stage: DunningStage): number | null => {
    const step = steps.find((s) => s.stage === stage);
    return step === undefined || reached.includes(step) ? null : account.overdueSince! + step.day * DAY_MS;
  };
  return {
    overdueSince: account.overdueSince,
    stage: account.dunningStage ?? null,
    stepDay: reached.at(-1)?.day ?? null,
    suspendsAt: at("suspended"),
    restrictsAt: at("restricted"),
    adminBanner: reached.some((s) => s.adminBanner),
  };
}
