import { useQuery } from "convex/react";
import { useCallback, useState } from "react";
import { api } from "@/convex/_generated/api";
import { CURRENCY_STORAGE_KEY, resolveCurrency, type Currency } from "@/src/features/billing/lib/currency";

export { CURRENCIES, isCurrency, type Currency } from "@/src/features/billing/lib/currency";

function readChoice(): string | null {
  try {
    return localStorage.getItem(CURRENCY_STORAGE_KEY);
  } catch {
    return null;
  }
}

function browserLocales(): readonly string[] {
  if (typeof navigator === "undefined") return [];
  return navigator.languages?.length ? navigator.languages : navigator.language ? [navigator.language] : [];
}

export type CurrencyPreference = {
  /** The currency prices are shown and Checkout charged in (lower case, e.g. `eur`). */
  currency: Currency;
  /** Where it came from: the account's billed currency, the visitor's switch, or the browser locale. */
  source: "account" | "chosen" | "locale";
  /** True when Stripe already bills the account in `currency`: the switch is disabled. */
  locked: boolean;
  /** Remembers a manual choice (ignored while locked). */
  setCurrency: (currency: Currency) => void;
};

/**
 * The visitor's currency (the rule in `lib/currency.ts`): the signed-in
 * account's billed currency (`billing.currency`), else the switch's choice
 * from `localStorage`, else the browser's `navigator.languages`.
 */
export function useCurrency(): CurrencyPreference {
  const billed = useQuery(api.billing.currency);
  const [chosen, setChosen] = useState<string | null>(readChoice);
  const { currency, source } = resolveCurrency(billed?.billedCurrency, chosen, browserLocales());
  const locked = source === "account";
  const setCurrency = useCallback(
    (next: Currency) => {
      if (locked) return;
      setChosen(next);
      try {
        localStorage.setItem(CURRENCY_STORAGE_KEY, next);
      } catch {
        // Private mode: the choice lasts for this page only.
      }
    },
    [locked],
  );
  return { currency, source, locked, setCurrency };
}
