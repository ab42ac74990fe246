/**
 * The member key the billing component counts an organisation member's
 * usage under (`convex/billing/model/memberUsage.ts`): `user:<users id>`,
 * the same string as the owner key of the member's personal account.
 * Resolved from the verified caller only, never from client arguments.
 */
import type { Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { billingOwnerKey, type Caller } from "./auth";

/** The caller's member key when they act on an organisation's account; `undefined` on their personal account (no per-member usage). */
export function memberKeyOf(caller: Pick<Caller, "user" | "account">): string | undefined {
  return caller.account.kind === "organization" ? billingOwnerKey(caller.user._id) : undefined;
}

/** The users id a member key names, when it is `user:<a valid users id>`; else null. */
export function userIdOfMemberKey(ctx: QueryCtx, memberKey: string): Id<"users"> | null {
  if (!memberKey.startsWith("user:")) return null;
  return ctx.db.normalizeId("users", memberKey.slice("user:".length));
}
