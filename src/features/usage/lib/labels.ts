/**
 * Words for the token ledger and grants: category names, what each ledger
 * reason means to a customer, and what a debit drew from.
 */
import { FEATURES } from "@/convex/billing/model/plans";
import { formatCount } from "@/src/lib/format";
import type { GrantCategory, LedgerEntry } from "./types";

/**
 * Feature display name from the shared catalogue; the key itself for a
 * feature it doesn't list. (Same rule as billing's `featureName`; a feature
 * folder does not import another, docs/UI.md "Structure".)
 */
export function featureName(feature: string): string {
  return FEATURES[feature]?.name ?? feature;
}

const CATEGORY_LABELS: Record<GrantCategory, string> = {
  plan_allowance: "Plan allowance",
  purchased: "Purchased",
  promotional: "Promotional",
  admin: "Support grant",
  rollover: "Rollover",
};

/** "Plan allowance", "Purchased", …; an unknown category (newer server) as its key. */
export function categoryLabel(category: string): string {
  return (CATEGORY_LABELS as Record<string, string | undefined>)[category] ?? category.replace(/_/g, " ");
}

/**
 * "Tokens are used in this order: promotional, then plan allowance, then
 * purchased." from the grants as `tokens.grants` lists them (draw order);
 * consecutive grants of one category are named once.
 */
export function drawOrderSentence(categories: readonly string[]): string {
  const names: string[] = [];
  for (const c of categories) {
    const name = categoryLabel(c).toLowerCase();
    if (names[names.length - 1] !== name) names.push(name);
  }
  if (names.length === 0) return "";
  return `Tokens are used in this order: ${names.join(", then ")}. Within that, tokens that expire sooner go first.`;
}

/** What a ledger row means, in a customer's words ("Standard analysis finished"). */
export function reasonLabel(entry: Pick<LedgerEntry, "reason" | "amount" | "feature">): string {
  const feature = entry.feature ? featureName(entry.feature) : null;
  switch (entry.reason as string) {
    case "period_grant":
      return "Plan allowance added";
    case "period_expire":
      return "Unused allowance expired";
    case "rollover":
      return "Unused allowance rolled over";
    case "plan_change":
      return entry.amount >= 0 ? "Allowance raised (plan change)" : "Allowance lowered (plan change)";
    case "consume":
      return feature ? `Used ${feature}` : "Tokens used";
    case "top_up":
      return "Token pack purchased";
    case "admin_grant":
      return entry.amount >= 0 ? "Tokens added by support" : "Correction by support";
    case "promotional_grant":
      return "Promotional tokens added";
    case "grant_expire":
      return "Tokens expired";
    case "hold":
      return feature ? `${feature} started: tokens reserved` : "Tokens reserved";
    case "hold_settle":
      if (entry.amount > 0) return feature ? `${feature} finished: unused tokens returned` : "Unused reserved tokens returned";
      if (entry.amount < 0) return feature ? `${feature} finished: extra tokens charged` : "Extra tokens charged";
      return feature ? `${feature} finished` : "Reserved tokens charged";
    case "hold_release":
      return feature ? `${feature} didn't finish: tokens returned` : "Reserved tokens returned";
    case "refund_clawback":
      return "Refunded token pack taken back";
    case "dispute_freeze":
      return "Disputed token pack frozen";
    case "dispute_release":
      return "Dispute resolved: tokens restored";
    case "dispute_lost":
      return "Dispute lost: tokens removed";
    default:
      // A reason this client doesn't know yet (a newer server): its key, readable.
      return entry.reason.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }
}

/** Reasons whose note is for the customer (period rows' notes are internal keys). */
const NOTE_REASONS = new Set<string>([
  "rollover",
  "plan_change",
  "admin_grant",
  "promotional_grant",
  "hold_settle",
  "hold_release",
  "refund_clawback",
  "dispute_freeze",
  "dispute_release",
  "dispute_lost",
]);

/** The note to show under a row, or null. */
export function visibleNote(entry: Pick<LedgerEntry, "reason" | "note">): string | null {
  return entry.note && NOTE_REASONS.has(entry.reason) ? entry.note : null;
}

/**
 * Where a row's tokens came from or went back to: "3 from plan allowance,
 * 2 from purchased" for a debit, "2 back to plan allowance" for a return;
 * null when the row names no grants.
 */
export function drawnFromText(entry: Pick<LedgerEntry, "amount" | "drawnFrom">, separator = ", "): string | null {
  const parts = (entry.drawnFrom ?? []).filter((d) => d.amount !== 0);
  if (parts.length === 0) return null;
  const word = entry.amount > 0 ? "back to" : "from";
  return parts.map((d) => `${formatCount(Math.abs(d.amount))} ${word} ${categoryLabel(d.category).toLowerCase()}`).join(separator);
}

/** "+50", "−3" (U+2212 minus), "0". */
export function signedAmount(amount: number): string {
  if (amount > 0) return `+${formatCount(amount)}`;
  if (amount < 0) return `\u2212${formatCount(-amount)}`;
  return "0";
}

/** A grant's note when it is meant for the customer (operators' grants); others carry internal keys. */
export function grantNote(grant: { category: string; note?: string }): string | null {
  return grant.note && (grant.category === "promotional" || grant.category === "admin") ? grant.note : null;
}
