import { CURRENCIES, isCurrency, type CurrencyPreference } from "@/src/features/billing/hooks/useCurrency";

const LABELS: Record<string, string> = { usd: "USD ($)", eur: "EUR (€)", gbp: "GBP (£)" };

/**
 * The manual currency switch (`currency-select`). Disabled, with a note
 * (`currency-locked-note`), once Stripe bills the account in a currency.
 */
export function CurrencySelect({ preference }: { preference: CurrencyPreference }) {
  const { currency, locked, setCurrency } = preference;
  return (
    <div className="currency-switch" style={{ maxWidth: "22rem" }}>
      <label className="currency-select-label">
        <span className="muted">Currency</span>{" "}
        <select
          data-testid="currency-select"
          value={currency}
          disabled={locked}
          aria-describedby={locked ? "currency-locked-note" : undefined}
          onChange={(e) => {
            if (isCurrency(e.target.value)) setCurrency(e.target.value);
          }}
        >
          {CURRENCIES.map((c) => (
            <option key={c} value={c}>
              {LABELS[c] ?? c.toUpperCase()}
            </option>
          ))}
        </select>
      </label>
      {locked ? (
        <p className="muted currency-note" id="currency-locked-note" data-testid="currency-locked-note" style={{ margin: "0.25rem 0 0", fontSize: "0.85rem" }}>
          Your account is billed in {currency.toUpperCase()}. Stripe keeps a customer in one currency once billed, so every
          purchase is in {currency.toUpperCase()}.
        </p>
      ) : null}
    </div>
  );
}
