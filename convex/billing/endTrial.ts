/**
 * Ending a free trial early to start the paid plan now (docs/TRIALS.md,
 * "Ending a trial early"). Logic in `model/endTrial.ts`.
 *
 * Each action takes the `ownerKey` the app resolved from its verified caller
 * (an admin of the account). Stripe is asked to end the trial with
 * `trial_end: "now"` and `payment_behavior: "pending_if_incomplete"`: the
 * trial ends only once the first paid invoice is paid, so nothing is granted
 * before the money is collected. Tier and tokens move when Stripe's events
 * arrive.
 *
 * Errors (`ConvexError` data `code`): `NOT_FOUND` (no account),
 * `NO_SUBSCRIPTION`, `NOT_TRIALING`, `NO_PAYMENT_METHOD` (no card on file),
 * `CHANGE_PENDING` (a cancellation is scheduled), `FORBIDDEN` (Stripe's
 * subscription is not the account's customer's), `STRIPE_NOT_CONFIGURED`,
 * `STRIPE_ERROR`.
 */
import { v } from "convex/values";
import { action } from "./_generated/server";
import {
  endTrialNow as endTrialNowModel,
  previewEndTrial as previewEndTrialModel,
  vEndTrialPreview,
  vEndTrialResult,
  type EndTrialPreview,
  type EndTrialResult,
} from "./model/endTrial";

/**
 * What ending the trial now would charge, from Stripe's
 * `invoices.createPreview` with `subscription_details.trial_end: "now"`
 * (https://docs.stripe.com/api/invoices/create_preview). Changes nothing.
 * Returns `EndTrialPreview`: `dueNow` (minor units of `currency`),
 * `trialEnd` and `nextRenewalAt` (ms), `allowance` and `trialAllowance` (tokens).
 */
export const previewEndTrial = action({
  args: { ownerKey: v.string() },
  returns: vEndTrialPreview,
  handler: (ctx, args): Promise<EndTrialPreview> => previewEndTrialModel(ctx, args),
});

/**
 * Ends the trial now and charges the first paid period to the card on file.
 * Returns `EndTrialResult`: `paid`, `requires_action` (3-D Secure:
 * `hostedInvoiceUrl`; the trial runs on) or `payment_failed` (the trial runs
 * on unchanged).
 */
export const endTrialNow = action({
  args: { ownerKey: v.string() },
  returns: vEndTrialResult,
  handler: (ctx, args): Promise<EndTrialResult> => endTrialNowModel(ctx, args),
});
