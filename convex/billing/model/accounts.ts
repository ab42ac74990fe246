/**
 * Billing accounts by owner key.
 *
 * The component knows nothing of users or organisations: the app names each
 * account by an opaque `ownerKey` it derives from its verified caller (this
 * app: `user:<users id>` for a personal account; `org:<Clerk org id>` is
 * reserved for organisation accounts). An account is created on the free
 * tier with a token balance holding the free allowance of the current UTC
 * month.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { fail } from "./errors";
import * as ledger from "./ledger";
import { startFreePeriod } from "./tokens";

/** Longest owner key accepted; keys are the app's, e.g. `user:<id>`. */
export const MAX_OWNER_KEY_LENGTH = 200;

export type AccountProfile = { name?: string; email?: string };

/** The account with this owner key, or null. One indexed read. */
export async function accountByOwnerKey(ctx: QueryCtx, ownerKey: string): Promise<Doc<"billingAccounts"> | null> {
  return await ctx.db
    .query("billingAccounts")
    .withIndex("by_ownerKey", (q) => q.eq("ownerKey", ownerKey))
    .unique();
}

/**
 * The fields of `profile` that differ from `stored`, or null. A field the
 * profile no longer carries is kept rather than erased: a token issued
 * without the email claim should not wipe the email Checkout uses.
 */
export function profileChanges(stored: AccountProfile, profile: AccountProfile): AccountProfile | null {
  const changes: AccountProfile = {};
  if (profile.name !== undefined && profile.name !== stored.name) changes.name = profile.name;
  if (profile.email !== undefined && profile.email !== stored.email) changes.email = profile.email;
  return Object.keys(changes).length > 0 ? changes : null;
}

/**
 * Creates the account for `ownerKey` on the free tier with this month's free
 * allowance, or refreshes its name and email (they prefill Checkout).
 * Idempotent: an existing balance is never touched, so nothing is re-granted;
 * a missing balance row is repaired. Mutations are serialisable, so two
 * sign-ins at once still create one account.
 */
export async function ensureAccount(
  ctx: MutationCtx,
  args: { ownerKey: string; kind: "personal" | "organization"; profile: AccountProfile },
  now: number,
): Promise<Id<"billingAccounts">> {
  if (args.ownerKey.length === 0 || args.ownerKey.length > MAX_OWNER_KEY_LENGTH) {
    fail("INVALID_ARGUMENT", `An owner key is 1 to ${MAX_OWNER_KEY_LENGTH} characters.`);
  }
  const account = await accountByOwnerKey(ctx, args.ownerKey);
  if (account) {
    const changes = profileChanges(account, args.profile);
    if (changes) await ctx.db.patch("billingAccounts", account._id, changes);
    if (!(await ledger.getBalance(ctx, account._id))) await startFreePeriod(ctx, account._id, now);
    return account._id;
  }
  const accountId = await ctx.db.insert("billingAccounts", {
    kind: args.kind,
    ownerKey: args.ownerKey,
    tier: "free",
    ...args.profile,
  });
  await startFreePeriod(ctx, accountId, now);
  return accountId;
}
