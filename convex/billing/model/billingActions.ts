/**
 * Stripe side of `convex/billing.ts`: Checkout and Customer Portal sessions.
 *
 * Trust boundary: the client sends only a tier + interval or a pack id. The
 * account, the Stripe customer and the price id are all resolved here, on the
 * server, from the verified identity, the database and Stripe
 * (https://docs.stripe.com/products-prices/manage-prices#lookup-keys).
 *
 * Idempotency keys (https://docs.stripe.com/api/idempotent_requests):
 * - customer: `customer-create:<accountId>` (or `…:after:<deletedCustomerId>`
 *   once Stripe deleted the previous one). A double click, or a retry after
 *   the link mutation failed, gets the same customer back instead of a second
 *   one. Trade-off: if the account's email/name changes within Stripe's
 *   retention window (≥ 24 h) before the link is saved, the replay is refused
 *   as `idempotency_error` until the key expires; that needs a failed link
 *   mutation and a profile change within a day, which we accept.
 * - Checkout: `checkout:<accountId>:<lookupKey>:<customerId>:<minute>`.
 *   Within the same UTC minute a double click returns the same open session
 *   (one URL, so one payment); a later click opens a fresh one. Two clicks
 *   straddling a minute boundary get two sessions, which is harmless: only a
 *   completed session creates a subscription, and the others expire (24 h).
 * - Portal: `portal:<accountId>:<customerId>:<10-second bucket>`, shorter
 *   because a portal URL is short-lived and meant to be opened once.
 * - Test clock (demo, `STRIPE_TEST_CLOCKS=per_customer`, test keys only):
 *   `test-clock:<accountId>[:after:<deleted>]:<minute>`, frozen at that
 *   minute's start, and the customer key gains `:clock:<clockId>`: a retry
 *   within the minute reuses clock and customer; a later retry after a failed
 *   link makes a new pair (test mode only; the link keeps the first).
 *
 * Portal sessions use the configuration `npm run seed:stripe` ships (found by
 * `metadata.app`, or `STRIPE_PORTAL_CONFIGURATION_ID`), never the account's
 * default settings, which a fresh Stripe account does not have.
 */
import type Stripe from "stripe";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx } from "../_generated/server";
import type { CallerAccount } from "./billingModel";
import { checkoutCurrency, currencyKeyPart, isDefaultCurrency } from "./currency";
import { fail, failAccountNotSetUp, isBillingError } from "./errors";
import { BILLING_CONFIG, OVERAGE_METER, PLANS, tierRank, tokenPack, type Interval, type PaidTier, type Tier, type TrialPolicy } from "./plans";
import { checkoutQuantity } from "./seats";
import { TRIAL_STARTED_BY } from "./trials";
import {
  getStripe,
  httpUrlFromEnv,
  PORTAL_CONFIGURATION_APP,
  portalConfigurationIdFromEnv,
  readEnv,
  stripeMode,
  stripeRead,
  stripeWrite,
  testClocksPerCustomer,
} from "./stripeClient";

/** Used only with a test-mode key when `SITE_URL` is unset: the Vite dev server. */
export const DEV_SITE_URL = "http://127.0.0.1:5173";

const CHECKOUT_KEY_BUCKET_MS = 60_000;
const PORTAL_KEY_BUCKET_MS = 10_000;

/**
 * The client app's origin for Checkout/Portal return URLs, without a trailing
 * slash. `SITE_URL` is required with a live key (a wrong default would send
 * paying customers to localhost); with a test key it falls back to
 * `DEV_SITE_URL` so local development works with no configuration.
 *
 * @throws `STRIPE_NOT_CONFIGURED` (`variable: "SITE_URL"`) when unset in live
 *   mode or not an http(s) URL.
 */
export function siteUrl(): string {
  const url = httpUrlFromEnv("SITE_URL", "https://app.example.com");
  if (!url) {
    if (stripeMode() === "live") {
      fail("STRIPE_NOT_CONFIGURED", "Billing is not configured: set the SITE_URL environment variable to the app's origin.", {
        variable: "SITE_URL",
      });
    }
    return DEV_SITE_URL;
  }
  // The configured value as written (validated above), minus trailing slashes.
  return readEnv("SITE_URL")!.replace(/\/+$/, "");
}

/** `Date.now()` in whole `bucketMs` steps: the time part of bucketed idempotency keys. */
export function timeBucket(bucketMs: number): number {
  return Math.floor(Date.now() / bucketMs);
}

/**
 * The account owned by `ownerKey`, for an action. The app's wrapper has
 * already checked the caller and resolved their owner key.
 * @throws `NOT_FOUND` when no account has that owner key yet (`accounts.ensure`
 *   has not run).
 */
export async function requireAccount(ctx: ActionCtx, ownerKey: string): Promise<CallerAccount> {
  const account = await ctx.runQuery(internal.accounts.forActions, { ownerKey });
  if (!account) failAccountNotSetUp();
  return account;
}

/**
 * Refuses anything that is not a purchase of a purchasable tier strictly
 * above the account's current tier, and refuses a second subscription while
 * Stripe still bills one (plan changes go through the Portal).
 * @throws `NOT_AN_UPGRADE` (`tier` = the requested tier).
 */
export function assertUpgrade(account: CallerAccount, tier: Tier): asserts tier is PaidTier {
  const plan = PLANS[tier];
  if (!plan.purchasable || !plan.prices) {
    fail("NOT_AN_UPGRADE", `The ${plan.name} plan cannot be bought.`, { tier });
  }
  if (tierRank(tier) <= tierRank(account.tier)) {
    fail("NOT_AN_UPGRADE", `You are already on ${PLANS[account.tier].name}; ${plan.name} is not an upgrade.`, { tier });
  }
  if (account.hasBillableSubscription) {
    fail("NOT_AN_UPGRADE", "You already have a subscription. Change plans or fix payment from the billing portal.", {
      tier,
    });
  }
}

/**
 * The account's Stripe customer, creating it (idempotently, with
 * `metadata.accountId`) and linking it on first use.
 *
 * With `STRIPE_TEST_CLOCKS=per_customer` (test keys only; the demo sets it)
 * the new customer lives on its own test clock, created first at the current
 * time and named after the account, so the demo can advance one customer's
 * time (renewals, dunning) without touching anyone else's.
 */
export async function ensureCustomer(ctx: ActionCtx, stripe: Stripe, account: CallerAccount): Promise<string> {
  if (account.stripeCustomerId) return account.stripeCustomerId;
  const suffix = account.deletedCustomerId ? `:after:${account.deletedCustomerId}` : "";
  let key = `${customerCreateKey(account.accountId)}${suffix}`;
  let testClock: string | undefined;
  if (testClocksPerCustomer()) {
    // The clock starts at the minute's start so a retry within the minute
    // sends the same parameters (and gets the same clock back); the customer
    // key then names the clock, since a clock from a later retry is a
    // different parameter.
    const minute = timeBucket(CHECKOUT_KEY_BUCKET_MS);
    const clock = await stripeWrite(
      "testHelpers.testClocks.create",
      `test-clock:${account.accountId}${suffix}:${minute}`,
      (options) =>
        stripe.testHelpers.testClocks.create(
          { frozen_time: (minute * CHECKOUT_KEY_BUCKET_MS) / 1000, name: `account ${account.accountId}` },
          options,
        ),
    );
    testClock = clock.id;
    key = `${key}:clock:${clock.id}`;
  }
  const customer = await stripeWrite("customers.create", key, (options) =>
    stripe.customers.create(
      {
        email: account.email ?? undefined,
        name: account.name ?? undefined,
        metadata: { accountId: account.accountId },
        ...(testClock ? { test_clock: testClock } : {}),
      },
      options,
    ),
  );
  // The mutation returns the customer that won if another request linked one
  // first; use that one so the account keeps a single customer.
  return await ctx.runMutation(internal.accounts.linkCustomer, {
    accountId: account.accountId,
    stripeCustomerId: customer.id,
  });
}

export type ResolvedPrice = {
  id: string;
  /** Minor units of `currency`: the price's own amount, or its `currency_options` entry. */
  unitAmount: number | null;
  currency: string;
  recurringInterval: string | null;
};

/**
 * Looks an active price up by lookup key on Stripe, in `currency` (lower
 * case; default: the price's own currency): its `currency_options` are
 * expanded so the amount is the one Checkout charges in that currency.
 * @throws `PRICE_NOT_FOUND` when no active price has that key, it is not
 *   the kind expected (recurring with `interval`, or one-off), or it is not
 *   sold in `currency`.
 */
export async function resolvePrice(
  stripe: Stripe,
  lookupKey: string,
  expected: { recurring: Interval } | { oneOff: true },
  currency?: string,
): Promise<ResolvedPrice> {
  const list = await stripeRead("prices.list", () =>
    stripe.prices.list({
      lookup_keys: [lookupKey],
      active: true,
      expand: ["data.product", ...(currency && !isDefaultCurrency(currency) ? ["data.currency_options"] : [])],
      limit: 1,
    }),
  );
  const price = list.data[0];
  if (!price) {
    fail("PRICE_NOT_FOUND", `No active Stripe price has the lookup key "${lookupKey}". Run the seed script.`);
  }
  const recurringInterval = price.recurring?.interval ?? null;
  const matches = "recurring" in expected ? recurringInterval === expected.recurring : recurringInterval === null;
  if (!matches) {
    fail("PRICE_NOT_FOUND", `The Stripe price for "${lookupKey}" is not the expected kind of price.`);
  }
  if (!currency || currency === price.currency) {
    return { id: price.id, unitAmount: price.unit_amount ?? null, currency: price.currency, recurringInterval };
  }
  const option = price.currency_options?.[currency];
  if (!option) {
    fail("PRICE_NOT_FOUND", `The Stripe price for "${lookupKey}" is not sold in ${currency.toUpperCase()}. Run the seed script.`);
  }
  return { id: price.id, unitAmount: option.unit_amount ?? null, currency, recurringInterval };
}

/**
 * The metered overage line for a subscription to `tier` every `interval`:
 * only plans with an overage policy, on the meter price's interval
 * (monthly; a yearly plan blocks overage, since all of a classic
 * subscription's prices share one interval). `null` when the plan has
 * none, or Stripe has no such price (the seed script was not run): the plan
 * is still sold, and its overage stays blocked (`account.overageBillable`).
 */
async function overageLineItem(
  stripe: Stripe,
  tier: Tier,
  interval: Interval,
  currency: string,
): Promise<{ price: string } | null> {
  if (!PLANS[tier].overage || interval !== OVERAGE_METER.price.interval) return null;
  try {
    return { price: (await resolvePrice(stripe, OVERAGE_METER.price.lookupKey, { recurring: interval }, currency)).id };
  } catch (error) {
    if (!isBillingError(error, "PRICE_NOT_FOUND")) throw error;
    console.warn(`Checkout without the overage price: ${error.data.message}`);
    return null;
  }
}

/** `TRIAL_ALREADY_USED` when the person, not the account, already had one. */
export const PERSON_TRIAL_USED_MESSAGE =
  "You've already had your free trial: there is one per person, on any account or organisation. Subscribe to continue.";

/**
 * Refuses a trial the plan does not offer (`INVALID_ARGUMENT`) or an account
 * that already had one (`TRIAL_ALREADY_USED`), before anything is created
 * at Stripe. Returns the plan's trial policy.
 */
export function assertTrialAvailable(account: CallerAccount, tier: PaidTier): TrialPolicy {
  const trial = PLANS[tier].trial;
  if (!trial) fail("INVALID_ARGUMENT", `The ${PLANS[tier].name} plan has no free trial.`, { tier });
  if (account.trialUsedAt !== null) {
    fail("TRIAL_ALREADY_USED", "This account has already had its free trial. Subscribe to continue.", { tier });
  }
  return trial;
}

/**
 * Whether the Stripe customer already had a trial on any subscription, in
 * any status (`GET /v1/subscriptions?customer=…&status=all`, newest 100):
 * the trial-start time (ms) of one, or null. Covers trials our mirror never
 * saw (events lost, a customer linked later).
 */
async function customerTrialStartedAt(stripe: Stripe, customer: string): Promise<number | null> {
  const list = await stripeRead("subscriptions.list", () => stripe.subscriptions.list({ customer, status: "all", limit: 100 }));
  const trialed = list.data.find((subscription) => subscription.trial_start !== null);
  return trialed?.trial_start ? trialed.trial_start * 1000 : null;
}

/**
 * The Checkout parameters that start `trial` (docs/TRIALS.md):
 * `trial_period_days`, and `trial_settings.end_behavior.missing_payment_method`;
 * a card-less trial adds `payment_method_collection: "if_required"` (Checkout
 * asks for no card when nothing is due today).
 */
export function trialCheckoutParams(trial: TrialPolicy): {
  subscription_data: Pick<Stripe.Checkout.SessionCreateParams.SubscriptionData, "trial_period_days" | "trial_settings">;
  payment_method_collection?: "if_required";
} {
  return {
    subscription_data: {
      trial_period_days: trial.days,
      trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } },
    },
    ...(trial.cardRequired ? {} : { payment_method_collection: "if_required" as const }),
  };
}

/**
 * Creates a subscription-mode Checkout Session for an upgrade to `tier`
 * billed every `interval`, starting the plan's free trial when `trial` is
 * set. An organisation on a per-seat plan buys `checkoutQuantity` seats
 * (`seats` chosen by the admin, `members` counted by the app; docs/SEATS.md);
 * everyone else buys one. See `checkout.createCheckoutSession`.
 */
export async function createSubscriptionCheckout(
  ctx: ActionCtx,
  args: {
    ownerKey: string;
    tier: Tier;
    interval: Interval;
    currency?: string;
    trial?: boolean;
    seats?: number;
    members?: number;
    /** The app's stable id of the person starting a trial (never client-sent); stamped on the trial subscription. */
    personKey?: string;
  },
): Promise<{ url: string }> {
  const account = await requireAccount(ctx, args.ownerKey);
  const { tier, interval } = args;
  assertUpgrade(account, tier);
  // Refused (INVALID_ARGUMENT) before anything is created at Stripe.
  const kind: "personal" | "organization" = await ctx.runQuery(internal.seats.accountKind, { accountId: account.accountId });
  const quantity = checkoutQuantity(kind, tier, { seats: args.seats, members: args.members });
  const trial = args.trial ? assertTrialAvailable(account, tier) : null;
  // One trial per person, on any account (docs/TRIALS.md), before Stripe.
  if (trial && args.personKey !== undefined) {
    const used: boolean = await ctx.runQuery(internal.trials.personTrialUsed, { personKey: args.personKey });
    if (used) fail("TRIAL_ALREADY_USED", PERSON_TRIAL_USED_MESSAGE, { tier });
  }
  const currency = await accountCheckoutCurrency(ctx, account, args.currency);
  const lookupKey = PLANS[tier].prices![interval].lookupKey;
  const stripe = getStripe();
  const base = siteUrl();
  const price = await resolvePrice(stripe, lookupKey, { recurring: interval }, currency);
  await ctx.runMutation(internal.accounts.upsertPrice, {
    stripePriceId: price.id,
    lookupKey,
    tier,
    interval,
    unitAmount: price.unitAmount ?? undefined,
    currency: price.currency,
  });
  const metered = await overageLineItem(stripe, tier, interval, currency);
  const customer = await ensureCustomer(ctx, stripe, account);
  if (trial) {
    // One trial per Stripe customer too, whatever our mirror saw.
    const trialedAt = await customerTrialStartedAt(stripe, customer);
    if (trialedAt !== null) {
      await ctx.runMutation(internal.accounts.markTrialUsed, { accountId: account.accountId, trialUsedAt: trialedAt });
      fail("TRIAL_ALREADY_USED", "This account has already had its free trial. Subscribe to continue.", { tier });
    }
  }
  const trialParams = trial ? trialCheckoutParams(trial) : null;
  const metadata = { accountId: account.accountId, tier, interval, lookupKey, ...(quantity !== 1 ? { seats: String(quantity) } : {}) };
  const seatsPart = quantity !== 1 ? `seats-${quantity}:` : "";
  const key = `checkout:${account.accountId}:${lookupKey}:${currencyKeyPart(currency)}${metered ? "metered:" : ""}${trial ? `trial:${args.personKey ?? ""}:` : ""}${seatsPart}${customer}:${timeBucket(CHECKOUT_KEY_BUCKET_MS)}`;
  const session = await stripeWrite("checkout.sessions.create", key, (options) =>
    stripe.checkout.sessions.create(
      {
        mode: "subscription",
        customer,
        // The price's amount in this currency (its `currency_options`).
        currency,
        client_reference_id: account.accountId,
        metadata,
        subscription_data: {
          // Whose trial it is (`trialUses.personKey`): one trial per person.
          metadata: trial && args.personKey !== undefined ? { ...metadata, [TRIAL_STARTED_BY]: args.personKey } : metadata,
          ...trialParams?.subscription_data,
        },
        ...(trialParams?.payment_method_collection ? { payment_method_collection: trialParams.payment_method_collection } : {}),
        // The plan's quantity is the seats (1 unless per seat). A plan with
        // an overage policy also carries the metered overage price (no
        // quantity: Stripe bills its meter's usage in arrears).
        line_items: [{ price: price.id, quantity }, ...(metered ? [metered] : [])],
        allow_promotion_codes: true,
        ...checkoutTaxParams(),
        success_url: `${base}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${base}/pricing`,
      },
      options,
    ),
  );
  return { url: requireUrl(session.url) };
}

/**
 * Tax parameters of every Checkout Session (subscription and token pack),
 * per https://docs.stripe.com/api/checkout/sessions/create:
 *
 * - `billing_address_collection: "required"`: always a full billing address
 *   (what Stripe Tax locates the customer by);
 * - `tax_id_collection.enabled`: a business may enter its VAT/GST id;
 * - `customer_update: { address: "auto", name: "auto" }`: save the address
 *   and name onto our existing Customer (Stripe requires `address: "auto"`
 *   for automatic tax with an existing customer, and a tax id needs `name`);
 * - `automatic_tax.enabled`: `BILLING_CONFIG.automaticTax` (needs Stripe Tax
 *   enabled with an origin address in the Dashboard; see README "Real keys").
 */
export function checkoutTaxParams(): Pick<
  Stripe.Checkout.SessionCreateParams,
  "billing_address_collection" | "tax_id_collection" | "customer_update" | "automatic_tax"
> {
  return {
    billing_address_collection: "required",
    tax_id_collection: { enabled: true },
    customer_update: { address: "auto", name: "auto" },
    automatic_tax: { enabled: BILLING_CONFIG.automaticTax },
  };
}

/**
 * Creates a payment-mode Checkout Session for a one-off token pack. See
 * `checkout.createTopUpCheckoutSession`.
 */
export async function createTopUpCheckout(
  ctx: ActionCtx,
  args: { ownerKey: string; packId: string; currency?: string },
): Promise<{ url: string }> {
  const account = await requireAccount(ctx, args.ownerKey);
  const pack = tokenPack(args.packId);
  if (!pack) fail("INVALID_ARGUMENT", `Unknown token pack "${args.packId}".`);
  const currency = await accountCheckoutCurrency(ctx, account, args.currency);
  const stripe = getStripe();
  const base = siteUrl();
  const price = await resolvePrice(stripe, pack.lookupKey, { oneOff: true }, currency);
  const customer = await ensureCustomer(ctx, stripe, account);
  const metadata = { accountId: account.accountId, kind: "top_up", packId: pack.id };
  const key = `topup-checkout:${account.accountId}:${pack.id}:${currencyKeyPart(currency)}${customer}:${timeBucket(CHECKOUT_KEY_BUCKET_MS)}`;
  const session = await stripeWrite("checkout.sessions.create", key, (options) =>
    stripe.checkout.sessions.create(
      {
        mode: "payment",
        customer,
        currency,
        client_reference_id: account.accountId,
        metadata,
        // Copied onto the PaymentIntent so the payment itself says what it bought.
        payment_intent_data: { metadata },
        // The customer may tick "save my card" for later purchases
        // (auto-recharge charges it off-session); unticked, nothing is saved.
        saved_payment_method_options: { payment_method_save: "enabled" },
        // A paid invoice as the receipt, listed with the plan invoices
        // (payment-mode Checkout makes one only when asked).
        invoice_creation: {
          enabled: true,
          invoice_data: { description: `${pack.tokens} tokens`, metadata },
        },
        line_items: [{ price: price.id, quantity: 1 }],
        ...checkoutTaxParams(),
        success_url: `${base}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${base}/billing`,
      },
      options,
    ),
  );
  return { url: requireUrl(session.url) };
}

/**
 * The currency a Checkout for `account` charges (`model/currency.ts`): the
 * one Stripe already bills the account in, else `requested`, else USD.
 * @throws `CURRENCY_LOCKED` when `requested` differs from the billed one,
 *   before anything is created at Stripe.
 */
async function accountCheckoutCurrency(ctx: ActionCtx, account: CallerAccount, requested: string | undefined): Promise<string> {
  const { billedCurrency } = await ctx.runQuery(internal.checkout.accountCurrency, { accountId: account.accountId });
  return checkoutCurrency(billedCurrency, requested);
}

/**
 * Creates a Customer Portal session for the caller's own customer, read from
 * the database only. See `checkout.createPortalSession`.
 */
export async function createPortal(ctx: ActionCtx, args: { ownerKey: string }): Promise<{ url: string }> {
  const account = await requireAccount(ctx, args.ownerKey);
  const customer = account.stripeCustomerId;
  if (!customer) {
    fail("NO_CUSTOMER", "There is no billing profile yet. Choose a plan first; the billing portal opens after your first purchase.");
  }
  const stripe = getStripe();
  const base = siteUrl();
  const configuration = await portalConfigurationId(stripe);
  const key = `portal:${account.accountId}:${customer}:${timeBucket(PORTAL_KEY_BUCKET_MS)}`;
  const session = await stripeWrite("billingPortal.sessions.create", key, (options) =>
    stripe.billingPortal.sessions.create({ customer, configuration, return_url: `${base}/billing` }, options),
  );
  return { url: requireUrl(session.url) };
}

/**
 * The Customer Portal configuration to open: `STRIPE_PORTAL_CONFIGURATION_ID`
 * when set, else the active configuration whose `metadata.app` is
 * `PORTAL_CONFIGURATION_APP` (made by `npm run seed:stripe`). One list call.
 * @throws `STRIPE_NOT_CONFIGURED` (`variable: "STRIPE_PORTAL_CONFIGURATION_ID"`)
 *   when there is none, rather than Stripe's raw "no default configuration".
 */
export async function portalConfigurationId(stripe: Stripe): Promise<string> {
  const fromEnv = portalConfigurationIdFromEnv();
  if (fromEnv) return fromEnv;
  const list = await stripeRead("billingPortal.configurations.list", () =>
    stripe.billingPortal.configurations.list({ active: true, limit: 100 }),
  );
  const found = list.data.find((c) => c.metadata?.app === PORTAL_CONFIGURATION_APP);
  if (!found) {
    fail(
      "STRIPE_NOT_CONFIGURED",
      "The billing portal is not set up: run `npm run seed:stripe` (or set STRIPE_PORTAL_CONFIGURATION_ID).",
      { variable: "STRIPE_PORTAL_CONFIGURATION_ID" },
    );
  }
  return found.id;
}

function requireUrl(url: string | null | undefined): string {
  if (!url) fail("STRIPE_ERROR", "Stripe did not return a URL for the session. Try again.");
  return url;
}

/** The idempotency key of an account's first customer creation. */
export function customerCreateKey(accountId: Id<"billingAccounts">): string {
  return `customer-create:${accountId}`;
}
