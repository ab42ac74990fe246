import { TOKEN_PACKS } from "@/convex/billing/model/plans";
import { useTopUp } from "@/src/features/billing/hooks/useTopUp";
import { formatCount, formatMoney } from "@/src/lib/format";

/** One-off token packs (TOKEN_PACKS); purchased tokens carry over between periods. */
export function TokenPacks({ purchasedBefore }: { purchasedBefore: number | null }) {
  const { buy, pendingPack } = useTopUp();
  return (
    <ul className="token-packs">
      {TOKEN_PACKS.map((pack) => (
        <li key={pack.id} className="token-pack">
          <span>
            <strong>{formatCount(pack.tokens)} tokens</strong>
            <span className="muted"> · {formatMoney(pack.displayAmount, pack.currency, { compact: true })}</span>
          </span>
          <button
            type="button"
            className="button button-secondary"
            data-testid={`buy-tokens-${pack.id}`}
            disabled={pendingPack !== null}
            aria-busy={pendingPack === pack.id}
            onClick={() => void buy(pack, purchasedBefore)}
          >
            {pendingPack === pack.id ? "Redirecting…" : "Buy"}
          </button>
        </li>
      ))}
    </ul>
  );
}
