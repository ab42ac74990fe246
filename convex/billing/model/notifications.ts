/**
 * Notifications: one in-app row per (account, dedupeKey), inserted in the
 * transaction of the change it reports (schema `notifications`). A replayed
 * Stripe event or a rerun cron calls `notify` again with the same key and
 * gets the existing row back: nothing is shown or sent twice.
 *
 * Email hangs off the inserted row: on insert, `notify` schedules the
 * internal action `notifications.sendEmail`, which renders the kind's
 * template and queues it with the Resend component under the idempotency key
 * `notification:<id>` (docs/NOTIFICATIONS.md). Without `RESEND_API_KEY` the
 * row is marked `emailStatus: "disabled"` at once and nothing is scheduled.
 */
import { internal } from "../_generated/api";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { readEnv } from "./stripeClient";

export type NotificationInput = {
  accountId: Id<"billingAccounts">;
  /** e.g. `payment_failed`, `action_required`, `dunning_reminder`, `trial_ending`, `plan_changed`, `refund_received`. */
  kind: string;
  /** Unique per account: the kind plus the invoice, period or step, e.g. `payment_failed:in_123`. */
  dedupeKey: string;
  title: string;
  body: string;
  link?: string;
  /** Critical billing notices are emailed whatever the preferences say. */
  critical: boolean;
  /**
   * Hold the email this long (ms; default 0) so a notice that supersedes
   * this one can withdraw it first (the day-0 "payment failed" of a renewal
   * that turns out to need 3-D Secure, `model/dunning.ts`).
   */
  emailDelayMs?: number;
};

/**
 * Kinds whose email a user may turn off (when the notification is not
 * critical), with the label the settings show. Critical notifications
 * (payment failed, action required, suspension...) are always emailed.
 */
export const OPTIONAL_EMAIL_KINDS: { kind: string; label: string }[] = [
  { kind: "plan_changed", label: "Plan changes" },
  { kind: "plan_scheduled", label: "Scheduled plan changes" },
  { kind: "refund_received", label: "Refunds" },
  { kind: "token_alert", label: "Token usage alerts" },
  { kind: "auto_recharge", label: "Automatic top-ups" },
  { kind: "trial_ending", label: "Trial ending" },
  { kind: "dunning_reminder", label: "Overdue payment reminders" },
];

/** Page size cap for the notification list. */
export const MAX_NOTIFICATIONS_PAGE = 50;
/** The unread count counts up to this many (the badge shows `99+` past 99). */
export const UNREAD_COUNT_CAP = 100;
/** Rows `markAllRead` patches per transaction; more are done by a scheduled continuation. */
export const MARK_ALL_BATCH = 200;

/**
 * Inserts the notification unless one with the same `dedupeKey` exists for
 * the account, and on insert starts its email (see the module doc).
 * Returns `{ id, created }`; `created` is false on a replay.
 */
export async function notify(
  ctx: MutationCtx,
  input: NotificationInput,
): Promise<{ id: Id<"notifications">; created: boolean }> {
  const existing = await ctx.db
    .query("notifications")
    .withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", input.accountId).eq("dedupeKey", input.dedupeKey))
    .unique();
  if (existing) return { id: existing._id, created: false };
  const emailEnabled = readEnv("RESEND_API_KEY") !== undefined;
  const id = await ctx.db.insert("notifications", {
    accountId: input.accountId,
    kind: input.kind,
    dedupeKey: input.dedupeKey,
    title: input.title,
    body: input.body,
    ...(input.link ? { link: input.link } : {}),
    critical: input.critical,
    ...(emailEnabled ? {} : { emailStatus: "disabled" as const }),
  });
  if (emailEnabled) await ctx.scheduler.runAfter(input.emailDelayMs ?? 0, internal.notifications.sendEmail, { notificationId: id });
  return { id, created: true };
}

/** The idempotency key the email of a notification is queued under (Resend component and Resend's API). */
export function emailIdempotencyKey(id: Id<"notifications">): string {
  return `notification:${id}`;
}

/** The preferences row of this user on this account, or null (nothing muted). */
export async function preferencesOf(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  userKey: string,
): Promise<Doc<"notificationPreferences"> | null> {
  return await ctx.db
    .query("notificationPreferences")
    .withIndex("by_accountId_and_userKey", (q) => q.eq("accountId", accountId).eq("userKey", userKey))
    .first();
}

/**
 * Whether the notification's email goes out to the billing contact:
 * critical ones always; others unless the contact's preferences row (the
 * one saved with the account's billing email) mutes the kind.
 */
export async function emailAllowed(ctx: QueryCtx, notification: Doc<"notifications">, billingEmail: string): Promise<boolean> {
  if (notification.critical) return true;
  const prefs = await ctx.db
    .query("notificationPreferences")
    .withIndex("by_accountId_and_email", (q) => q.eq("accountId", notification.accountId).eq("email", billingEmail.toLowerCase()))
    .first();
  return !prefs?.mutedKinds.includes(notification.kind);
}

/** Absolute link for an email: in-app paths (`/billing`) joined to `SITE_URL`; null when that is unknown. */
export function absoluteLink(link: string | undefined): string | null {
  if (!link) return null;
  if (/^https?:\/\//.test(link)) return link;
  const site = readEnv("SITE_URL");
  return site ? `${site.replace(/\/+$/, "")}${link.startsWith("/") ? "" : "/"}${link}` : null;
}
