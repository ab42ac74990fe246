/**
 * Notifications: one in-app row per (account, dedupeKey), inserted in the
 * transaction of the change it reports (schema `notifications`). A replayed
 * Stripe event or a rerun cron calls `notify` again with the same key and
 * gets the existing row back: nothing is shown or sent twice.
 *
 * Email delivery hangs off the inserted row (see docs/NOTIFICATIONS.md).
 */
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

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
};

/**
 * Inserts the notification unless one with the same `dedupeKey` exists for
 * the account. Returns `{ id, created }`; `created` is false on a replay.
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
  const id = await ctx.db.insert("notifications", {
    accountId: input.accountId,
    kind: input.kind,
    dedupeKey: input.dedupeKey,
    title: input.title,
    body: input.body,
    ...(input.link ? { link: input.link } : {}),
    critical: input.critical,
  });
  return { id, created: true };
}
