/**
 * Locale-aware formatting with `Intl`. `locale` defaults to the browser's.
 */

/**
 * Number of minor-unit digits of `currency` (2 for USD/EUR, 0 for JPY, 3 for KWD).
 * Taken from Intl (ISO 4217 data) rather than a hand-kept list, matching how
 * Stripe expresses amounts in the currency's smallest unit
 * (https://docs.stripe.com/currencies#zero-decimal).
 */
export function currencyExponent(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).resolvedOptions()
    .maximumFractionDigits ?? 2;
}

export type MoneyOptions = {
  locale?: string;
  /** Drop the fraction when the amount is whole, e.g. "$29" instead of "$29.00" (price tags). */
  compact?: boolean;
};

/**
 * Formats an integer amount in minor units of `currency` (Stripe's convention:
 * 1999 usd → $19.99, 1500 jpy → ¥1,500).
 */
export function formatMoney(amountMinor: number, currency: string, options: MoneyOptions = {}): string {
  const code = currency.toUpperCase();
  const exponent = currencyExponent(code);
  const value = amountMinor / 10 ** exponent;
  const whole = Number.isInteger(value);
  return new Intl.NumberFormat(options.locale, {
    style: "currency",
    currency: code,
    ...(options.compact && whole ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {}),
  }).format(value);
}

/** Formats a timestamp in milliseconds as a calendar date, e.g. "Mar 5, 2026". */
export function formatDate(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(new Date(ms));
}

/** Formats an integer with grouping, e.g. 1,500. */
export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(n);
}

/** "1 token" / "5 tokens". */
export function tokens(n: number, locale?: string): string {
  return `${formatCount(n, locale)} ${n === 1 ? "token" : "tokens"}`;
}

/** A credit, written with a real minus sign: "−$15.00" (`amountMinor` ≥ 0). */
export function formatCredit(amountMinor: number, currency: string, locale?: string): string {
  return `\u2212${formatMoney(Math.abs(amountMinor), currency, { locale })}`;
}
