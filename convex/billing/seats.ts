/**
 * Seats on per-seat plans (docs/SEATS.md). Logic, Stripe calls, idempotency
 * keys and refusals live in `model/seats.ts`.
 *
 * Each function takes the `ownerKey` the app resolved from its verified
 * caller, and `members`: the organisation's member count, which the app
 * counts (memberships are the app's). Seats and allowance move only when
 * Stripe's events arrive; added seats only once their invoice is paid.
 *
 * Errors (`ConvexError` data `code`): `NOT_FOUND`, `NO_SUBSCRIPTION`,
 * `INVALID_ARGUMENT`, `NOT_A_CHANGE`, `PAYMENT_REQUIRED`
 * (`hostedInvoiceUrl`), `CHANGE_PENDING`, `FORBIDDEN`,
 * `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
import { v } from "convex/values";
import { action, internalMutation, internalQuery, mutation, query } from "./_generated/server";
import { accountByOwnerKey } from "./model/accounts";
import { appendAudit } from "./model/audit";
import {
  afterMembersChanged,
  changeSeats,
  previewSeats,
  seatState,
  syncMemberSeats,
  toSeatsView,
  vSeatChangeResult,
  vSeatPreview,
  vSeatState,
  vSeatsView,
  type SeatChangeResult,
  type SeatPreview,
  type SeatsView,
} from "./model/seats";

const vMembers = v.number();

/**
 * The seats card (`SeatsView`): plan, seats on the subscription, seats paid
 * this period, members, allowance (tokens), and why seats cannot change now.
 * Null when `ownerKey` has no account. Throws nothing.
 */
export const view = query({
  args: { ownerKey: v.string(), members: vMembers },
  returns: v.union(vSeatsView, v.null()),
  handler: async (ctx, { ownerKey, members }): Promise<SeatsView | null> => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    const state = await seatState(ctx, account._id, Date.now());
    return state ? toSeatsView(state, members) : null;
  },
});

/**
 * Exact amounts a change to `seats` would bill now and next (`SeatPreview`,
 * minor units, ms), from Stripe's `invoices.createPreview` for an increase;
 * a decrease bills nothing now. Changes nothing.
 */
export const preview = action({
  args: { ownerKey: v.string(), seats: v.number(), members: vMembers },
  returns: vSeatPreview,
  handler: (ctx, args): Promise<SeatPreview> => previewSeats(ctx, args),
});

/**
 * Sets the subscription's seats to `seats`: an increase now, prorated and
 * paid first; a decrease now, without credit. `requestId` (1–64 of
 * `[A-Za-z0-9_-]`, one per confirm dialog) makes a retried confirm
 * idempotent at Stripe; `actor` is who asked (audit log). Returns
 * `SeatChangeResult`.
 */
export const change = action({
  args: { ownerKey: v.string(), seats: v.number(), members: vMembers, requestId: v.string(), actor: v.string() },
  returns: vSeatChangeResult,
  handler: (ctx, args): Promise<SeatChangeResult> => changeSeats(ctx, { ...args, actorKind: "user" }),
});

/**
 * Members mode: seats follow the member count (`members`), keyed by
 * `requestId` (e.g. `members-<event ms>`). `unchanged` when the plan does
 * not follow members or the seats already match.
 */
export const syncMembers = action({
  args: { ownerKey: v.string(), members: vMembers, requestId: v.string() },
  returns: vSeatChangeResult,
  handler: (ctx, args): Promise<SeatChangeResult> => syncMemberSeats(ctx, args),
});

/** What the seat actions read from the database (`model/seats.ts` `seatState`). */
export const state = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: v.union(vSeatState, v.null()),
  handler: (ctx, { accountId }) => seatState(ctx, accountId, Date.now()),
});

/** Audit entry of a seat change Stripe accepted (`seats.change`). */
export const recordChange = internalMutation({
  args: {
    accountId: v.id("billingAccounts"),
    actor: v.string(),
    actorKind: v.union(v.literal("user"), v.literal("system")),
    from: v.number(),
    to: v.number(),
    reason: v.string(),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    await appendAudit(ctx, {
      accountId: args.accountId,
      actorKind: args.actorKind,
      actor: args.actor,
      action: "seats.change",
      before: { seats: args.from },
      after: { seats: args.to },
      reason: args.reason,
    });
    return null;
  },
});

/**
 * After a membership change of the organisation behind `ownerKey` (its
 * member count now `members`): notifies the admins once per (subscription,
 * member count) when members exceed the chosen seats (`seats_exceeded`),
 * and says whether a `members` plan needs `syncMembers`. `{ sync: false,
 * notified: false }` without an account. Throws nothing.
 */
export const membersChanged = mutation({
  args: { ownerKey: v.string(), members: vMembers },
  returns: v.object({ sync: v.boolean(), notified: v.boolean() }),
  handler: async (ctx, { ownerKey, members }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return { sync: false, notified: false };
    return await afterMembersChanged(ctx, account._id, members, Date.now());
  },
});

/** The account's kind (Checkout's quantity depends on it); `personal` when there is none. */
export const accountKind = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: v.union(v.literal("personal"), v.literal("organization")),
  handler: async (ctx, { accountId }) => (await ctx.db.get("billingAccounts", accountId))?.kind ?? "personal",
});
