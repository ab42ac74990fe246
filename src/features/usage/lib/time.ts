/** "Mar 5, 2026, 2:30 PM" in the reader's locale and time zone (Intl). */
export function formatDateTime(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}
