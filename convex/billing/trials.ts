/**
 * Free-trial reads for the Checkout action (docs/TRIALS.md, `model/trials.ts`).
 */
import { v } from "convex/values";
import { internalQuery } from "./_generated/server";
import { personHadTrial } from "./model/trials";

/**
 * Whether the person `personKey` (the app's stable id of the caller, never a
 * client-sent value) started a free trial on any account (`trialUses`).
 * One indexed read. Throws nothing.
 */
export const personTrialUsed = internalQuery({
  args: { personKey: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { personKey }) => await personHadTrial(ctx, personKey),
});
