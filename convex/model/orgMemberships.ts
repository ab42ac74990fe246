/**
 * Organisation memberships as Clerk's webhooks report them
 * (`organizationMembership.created` / `.updated` / `.deleted`, verified in
 * `http.ts`). Claims in a token can outlive a removal by the token's
 * lifetime (up to a minute with Clerk); this table closes that window:
 * `model/auth.ts` refuses an organisation whose recorded membership is
 * `removed`, and acts as a member when the recorded role is `member`.
 *
 * One row per (organisation, user). Events apply in Clerk's event time
 * (`eventAt`, ms); an older event than the row's is ignored, so out-of-order
 * deliveries and redeliveries end in the latest state.
 */
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { roleFromClaim, type Role } from "./roles";

/** The recorded membership of `clerkUserId` in `clerkOrgId`, or null. One indexed read. */
export async function membershipOf(
  ctx: QueryCtx,
  clerkOrgId: string,
  clerkUserId: string,
): Promise<Doc<"orgMemberships"> | null> {
  return await ctx.db
    .query("orgMemberships")
    .withIndex("by_org_user", (q) => q.eq("clerkOrgId", clerkOrgId).eq("clerkUserId", clerkUserId))
    .unique();
}

/** A membership event in the app's terms, parsed from a verified Clerk webhook. */
export type MembershipEvent = {
  clerkOrgId: string;
  clerkUserId: string;
  status: "active" | "removed";
  role: Role;
  /** Clerk's event time, ms. */
  eventAt: number;
};

/** The Clerk webhook types this app records. */
export const MEMBERSHIP_EVENT_TYPES = [
  "organizationMembership.created",
  "organizationMembership.updated",
  "organizationMembership.deleted",
] as const;

/**
 * Parses a verified Clerk webhook body (`{ type, timestamp, data: {
 * organization: { id }, public_user_data: { user_id }, role, updated_at } }`)
 * into a `MembershipEvent`, or null for other event types or a body missing
 * the ids.
 */
export function membershipEventFrom(body: unknown): MembershipEvent | null {
  if (typeof body !== "object" || body === null) return null;
  const { type, timestamp, data } = body as { type?: unknown; timestamp?: unknown; data?: unknown };
  if (typeof type !== "string" || !(MEMBERSHIP_EVENT_TYPES as readonly string[]).includes(type)) return null;
  if (typeof data !== "object" || data === null) return null;
  const d = data as {
    organization?: { id?: unknown };
    public_user_data?: { user_id?: unknown };
    role?: unknown;
    updated_at?: unknown;
  };
  const clerkOrgId = d.organization?.id;
  const clerkUserId = d.public_user_data?.user_id;
  if (typeof clerkOrgId !== "string" || !clerkOrgId || typeof clerkUserId !== "string" || !clerkUserId) return null;
  const eventAt =
    typeof timestamp === "number" ? timestamp : typeof d.updated_at === "number" ? d.updated_at : Date.now();
  return {
    clerkOrgId,
    clerkUserId,
    status: type === "organizationMembership.deleted" ? "removed" : "active",
    role: roleFromClaim(d.role),
    eventAt,
  };
}

/** What the app does with one verified Clerk webhook (`clerkWebhookActionFrom`). */
export type ClerkWebhookAction =
  | { kind: "membership"; event: MembershipEvent }
  /** `organization.deleted`: every recorded member of the organisation is removed. */
  | { kind: "organizationDeleted"; clerkOrgId: string; eventAt: number }
  /** Any other type, or a body without the ids: answered 200 and not recorded (Clerk would retry a 4xx/5xx). */
  | { kind: "ignored"; type: string | null };

/**
 * What to do with a verified Clerk webhook body: a membership event
 * (`membershipEventFrom`), an organisation's deletion (`{ type:
 * "organization.deleted", timestamp, data: { id, deleted: true } }`), or
 * nothing. Throws nothing.
 */
export function clerkWebhookActionFrom(body: unknown): ClerkWebhookAction {
  const type =
    typeof body === "object" && body !== null && typeof (body as { type?: unknown }).type === "string"
      ? (body as { type: string }).type
      : null;
  const membership = membershipEventFrom(body);
  if (membership) return { kind: "membership", event: membership };
  if (type === "organization.deleted") {
    const { timestamp, data } = body as { timestamp?: unknown; data?: { id?: unknown } | null };
    const clerkOrgId = data?.id;
    if (typeof clerkOrgId === "string" && clerkOrgId) {
      return { kind: "organizationDeleted", clerkOrgId, eventAt: typeof timestamp === "number" ? timestamp : Date.now() };
    }
  }
  return { kind: "ignored", type };
}

/**
 * Records a membership event unless the row already holds a later one.
 * Returns whether it was applied. At most one read and one write.
 */
export async function recordMembershipEvent(ctx: MutationCtx, event: MembershipEvent): Promise<boolean> {
  const existing = await membershipOf(ctx, event.clerkOrgId, event.clerkUserId);
  if (!existing) {
    await ctx.db.insert("orgMemberships", event);
    return true;
  }
  if (existing.eventAt > event.eventAt) return false;
  await ctx.db.patch("orgMemberships", existing._id, { status: event.status, role: event.role, eventAt: event.eventAt });
  return true;
}
