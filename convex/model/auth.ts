import type { UserIdentity } from "convex/server";
import { fail, failAccountNotSetUp } from "../billing/model/errors";
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";

/** The signed-in caller, resolved once per function by the builders in `functions.ts`. */
export type Caller = {
  identity: UserIdentity;
  user: Doc<"users">;
  /** The billing component's name for the caller's personal account. */
  ownerKey: string;
};

/**
 * The billing component's owner key of a user's personal account:
 * `user:<users id>`. Organisation accounts will use `org:<Clerk org id>`.
 */
export function billingOwnerKey(userId: Id<"users">): string {
  return `user:${userId}`;
}

/**
 * Resolves the caller from `ctx.auth` to their user row and billing owner key.
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
  return { identity, user, ownerKey: billingOwnerKey(user._id) };
}

/**
 * Like `getCaller` but throws `ConvexError` `UNAUTHENTICATED` when signed out
 * and `NOT_FOUND` when the user has not been stored yet.
 */
export async function requireCaller(ctx: QueryCtx): Promise<Caller> {
  const identity = await ctx.auth.getUserIdentity();
  if (!identity) fail("UNAUTHENTICATED", "Sign in to continue.");
  const caller = await getCaller(ctx);
  if (!caller) failAccountNotSetUp();
  return caller;
}
