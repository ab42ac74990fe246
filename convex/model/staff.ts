/**
 * Who is staff, for the operator console (docs/OPERATOR_CONSOLE.md).
 *
 * Staff are decided server-side, from the verified token only:
 * - the allowlist `STAFF_USER_IDS` (app env, `convex.config.ts`): a
 *   comma-separated list of Clerk user ids, matched against the token's
 *   `subject` (`user_…`; the dev sign-in's are `dev_<id>`);
 * - or the claim `staff: true` in the token, which Clerk's `convex` JWT
 *   template carries from the user's **public** metadata
 *   (`"staff": "{{user.public_metadata.staff}}"`); users cannot edit public
 *   metadata, only the Clerk dashboard or backend API can.
 *
 * Nothing here reads the `users` table: a staff member needs no billing
 * account of their own.
 */
import type { UserIdentity } from "convex/server";
import { fail } from "../billing/model/errors";

/** The staff member acting: their Clerk user id (the audit log's actor) and display name. */
export type Staff = { userId: string; name: string | null };

/** The ids of a `STAFF_USER_IDS` value: comma-separated, trimmed, blanks dropped. */
export function parseStaffIds(value: string | undefined): Set<string> {
  return new Set(
    (value ?? "")
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  );
}

/** Whether the verified `identity` is staff under `allowlist` (see the module comment). */
export function isStaffIdentity(identity: UserIdentity, allowlist: ReadonlySet<string>): boolean {
  if (allowlist.has(identity.subject)) return true;
  const claim = identity.staff;
  return claim === true || claim === "true";
}

/** The message non-staff get from the console's functions. */
export const STAFF_ONLY_MESSAGE = "Only staff can use the operator console.";

/**
 * The staff member behind `identity`; throws `UNAUTHENTICATED` when signed
 * out and `FORBIDDEN` when not staff.
 */
export function requireStaff(identity: UserIdentity | null, allowlist: ReadonlySet<string>): Staff {
  if (!identity) fail("UNAUTHENTICATED", "Sign in to continue.");
  if (!isStaffIdentity(identity, allowlist)) fail("FORBIDDEN", STAFF_ONLY_MESSAGE);
  return { userId: identity.subject, name: identity.name ?? null };
}
