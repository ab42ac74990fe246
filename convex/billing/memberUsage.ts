/**
 * Per-member usage and caps of organisation accounts (issue 10 §3): the
 * admins' "Usage by member" table, a member's own usage, and per-member
 * caps. Logic in `model/memberUsage.ts`; debits are counted by
 * `tokens.consume` / `reserve` / `settle` / `release` when the app names the
 * member.
 *
 * Every function takes the `ownerKey` (and `memberKey`) the app resolved
 * from its verified caller; the component never reads `ctx.auth`, and the
 * app's wrappers (`convex/memberUsage.ts`) decide who may call which.
 * Tokens are integers; times Convex ms.
 */
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { accountByOwnerKey } from "./model/accounts";
import { appendAudit } from "./model/audit";
import { fail, failAccountNotSetUp } from "./model/errors";
import { getBalance } from "./model/ledger";
import { memberUsageOf, ownUsageOf, requireMemberKey, setCap as setCapModel, vMemberUsageView, vOwnMemberUsage } from "./model/memberUsage";

/** Longest reason stored with a cap change. */
const MAX_REASON_LENGTH = 500;

/**
 * Usage per member of the account's current allowance period and the one
 * before: `{ current, previous }`, each `{ periodKey, periodStart, periodEnd,
 * members: { memberKey, used, held, cap }[], truncated }` (ms; tokens;
 * `cap` null = none; `previous` null when there was none). Reads only the
 * pre-aggregated `tokenUsageByMember` rows (at most 200 a period) and the
 * caps. `null` when `ownerKey` has no account.
 */
export const list = query({
  args: { ownerKey: v.string() },
  returns: v.union(v.null(), vMemberUsageView),
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    return await memberUsageOf(ctx, account._id, await getBalance(ctx, account._id));
  },
});

/**
 * One member's usage this period and their cap: `{ memberKey, used, held,
 * cap, periodKey, periodEnd }` (tokens; `cap` null = none), or `null` when
 * `ownerKey` has no account. Throws `INVALID_ARGUMENT` for a bad `memberKey`.
 */
export const mine = query({
  args: { ownerKey: v.string(), memberKey: v.string() },
  returns: v.union(v.null(), vOwnMemberUsage),
  handler: async (ctx, { ownerKey, memberKey }) => {
    requireMemberKey(memberKey);
    const account = await accountByOwnerKey(ctx, ownerKey);
    if (!account) return null;
    return await ownUsageOf(ctx, account._id, await getBalance(ctx, account._id), memberKey);
  },
});

/**
 * Sets (`capTokens`, an integer 0–1,000,000,000 tokens per period: used plus
 * reserved) or clears (`null`) a member's cap on an organisation account,
 * and appends the change to the audit log (`memberCap.set` /
 * `memberCap.cleared`, actor `actor`) in the same transaction. Applies from
 * the next debit, to this period's usage so far. Returns `{ before, after }`
 * (null = no cap); an unchanged cap writes nothing.
 * Throws `NOT_FOUND` (no account), `INVALID_ARGUMENT` (a personal account,
 * a bad key, cap or reason).
 */
export const setCap = mutation({
  args: {
    ownerKey: v.string(),
    memberKey: v.string(),
    capTokens: v.union(v.number(), v.null()),
    /** Who sets it: the admin's `user:<id>`. */
    actor: v.string(),
    reason: v.optional(v.string()),
  },
  returns: v.object({ before: v.union(v.number(), v.null()), after: v.union(v.number(), v.null()) }),
  handler: async (ctx, args) => {
    const account = await accountByOwnerKey(ctx, args.ownerKey);
    if (!account) failAccountNotSetUp();
    if (account.kind !== "organization") fail("INVALID_ARGUMENT", "Member caps apply to organisation accounts only.");
    const reason = args.reason?.trim();
    if (reason !== undefined && reason.length > MAX_REASON_LENGTH) {
      fail("INVALID_ARGUMENT", `A reason must be at most ${MAX_REASON_LENGTH} characters.`);
    }
    const change = await setCapModel(ctx, account._id, { memberKey: args.memberKey, capTokens: args.capTokens, setBy: args.actor });
    if (change.before !== change.after) {
      await appendAudit(ctx, {
        accountId: account._id,
        actorKind: "user",
        actor: args.actor,
        action: change.after === null ? "memberCap.cleared" : "memberCap.set",
        before: { memberKey: args.memberKey, capTokens: change.before },
        after: { memberKey: args.memberKey, capTokens: change.after },
        reason: reason || undefined,
      });
    }
    return change;
  },
});
