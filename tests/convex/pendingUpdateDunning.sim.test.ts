/**
 * The declined "end trial now" against the Stripe simulator, end to end
 * (docs/DUNNING.md, "Declined plan changes are not dunning"): the card is
 * declined, Stripe keeps the trial and holds the change in `pending_update`
 * with its invoice open. Regression: delivering the simulator's webhooks
 * made the account overdue with a day-0 "Your payment failed" notice.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type Stripe from "stripe";
import type { StripeSimulator } from "@offline/stripe-sim";
import { payCheckout } from "@offline/stripe-sim/testing";
import { api } from "../../convex/_generated/api";
import { PLANS } from "../../convex/billing/model/plans";
import { alice, seedAccount, type TestConvex } from "./billingFixtures";
import { account, invoiceRows, notificationsOfKinds } from "./fixtures/webhookHarness";
import { deliverSimulatorEvents, startSeededSimulator, stopSimulator } from "./fixtures/simulator";
import { makeTest } from "./setup";

const KEY = "sk_test_pending_dunning";
const DUNNING_KINDS = new Set(["payment_failed", "dunning_reminder", "dunning_suspended", "dunning_restricted"]);
let sim: StripeSimulator;
let client: Stripe;

beforeEach(async () => {
  ({ sim, client } = await startSeededSimulator(KEY));
});
afterEach(() => stopSimulator(sim));

/** Delivers every simulator event after the first `from`; returns how many there are now. */
const deliverSince = (t: TestConvex, from: number): Promise<number> => deliverSimulatorEvents(t, client, from);

describe("declined end-trial-now against the simulator", () => {
  test("the trial continues, the invoice stays open as a pending update: no overdue, no 'Your payment failed'", async () => {
    const t = makeTest();
    const customer = await client.customers.create({ email: alice.email });
    const accountId = await seedAccount(t, alice, { stripeCustomerId: customer.id });
    const price = (await client.prices.list({ lookup_keys: [PLANS.pro.prices!.month.lookupKey], active: true })).data[0]!;
    const session = await client.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      client_reference_id: accountId,
      metadata: { accountId },
      line_items: [{ price: price.id, quantity: 1 }],
      subscription_data: { trial_period_days: 14 },
      success_url: "https://app.example.test/billing/success",
    });
    // Attaches, then declines every charge (insufficient funds).
    expect((await payCheckout(sim, session, "4000000000000341")).status).toBe(303);
    const delivered = await deliverSince(t, 0);
    const subId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;

    const result = await t.withIdentity(alice).action(api.billing.endTrialNow, {});
    expect(result.status).toBe("payment_failed");
    const live = await client.subscriptions.retrieve(subId);
    expect(live.status).toBe("trialing");
    expect(live.pending_update).not.toBeNull();
    const invoiceId = live.latest_invoice as string;

    await deliverSince(t, delivered);
    const row = await account(t, accountId);
    expect(row).toMatchObject({ tier: "pro" });
    expect([row.dunningEpisode, row.dunningStage, row.overdueSince]).toEqual([undefined, undefined, undefined]);
    expect((await notificationsOfKinds(t, accountId, DUNNING_KINDS)).map((n) => n.title)).toEqual([]);
    expect((await invoiceRows(t, invoiceId))[0]).toMatchObject({ status: "open", pendingUpdate: true, billingReason: "subscription_update" });
  });
});
