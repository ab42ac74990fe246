/**
 * Users, their personal billing accounts, and the accounts of their active
 * organisations.
 *
 * A user is keyed by the verified JWT's `tokenIdentifier`
 * (https://docs.convex.dev/auth/database-auth). On first sign-in the user gets
 * a personal billing account in the billing component (free tier, this UTC
 * month's free allowance), named by `billingOwnerKey`. The first time a token
 * names an organisation (`orgFromClaims`), that organisation gets its
 * account too (`org:<Clerk org id>`, kind `organization`, named after the
 * organisation).
 */
import type { UserIdentity } from "convex/server";
import { profileChanges, type AccountProfile } from "../billing/model/accounts";
import { components } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { actingAccount, billingOwnerKey, orgFromClaims } from "./auth";
import { membershipOf } from "./orgMemberships";

/** Name and email as the identity provider reports them (empty strings dropped). */
export function profileFrom(identity: UserIdentity): AccountProfile {
  const name = identity.name?.trim() || undefined;
  const email = identity.email?.trim() || undefined;
  return { name, email };
}

/**
 * Creates or updates the caller's user row, and makes sure their personal
 * billing account and token balance exist (`accounts.ensure`, idempotent: a
 * repeat call only refreshes name and email). Mutations are serialisable,
 * and the component call runs in this transaction, so two tabs signing in at
 * once still create one user and one account.
 *
 * When the token names an active organisation the user has not been
 * removed from, also ensures the organisation's account (kind
 * `organization`, `name` the organisation's name, else slug, else id; no
 * email: Checkout asks the admin for one). Any member's sign-in creates
 * it; only admins can buy for it. The organisation is read from the
 * verified token only.
 */
export async function storeUser(ctx: MutationCtx, identity: UserIdentity): Promise<Id<"users">> {
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
  await ctx.runMutation(components.billing.accounts.ensure, {
    ownerKey: billingOwnerKey(userId),
    kind: "personal",
    ...profile,
  });
  const org = orgFromClaims(identity);
  if (org) {
    const user = await ctx.db.get("users", userId);
    const account = user && actingAccount(user, org, await membershipOf(ctx, org.id, identity.subject));
    if (account && account !== "removed") {
      await ctx.runMutation(components.billing.accounts.ensure, {
        ownerKey: account.ownerKey,
        kind: "organization",
        name: account.name ?? undefined,
      });
    }
  }
  return userId;
}
