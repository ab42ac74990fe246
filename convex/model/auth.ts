import type { UserIdentity } from "convex/server";
import type { Doc } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { fail } from "./errors";

/** The signed-in caller, resolved once per function by the builders in `functions.ts`. */
export type Caller = {
  identity: UserIdentity;
  user: Doc<"users">;
  account: Doc<"billingAccounts">;
};

/**
 * Resolves the caller from `ctx.auth` to their user row and billing account.
 * Returns `null` when signed out, or signed in but `users.store` has not run yet.
 * Follows https://docs.convex.dev/auth/database-auth (lookup by `tokenIdentifier`).
 */
export async function getCaller(ctx: QueryCtx): Promise<Caller | null> {
  const identity = await ctx.auth.getUserIdentity();
  if (!identity) return null;
  const user = await ctx.db
    .query("users")
    .withIndex("by_tokenIdentifier", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
    .unique();
  if (!user) return null;
  const account = await ctx.db
    .query("billingAccounts")
    .withIndex("by_ownerUserId", (q) => q.eq("ownerUserId", user._id))
    .unique();
  if (!account) return null;
  return { identity, user, account };
}

/**
 * Like `getCaller` but throws `ConvexError` `UNAUTHENTICATED` when signed out
 * and `NOT_FOUND` when the user has not been stored yet.
 */
export async function requireCaller(ctx: QueryCtx): Promise<Caller> {
  const identity = await ctx.auth.getUserIdentity();
  if (!identity) fail("UNAUTHENTICATED", "Sign in to continue.");
  const caller = await getCaller(ctx);
  if (!caller) fail("NOT_FOUND", "Your account is still being set up. Try again in a moment.");
  return caller;
}
