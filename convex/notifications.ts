/**
 * The notification centre for the client (the bell in the header): thin
 * wrappers over the billing component's `notifications` functions, acting on
 * the caller's account (`ctx.caller.ownerKey`, never an id from the client).
 * Read state is the account's. Members of an organisation see the same
 * notifications without payment links (hosted invoice URLs are the admins' to
 * follow), as token alerts do. docs/NOTIFICATIONS.md.
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { components } from "./_generated/api";
import { vNotificationView, vPreferencesView } from "./billing/notifications";
import { callerMutation, callerQuery } from "./functions";
import { billingOwnerKey, type Caller } from "./model/auth";

const EMPTY_PAGE = { page: [], isDone: true, continueCursor: "" };

type View = typeof vNotificationView.type;

/** Drops an external (payment) link for members; in-app paths stay. */
function forRole(caller: Caller, view: View): View {
  if (caller.role === "admin" || !view.link || view.link.startsWith("/")) return view;
  const { link: _paymentLink, ...rest } = view;
  return rest;
}

/**
 * The caller's account's notifications, newest first (`usePaginatedQuery`):
 * `{ id, kind, title, body, link?, critical, createdAt, readAt? }` (ms).
 * At most 50 a page. Signed out: an empty page.
 */
export const list = callerQuery({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vNotificationView),
  handler: async (ctx, { paginationOpts }) => {
    const caller = ctx.caller;
    if (!caller) return EMPTY_PAGE;
    const result = await ctx.runQuery(components.billing.notifications.list, { ownerKey: caller.ownerKey, paginationOpts });
    return { ...result, page: result.page.map((row) => forRole(caller, row)) };
  },
});

/** Unread notifications on the caller's account, counted up to 100 (the badge shows `99+`). Signed out: 0. */
export const unreadCount = callerQuery({
  args: {},
  returns: v.number(),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.notifications.unreadCount, { ownerKey: ctx.caller.ownerKey }) : 0,
});

/**
 * Marks one notification read. Throws `UNAUTHENTICATED` (signed out) and
 * `NOT_FOUND` when the id is not one of the caller's account's notifications.
 */
export const markRead = callerMutation({
  args: { id: v.string() },
  returns: v.null(),
  handler: async (ctx, { id }) =>
    await ctx.runMutation(components.billing.notifications.markRead, { ownerKey: ctx.caller.ownerKey, id }),
});

/** Marks all the caller's account's notifications read; returns how many now. Throws `UNAUTHENTICATED`. */
export const markAllRead = callerMutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => await ctx.runMutation(components.billing.notifications.markAllRead, { ownerKey: ctx.caller.ownerKey }),
});

/**
 * The caller's email preferences on the acting account: `{ mutedKinds,
 * optionalKinds: {kind, label}[], billingEmail }`. Signed out: null.
 */
export const preferences = callerQuery({
  args: {},
  returns: v.union(v.null(), vPreferencesView),
  handler: async (ctx) =>
    ctx.caller
      ? await ctx.runQuery(components.billing.notifications.preferences, {
          ownerKey: ctx.caller.ownerKey,
          userKey: billingOwnerKey(ctx.caller.user._id),
        })
      : null,
});

/**
 * Saves which non-critical kinds the caller does not want emailed (critical
 * billing mail always goes). Throws `UNAUTHENTICATED`, `NOT_FOUND` (no
 * billing account yet), `INVALID_ARGUMENT` (a kind that cannot be muted).
 */
export const setPreferences = callerMutation({
  args: { mutedKinds: v.array(v.string()) },
  returns: v.null(),
  handler: async (ctx, { mutedKinds }) =>
    await ctx.runMutation(components.billing.notifications.setPreferences, {
      ownerKey: ctx.caller.ownerKey,
      userKey: billingOwnerKey(ctx.caller.user._id),
      ...(ctx.caller.user.email ? { email: ctx.caller.user.email } : {}),
      mutedKinds,
    }),
});
