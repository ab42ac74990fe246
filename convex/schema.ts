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
});
