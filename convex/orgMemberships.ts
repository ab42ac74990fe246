/**
 * Organisation memberships from Clerk's webhooks (`POST /clerk/webhook`,
 * `http.ts`). Internal only: the route verifies the delivery's svix
 * signature and hands the parsed event here. Logic lives in
 * `model/orgMemberships.ts`.
 */
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import { recordMembershipEvent } from "./model/orgMemberships";

/**
 * Records one membership event (`status: "removed"` for
 * `organizationMembership.deleted`) unless a later one is recorded already.
 * Returns whether it was applied. Throws nothing.
 */
export const record = internalMutation({
  args: {
    clerkOrgId: v.string(),
    clerkUserId: v.string(),
    status: v.union(v.literal("active"), v.literal("removed")),
    role: v.union(v.literal("admin"), v.literal("member")),
    eventAt: v.number(),
  },
  returns: v.boolean(),
  handler: async (ctx, event) => await recordMembershipEvent(ctx, event),
});
