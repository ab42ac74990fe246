/**
 * Users and their personal billing accounts.
 *
 * A user is keyed by the verified JWT's `tokenIdentifier`
 * (https://docs.convex.dev/auth/database-auth). On first sign-in the user gets
 * a personal billing account on the free tier and a token balance holding the
 * free allowance of the current UTC month.
 */
import type { UserIdentity } from "convex/server";
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import * as ledger from "./ledger";
import { startFreePeriod } from "./tokens";

/** Name and email as the identity provider reports them (empty strings dropped). */
function profileFrom(identity: UserIdentity): { name?: string; email?: string } {
  const name = identity.name?.trim() || undefined;
  const email = identity.email?.trim() || undefined;
  return { name, email };
}

/**
 * The fields of `profile` that differ from `stored`, or null. A field the
 * identity no longer carries is kept rather than erased: a token issued
 * without the email claim should not wipe the email Checkout uses.
 */
function profileChanges(
  stored: { name?: string; email?: string },
  profile: { name?: string; email?: string },
): { name?: string; email?: string } | null {
  const changes: { name?: string; email?: string } = {};
  if (profile.name !== undefined && profile.name !== stored.name) changes.name = profile.name;
  if (profile.email !== undefined && profile.email !== stored.email) changes.email = profile.email;
  return Object.keys(changes).length > 0 ? changes : null;
}

/**
 * Creates or updates the caller's user row, and makes sure their personal
 * account and token balance exist. Idempotent: a repeat call only refreshes
 * name and email. Mutations are serialisable, so two tabs signing in at once
 * still create one user.
 */
export async function storeUser(ctx: MutationCtx, identity: UserIdentity, now: number): Promise<Id<"users">> {
  const profile = profileFrom(identity);
  const existing = await ctx.db
    .query("users")
    .withIndex("by_tokenIdentifier", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
    .unique();

  let userId: Id<"users">;
  if (existing) {
    userId = existing._id;
    const changes = profileChanges(existing, profile);
    if (changes) await ctx.db.patch("users", userId, changes);
  } else {
    userId = await ctx.db.insert("users", {
      tokenIdentifier: identity.tokenIdentifier,
      clerkUserId: identity.subject,
      ...profile,
    });
  }
  await ensurePersonalAccount(ctx, userId, profile, now);
  return userId;
}

async function ensurePersonalAccount(
  ctx: MutationCtx,
  userId: Id<"users">,
  profile: { name?: string; email?: string },
  now: number,
): Promise<Id<"billingAccounts">> {
  const account = await ctx.db
    .query("billingAccounts")
    .withIndex("by_ownerUserId", (q) => q.eq("ownerUserId", userId))
    .unique();
  if (account) {
    // The account's name/email prefill Checkout; keep them current.
    const changes = profileChanges(account, profile);
    if (changes) await ctx.db.patch("billingAccounts", account._id, changes);
    // Repairs an account whose balance row is missing (an account created
    // elsewhere); an existing balance is never touched, so nothing is re-granted.
    if (!(await ledger.getBalance(ctx, account._id))) await startFreePeriod(ctx, account._id, now);
    return account._id;
  }
  const accountId = await ctx.db.insert("billingAccounts", {
    kind: "personal",
    ownerUserId: userId,
    tier: "free",
    ...profile,
  });
  await startFreePeriod(ctx, accountId, now);
  return accountId;
}
