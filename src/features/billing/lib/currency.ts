/**
 * The visitor's currency rule (docs/BILLING_COMPONENT.md "Currencies"), pure
 * so it is tested without a browser. `useCurrency` applies it.
 *
 * 1. An account Stripe already bills in a currency shows that currency and
 *    nothing else (Stripe keeps a customer in one currency once billed).
 * 2. Else the currency the visitor chose with the switch, remembered in
 *    `localStorage` under `CURRENCY_STORAGE_KEY`.
 * 3. Else the first of the browser's `navigator.languages` decides
 *    (`currencyForLocales`): a region names the country (en-GB → GBP,
 *    de-AT or en-IE → EUR, en-US or any other country → USD); a bare
 *    language of a euro-area country (de, fr, es, it, nl, pt, fi, el, …)
 *    → EUR; anything else → USD.
 */
import { CURRENCIES, DEFAULT_CURRENCY, isCurrency, type Currency } from "@/convex/billing/model/plans";

export { CURRENCIES, isCurrency, type Currency };

/** Where the manual choice is remembered. */
export const CURRENCY_STORAGE_KEY = "billing.currency";

/** ISO 3166 regions that pay in pounds sterling (the UK and the Crown Dependencies). */
const GBP_REGIONS = new Set(["GB", "UK", "GG", "JE", "IM"]);

/** The euro area (ISO 3166), plus territories and microstates that use the euro. */
const EUR_REGIONS = new Set([
  "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK",
  "AD", "MC", "SM", "VA", "ME", "XK", "GF", "GP", "MQ", "RE", "YT", "PM", "BL", "MF", "AX",
]);

/** Languages spoken mainly in euro-area countries, used when a locale names no region. */
const EUR_LANGUAGES = new Set(["de", "fr", "es", "it", "nl", "pt", "fi", "el", "et", "lv", "lt", "sk", "sl", "mt", "ga", "lb", "hr", "ca", "eu", "gl"]);

/** The currency the browser's locale suggests: one locale tag, e.g. `de-DE`, `en-GB`, `fr`. */
export function currencyForLocale(tag: string): Currency {
  let language: string;
  let region: string | undefined;
  try {
    const locale = new Intl.Locale(tag);
    language = locale.language.toLowerCase();
    region = locale.region?.toUpperCase();
  } catch {
    return DEFAULT_CURRENCY;
  }
  if (region) {
    if (GBP_REGIONS.has(region)) return "gbp";
    if (EUR_REGIONS.has(region)) return "eur";
    return DEFAULT_CURRENCY;
  }
  return EUR_LANGUAGES.has(language) ? "eur" : DEFAULT_CURRENCY;
}

/** The currency for the browser's preferred locales: the first one decides; USD when there is none. */
export function currencyForLocales(locales: readonly string[]): Currency {
  const first = locales.find((tag) => tag.trim() !== "");
  return first ? currencyForLocale(first) : DEFAULT_CURRENCY;
}

/**
 * The currency to show. `billed`: the account's billed currency (null = none
 * fixed; undefined = unknown yet or signed out); `chosen`: the remembered
 * manual choice; `locales`: `navigator.languages`.
 */
export function resolveCurrency(billed: string | null | undefined, chosen: string | null, locales: readonly string[]): {
  currency: Currency;
  source: "account" | "chosen" | "locale";
} {
  if (isCurrency(billed)) return { currency: billed, source: "account" };
  if (isCurrency(chosen)) return { currency: chosen, source: "chosen" };
  return { currency: currencyForLocales(locales), source: "locale" };
}
