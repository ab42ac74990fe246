/**
 * Who is calling, and which billing account they act on.
 *
 * The caller is the verified JWT (`ctx.auth`) resolved to a `users` row. The
 * account they act on is the **active organisation's** when the token names
 * one (Clerk Organizations, claims below), else their personal account.
 * Nothing here reads client arguments: a client picks its organisation only
 * by getting a token for it from Clerk (or the dev sign-in), which checks the
 * membership before signing.
 *
 * Claims read (docs/ORGANISATIONS.md, README "Setup with real keys"):
 * - the `convex` JWT template's custom claims `org_id`, `org_role`
 *   (`org:admin` / `org:member` / custom), `org_slug`, `org_name`; the dev
 *   sign-in issues the same;
 * - else Clerk's session token v2 claim `o: { id, rol, slg }` (`rol` without
 *   the `org:` prefix), which a session token carries with the Convex
 *   integration.
 *
 * Roles: `admin` for Clerk's `org:admin`, `member` for any other role; a
 * personal account's owner is its `admin`. A membership recorded from
 * Clerk's webhooks (`orgMemberships`, `model/orgMemberships.ts`) can only
 * take access away: a removed member loses the organisation at once, and a
 * demoted admin acts as a member, even while an older token still says
 * otherwise.
 */
import type { UserIdentity } from "convex/server";
import { fail, failAccountNotSetUp } from "../billing/model/errors";
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { membershipOf } from "./orgMemberships";
import { roleFromClaim, type Role } from "./roles";

export { roleFromClaim, type Role };

/** The organisation a token names, as read from its claims. */
export type OrgClaims = {
  /** Clerk organisation id, e.g. `org_2abc…`. */
  id: string;
  role: Role;
  slug?: string;
  name?: string;
};

/** The billing account a request acts on. */
export type ActingAccount = {
  /** The billing component's name for it: `user:<users id>` or `org:<Clerk org id>`. */
  ownerKey: string;
  kind: "personal" | "organization";
  /** The Clerk organisation id, or null for the personal account. */
  orgId: string | null;
  /** What the client shows: the organisation's name (else slug, else id), or the user's name. */
  name: string | null;
  /** The caller's role on this account; `admin` on their personal account. */
  role: Role;
};

/** The signed-in caller, resolved once per function by the builders in `functions.ts`. */
export type Caller = {
  identity: UserIdentity;
  user: Doc<"users">;
  /** The account this request acts on. */
  account: ActingAccount;
  /** Shorthand for `account.ownerKey`: the key every wrapper hands the billing component. */
  ownerKey: string;
  /** Shorthand for `account.role`. */
  role: Role;
};

/** How `resolveCaller` ended. `removed`: the token names an organisation the user has been removed from. */
export type CallerResolution =
  | { status: "signed_out" }
  | { status: "not_stored"; identity: UserIdentity }
  | { status: "removed"; identity: UserIdentity; user: Doc<"users">; org: OrgClaims }
  | { status: "ok"; caller: Caller };

/**
 * The billing component's owner key of a user's personal account:
 * `user:<users id>`.
 */
export function billingOwnerKey(userId: Id<"users">): string {
  return `user:${userId}`;
}

/**
 * The caller as a person, whichever account they act on: their Clerk user
 * id (the verified token's `subject`, stored on `users`). The billing
 * component counts free trials per person by it (docs/TRIALS.md); never
 * taken from client arguments.
 */
export function personKeyOf(caller: Pick<Caller, "user">): string {
  return caller.user.clerkUserId;
}

/** The billing component's owner key of a Clerk organisation's account: `org:<Clerk org id>`. */
export function orgOwnerKey(orgId: string): string {
  return `org:${orgId}`;
}

/** Longest organisation id accepted, so `org:<id>` stays within the component's 200-character owner keys. */
export const MAX_ORG_ID_LENGTH = 190;

function nonEmptyString(value: unknown, max = 200): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= max ? trimmed : undefined;
}

/**
 * The active organisation named by a verified token's claims, or null when
 * none is active (or the id is empty or over `MAX_ORG_ID_LENGTH`).
 * Template claims (`org_id`, `org_role`, `org_slug`, `org_name`) win over
 * the session token's `o: { id, rol, slg }`.
 */
export function orgFromClaims(identity: UserIdentity): OrgClaims | null {
  const templateId = nonEmptyString(identity.org_id, MAX_ORG_ID_LENGTH);
  if (templateId) {
    return {
      id: templateId,
      role: roleFromClaim(identity.org_role),
      slug: nonEmptyString(identity.org_slug),
      name: nonEmptyString(identity.org_name),
    };
  }
  const o = identity.o;
  if (typeof o === "object" && o !== null && !Array.isArray(o)) {
    const claim = o as Record<string, unknown>;
    const id = nonEmptyString(claim.id, MAX_ORG_ID_LENGTH);
    if (id) return { id, role: roleFromClaim(claim.rol), slug: nonEmptyString(claim.slg) };
  }
  return null;
}

/** The user row of a verified identity, or null before `users.store` has run. */
export async function userOf(ctx: QueryCtx, identity: UserIdentity): Promise<Doc<"users"> | null> {
  return await ctx.db
    .query("users")
    .withIndex("by_tokenIdentifier", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
    .unique();
}

/**
 * The account a user acts on given the token's organisation claims and the
 * webhook-recorded membership (`null`: no webhook has told us anything).
 * Returns `"removed"` when the membership says the user has left the
 * organisation. The recorded role can only lower the token's.
 */
export function actingAccount(
  user: Doc<"users">,
  org: OrgClaims | null,
  membership: Pick<Doc<"orgMemberships">, "status" | "role"> | null,
): ActingAccount | "removed" {
  if (!org) {
    return { ownerKey: billingOwnerKey(user._id), kind: "personal", orgId: null, name: user.name ?? null, role: "admin" };
  }
  if (membership?.status === "removed") return "removed";
  const role: Role = membership?.role === "member" ? "member" : org.role;
  return { ownerKey: orgOwnerKey(org.id), kind: "organization", orgId: org.id, name: org.name ?? org.slug ?? org.id, role };
}

/**
 * Resolves `ctx.auth` to the caller and the account they act on; see
 * `CallerResolution`. Reads the user (by `tokenIdentifier`,
 * https://docs.convex.dev/auth/database-auth) and, when an organisation is
 * active, its recorded membership: at most two indexed reads.
 */
export async function resolveCaller(ctx: QueryCtx): Promise<CallerResolution> {
  const identity = await ctx.auth.getUserIdentity();
  if (!identity) return { status: "signed_out" };
  const user = await userOf(ctx, identity);
  if (!user) return { status: "not_stored", identity };
  const org = orgFromClaims(identity);
  const membership = org ? await membershipOf(ctx, org.id, identity.subject) : null;
  const account = actingAccount(user, org, membership);
  if (account === "removed") return { status: "removed", identity, user, org: org! };
  return { status: "ok", caller: { identity, user, account, ownerKey: account.ownerKey, role: account.role } };
}

/**
 * The caller and their acting account, or `null` when signed out, not
 * stored yet (`users.store` has not run), or removed from the organisation
 * their token names. Queries answer `null` with their empty result.
 */
export async function getCaller(ctx: QueryCtx): Promise<Caller | null> {
  const resolved = await resolveCaller(ctx);
  return resolved.status === "ok" ? resolved.caller : null;
}

/** The message a caller removed from the token's organisation gets. */
export const REMOVED_MESSAGE = "You are no longer a member of this organisation. Switch to another account.";

/** The message members get from admin-only functions. */
export const ADMIN_ONLY_MESSAGE = "Only organisation admins can manage billing. Ask an admin of this organisation.";

/**
 * Like `getCaller` but throws `ConvexError`: `UNAUTHENTICATED` when signed
 * out, `NOT_FOUND` when the user has not been stored yet, `FORBIDDEN` when
 * removed from the active organisation.
 */
export async function requireCaller(ctx: QueryCtx): Promise<Caller> {
  return callerOrThrow(await resolveCaller(ctx));
}

/** The caller of an `ok` resolution; throws as `requireCaller` for the others. */
export function callerOrThrow(resolved: CallerResolution): Caller {
  if (resolved.status === "signed_out") fail("UNAUTHENTICATED", "Sign in to continue.");
  if (resolved.status === "not_stored") failAccountNotSetUp();
  if (resolved.status === "removed") {
    fail("FORBIDDEN", REMOVED_MESSAGE);
  }
  return resolved.caller;
}

/** Throws `FORBIDDEN` (`ADMIN_ONLY_MESSAGE`) unless the caller is an admin of the account they act on. */
export function requireAdmin(caller: Pick<Caller, "role">): void {
  if (caller.role !== "admin") fail("FORBIDDEN", ADMIN_ONLY_MESSAGE);
}
