/**
 * The audit log: one append-only row per change to money, access or credits
 * (schema `auditLog`). Every writer calls `appendAudit` in the same
 * transaction as the change it records, so a change and its entry land
 * together or not at all.
 */
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";

export type AuditActorKind = "user" | "staff" | "stripe" | "cron" | "system";

export type AuditEntry = {
  accountId?: Id<"billingAccounts">;
  actorKind: AuditActorKind;
  /** An ownerKey or user id, a staff id, a Stripe event id, or a cron name. */
  actor: string;
  /** Dotted name, e.g. `tokens.grant`, `tier.override`, `dunning.suspended`. */
  action: string;
  /** Plain objects; stored as JSON. Keep them to the fields that changed. */
  before?: unknown;
  after?: unknown;
  reason?: string;
};

/** Who made a change, as `appendAudit` records it. */
export type AuditActor = { actorKind: AuditActorKind; actor: string };

/** A change applied by Stripe event `eventId` (`evt_…`). */
export function stripeActor(eventId: string): AuditActor {
  return { actorKind: "stripe", actor: eventId };
}

/** A change made by the cron (or scheduled job) named `name`. */
export function cronActor(name: string): AuditActor {
  return { actorKind: "cron", actor: name };
}

/** The default when a writer names no actor: the billing component itself. */
export const SYSTEM_ACTOR: AuditActor = { actorKind: "system", actor: "billing" };

/** Appends one audit row; returns its id. Never patches or deletes. */
export async function appendAudit(ctx: MutationCtx, entry: AuditEntry): Promise<Id<"auditLog">> {
  return await ctx.db.insert("auditLog", {
    ...(entry.accountId ? { accountId: entry.accountId } : {}),
    actorKind: entry.actorKind,
    actor: entry.actor,
    action: entry.action,
    ...(entry.before === undefined ? {} : { before: JSON.stringify(entry.before) }),
    ...(entry.after === undefined ? {} : { after: JSON.stringify(entry.after) }),
    ...(entry.reason ? { reason: entry.reason } : {}),
  });
}
