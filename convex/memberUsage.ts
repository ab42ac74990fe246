/**
 * Per-member usage and caps in organisations (issue 10 §3), for the client:
 * thin wrappers over the billing component's `memberUsage` module that
 * resolve the caller (`functions.ts`) and name members from the app's
 * `users` table. Members' debits are counted by `tokens.consume` /
 * `reserve` (`convex/tokens.ts` passes the caller's member key).
 *
 * - `list` (admins): everyone's usage this period and the previous one;
 * - `mine` (any member): the caller's own usage and cap;
 * - `setCap` (admins): set or clear a member's cap, audited.
 *
 * Tokens are integers; times Convex ms. See docs/ORGANISATIONS.md
 * "Per-member usage and caps".
 */
import { v } from "convex/values";
import { components } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { fail } from "./billing/model/errors";
import { adminMutation, adminQuery, callerQuery } from "./functions";
import { billingOwnerKey } from "./model/auth";
import { memberKeyOf, userIdOfMemberKey } from "./model/memberKey";

const vMember = v.object({
  memberKey: v.string(),
  /** From the app's users table; null when the key names no user (deleted). */
  name: v.union(v.string(), v.null()),
  email: v.union(v.string(), v.null()),
  /** Tokens charged this period (consumes and settled runs, overage included). */
  used: v.number(),
  /** Tokens reserved by the member's running jobs. */
  held: v.number(),
  /** Most tokens the member may use and reserve per period; null = no cap (the organisation's balance is the limit). */
  cap: v.union(v.number(), v.null()),
  /** True for the caller's own row. */
  isYou: v.boolean(),
});

const vPeriod = v.object({
  periodKey: v.string(),
  periodStart: v.number(),
  periodEnd: v.union(v.number(), v.null()),
  members: v.array(vMember),
  truncated: v.boolean(),
});

type Profile = { name: string | null; email: string | null };

async function profiles(ctx: QueryCtx, memberKeys: Iterable<string>): Promise<Map<string, Profile>> {
  const out = new Map<string, Profile>();
  for (const key of memberKeys) {
    if (out.has(key)) continue;
    const id = userIdOfMemberKey(ctx, key);
    const user = id ? await ctx.db.get("users", id) : null;
    out.set(key, { name: user?.name ?? null, email: user?.email ?? null });
  }
  return out;
}

/**
 * Usage per member of the caller's organisation, this allowance period and
 * the one before (admins only): `{ current, previous }`, each `{ periodKey,
 * periodStart, periodEnd, members: { memberKey, name, email, used, held,
 * cap, isYou }[], truncated }` (ms; tokens; most used first; at most 200
 * members read a period, from pre-aggregated rows). `null` when signed out,
 * for a member who is not an admin, for a former member, and on a personal
 * account (no members).
 */
export const list = adminQuery({
  args: {},
  returns: v.union(v.null(), v.object({ current: vPeriod, previous: v.union(v.null(), vPeriod) })),
  handler: async (ctx) => {
    if (!ctx.caller || ctx.caller.account.kind !== "organization") return null;
    const usage = await ctx.runQuery(components.billing.memberUsage.list, { ownerKey: ctx.caller.ownerKey });
    if (!usage) return null;
    const keys = [...usage.current.members, ...(usage.previous?.members ?? [])].map((m) => m.memberKey);
    const names = await profiles(ctx, keys);
    const you = billingOwnerKey(ctx.caller.user._id);
    const withNames = (period: typeof usage.current) => ({
      ...period,
      members: period.members.map((m) => ({ ...m, ...names.get(m.memberKey)!, isYou: m.memberKey === you })),
    });
    return { current: withNames(usage.current), previous: usage.previous ? withNames(usage.previous) : null };
  },
});

/**
 * The caller's own usage of their organisation's tokens this period and
 * their cap: `{ used, held, cap, periodEnd }` (tokens; ms; `cap` null = no
 * cap). `null` when signed out, removed, or on a personal account.
 */
export const mine = callerQuery({
  args: {},
  returns: v.union(
    v.null(),
    v.object({ used: v.number(), held: v.number(), cap: v.union(v.number(), v.null()), periodEnd: v.union(v.number(), v.null()) }),
  ),
  handler: async (ctx) => {
    const memberKey = ctx.caller ? memberKeyOf(ctx.caller) : undefined;
    if (!ctx.caller || memberKey === undefined) return null;
    const own = await ctx.runQuery(components.billing.memberUsage.mine, { ownerKey: ctx.caller.ownerKey, memberKey });
    return own ? { used: own.used, held: own.held, cap: own.cap, periodEnd: own.periodEnd } : null;
  },
});

/**
 * Sets (`capTokens`: whole tokens per period, 0–1,000,000,000) or clears
 * (`null`) the cap of the member `memberKey` (`user:<id>`, as `list` returns
 * it) on the caller's organisation, audited with the admin as actor and the
 * optional `reason`. Takes effect at the member's next debit; a member past
 * a new cap can spend nothing more this period. Returns `{ before, after }`.
 * Throws `UNAUTHENTICATED`, `FORBIDDEN` (not an admin, or removed),
 * `INVALID_ARGUMENT` (personal account, a key that names no user, a bad
 * cap or reason).
 */
export const setCap = adminMutation({
  args: { memberKey: v.string(), capTokens: v.union(v.number(), v.null()), reason: v.optional(v.string()) },
  returns: v.object({ before: v.union(v.number(), v.null()), after: v.union(v.number(), v.null()) }),
  handler: async (ctx, args) => {
    if (ctx.caller.account.kind !== "organization") fail("INVALID_ARGUMENT", "Member caps apply to organisation accounts only.");
    const userId: Id<"users"> | null = userIdOfMemberKey(ctx, args.memberKey);
    if (!userId || !(await ctx.db.get("users", userId))) fail("INVALID_ARGUMENT", "No such member.");
    return await ctx.runMutation(components.billing.memberUsage.setCap, {
      ownerKey: ctx.caller.ownerKey,
      memberKey: args.memberKey,
      capTokens: args.capTokens,
      actor: billingOwnerKey(ctx.caller.user._id),
      reason: args.reason,
    });
  },
});
