/**
 * Shared fixtures for the billing tests: identities, seeded accounts, and a
 * matcher for typed `ConvexError` codes. Accounts are seeded directly (the
 * user in the app, the account in the billing component under the user's
 * owner key) so these tests do not depend on `users.store`.
 */
import { expect } from "vitest";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { billingOwnerKey, orgOwnerKey } from "../../convex/model/auth";
import { runInBilling } from "../lib/billingComponent";
import type { ErrorCode } from "../../convex/billing/model/errors";
import { isBillingError } from "../../convex/billing/model/errors";
import type { makeTest } from "./setup";

export type TestConvex = ReturnType<typeof makeTest>;

export const ISSUER = "https://clerk.example.test";
export const alice = { subject: "user_alice", issuer: ISSUER, name: "Alice", email: "alice@example.com" };
export const bob = { subject: "user_bob", issuer: ISSUER, name: "Bob", email: "bob@example.com" };
export type TestIdentity = typeof alice;

type AccountFields = Partial<Omit<Doc<"billingAccounts">, "_id" | "_creationTime" | "kind" | "ownerKey">>;

/** Inserts a user and their personal billing account (free unless `fields` says otherwise). */
export async function seedAccount(
  t: TestConvex,
  identity: TestIdentity,
  fields: AccountFields = {},
): Promise<Id<"billingAccounts">> {
  const userId = await t.run(
    async (ctx) =>
      await ctx.db.insert("users", {
        tokenIdentifier: `${identity.issuer}|${identity.subject}`,
        clerkUserId: identity.subject,
        email: identity.email,
        name: identity.name,
      }),
  );
  return await runInBilling(
    t,
    async (ctx) =>
      await ctx.db.insert("billingAccounts", {
        kind: "personal",
        ownerKey: billingOwnerKey(userId),
        tier: "free",
        email: identity.email,
        name: identity.name,
        ...fields,
      }),
  );
}

export async function getAccount(t: TestConvex, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) => await ctx.db.get("billingAccounts", accountId));
}

/** Asserts that `promise` rejects with a `ConvexError` whose `data.code` is `code`; returns the data. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode) {
  const error: unknown = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (e: unknown) => e,
  );
  if (!isBillingError(error)) throw error;
  expect(error.data.code).toBe(code);
  return error.data;
}

/** Every ordering of `items` (n! of them). */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** Clerk-shaped organisation claims as the `convex` JWT template carries them (docs/ORGANISATIONS.md). */
export type OrgClaimsFixture = { org_id: string; org_role: string; org_slug?: string; org_name?: string };

/** `identity` acting in organisation `orgId` with `role` (`org:admin` or `org:member`). */
export function inOrg<I extends TestIdentity>(
  identity: I,
  orgId: string,
  role: "org:admin" | "org:member",
  name = `Org ${orgId}`,
): I & OrgClaimsFixture {
  return { ...identity, org_id: orgId, org_role: role, org_slug: orgId.replace(/^org_/, ""), org_name: name };
}

/** Inserts the billing account of Clerk organisation `orgId` (`org:<orgId>`, kind organization; free unless `fields` says otherwise). */
export async function seedOrgAccount(
  t: TestConvex,
  orgId: string,
  fields: AccountFields = {},
): Promise<Id<"billingAccounts">> {
  return await runInBilling(
    t,
    async (ctx) =>
      await ctx.db.insert("billingAccounts", {
        kind: "organization",
        ownerKey: orgOwnerKey(orgId),
        tier: "free",
        name: `Org ${orgId}`,
        ...fields,
      }),
  );
}
