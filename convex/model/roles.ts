/** Roles on a billing account: see docs/ORGANISATIONS.md for what each may do. */
export type Role = "admin" | "member";

/** `org:admin` (JWT template, webhooks) or `admin` (session token v2) → `admin`; any other role → `member`. */
export function roleFromClaim(role: unknown): Role {
  return role === "org:admin" || role === "admin" ? "admin" : "member";
}
