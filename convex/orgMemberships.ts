/**
 * Organisation memberships from Clerk's webhooks. `clerkWebhook` is the
 * httpAction behind `POST /clerk/webhook` (routed in `http.ts`): it verifies
 * the delivery's svix signature (https://clerk.com/docs/webhooks/sync-data,
 * the `svix` package) and hands the event to an internal mutation here.
 * Logic lives in `model/orgMemberships.ts`; docs/ORGANISATIONS.md "Removal".
 */
import { v } from "convex/values";
import { Webhook, WebhookVerificationError } from "svix";
import { components, internal } from "./_generated/api";
import { env, httpAction, internalAction, internalMutation } from "./_generated/server";
import { isBillingError } from "./billing/model/errors";
import { clerkWebhookActionFrom, recordMembershipEvent } from "./model/orgMemberships";
import { afterMembershipChange } from "./seats";

/** Largest Clerk webhook body accepted (membership events are about 2 KiB). */
export const CLERK_WEBHOOK_MAX_BODY_BYTES = 64 * 1024;

/** Recorded memberships removed per transaction when an organisation is deleted. */
const ORG_DELETION_BATCH = 200;

const vMembershipEvent = {
  clerkOrgId: v.string(),
  clerkUserId: v.string(),
  status: v.union(v.literal("active"), v.literal("removed")),
  role: v.union(v.literal("admin"), v.literal("member")),
  /** Clerk's event time, ms. */
  eventAt: v.number(),
};

/**
 * Records one membership event (`status: "removed"` for
 * `organizationMembership.deleted`) unless a later one is recorded already.
 * An applied event also updates seats (`seats.afterMembershipChange`: the
 * "add seats" notice on a chosen-seats plan, `seats.syncMembers` scheduled
 * on a members plan). Returns whether it was applied. Throws nothing.
 */
export const record = internalMutation({
  args: vMembershipEvent,
  returns: v.boolean(),
  handler: async (ctx, event) => {
    const applied = await recordMembershipEvent(ctx, event);
    if (applied) await afterMembershipChange(ctx, event.clerkOrgId, event.eventAt);
    return applied;
  },
});

/**
 * `organization.deleted`: records every recorded member of `clerkOrgId` as
 * removed at `eventAt` (ms), `ORG_DELETION_BATCH` rows per transaction, the
 * rest in a scheduled continuation. Members without a recorded row lose the
 * organisation when their token expires (Clerk issues none for a deleted
 * organisation). Returns how many rows this batch changed.
 */
export const removeOrganization = internalMutation({
  args: { clerkOrgId: v.string(), eventAt: v.number(), cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.number(),
  handler: async (ctx, { clerkOrgId, eventAt, cursor }) => {
    const page = await ctx.db
      .query("orgMemberships")
      .withIndex("by_org_user", (q) => q.eq("clerkOrgId", clerkOrgId))
      .paginate({ numItems: ORG_DELETION_BATCH, cursor: cursor ?? null });
    // Its billing ends with it: the subscription is cancelled at the period end.
    if (!cursor) await ctx.scheduler.runAfter(0, internal.orgMemberships.cancelDeletedOrganization, { clerkOrgId });
    let changed = 0;
    for (const row of page.page) {
      const applied = await recordMembershipEvent(ctx, {
        clerkOrgId,
        clerkUserId: row.clerkUserId,
        status: "removed",
        role: row.role,
        eventAt,
      });
      if (applied) changed += 1;
    }
    if (!page.isDone) {
      await ctx.scheduler.runAfter(0, internal.orgMemberships.removeOrganization, {
        clerkOrgId,
        eventAt,
        cursor: page.continueCursor,
      });
    }
    return changed;
  },
});

/**
 * After Clerk's `organization.deleted` (scheduled by `removeOrganization`):
 * cancels the organisation's subscription at the period end
 * (`planChanges.cancelSubscription`, `cancel_at_period_end`), so nothing
 * more is billed and the paid period is not cut short; Stripe's webhooks
 * then mirror it like any cancellation. Returns `{ cancelAt }` (ms), or
 * null when there is nothing to cancel (no account, no live subscription).
 * Other errors (Stripe down) throw, and a redelivery of the event tries again.
 */
export const cancelDeletedOrganization = internalAction({
  args: { clerkOrgId: v.string() },
  returns: v.union(v.null(), v.object({ cancelAt: v.number() })),
  handler: async (ctx, { clerkOrgId }) => {
    try {
      return await ctx.runAction(components.billing.planChanges.cancelSubscription, {
        ownerKey: `org:${clerkOrgId}`,
        comment: "The organisation was deleted in Clerk.",
      });
    } catch (error) {
      if (isBillingError(error, "NO_SUBSCRIPTION") || isBillingError(error, "NOT_FOUND")) return null;
      throw error;
    }
  },
});

function textResponse(status: number, body: string): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/**
 * `POST /clerk/webhook`: Clerk's deliveries (svix), top to bottom:
 * 1. 413 over `CLERK_WEBHOOK_MAX_BODY_BYTES`;
 * 2. 500 when `CLERK_WEBHOOK_SECRET` (`whsec_…`, Clerk dashboard → Webhooks →
 *    the endpoint's signing secret) is unset, so Clerk retries once it is;
 * 3. verify the raw body against the `svix-id` / `svix-timestamp` /
 *    `svix-signature` headers (5-minute tolerance): 400 for a missing,
 *    forged or stale signature, nothing written;
 * 4. one internal mutation: `organizationMembership.created` / `.updated` /
 *    `.deleted` → `record`; `organization.deleted` → `removeOrganization`;
 *    other types are acknowledged and ignored;
 * 5. 200.
 * Redeliveries are harmless: events apply in Clerk's event time.
 */
export const clerkWebhook = httpAction(async (ctx, request) => {
  const declaredLength = Number(request.headers.get("Content-Length") ?? "0");
  if (Number.isFinite(declaredLength) && declaredLength > CLERK_WEBHOOK_MAX_BODY_BYTES) {
    return textResponse(413, "payload too large");
  }
  const body = await request.text();
  if (new TextEncoder().encode(body).byteLength > CLERK_WEBHOOK_MAX_BODY_BYTES) {
    return textResponse(413, "payload too large");
  }
  const secret = env.CLERK_WEBHOOK_SECRET?.trim();
  if (!secret) {
    console.error("CLERK_WEBHOOK_SECRET is not set: refusing Clerk webhooks with 500 so Clerk retries them");
    return textResponse(500, "webhook secret not configured");
  }
  let payload: unknown;
  try {
    payload = new Webhook(secret).verify(body, {
      "svix-id": request.headers.get("svix-id") ?? "",
      "svix-timestamp": request.headers.get("svix-timestamp") ?? "",
      "svix-signature": request.headers.get("svix-signature") ?? "",
    });
  } catch (error) {
    const reason = error instanceof WebhookVerificationError ? error.message : "invalid body";
    console.warn(`rejected Clerk webhook: ${reason}`);
    return textResponse(400, "invalid signature");
  }
  const action = clerkWebhookActionFrom(payload);
  if (action.kind === "membership") {
    await ctx.runMutation(internal.orgMemberships.record, action.event);
  } else if (action.kind === "organizationDeleted") {
    await ctx.runMutation(internal.orgMemberships.removeOrganization, {
      clerkOrgId: action.clerkOrgId,
      eventAt: action.eventAt,
    });
  }
  return textResponse(200, "ok");
});
