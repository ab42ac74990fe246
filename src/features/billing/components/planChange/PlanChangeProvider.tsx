import { useCallback, useMemo, useState, type ReactNode } from "react";
import type { PlanChangeTarget } from "@/src/features/billing/lib/planChange";
import { PlanChangeContext } from "./context";
import { PlanChangeDialog } from "./PlanChangeDialog";

/** Mounts the plan-change dialog and exposes `usePlanChange().openPlanChange({ tier, interval })`. */
export function PlanChangeProvider({ children }: { children: ReactNode }) {
  const [target, setTarget] = useState<PlanChangeTarget | null>(null);
  const openPlanChange = useCallback((next: PlanChangeTarget) => setTarget(next), []);
  const close = useCallback(() => setTarget(null), []);
  const value = useMemo(() => ({ openPlanChange }), [openPlanChange]);
  return (
    <PlanChangeContext.Provider value={value}>
      {children}
      {target ? <PlanChangeDialog key={`${target.tier}:${target.interval}`} target={target} onClose={close} /> : null}
    </PlanChangeContext.Provider>
  );
}
