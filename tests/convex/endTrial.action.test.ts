/**
 * `billing.previewEndTrial` / `billing.endTrialNow` (docs/TRIALS.md, "Ending
 * a trial early") against the Stripe simulator: a real Checkout trial, the
 * preview's amounts, the request Stripe gets (`trial_end: "now"` with
 * `pending_if_incomplete`, the idempotency key), the webhooks that follow,
 * and the refusals (not trialing, no card, not an admin, signed out).
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type Stripe from "stripe";
import type { StripeSimulator } from "@offline/stripe-sim";
import { payCheckout } from "@offline/stripe-sim/testing";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { PLANS, type PaidTier } from "../../convex/billing/model/plans";
import { alice, bob, expectCode, inOrg, seedAccount, type TestConvex } from "./billingFixtures";
import { account, balance, ledgerRows } from "./fixtures/webhookHarness";
import { deliverSimulatorEvents, simulatorEvents, startSeededSimulator, stopSimulator } from "./fixtures/simulator";
import { makeTest } from "./setup";

const KEY = "sk_test_end_trial";
let sim: StripeSimulator;
let client: Stripe;

beforeEach(async () => {
  ({ sim, client } = await startSeededSimulator(KEY));
});
afterEach(() => stopSimulator(sim));

/** Delivers every simulator event after the first `from`; returns how many there are now. */
const deliverSince = (t: TestConvex, from: number): Promise<number> => deliverSimulatorEvents(t, client, from);

const eventsSince = (from: number): Promise<Stripe.Event[]> => simulatorEvents(client, from);

type Trial = { t: TestConvex; accountId: Id<"billingAccounts">; subId: string; delivered: number };

/** Alice's account on a 14-day trial of `tier` through hosted Checkout: with `card`, or card-less. */
async function startTrial(tier: PaidTier, card: string | null): Promise<Trial> {
  const t = makeTest();
  const customer = await client.customers.create({ email: alice.email });
  const accountId = await seedAccount(t, alice, { stripeCustomerId: customer.id });
  const price = (await client.prices.list({ lookup_keys: [PLANS[tier].prices!.month.lookupKey], active: true })).data[0]!;
  const session = await client.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    client_reference_id: accountId,
    metadata: { accountId },
    line_items: [{ price: price.id, quantity: 1 }],
    subscription_data: { trial_period_days: 14 },
    ...(card ? {} : { payment_method_collection: "if_required" as const }),
    success_url: "https://app.example.test/billing/success",
  });
  const res = card ? await payCheckout(sim, session, card) : await fetch(`${sim.url}/checkout/${session.id}/pay`, { method: "POST", body: new URLSearchParams({ email: alice.email }), redirect: "manual" });
  expect(res.status).toBe(303);
  const delivered = await deliverSince(t, 0);
  const subId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;
  expect(await account(t, accountId)).toMatchObject({ tier });
  return { t, accountId, subId, delivered };
}

async function grants(t: TestConvex, accountId: Id<"billingAccounts">): Promise<number[]> {
  return (await ledgerRows(t, accountId)).filter((row) => row.reason === "period_grant").map((row) => row.amount);
}

describe("ending a trial early", () => {
  test("preview: the full month charged now, the renewal a month from now, the paid allowance; nothing changes", async () => {
    const { t, subId } = await startTrial("pro", "4242424242424242");
    const before = await client.subscriptions.retrieve(subId);
    const preview = await t.withIdentity(alice).action(api.billing.previewEndTrial, {});
    expect(preview).toMatchObject({
      tier: "pro",
      interval: "month",
      currency: "usd",
      dueNow: 2900,
      trialEnd: before.trial_end! * 1000,
      allowance: PLANS.pro.tokensPerPeriod,
      trialAllowance: PLANS.pro.trial!.tokens,
    });
    const monthAhead = preview.nextRenewalAt - Date.now();
    expect(monthAhead).toBeGreaterThan(27 * 86_400_000);
    expect(monthAhead).toBeLessThan(32 * 86_400_000);
    expect(await client.subscriptions.retrieve(subId)).toMatchObject({ status: "trialing", trial_end: before.trial_end });
  });

  test("paid: Stripe gets trial_end=now with pending_if_incomplete and a keyed request; the webhooks grant Pro's allowance once, anchored now", async () => {
    const { t, accountId, subId, delivered } = await startTrial("pro", "4242424242424242");
    const result = await t.withIdentity(alice).action(api.billing.endTrialNow, {});
    expect(result).toMatchObject({ status: "paid", hostedInvoiceUrl: null });
    const live = await client.subscriptions.retrieve(subId);
    expect(live.status).toBe("active");
    expect(live.pending_update).toBeNull();
    const events = await eventsSince(delivered);
    const updated = events.find((e) => e.type === "customer.subscription.updated")!;
    expect(updated.request?.idempotency_key).toMatch(new RegExp(`^end-trial:${accountId}:${subId}:\\d+$`));
    const paid = events.find((e) => e.type === "invoice.paid")!.data.object;
    expect(paid).toMatchObject({ billing_reason: "subscription_update", amount_paid: 2900 });

    await deliverSince(t, delivered);
    const b = await balance(t, accountId);
    expect(await account(t, accountId)).toMatchObject({ tier: "pro" });
    expect(b).toMatchObject({ allowance: PLANS.pro.tokensPerPeriod, periodKey: `window:${live.trial_end! * 1000}` });
    expect(await grants(t, accountId)).toEqual([PLANS.pro.trial!.tokens, PLANS.pro.tokensPerPeriod]);

    // The trial is over: a second click is refused from the database, nothing sent.
    const after = (await eventsSince(0)).length;
    await expectCode(t.withIdentity(alice).action(api.billing.endTrialNow, {}), "NOT_TRIALING");
    await expectCode(t.withIdentity(alice).action(api.billing.previewEndTrial, {}), "NOT_TRIALING");
    expect((await eventsSince(0)).length).toBe(after);
  });

  test("a declined card keeps the trial unchanged: nothing granted, the trial allowance and tier stay", async () => {
    const { t, accountId, subId, delivered } = await startTrial("pro", "4000000000000341");
    const before = await client.subscriptions.retrieve(subId);
    const result = await t.withIdentity(alice).action(api.billing.endTrialNow, {});
    expect(result.status).toBe("payment_failed");
    expect(result.message).toMatch(/trial continues/);
    const live = await client.subscriptions.retrieve(subId);
    expect(live).toMatchObject({ status: "trialing", trial_end: before.trial_end });
    expect(live.pending_update?.trial_end).toBeGreaterThan(0);

    await deliverSince(t, delivered);
    expect(await account(t, accountId)).toMatchObject({ tier: "pro" });
    expect(await balance(t, accountId)).toMatchObject({ allowance: PLANS.pro.trial!.tokens, periodKey: `trial:${subId}` });
    expect(await grants(t, accountId)).toEqual([PLANS.pro.trial!.tokens]);
  });

  test("a card that needs 3-D Secure: requires_action with the invoice's hosted page; the trial runs on until it is confirmed", async () => {
    const { t, subId } = await startTrial("pro", "4000002760003184");
    const result = await t.withIdentity(alice).action(api.billing.endTrialNow, {});
    expect(result.status).toBe("requires_action");
    expect(result.hostedInvoiceUrl).toMatch(/\/invoice\/in_/);
    expect(result.message).toMatch(/trial continues until you do/);
    expect((await client.subscriptions.retrieve(subId)).status).toBe("trialing");
  });

  test("no card on file: NO_PAYMENT_METHOD, nothing sent to Stripe", async () => {
    const { t, subId, delivered } = await startTrial("starter", null);
    await expectCode(t.withIdentity(alice).action(api.billing.previewEndTrial, {}), "NO_PAYMENT_METHOD");
    const data = await expectCode(t.withIdentity(alice).action(api.billing.endTrialNow, {}), "NO_PAYMENT_METHOD");
    expect(data.message).toMatch(/add a card/i);
    expect((await eventsSince(0)).length).toBe(delivered);
    expect((await client.subscriptions.retrieve(subId)).status).toBe("trialing");
  });

  test("no subscription: NO_SUBSCRIPTION; signed out: UNAUTHENTICATED", async () => {
    const t = makeTest();
    await seedAccount(t, alice, { stripeCustomerId: "cus_none" });
    await expectCode(t.withIdentity(alice).action(api.billing.endTrialNow, {}), "NO_SUBSCRIPTION");
    await expectCode(t.action(api.billing.endTrialNow, {}), "UNAUTHENTICATED");
    await expectCode(t.action(api.billing.previewEndTrial, {}), "UNAUTHENTICATED");
  });

  test("an organisation member (not an admin): FORBIDDEN before the component is called", async () => {
    const t = makeTest();
    const admin = inOrg(alice, "org_trialco", "org:admin", "Trial Co");
    const member = inOrg(bob, "org_trialco", "org:member", "Trial Co");
    for (const identity of [admin, member]) await t.withIdentity(identity).mutation(api.users.store, {});
    await expectCode(t.withIdentity(member).action(api.billing.previewEndTrial, {}), "FORBIDDEN");
    await expectCode(t.withIdentity(member).action(api.billing.endTrialNow, {}), "FORBIDDEN");
    // The admin gets past the role check (the organisation has no subscription).
    await expectCode(t.withIdentity(admin).action(api.billing.endTrialNow, {}), "NO_SUBSCRIPTION");
  });

  test("the client cannot name a subscription, a price or a customer", async () => {
    const t = makeTest();
    await seedAccount(t, alice, {});
    for (const extra of [{ subscriptionId: "sub_x" }, { price: "price_x" }, { customer: "cus_x" }]) {
      await expect(t.withIdentity(alice).action(api.billing.endTrialNow, extra as never)).rejects.toThrow(/Validator error/);
    }
  });
});
