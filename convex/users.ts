/**
 * Users: `store` on sign-in, `current` for the client's header.
 * Logic lives in `model/users.ts`.
 */
import { v } from "convex/values";
import { mutation } from "./_generated/server";
import { callerQuery } from "./functions";
import { fail } from "./model/errors";
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
    return await storeUser(ctx, identity, Date.now());
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
