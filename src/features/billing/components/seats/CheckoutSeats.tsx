import { useQuery } from "convex/react";
import { useState, type ReactNode } from "react";
import { api } from "@/convex/_generated/api";
import { PLANS, seatAllowance, type Interval, type Tier } from "@/convex/billing/model/plans";
import { useActiveAccount } from "@/src/features/org/hooks/useActiveAccount";
import { formatMoney, tokens } from "@/src/lib/format";
import { priceIn } from "@/src/features/billing/lib/pricing";
import type { PlanView } from "@/src/features/billing/lib/types";
import { membersLabel, seatsLabel } from "./seatsText";

/**
 * Seats an organisation admin buys at Checkout (docs/SEATS.md): on a plan
 * whose seats admins choose (Pro), a number on the pricing card, starting at
 * the member count (never fewer, within the plan's range); on a plan whose
 * seats follow the members (Elite), the member count, shown. Nothing for a
 * personal account or a flat plan. The server counts the members and checks
 * the number again (`checkoutQuantity`).
 *
 * `seatsFor(tier)`: the `seats` to send to `billing.createCheckoutSession`
 * (undefined = the server's default); `picker(plan, …)`: the card's control.
 */
export function useCheckoutSeats(): {
  seatsFor: (tier: Tier) => number | undefined;
  picker: (plan: PlanView, interval: Interval, currency: string | undefined) => ReactNode;
} {
  const account = useActiveAccount();
  const isOrgAdmin = account?.status === "ok" && account.kind === "organization" && account.role === "admin";
  const summary = useQuery(api.seats.summary, isOrgAdmin ? {} : "skip");
  /** What the admin typed per plan (clamped into the range when used). */
  const [typed, setTyped] = useState<Partial<Record<Tier, string>>>({});
  const members = summary?.members ?? 1;

  const range = (tier: Tier) => {
    const config = PLANS[tier].seats;
    if (!config) return null;
    return { mode: config.mode, min: config.mode === "chosen" ? Math.max(config.min, members) : config.min, max: config.max };
  };
  const seatsFor = (tier: Tier): number | undefined => {
    const r = isOrgAdmin ? range(tier) : null;
    if (!r || r.mode !== "chosen") return undefined;
    const n = Math.floor(Number(typed[tier] ?? members));
    return Math.min(r.max, Math.max(r.min, Number.isFinite(n) && typed[tier] !== "" ? n : r.min));
  };
  const picker = (plan: PlanView, interval: Interval, currency: string | undefined): ReactNode => {
    const r = isOrgAdmin ? range(plan.tier) : null;
    if (!r || !summary) return null;
    const seats = r.mode === "chosen" ? seatsFor(plan.tier)! : Math.min(r.max, Math.max(r.min, members));
    const listed = plan.prices?.[interval];
    const price = listed ? priceIn(listed, currency) : null;
    const total = price ? `${formatMoney(price.amount * seats, price.currency)} ${interval === "month" ? "/month" : "/year"}` : null;
    const testId = `checkout-seats-${plan.tier}`;
    return (
      <div className="stack checkout-seats" data-testid={testId}>
        {r.mode === "chosen" ? (
          <label className="field">
            Seats for your organisation ({membersLabel(members)})
            <input
              type="number"
              inputMode="numeric"
              min={r.min}
              max={r.max}
              step={1}
              value={typed[plan.tier] ?? String(seats)}
              onChange={(e) => setTyped((t) => ({ ...t, [plan.tier]: e.target.value }))}
              data-testid={`${testId}-input`}
            />
          </label>
        ) : (
          <p className="plan-note">Seats follow your members: {seatsLabel(seats)} now.</p>
        )}
        {r.mode === "chosen" && typed[plan.tier] !== undefined && typed[plan.tier] !== String(seats) ? (
          <p className="muted fine-print" role="note" data-testid={`${testId}-range`}>
            Between {r.min} and {r.max} seats{members > 1 ? `: at least one per member` : ""}.
          </p>
        ) : null}
        <p className="muted fine-print" data-testid={`${testId}-total`}>
          {seatsLabel(seats)}
          {total ? ` · ${total}` : ""} · {tokens(seatAllowance(plan.tier, seats))} a month
        </p>
      </div>
    );
  };
  return { seatsFor, picker };
}
