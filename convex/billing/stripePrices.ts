/**
 * Learning a price the app has not seen (one chosen in the Portal or the
 * Dashboard) so the events that name it never stall.
 *
 * Invoice lines name a price by id only (API 2026-10-28.endive). When an
 * `invoice.paid` names an unknown one, the queue parks the event as waiting
 * for `price:<id>` and schedules `learn`, which fetches the price from
 * Stripe (https://docs.stripe.com/api/prices/retrieve), records it in
 * `stripePrices` (catalogue prices by lookup key; any other price as `free`,
 * which grants nothing) and wakes the events waiting for `price:<id>`.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalAction, internalMutation } from "./_generated/server";
import { planForLookupKey } from "./model/plans";
import { upsertPrice } from "./model/prices";
import { getStripe, stripeRead } from "./model/stripeClient";
import { dependency } from "./model/eventOutcome";
import { wakeWaitingEvents } from "./model/webhookQueue";

/** Fetches `stripePriceId` from Stripe and records it; a Stripe error leaves the events waiting (the hourly recheck retries). */
export const learn = internalAction({
  args: { stripePriceId: v.string(), stripeCustomerId: v.optional(v.string()) },
  returns: v.null(),
  handler: async (ctx, { stripePriceId, stripeCustomerId }) => {
    const price = await stripeRead("prices.retrieve", () => getStripe().prices.retrieve(stripePriceId));
    await ctx.runMutation(internal.stripePrices.record, {
      stripePriceId: price.id,
      lookupKey: price.lookup_key ?? "",
      recurringInterval: price.recurring?.interval ?? undefined,
      unitAmount: price.unit_amount ?? undefined,
      currency: price.currency,
      stripeCustomerId,
    });
    return null;
  },
});

/** Records a fetched price and wakes the events waiting for it (`price:<id>`). `stripeCustomerId` is kept for older scheduled runs. */
export const record = internalMutation({
  args: {
    stripePriceId: v.string(),
    lookupKey: v.string(),
    recurringInterval: v.optional(v.string()),
    unitAmount: v.optional(v.number()),
    currency: v.string(),
    stripeCustomerId: v.optional(v.string()),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    const plan = planForLookupKey(args.lookupKey);
    await upsertPrice(ctx, {
      stripePriceId: args.stripePriceId,
      lookupKey: args.lookupKey,
      tier: plan?.tier ?? "free",
      interval: plan?.interval ?? (args.recurringInterval === "year" ? "year" : "month"),
      unitAmount: args.unitAmount,
      currency: args.currency,
    });
    await wakeWaitingEvents(ctx, [dependency.price(args.stripePriceId)], Date.now());
    return null;
  },
});
