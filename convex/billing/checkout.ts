/**
 * Checkout and Customer Portal sessions for an account
 * (https://docs.stripe.com/api/checkout/sessions/create,
 * https://docs.stripe.com/api/customer_portal/sessions/create). Logic lives
 * in `model/billingActions.ts`.
 *
 * Each action takes the `ownerKey` the app resolved from its verified
 * caller; prices come from the catalogue's lookup keys and the customer from
 * the database, never from arguments. Every Stripe write carries an
 * idempotency key. Tier and tokens change only when the signed webhook
 * events arrive.
 *
 * Errors (`ConvexError` data `code`): `NOT_FOUND` (no account for
 * `ownerKey`), `STRIPE_NOT_CONFIGURED` (`variable`), `PRICE_NOT_FOUND`,
 * `STRIPE_ERROR`, and per action as below.
 *
 * Currency (`model/currency.ts`): both Checkouts take an optional
 * `currency` (one of `CURRENCIES`, lower case) and charge the price's amount
 * in it (`currency_options`). An account Stripe already bills in a currency
 * is charged in that one; asking for another throws `CURRENCY_LOCKED`
 * (`currency` = the billed one) before anything is created at Stripe.
 */
import { v } from "convex/values";
import { action, internalQuery, query } from "./_generated/server";
import { accountByOwnerKey } from "./model/accounts";
import { createPortal, createSubscriptionCheckout, createTopUpCheckout } from "./model/billingActions";
import { billedCurrency } from "./model/currency";
import { CURRENCIES } from "./model/plans";
import { vInterval, vTier } from "./model/validators";

const vUrl = v.object({ url: v.string() });
/** One of `CURRENCIES`, lower case as Stripe writes it. */
export const vCurrency = v.union(...CURRENCIES.map((currency) => v.literal(currency)));
const vBilledCurrency = v.object({ billedCurrency: v.union(v.string(), v.null()) });

/**
 * A subscription Checkout for an upgrade to `tier` billed every `interval`
 * ("month" | "year"); creates the account's Stripe customer on first use.
 * Returns `{ url }`; success returns to `${SITE_URL}/billing/success?session_id=…`,
 * cancel to `${SITE_URL}/pricing`. Also throws `NOT_AN_UPGRADE` (not
 * purchasable, not above the current tier, or a billed subscription exists:
 * change plans instead). `trial: true` starts the plan's free trial
 * (`PLANS[tier].trial`, docs/TRIALS.md): throws `INVALID_ARGUMENT` when the
 * plan has none and `TRIAL_ALREADY_USED` when the account, its Stripe
 * customer, or the person `personKey` (on any account) already had one;
 * the trial subscription's `metadata.trial_started_by` is `personKey`. An organisation on a per-seat plan
 * (docs/SEATS.md) buys `seats` seats (`chosen` mode; default and minimum:
 * `members`) or `members` seats (`members` mode), within the plan's range,
 * else `INVALID_ARGUMENT`; everyone else buys one.
 */
export const createCheckoutSession = action({
  args: {
    ownerKey: v.string(),
    tier: vTier,
    interval: vInterval,
    currency: v.optional(vCurrency),
    trial: v.optional(v.boolean()),
    /** Seats an organisation admin chose (per-seat `chosen` plans; default: `members`). */
    seats: v.optional(v.number()),
    /** The organisation's member count, counted by the app. */
    members: v.optional(v.number()),
    /** The app's stable id of the caller (a person), for one trial per person; never a client-sent value. */
    personKey: v.optional(v.string()),
  },
  returns: vUrl,
  handler: (ctx, args): Promise<{ url: string }> => createSubscriptionCheckout(ctx, args),
});

/**
 * A one-off Checkout (`mode: "payment"`) for the token pack `packId`
 * (one of `TOKEN_PACKS`' ids, else `INVALID_ARGUMENT`), with a paid invoice
 * as its receipt. Metadata `{ accountId, kind: "top_up", packId }`; the
 * tokens are granted by the webhook on `checkout.session.completed`, never
 * here. Returns `{ url }`.
 */
export const createTopUpCheckoutSession = action({
  args: { ownerKey: v.string(), packId: v.string(), currency: v.optional(vCurrency) },
  returns: vUrl,
  handler: (ctx, args): Promise<{ url: string }> => createTopUpCheckout(ctx, args),
});

/**
 * The Customer Portal for the account's own Stripe customer, read from the
 * database. Uses `STRIPE_PORTAL_CONFIGURATION_ID`, else the configuration
 * `npm run seed:stripe` made (found by `metadata.app`). Returns `{ url }`;
 * the Portal returns to `${SITE_URL}/billing`. Also throws `NO_CUSTOMER`
 * (nothing bought yet).
 */
export const createPortalSession = action({
  args: { ownerKey: v.string() },
  returns: vUrl,
  handler: (ctx, args): Promise<{ url: string }> => createPortal(ctx, args),
});

/**
 * The currency Stripe bills the account of `ownerKey` in (lower case, e.g.
 * `"eur"`), or null when none is fixed yet (no customer, never billed, or no
 * account): the pricing page then lets the visitor choose. Throws nothing.
 */
export const currency = query({
  args: { ownerKey: v.string() },
  returns: vBilledCurrency,
  handler: async (ctx, { ownerKey }) => {
    const account = await accountByOwnerKey(ctx, ownerKey);
    return { billedCurrency: account ? await billedCurrency(ctx, account) : null };
  },
});

/** `currency`, by account id, for the Checkout actions. */
export const accountCurrency = internalQuery({
  args: { accountId: v.id("billingAccounts") },
  returns: vBilledCurrency,
  handler: async (ctx, { accountId }) => {
    const account = await ctx.db.get("billingAccounts", accountId);
    return { billedCurrency: account ? await billedCurrency(ctx, account) : null };
  },
});
