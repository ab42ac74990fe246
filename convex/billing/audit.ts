/**
 * The audit log as the operator console reads it: newest first, paginated
 * with convex-helpers `paginator` (components cannot use `.paginate()`), at
 * most 100 rows a page. Rows come from `appendAudit` (model/audit.ts) only.
 *
 * Row shape: `{ _id, _creationTime (ms), accountId?, actorKind, actor,
 * action, before?, after?, reason? }`; `before` / `after` are JSON strings.
 * These are component functions: only the app (its staff wrappers in
 * `convex/admin.ts`) can call them, never a browser.
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import { query } from "./_generated/server";
import schema from "./schema";

const MAX_AUDIT_PAGE = 100;

export const vAuditRow = v.object({
  _id: v.id("auditLog"),
  _creationTime: v.number(),
  accountId: v.optional(v.id("billingAccounts")),
  actorKind: v.union(v.literal("user"), v.literal("staff"), v.literal("stripe"), v.literal("cron"), v.literal("system")),
  actor: v.string(),
  action: v.string(),
  before: v.optional(v.string()),
  after: v.optional(v.string()),
  reason: v.optional(v.string()),
});

function pageSize(numItems: number): number {
  return Math.min(Math.max(1, Math.floor(numItems)), MAX_AUDIT_PAGE);
}

/** One account's audit entries, newest first. */
export const listForAccount = query({
  args: { accountId: v.id("billingAccounts"), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditRow),
  handler: async (ctx, args) =>
    await paginator(ctx.db, schema)
      .query("auditLog")
      .withIndex("by_accountId", (q) => q.eq("accountId", args.accountId))
      .order("desc")
      .paginate({ ...args.paginationOpts, numItems: pageSize(args.paginationOpts.numItems) }),
});

/** Every audit entry, newest first (by creation time). */
export const listAll = query({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditRow),
  handler: async (ctx, args) =>
    await paginator(ctx.db, schema)
      .query("auditLog")
      .order("desc")
      .paginate({ ...args.paginationOpts, numItems: pageSize(args.paginationOpts.numItems) }),
});
