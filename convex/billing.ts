/**
 * The client's billing API: thin wrappers that resolve the signed-in caller
 * (`functions.ts`) and call the billing component with the caller's owner
 * key. Names and shapes are the ones the React client has always used; the
 * component's functions (`convex/billing/checkout.ts`, `planChanges.ts`,
 * `accounts.ts`) document the behaviour, Stripe calls and error codes.
 *
 * Every function acts on the caller's active account: their organisation's
 * when the verified token names one, else their personal account
 * (`functions.ts`). Every action is admin-only (`adminAction`): it throws
 * `UNAUTHENTICATED` when signed out, `NOT_FOUND` while `users.store` has not
 * run yet, and `FORBIDDEN` for an organisation member who is not an admin or
 * has been removed, before the component is called. Members read the plan
 * (`subscription`) but not `invoices` (`[]` for them).
 * Units: Convex times in ms; money in integer minor units of `currency`.
 */
import { v } from "convex/values";
import { components, internal } from "./_generated/api";
import { adminAction, adminQuery, callerQuery } from "./functions";
import { personKeyOf } from "./model/auth";
import { vInvoiceView, vSubscriptionView } from "./billing/model/billingModel";
import { vEndTrialPreview, vEndTrialResult, type EndTrialPreview, type EndTrialResult } from "./billing/model/endTrial";
import { vPlanChangePreview, vPlanChangeResult, type PlanChangePreview, type PlanChangeResult } from "./billing/model/planChanges";
import { CURRENCIES, TOKEN_PACKS } from "./billing/model/plans";
import { vCancellationFeedback, vInterval, vPaidTier, vTier } from "./billing/model/validators";

const vUrl = v.object({ url: v.string() });
const vPackId = v.union(...TOKEN_PACKS.map((pack) => v.literal(pack.id)));
/** A currency the catalogue sells in (`CURRENCIES`, lower case); the server resolves the amount. */
const vCurrency = v.union(...CURRENCIES.map((currency) => v.literal(currency)));
type Url = { url: string };

/**
 * Starts a subscription Checkout for an upgrade to `tier` billed every
 * `interval`, charged in `currency` (optional, one of `CURRENCIES`; the
 * account's billed currency wins, another one throws `CURRENCY_LOCKED`).
 * Returns `{ url }` (Stripe-hosted). Also throws
 * `NOT_AN_UPGRADE`, `STRIPE_NOT_CONFIGURED`, `PRICE_NOT_FOUND`,
 * `STRIPE_ERROR` (see `checkout.createCheckoutSession`). `trial: true`
 * starts the plan's free trial; a second one of the account, or of the
 * caller as a person on any account, throws `TRIAL_ALREADY_USED`.
 * `seats`: an organisation on a per-seat plan buys that many seats (chosen
 * mode; default: the member count, never fewer) or its member count
 * (members mode); out of range, fewer than the members, or seats on a
 * personal account or a flat plan throw `INVALID_ARGUMENT`.
 */
export const createCheckoutSession = adminAction({
  args: {
    tier: vTier,
    interval: vInterval,
    currency: v.optional(vCurrency),
    trial: v.optional(v.boolean()),
    /** Seats for an organisation on a per-seat plan that lets admins choose (docs/SEATS.md). */
    seats: v.optional(v.number()),
  },
  returns: vUrl,
  handler: async (ctx, args): Promise<Url> => {
    // The member count is the app's (recorded Clerk memberships), never the client's.
    const members: number = await ctx.runQuery(internal.seats.memberCount, { ownerKey: ctx.ownerKey });
    // The person is the verified caller's (one free trial per person), never the client's.
    return await ctx.runAction(components.billing.checkout.createCheckoutSession, {
      ownerKey: ctx.ownerKey,
      ...args,
      members,
      personKey: ctx.personKey,
    });
  },
});

/**
 * Starts a one-off Checkout for the token pack `packId` in `currency`
 * (optional, as above); the tokens arrive
 * with the webhook once paid. Returns `{ url }` (see
 * `checkout.createTopUpCheckoutSession`).
 */
export const createTopUpCheckoutSession = adminAction({
  args: { packId: vPackId, currency: v.optional(vCurrency) },
  returns: vUrl,
  handler: (ctx, args): Promise<Url> =>
    ctx.runAction(components.billing.checkout.createTopUpCheckoutSession, { ownerKey: ctx.ownerKey, ...args }),
});

/**
 * Opens the Stripe Customer Portal for the caller's own customer, read from
 * the database; it takes no arguments, so no customer id can come from the
 * client. Returns `{ url }`. Also throws `NO_CUSTOMER` (see
 * `checkout.createPortalSession`).
 */
export const createPortalSession = adminAction({
  args: {},
  returns: vUrl,
  handler: (ctx): Promise<Url> =>
    ctx.runAction(components.billing.checkout.createPortalSession, { ownerKey: ctx.ownerKey }),
});

/** Exact amounts a change to `tier` on `interval` would bill; changes nothing (`planChanges.previewPlanChange`). */
export const previewPlanChange = adminAction({
  args: { tier: vPaidTier, interval: vInterval },
  returns: vPlanChangePreview,
  handler: (ctx, args): Promise<PlanChangePreview> =>
    ctx.runAction(components.billing.planChanges.previewPlanChange, { ownerKey: ctx.ownerKey, ...args }),
});

/** Changes the caller's plan: upgrades now once paid, downgrades at the period end (`planChanges.changePlan`). */
export const changePlan = adminAction({
  args: { tier: vPaidTier, interval: vInterval },
  returns: vPlanChangeResult,
  handler: (ctx, args): Promise<PlanChangeResult> =>
    ctx.runAction(components.billing.planChanges.changePlan, { ownerKey: ctx.ownerKey, ...args }),
});

/**
 * What starting the paid plan now, ending the caller's trial early, would
 * charge; changes nothing (`endTrial.previewEndTrial`). Throws `NOT_TRIALING`,
 * `NO_PAYMENT_METHOD`, `NO_SUBSCRIPTION`, `CHANGE_PENDING`.
 */
export const previewEndTrial = adminAction({
  args: {},
  returns: vEndTrialPreview,
  handler: (ctx): Promise<EndTrialPreview> => ctx.runAction(components.billing.endTrial.previewEndTrial, { ownerKey: ctx.ownerKey }),
});

/**
 * Ends the caller's trial now and charges the paid plan to the card on file;
 * the trial runs on unchanged unless the payment succeeds
 * (`endTrial.endTrialNow`). Returns `{ status, hostedInvoiceUrl, message }`.
 */
export const endTrialNow = adminAction({
  args: {},
  returns: vEndTrialResult,
  handler: (ctx): Promise<EndTrialResult> => ctx.runAction(components.billing.endTrial.endTrialNow, { ownerKey: ctx.ownerKey }),
});

/** Cancels the caller's scheduled plan change. Returns `{ canceled }` (`planChanges.cancelScheduledChange`). */
export const cancelScheduledChange = adminAction({
  args: {},
  returns: v.object({ canceled: v.boolean() }),
  handler: (ctx): Promise<{ canceled: boolean }> =>
    ctx.runAction(components.billing.planChanges.cancelScheduledChange, { ownerKey: ctx.ownerKey }),
});

/** Cancels the caller's subscription at the period end. Returns `{ cancelAt }` ms (`planChanges.cancelSubscription`). */
export const cancelSubscription = adminAction({
  args: { feedback: v.optional(vCancellationFeedback), comment: v.optional(v.string()) },
  returns: v.object({ cancelAt: v.number() }),
  handler: (ctx, args): Promise<{ cancelAt: number }> =>
    ctx.runAction(components.billing.planChanges.cancelSubscription, { ownerKey: ctx.ownerKey, ...args }),
});

/** Undoes a scheduled cancellation. Returns `{ resumed }` (`planChanges.resumeSubscription`). */
export const resumeSubscription = adminAction({
  args: {},
  returns: v.object({ resumed: v.boolean() }),
  handler: (ctx): Promise<{ resumed: boolean }> =>
    ctx.runAction(components.billing.planChanges.resumeSubscription, { ownerKey: ctx.ownerKey }),
});

/**
 * The caller's plan and subscription state (`SubscriptionView`, see
 * `accounts.subscription`), or `null` when signed out. `trialUsed` is true
 * when the account or the caller personally (on any account) had a free
 * trial. Throws nothing.
 */
export const subscription = callerQuery({
  args: {},
  returns: v.union(vSubscriptionView, v.null()),
  handler: async (ctx) =>
    ctx.caller
      ? await ctx.runQuery(components.billing.accounts.subscription, {
          ownerKey: ctx.caller.ownerKey,
          // `trialUsed` also when the caller personally had a trial elsewhere (one per person).
          personKey: personKeyOf(ctx.caller),
        })
      : null,
});

/**
 * The caller's invoices, newest first; `limit` defaults to 6, clamped to
 * 1…24 (see `accounts.invoices`). `[]` when signed out or for an
 * organisation member who is not an admin (`adminQuery`). Throws nothing.
 */
export const invoices = adminQuery({
  args: { limit: v.optional(v.number()) },
  returns: v.array(vInvoiceView),
  handler: async (ctx, { limit }) =>
    ctx.caller ? await ctx.runQuery(components.billing.accounts.invoices, { ownerKey: ctx.caller.ownerKey, limit }) : [],
});

/**
 * The currency Stripe bills the caller's account in (`{ billedCurrency:
 * "eur" }`), or `{ billedCurrency: null }` while none is fixed; `null` when
 * signed out. The pricing page locks its currency switch to it (see
 * `checkout.currency`). Throws nothing.
 */
export const currency = callerQuery({
  args: {},
  returns: v.union(v.object({ billedCurrency: v.union(v.string(), v.null()) }), v.null()),
  handler: async (ctx) =>
    ctx.caller ? await ctx.runQuery(components.billing.checkout.currency, { ownerKey: ctx.caller.ownerKey }) : null,
});
