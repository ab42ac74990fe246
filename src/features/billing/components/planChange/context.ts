import { createContext, useContext } from "react";
import type { PlanChangeTarget } from "@/src/features/billing/lib/planChange";

export type PlanChangeApi = {
  /** Opens the confirm dialog for switching the caller's subscription to `target` (preview → confirm → changePlan). */
  openPlanChange: (target: PlanChangeTarget) => void;
};

export const PlanChangeContext = createContext<PlanChangeApi | null>(null);

/** Opens the shared plan-change dialog from anywhere under <PlanChangeProvider>. */
export function usePlanChange(): PlanChangeApi {
  const value = useContext(PlanChangeContext);
  if (!value) throw new Error("usePlanChange must be used inside <PlanChangeProvider>");
  return value;
}
