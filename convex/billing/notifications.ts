/**
 * The notification centre (public to the app, which resolves `ownerKey` and
 * the user's key from its verified caller) and notification email
 * (internal). Rows come only from `notify` (model/notifications.ts).
 *
 * Public, all by the acting account's `ownerKey`:
 * - `list` — newest first, paginated (at most 50 a page);
 * - `unreadCount` — unread rows, counted up to 100 through `by_accountId_and_readAt`;
 * - `markRead` / `markAllRead`;
 * - `preferences` / `setPreferences` — one user's email preferences.
 *
 * Internal: `sendEmail` (scheduled by `notify`), `emailContext`, `queueEmail`,
 * `markAllReadContinue`.
 */
import { Resend } from "@convex-dev/resend";
import { paginationOptsValidator, paginationResultValidator, type PaginationResult } from "convex/server";
import { v } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import { components, internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalAction, internalMutation, internalQuery, mutation, query, type MutationCtx } from "./_generated/server";
import { renderNotificationEmail } from "./emails/templates";
import { accountByOwnerKey } from "./model/accounts";
import { fail } from "./model/errors";
import {
  absoluteLink,
  emailAllowed,
  emailIdempotencyKey,
  MARK_ALL_BATCH,
  MAX_NOTIFICATIONS_PAGE,
  OPTIONAL_EMAIL_KINDS,
  preferencesOf,
  UNREAD_COUNT_CAP,
} from "./model/notifications";
import { readEnv } from "./model/stripeClient";
import schema from "./schema";

/** A notification as the bell shows it; `id` is a string (the app has no type for component ids). */
export const vNotificationView = v.object({
  id: v.string(),
  kind: v.string(),
  title: v.string(),
  body: v.string(),
  /** A hosted invoice URL or an in-app path (`/billing`). */
  link: v.optional(v.string()),
  critical: v.boolean(),
  /** When it was created (ms). */
  createdAt: v.number(),
  /** When the account read it (ms), absent while unread. */
  readAt: v.optional(v.number()),
});

export const vPreferencesView = v.object({
  /** Kinds this user turned email off for. */
  mutedKinds: v.array(v.string()),
  /** The kinds that can be turned off, with labels; critical billing mail always goes. */
  optionalKinds: v.array(v.object({ kind: v.string(), label: v.string() })),
  /** The account's billing email, where notification mail goes (null: none yet). */
  billingEmail: v.union(v.string(), v.null()),
});

const EMPTY_PAGE: PaginationResult<never> = { page: [], isDone: true, continueCursor: "" };

function toView(row: Doc<"notifications">) {
  return {
    id: row._id as string,
    kind: row.kind,
    title: row.title,
    body: row.body,
    ...(row.link ? { link: row.link } : {}),
    critical: row.critical,
    createdAt: row._creationTime,
    ...(row.readAt !== undefined ? { readAt: row.readAt } : {}),
  };
}

/** The account's notifications, newest first; an unknown account gets an empty page. */
export const list = query({
  args: { ownerKey: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vNotificationView),
  handler: async (ctx, { ownerKey, paginationOpts }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return EMPTY_PAGE;
    const numItems = Math.min(Math.max(1, Math.floor(paginationOpts.numItems)), MAX_NOTIFICATIONS_PAGE);
    const result = await paginator(ctx.db, schema)
      .query("notifications")
      .withIndex("by_accountId", (q) => q.eq("accountId", account._id))
      .order("desc")
      .paginate({ ...paginationOpts, numItems });
    return { ...result, page: result.page.map(toView) };
  },
});

/**
 * Unread notifications of the account, counted up to 100 (a bounded read of
 * `by_accountId_and_readAt`): the badge shows `99+` above 99.
 */
export const unreadCount = query({
  args: { ownerKey: v.string() },
  returns: v.number(),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return 0;
    const unread = await ctx.db
      .query("notifications")
      .withIndex("by_accountId_and_readAt", (q) => q.eq("accountId", account._id).eq("readAt", undefined))
      .take(UNREAD_COUNT_CAP);
    return unread.length;
  },
});

/**
 * Marks one of the account's notifications read (idempotent). Throws
 * `NOT_FOUND` for an id that is malformed or belongs to another account.
 */
export const markRead = mutation({
  args: { ownerKey: v.string(), id: v.string() },
  returns: v.null(),
  handler: async (ctx, { ownerKey, id }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    const notificationId = ctx.db.normalizeId("notifications", id);
    const row = notificationId ? await ctx.db.get("notifications", notificationId) : null;
    if (!account || !row || row.accountId !== account._id) fail("NOT_FOUND", "That notification was not found.");
    if (row.readAt === undefined) await ctx.db.patch("notifications", row._id, { readAt: Date.now() });
    return null;
  },
});

async function markUnreadBatch(ctx: MutationCtx, accountId: Id<"billingAccounts">): Promise<number> {
  const rows = await ctx.db
    .query("notifications")
    .withIndex("by_accountId_and_readAt", (q) => q.eq("accountId", accountId).eq("readAt", undefined))
    .take(MARK_ALL_BATCH);
  const now = Date.now();
  for (const row of rows) await ctx.db.patch("notifications", row._id, { readAt: now });
  if (rows.length === MARK_ALL_BATCH) await ctx.scheduler.runAfter(0, internal.notifications.markAllReadContinue, { accountId });
  return rows.length;
}

/**
 * Marks all the account's unread notifications read: 200 in this
 * transaction, the rest by a scheduled continuation. Returns how many now.
 */
export const markAllRead = mutation({
  args: { ownerKey: v.string() },
  returns: v.number(),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    return account ? await markUnreadBatch(ctx, account._id) : 0;
  },
});

export const markAllReadContinue = internalMutation({
  args: { accountId: v.id("billingAccounts") },
  returns: v.null(),
  handler: async (ctx, { accountId }) => {
    await markUnreadBatch(ctx, accountId);
    return null;
  },
});

/** One user's email preferences on the account (`userKey`: the app's `user:<id>`). */
export const preferences = query({
  args: { ownerKey: v.string(), userKey: v.string() },
  returns: vPreferencesView,
  handler: async (ctx, { ownerKey, userKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    const prefs = account ? await preferencesOf(ctx, account._id, userKey) : null;
    return { mutedKinds: prefs?.mutedKinds ?? [], optionalKinds: OPTIONAL_EMAIL_KINDS, billingEmail: account?.email ?? null };
  },
});

/**
 * Saves one user's email preferences: `mutedKinds` must be among the
 * optional kinds (`INVALID_ARGUMENT` otherwise); `email` is the user's (it
 * names the billing contact's row). Throws `NOT_FOUND` without an account.
 */
export const setPreferences = mutation({
  args: { ownerKey: v.string(), userKey: v.string(), email: v.optional(v.string()), mutedKinds: v.array(v.string()) },
  returns: v.null(),
  handler: async (ctx, { ownerKey, userKey, email, mutedKinds }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) fail("NOT_FOUND", "Billing is not set up for this account yet.");
    const allowed = new Set(OPTIONAL_EMAIL_KINDS.map((k) => k.kind));
    const unknown = mutedKinds.filter((k) => !allowed.has(k));
    if (unknown.length > 0) fail("INVALID_ARGUMENT", `These emails cannot be turned off: ${unknown.join(", ")}.`);
    const row = { mutedKinds: [...new Set(mutedKinds)].sort(), ...(email ? { email: email.toLowerCase() } : {}) };
    const existing = await preferencesOf(ctx, account._id, userKey);
    if (existing) await ctx.db.patch("notificationPreferences", existing._id, row);
    else await ctx.db.insert("notificationPreferences", { accountId: account._id, userKey, ...row });
    return null;
  },
});

const vEmailDecision = v.union(
  v.null(),
  v.object({
    notification: v.object({ kind: v.string(), title: v.string(), body: v.string(), link: v.optional(v.string()), critical: v.boolean() }),
    to: v.union(v.string(), v.null()),
    allowed: v.boolean(),
    accountName: v.union(v.string(), v.null()),
  }),
);

/** What `sendEmail` needs: the notification, the billing email, whether preferences allow it. Null once decided. */
export const emailContext = internalQuery({
  args: { notificationId: v.id("notifications") },
  returns: vEmailDecision,
  handler: async (ctx, { notificationId }) => {
    const row = await ctx.db.get("notifications", notificationId);
    if (!row || row.emailStatus !== undefined) return null;
    const account = await ctx.db.get("billingAccounts", row.accountId);
    const to = account?.email ?? null;
    return {
      notification: { kind: row.kind, title: row.title, body: row.body, ...(row.link ? { link: row.link } : {}), critical: row.critical },
      to,
      allowed: to ? await emailAllowed(ctx, row, to) : false,
      accountName: account?.name ?? null,
    };
  },
});

/**
 * Renders and queues a notification's email once (scheduled by `notify`).
 * No billing email → `no_recipient`; muted → `muted`; else the Resend
 * component gets it under the idempotency key `notification:<id>`.
 */
export const sendEmail = internalAction({
  args: { notificationId: v.id("notifications") },
  returns: v.null(),
  handler: async (ctx, { notificationId }) => {
    const context = await ctx.runQuery(internal.notifications.emailContext, { notificationId });
    if (!context) return null;
    if (!context.to || !context.allowed) {
      await ctx.runMutation(internal.notifications.queueEmail, { notificationId, outcome: context.to ? "muted" : "no_recipient" });
      return null;
    }
    const email = await renderNotificationEmail({
      ...context.notification,
      link: absoluteLink(context.notification.link),
      accountName: context.accountName,
    });
    await ctx.runMutation(internal.notifications.queueEmail, { notificationId, outcome: "send", to: context.to, ...email });
    return null;
  },
});

/** The sender when `EMAIL_FROM` is unset (fine for the local mailbox; Resend wants a verified domain). */
const DEFAULT_FROM = "Billing <billing@example.com>";

/**
 * Records the email decision once: `send` hands the rendered mail to the
 * Resend component (which batches, rate-limits and retries the API call)
 * and stores its email id. A second call for the same notification is a no-op.
 */
export const queueEmail = internalMutation({
  args: {
    notificationId: v.id("notifications"),
    outcome: v.union(v.literal("send"), v.literal("muted"), v.literal("no_recipient")),
    to: v.optional(v.string()),
    subject: v.optional(v.string()),
    html: v.optional(v.string()),
    text: v.optional(v.string()),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    const row = await ctx.db.get("notifications", args.notificationId);
    if (!row || row.emailStatus !== undefined) return null;
    if (args.outcome !== "send") {
      await ctx.db.patch("notifications", row._id, { emailStatus: args.outcome });
      return null;
    }
    const apiKey = readEnv("RESEND_API_KEY");
    if (!apiKey || !args.to || !args.subject) {
      await ctx.db.patch("notifications", row._id, { emailStatus: apiKey ? "no_recipient" : "disabled" });
      return null;
    }
    const resend = new Resend(components.resend, { apiKey, testMode: false });
    const emailId = await resend.sendEmail(ctx, {
      from: readEnv("EMAIL_FROM") ?? DEFAULT_FROM,
      to: args.to,
      subject: args.subject,
      ...(args.html !== undefined ? { html: args.html } : {}),
      ...(args.text !== undefined ? { text: args.text } : {}),
      idempotencyKey: emailIdempotencyKey(row._id),
    });
    await ctx.db.patch("notifications", row._id, { emailStatus: "queued", emailId });
    return null;
  },
});
