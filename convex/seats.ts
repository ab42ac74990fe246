/**
 * Seats on per-seat plans (docs/SEATS.md): thin wrappers over the billing
 * component's `seats` functions. The account is the caller's active one
 * (`functions.ts`); the member count is counted here from the app's
 * `orgMemberships` (the component never sees memberships), never taken from
 * the client. Only organisation admins see or change seats: `view` is `null`
 * for members and signed-out callers; the actions throw `UNAUTHENTICATED` /
 * `FORBIDDEN` before the component is called.
 *
 * Units: money in integer minor units; times in Convex ms; allowance in tokens.
 */
import { Workpool } from "@convex-dev/workpool";
import { v } from "convex/values";
import { components, internal } from "./_generated/api";
import { internalAction, internalQuery, type MutationCtx, type QueryCtx } from "./_generated/server";
import { adminAction, adminQuery, callerQuery } from "./functions";
import { vSeatChangeResult, vSeatPreview, vSeatsView, type SeatChangeResult, type SeatPreview } from "./billing/model/seats";
import { orgOwnerKey } from "./model/auth";

/**
 * Members-mode seat syncs, one at a time across the deployment
 * (`@convex-dev/workpool`, `maxParallelism: 1`). Each sync reads the member
 * count and Stripe's seat count when it runs, so a burst of membership
 * events ends at the last count, and a sync queued behind one that already
 * set it finds nothing to change. Two syncs at once could both read the old
 * seat count from Stripe, and the slower reply would win: fewer seats than
 * members, with a credit for the seat it took away. A failed sync (Stripe
 * unreachable, a change pending) is retried with backoff under the same
 * idempotency key.
 */
const seatSyncs = new Workpool(components.seatSyncs, {
  maxParallelism: 1,
  retryActionsByDefault: true,
  defaultRetryBehavior: { maxAttempts: 4, initialBackoffMs: 2_000, base: 4 },
});

/** Most memberships counted per organisation (reads stay bounded). */
export const MAX_COUNTED_MEMBERS = 500;

/**
 * Active members of the organisation behind `ownerKey` (`org:<Clerk org
 * id>`), as recorded from Clerk's webhooks, at least 1 (the caller; also
 * when no webhook has been recorded); 1 for a personal account. One
 * bounded indexed read.
 */
export async function memberCountOf(ctx: QueryCtx, ownerKey: string): Promise<number> {
  if (!ownerKey.startsWith("org:")) return 1;
  const clerkOrgId = ownerKey.slice("org:".length);
  const rows = await ctx.db
    .query("orgMemberships")
    .withIndex("by_org_user", (q) => q.eq("clerkOrgId", clerkOrgId))
    .take(MAX_COUNTED_MEMBERS);
  return Math.max(1, rows.filter((row) => row.status === "active").length);
}

/**
 * After a membership event of `clerkOrgId` was recorded (Clerk's event time
 * `eventAt`, ms), in the same transaction: the billing component notifies
 * the admins when members now exceed the chosen seats (`seats_exceeded`,
 * once per subscription and member count), and on a `members` plan whose
 * seats differ from the member count `syncMembers` is queued on
 * `seatSyncs` (one sync at a time; an added
 * member is charged prorated now; a removal lowers the seats without credit
 * from the next invoice: docs/SEATS.md). Nothing for an organisation
 * without a billing account or a per-seat plan. Returns whether a sync was
 * scheduled.
 */
export async function afterMembershipChange(ctx: MutationCtx, clerkOrgId: string, eventAt: number): Promise<boolean> {
  const ownerKey = orgOwnerKey(clerkOrgId);
  const members = await memberCountOf(ctx, ownerKey);
  const { sync } = await ctx.runMutation(components.billing.seats.membersChanged, { ownerKey, members });
  if (sync) await seatSyncs.enqueueAction(ctx, internal.seats.syncMembers, { clerkOrgId, eventAt });
  return sync;
}

/** The member count of `ownerKey`'s organisation (see `memberCountOf`), for the actions. */
export const memberCount = internalQuery({
  args: { ownerKey: v.string() },
  returns: v.number(),
  handler: (ctx, { ownerKey }) => memberCountOf(ctx, ownerKey),
});

/**
 * The seats card for an admin (`SeatsView`: plan, seats, paid seats,
 * members, allowance, `overCapacity` when members exceed the chosen seats,
 * `blocked` reason); `null` for members, signed out, or no account yet.
 * Throws nothing.
 */
export const view = adminQuery({
  args: {},
  returns: v.union(vSeatsView, v.null()),
  handler: async (ctx) => {
    if (!ctx.caller) return null;
    const members = await memberCountOf(ctx, ctx.caller.ownerKey);
    return await ctx.runQuery(components.billing.seats.view, { ownerKey: ctx.caller.ownerKey, members });
  },
});

/**
 * Seats for anyone in the account, read-only (members see the plan, not its
 * money): `{ perSeat, mode, seats, members, overCapacity }`, or `null` when
 * signed out, removed, or no account yet. Throws nothing.
 */
export const summary = callerQuery({
  args: {},
  returns: v.union(
    v.object({
      perSeat: v.boolean(),
      mode: v.union(v.literal("chosen"), v.literal("members"), v.null()),
      seats: v.number(),
      members: v.number(),
      overCapacity: v.boolean(),
    }),
    v.null(),
  ),
  handler: async (ctx) => {
    if (!ctx.caller) return null;
    const members = await memberCountOf(ctx, ctx.caller.ownerKey);
    const view = await ctx.runQuery(components.billing.seats.view, { ownerKey: ctx.caller.ownerKey, members });
    return view ? { perSeat: view.perSeat, mode: view.mode, seats: view.seats, members: view.members, overCapacity: view.overCapacity } : null;
  },
});

/**
 * Exact amounts a change to `seats` seats would bill (`SeatPreview`: due now
 * after proration and credit, the next invoice, allowance before/after).
 * Changes nothing. Throws `INVALID_ARGUMENT` (not per-seat, out of range,
 * fewer than the members), `NOT_A_CHANGE`, `NO_SUBSCRIPTION`,
 * `PAYMENT_REQUIRED`, `CHANGE_PENDING`, `STRIPE_ERROR`.
 */
export const preview = adminAction({
  args: { seats: v.number() },
  returns: vSeatPreview,
  handler: async (ctx, { seats }): Promise<SeatPreview> => {
    const members: number = await ctx.runQuery(internal.seats.memberCount, { ownerKey: ctx.ownerKey });
    return await ctx.runAction(components.billing.seats.preview, { ownerKey: ctx.ownerKey, seats, members });
  },
});

/**
 * Sets the seats to `seats` (an increase is charged now, prorated; a
 * decrease bills less from the next invoice). `requestId` is the client's id
 * for this confirm (1–64 of `[A-Za-z0-9_-]`): a retried confirm with the
 * same id and seats charges once. Returns `SeatChangeResult`. Throws as
 * `preview`.
 */
export const change = adminAction({
  args: { seats: v.number(), requestId: v.string() },
  returns: vSeatChangeResult,
  handler: async (ctx, { seats, requestId }): Promise<SeatChangeResult> => {
    const identity = await ctx.auth.getUserIdentity();
    const members: number = await ctx.runQuery(internal.seats.memberCount, { ownerKey: ctx.ownerKey });
    return await ctx.runAction(components.billing.seats.change, {
      ownerKey: ctx.ownerKey,
      seats,
      members,
      requestId,
      actor: identity?.subject ?? ctx.ownerKey,
    });
  },
});

/**
 * Members mode: after a membership change of `clerkOrgId` (Clerk's event
 * time `eventAt`, ms), sets the organisation's seats to its member count.
 * Queued on `seatSyncs` by `orgMemberships.record`; a retry reuses the Stripe
 * idempotency key `…:members-<eventAt>`.
 */
export const syncMembers = internalAction({
  args: { clerkOrgId: v.string(), eventAt: v.number() },
  returns: vSeatChangeResult,
  handler: async (ctx, { clerkOrgId, eventAt }): Promise<SeatChangeResult> => {
    const ownerKey = orgOwnerKey(clerkOrgId);
    const members: number = await ctx.runQuery(internal.seats.memberCount, { ownerKey });
    return await ctx.runAction(components.billing.seats.syncMembers, {
      ownerKey,
      members,
      requestId: `members-${Math.floor(eventAt)}`,
    });
  },
});
