/**
 * Console formatting: ages, the audit log's before/after JSON, actor labels.
 * Money and dates use the app's Intl helpers (src/lib/format.ts).
 */

/** "Mar 5, 2026, 2:30 PM" in the reader's locale and time zone. */
export function formatDateTime(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

/** A duration in ms as the largest whole unit: "45 seconds", "12 minutes", "3 hours", "2 days" (Intl). */
export function formatAge(ms: number, locale?: string): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const [value, unit]: [number, "second" | "minute" | "hour" | "day"] =
    seconds < 60
      ? [seconds, "second"]
      : seconds < 3600
        ? [Math.floor(seconds / 60), "minute"]
        : seconds < 86_400
          ? [Math.floor(seconds / 3600), "hour"]
          : [Math.floor(seconds / 86_400), "day"];
  return new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" }).format(value);
}

/**
 * The audit log keeps `before`/`after` as JSON strings. Returns the parsed
 * value pretty-printed, or the raw text when it isn't JSON; "—" for empty.
 */
export function prettyJson(text: string | null | undefined): string {
  if (text === null || text === undefined || text === "" || text === "null") return "—";
  try {
    const value: unknown = JSON.parse(text);
    if (value === null) return "—";
    if (typeof value === "string") return value;
    if (typeof value !== "object") return JSON.stringify(value);
    return JSON.stringify(value, null, 2);
  } catch {
    return text;
  }
}

/**
 * The keys whose values differ between `before` and `after` (top level of
 * two JSON objects), e.g. ["balance"]; empty when either side isn't an object.
 */
export function changedKeys(before: string | null | undefined, after: string | null | undefined): string[] {
  const parse = (text: string | null | undefined): Record<string, unknown> | null => {
    if (!text) return null;
    try {
      const value: unknown = JSON.parse(text);
      return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  const a = parse(before) ?? {};
  const b = parse(after) ?? {};
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key])).sort();
}

const ACTOR_KINDS: Record<string, string> = {
  user: "User",
  staff: "Staff",
  stripe: "Stripe event",
  cron: "Scheduled job",
  system: "System",
};

/** "Staff · user_123", "Stripe event · evt_…". */
export function actorLabel(actorKind: string, actor: string): string {
  return `${ACTOR_KINDS[actorKind] ?? actorKind} · ${actor}`;
}

/** "grantTokens" / "tokens.grant" / "comp_tier" → "Grant tokens" / "Tokens grant" / "Comp tier". */
export function actionLabel(action: string): string {
  const words = action
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[._:-]+/g, " ")
    .trim()
    .toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : action;
}

/** A Stripe or Convex status for display: "past_due" → "Past due". */
export function statusLabel(status: string): string {
  const words = status.replace(/_/g, " ");
  return words[0]!.toUpperCase() + words.slice(1);
}

/** The pill tone of a subscription, invoice or queue status. */
export function statusTone(status: string | null | undefined): "success" | "warning" | "danger" | "info" | "muted" {
  switch (status) {
    case "active":
    case "paid":
    case "succeeded":
    case "settled":
    case "matched":
      return "success";
    case "trialing":
    case "pending":
    case "open":
    case "waiting":
      return "info";
    case "past_due":
    case "unpaid":
    case "dead":
    case "uncollectible":
    case "mismatch":
    case "frozen":
      return "danger";
    case "incomplete":
    case "paused":
    case "failed_retrying":
    case "draft":
      return "warning";
    default:
      return "muted";
  }
}
