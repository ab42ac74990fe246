import { amountIn, TOKEN_PACKS } from "@/convex/billing/model/plans";
import { useCurrency } from "@/src/features/billing/hooks/useCurrency";
import { useTopUp } from "@/src/features/billing/hooks/useTopUp";
import { formatCount, formatMoney } from "@/src/lib/format";
import { AdminOnlyNote } from "@/src/features/org/components/AdminOnlyNote";
import { useIsOrgMember } from "@/src/features/org/hooks/useActiveAccount";

/**
 * One-off token packs (TOKEN_PACKS); purchased tokens carry over between
 * periods. Priced and bought in the visitor's currency (`useCurrency`).
 * An organisation member sees the note that admins buy them instead.
 */
export function TokenPacks({ purchasedBefore }: { purchasedBefore: number | null }) {
  const { buy, pendingPack } = useTopUp();
  const { currency } = useCurrency();
  const member = useIsOrgMember();
  if (member) return <AdminOnlyNote detail="Ask an admin to buy a token pack." testId="token-packs-admin-only" />;
  return (
    <ul className="token-packs">
      {TOKEN_PACKS.map((pack) => (
        <li key={pack.id} className="token-pack">
          <span>
            <strong>{formatCount(pack.tokens)} tokens</strong>
            <span className="muted" data-testid={`token-pack-price-${pack.id}`}>
              {" "}
              · {formatMoney(amountIn(pack, currency) ?? pack.displayAmount, amountIn(pack, currency) === null ? pack.currency : currency, { compact: true })}
            </span>
          </span>
          <button
            type="button"
            className="button button-secondary"
            data-testid={`buy-tokens-${pack.id}`}
            disabled={pendingPack !== null}
            aria-busy={pendingPack === pack.id}
            onClick={() => void buy(pack, purchasedBefore, currency)}
          >
            {pendingPack === pack.id ? "Redirecting…" : "Buy"}
          </button>
        </li>
      ))}
    </ul>
  );
}
