/**
 * Shared pieces for the Stripe simulator tests: a seeded simulator wired to a
 * verifying receiver (src/testing.ts), and helpers that create checkouts,
 * subscriptions and Portal sessions the way the app's backend does.
 */
import type Stripe from "stripe";
import { startStripeSimulator, type StripeSimulator, type StripeSimulatorOptions } from "../src/index.ts";
import { payCheckout, postForm, startReceiver, type Receiver } from "../src/testing.ts";
import { seedTestCatalog } from "./catalog.ts";

export { payCheckout, postForm, startReceiver, type Receiver };

export type Harness = {
  sim: StripeSimulator;
  stripe: Stripe;
  receiver: Receiver;
  secret: string;
  /** Back to a freshly seeded simulator, with the receiver's log emptied once the seed's events are in. */
  reset: () => Promise<void>;
  close: () => Promise<void>;
};

/** A seeded simulator on a free port delivering to a verifying receiver. */
export async function startHarness(options: StripeSimulatorOptions = {}): Promise<Harness> {
  const secret = "whsec_test_simulator_secret";
  const receiver = await startReceiver(secret);
  const sim = await startStripeSimulator({
    port: 0,
    seeder: seedTestCatalog,
    seed: true,
    webhookUrl: receiver.url,
    webhookSecret: secret,
    retryDelaysMs: [20, 40, 80],
    ...options,
  });
  // Seeding emits product/price events; tests look at what follows.
  const forgetSeedEvents = async () => {
    await sim.waitForDeliveries();
    receiver.events.length = 0;
    receiver.requests.length = 0;
  };
  await forgetSeedEvents();
  return {
    sim,
    stripe: sim.stripe("sk_test_harness"),
    receiver,
    secret,
    reset: async () => {
      await sim.reset({ seed: true });
      await forgetSeedEvents();
    },
    close: async () => {
      await sim.close();
      await receiver.close();
    },
  };
}

export async function priceId(stripe: Stripe, lookupKey: string): Promise<string> {
  const list = await stripe.prices.list({ lookup_keys: [lookupKey], active: true });
  const price = list.data[0];
  if (!price) throw new Error(`no price for ${lookupKey}`);
  return price.id;
}

/** What the backend sends for a subscription upgrade (convex/billing/model/billingActions.ts). */
export async function subscriptionCheckout(
  stripe: Stripe,
  customer: string,
  lookupKey = "pro_monthly",
  extra: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Promise<Stripe.Checkout.Session> {
  const metadata = { accountId: "acct_1", tier: "pro", interval: "month", lookupKey };
  return stripe.checkout.sessions.create({
    mode: "subscription",
    customer,
    client_reference_id: "acct_1",
    metadata,
    subscription_data: { metadata },
    line_items: [{ price: await priceId(stripe, lookupKey), quantity: 1 }],
    allow_promotion_codes: true,
    success_url: "http://127.0.0.1:5173/billing/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "http://127.0.0.1:5173/pricing",
    ...extra,
  });
}

/** Creates a customer, pays a subscription Checkout with `card`, and returns the subscription. */
export async function subscribe(
  h: Harness,
  opts: { card?: string; lookupKey?: string; testClock?: string } = {},
): Promise<{ customer: Stripe.Customer; subscription: Stripe.Subscription; session: Stripe.Checkout.Session }> {
  const customer = await h.stripe.customers.create({
    email: "buyer@example.com",
    metadata: { accountId: "acct_1" },
    ...(opts.testClock ? { test_clock: opts.testClock } : {}),
  });
  const session = await subscriptionCheckout(h.stripe, customer.id, opts.lookupKey);
  let res = await payCheckout(h.sim, session, opts.card ?? "4242424242424242");
  if (res.status !== 303) throw new Error(`checkout failed: ${res.status} ${await res.text()}`);
  const location = res.headers.get("location") ?? "";
  // A 3-D Secure card: approve the challenge as the customer would.
  if (location.startsWith("/3ds/")) res = await postForm(`${h.sim.url}${location}`, { action: "approve" });
  if (res.status !== 303) throw new Error(`3-D Secure failed: ${res.status}`);
  const done = await h.stripe.checkout.sessions.retrieve(session.id);
  const subscription = await h.stripe.subscriptions.retrieve(done.subscription as string);
  await h.sim.waitForDeliveries();
  return { customer, subscription, session: done };
}

export async function simPost(sim: StripeSimulator, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${sim.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * A Billing Portal configuration like the product's: switches between every
 * active recurring price of the catalogue (grouped by product), cancel,
 * card update and invoice history. `overrides` replaces whole features.
 */
export async function createPortalConfiguration(
  stripe: Stripe,
  overrides: Partial<Stripe.BillingPortal.ConfigurationCreateParams.Features> = {},
): Promise<Stripe.BillingPortal.Configuration> {
  const prices = await stripe.prices.list({ active: true, type: "recurring", limit: 100 });
  const byProduct = new Map<string, string[]>();
  for (const p of prices.data) {
    const product = typeof p.product === "string" ? p.product : p.product.id;
    byProduct.set(product, [...(byProduct.get(product) ?? []), p.id]);
  }
  return stripe.billingPortal.configurations.create({
    business_profile: { headline: "Simulator billing" },
    features: {
      subscription_update: {
        enabled: true,
        default_allowed_updates: ["price"],
        proration_behavior: "always_invoice",
        products: [...byProduct].map(([product, ids]) => ({ product, prices: ids })),
      },
      subscription_cancel: { enabled: true, mode: "at_period_end" },
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
      ...overrides,
    },
  });
}

/** A portal session for `customer` under `configuration` (created like the product's when omitted); returns its URL. */
export async function openPortal(h: Harness, customer: string, configuration?: string): Promise<string> {
  const config = configuration ?? (await createPortalConfiguration(h.stripe)).id;
  const session = await h.stripe.billingPortal.sessions.create({ customer, configuration: config, return_url: "http://127.0.0.1:5173/billing" });
  return session.url;
}
