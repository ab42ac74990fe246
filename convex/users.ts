/**
 * Users: `store` on sign-in, `current` for the client's header, and the
 * caller's billing owner key for actions. Logic lives in `model/users.ts`.
 */
import { v } from "convex/values";
import { fail } from "./billing/model/errors";
import { internalQuery, mutation } from "./_generated/server";
import { callerQuery } from "./functions";
import { getCaller } from "./model/auth";
import { storeUser } from "./model/users";

/**
 * Creates the signed-in user on first call, with a personal billing account
 * on the free tier and a token balance holding the current UTC month's free
 * allowance; later calls refresh name and email. Idempotent.
 *
 * Returns the user's `Id<"users">`. Throws `UNAUTHENTICATED` when signed out.
 * Uses the plain `mutation` builder because `callerMutation` requires the row
 * this creates. Follows https://docs.convex.dev/auth/database-auth.
 */
export const store = mutation({
  args: {},
  returns: v.id("users"),
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    if (!identity) fail("UNAUTHENTICATED", "Sign in to continue.");
    return await storeUser(ctx, identity);
  },
});

/** The signed-in user `{ _id, name?, email?, clerkUserId }`, or `null` when signed out or not stored yet. */
export const current = callerQuery({
  args: {},
  returns: v.union(
    v.null(),
    v.object({
      _id: v.id("users"),
      name: v.optional(v.string()),
      email: v.optional(v.string()),
      clerkUserId: v.string(),
    }),
  ),
  handler: (ctx) => {
    if (!ctx.caller) return null;
    const { _id, name, email, clerkUserId } = ctx.caller.user;
    return { _id, name, email, clerkUserId };
  },
});

/**
 * The calling identity's billing owner key (the action's auth is passed to
 * `ctx.runQuery`), or null when signed out or not stored yet. Used by
 * `callerAction`.
 */
export const callerOwnerKey = internalQuery({
  args: {},
  returns: v.union(v.string(), v.null()),
  handler: async (ctx) => (await getCaller(ctx))?.ownerKey ?? null,
});
