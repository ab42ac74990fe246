/**
 * The dunning timeline's functions (logic in `model/dunning.ts`, policy in
 * `BILLING_CONFIG.dunning`, docs/DUNNING.md).
 *
 * - `sweep` (internal, the hourly cron): fires the due step of every account
 *   whose `dunningNextAt` has come, reading only those accounts through
 *   `by_dunningNextAt`, `BILLING_CONFIG.dunning.sweepBatch` per transaction,
 *   continuing itself from its cursor with the same `now`.
 * - `runForAccount` (callable by the app: the operator console): runs the
 *   due step of one account now, as staff.
 *
 * Times are Convex ms.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation, mutation } from "./_generated/server";
import { cronActor } from "./model/audit";
import { advanceDunning, dueAccounts, syncDunning } from "./model/dunning";
import { fail } from "./model/errors";
import { BILLING_CONFIG } from "./model/plans";
import { vDunningStage } from "./model/validators";

const vAdvanceResult = v.object({
  overdueDays: v.union(v.number(), v.null()),
  stage: v.union(vDunningStage, v.null()),
  fired: v.array(v.string()),
});

/**
 * Dunning cron: for up to `BILLING_CONFIG.dunning.sweepBatch` accounts whose
 * next step is due at `now` (ms, default the time of the first run), fires
 * the steps now due. Schedules itself from `cursor` while more remain.
 * Returns `{ processed, done }`.
 */
export const sweep = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())), now: v.optional(v.number()) },
  returns: v.object({ processed: v.number(), done: v.boolean() }),
  handler: async (ctx, args) => {
    const now = args.now ?? Date.now();
    const { page, isDone, continueCursor } = await dueAccounts(ctx, now, args.cursor ?? null, BILLING_CONFIG.dunning.sweepBatch);
    const actor = cronActor("dunning.sweep");
    for (const account of page) {
      if (account.dunningEpisode === undefined) {
        // A stray due time without an episode: drop it so it is not read again.
        await ctx.db.patch("billingAccounts", account._id, { dunningNextAt: undefined });
        continue;
      }
      await advanceDunning(ctx, account._id, now, actor);
    }
    if (!isDone) await ctx.scheduler.runAfter(0, internal.dunning.sweep, { cursor: continueCursor, now });
    return { processed: page.length, done: isDone };
  },
});

/**
 * Runs the dunning timeline of one account now: re-reads its invoices (the
 * episode starts, moves or ends as they say) and fires the steps due, each
 * once per episode, recorded in the audit log under `actor` (a staff id)
 * with `reason`. Returns `{ overdueDays, stage, fired }` (step ids fired;
 * null days/stage when nothing is overdue). Throws `NOT_FOUND` (no such
 * account), `INVALID_ARGUMENT` (blank actor or reason).
 */
export const runForAccount = mutation({
  args: { accountId: v.id("billingAccounts"), actor: v.string(), reason: v.string() },
  returns: vAdvanceResult,
  handler: async (ctx, args) => {
    if (args.actor.trim() === "" || args.reason.trim() === "") fail("INVALID_ARGUMENT", "An actor and a reason are required.");
    const account = await ctx.db.get("billingAccounts", args.accountId);
    if (!account) fail("NOT_FOUND", "No such billing account.");
    return await syncDunning(ctx, args.accountId, Date.now(), { actorKind: "staff", actor: args.actor, reason: args.reason });
  },
});
