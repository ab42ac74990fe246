/**
 * Users: `store` on sign-in (and on switching organisation), `current` for
 * the client's header, `activeAccount` for the account switcher and role
 * notes, and the caller's acting account for actions. Logic lives in
 * `model/users.ts` and `model/auth.ts`.
 */
import { v } from "convex/values";
import { fail } from "./billing/model/errors";
import { components } from "./_generated/api";
import { internalQuery, mutation, query } from "./_generated/server";
import { callerQuery } from "./functions";
import { personKeyOf, resolveCaller } from "./model/auth";
import { storeUser } from "./model/users";

/**
 * Creates the signed-in user on first call, with a personal billing account
 * on the free tier and a token balance holding the current UTC month's free
 * allowance; later calls refresh name and email. When the verified token
 * names an active organisation (and the user has not been removed from it),
 * also creates that organisation's account on first use. Idempotent; the
 * client calls it again after switching organisation.
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

const vRole = v.union(v.literal("admin"), v.literal("member"));

/**
 * The account the caller acts on, for the switcher and the role notes:
 * - `{ status: "ok", kind, orgId, name, role, accountReady }`: the active
 *   organisation's account (`kind: "organization"`) or the personal one
 *   (`role: "admin"`); `accountReady` is false until `users.store` has
 *   created the account (the client calls it when it sees false, e.g. right
 *   after switching to an organisation for the first time);
 * - `{ status: "removed", orgId }`: the token names an organisation the
 *   caller has been removed from (nothing of it is readable);
 * - `null`: signed out or not stored yet.
 * Throws nothing.
 */
export const activeAccount = query({
  args: {},
  returns: v.union(
    v.null(),
    v.object({
      status: v.literal("ok"),
      kind: v.union(v.literal("personal"), v.literal("organization")),
      orgId: v.union(v.string(), v.null()),
      name: v.union(v.string(), v.null()),
      role: vRole,
      accountReady: v.boolean(),
    }),
    v.object({ status: v.literal("removed"), orgId: v.string() }),
  ),
  handler: async (ctx) => {
    const resolved = await resolveCaller(ctx);
    if (resolved.status === "removed") return { status: "removed" as const, orgId: resolved.org.id };
    if (resolved.status !== "ok") return null;
    const { kind, orgId, name, role, ownerKey } = resolved.caller.account;
    const accountReady = (await ctx.runQuery(components.billing.accounts.get, { ownerKey })) !== null;
    return { status: "ok" as const, kind, orgId, name, role, accountReady };
  },
});

/**
 * The calling identity's acting account (the action's auth is passed to
 * `ctx.runQuery`): `{ status: "ok", ownerKey, role, personKey }` (the
 * caller's Clerk user id, `model/auth.ts` `personKeyOf`), or `{ status }` one
 * of `signed_out`, `not_stored`, `removed`. Used by `callerAction` and
 * `adminAction`, which throw for the latter.
 */
export const callerAccount = internalQuery({
  args: {},
  returns: v.union(
    v.object({ status: v.literal("ok"), ownerKey: v.string(), role: vRole, personKey: v.string() }),
    v.object({ status: v.union(v.literal("signed_out"), v.literal("not_stored"), v.literal("removed")) }),
  ),
  handler: async (ctx) => {
    const resolved = await resolveCaller(ctx);
    if (resolved.status !== "ok") return { status: resolved.status };
    return {
      status: "ok" as const,
      ownerKey: resolved.caller.ownerKey,
      role: resolved.caller.role,
      personKey: personKeyOf(resolved.caller),
    };
  },
});
