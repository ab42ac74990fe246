import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

/**
 * The app's own tables. Billing (accounts, subscriptions, invoices, token
 * balances and ledger, the Stripe event queue, prices) lives in the billing
 * component's tables, `convex/billing/schema.ts`.
 */
export default defineSchema({
  // Written by `users.store` on sign-in. Read by every authenticated function
  // to resolve the caller; its `_id` names the caller's personal billing
  // account (`billingOwnerKey`, `model/auth.ts`).
  users: defineTable({
    /** `issuer|subject` from the verified JWT. */
    tokenIdentifier: v.string(),
    /** Clerk user id (`subject`). */
    clerkUserId: v.string(),
    email: v.optional(v.string()),
    name: v.optional(v.string()),
  })
    .index("by_tokenIdentifier", ["tokenIdentifier"])
    .index("by_clerkUserId", ["clerkUserId"]),

  // Clerk organisation memberships as its webhooks report them
  // (`model/orgMemberships.ts`; `POST /clerk/webhook` in `http.ts`). Read by
  // `model/auth.ts` when a token names an organisation: `removed` refuses it
  // at once, a recorded `member` role lowers a token's `admin`. Without
  // webhooks the table stays empty and the token's claims decide.
  orgMemberships: defineTable({
    /** Clerk organisation id (`org_…`). */
    clerkOrgId: v.string(),
    /** Clerk user id (`user_…`), the JWT's `sub`. */
    clerkUserId: v.string(),
    status: v.union(v.literal("active"), v.literal("removed")),
    role: v.union(v.literal("admin"), v.literal("member")),
    /** Clerk's time of the last applied event (ms); older events are ignored. */
    eventAt: v.number(),
  }).index("by_org_user", ["clerkOrgId", "clerkUserId"]),
});
