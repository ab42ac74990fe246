/**
 * Deleting an organisation in Clerk ends its billing (docs/ORGANISATIONS.md):
 * `organization.deleted` removes the members and schedules
 * `orgMemberships.cancelDeletedOrganization`, which cancels the
 * subscription at the period end on Stripe (here the simulator); the
 * cancellation's own webhooks then mirror it. Nothing to cancel is not an
 * error.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type Stripe from "stripe";
import type { StripeSimulator } from "@offline/stripe-sim";
import { payCheckout } from "@offline/stripe-sim/testing";
import { internal } from "../../convex/_generated/api";
import { runInBilling } from "../lib/billingComponent";
import { seedOrgAccount, type TestConvex } from "./billingFixtures";
import { deliverSimulatorEvents, startSeededSimulator, stopSimulator } from "./fixtures/simulator";
import { makeTest } from "./setup";

const KEY = "sk_test_org_deletion";
const ORG = "org_deleted";

let sim: StripeSimulator;
let client: Stripe;

// No webhook endpoint: each test delivers the simulator's events itself, in the order it wants.
beforeEach(async () => {
  ({ sim, client } = await startSeededSimulator(KEY));
});
afterEach(() => stopSimulator(sim));

/** Delivers every simulator event after the first `from`; returns how many there are now. */
const deliverSince = (t: TestConvex, from: number): Promise<number> => deliverSimulatorEvents(t, client, from);

describe("organization.deleted", () => {
  test("cancels the organisation's subscription at the period end; its webhooks mirror the cancellation", async () => {
    const t = makeTest();
    const accountId = await seedOrgAccount(t, ORG);
    const price = (await client.prices.list({ lookup_keys: ["pro_monthly"], active: true })).data[0]!;
    const customer = await client.customers.create({ name: "Deleted Org" });
    const session = await client.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      client_reference_id: accountId,
      metadata: { accountId },
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://app.example.test/billing/success",
      cancel_url: "https://app.example.test/pricing",
    });
    expect((await payCheckout(sim, session, "4242424242424242")).status).toBe(303);
    const delivered = await deliverSince(t, 0);
    const subscriptionId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;

    // The webhook's mutation schedules the cancellation, which runs at once.
    await t.mutation(internal.orgMemberships.removeOrganization, { clerkOrgId: ORG, eventAt: Date.now() });
    await t.finishAllScheduledFunctions(() => {});
    const live = await client.subscriptions.retrieve(subscriptionId);
    expect(live.cancel_at_period_end).toBe(true);
    expect(live.status).toBe("active");
    expect(live.cancellation_details?.comment).toBe("The organisation was deleted in Clerk.");
    // Run again (a redelivered event): the same cancellation, when the period ends.
    const result = await t.action(internal.orgMemberships.cancelDeletedOrganization, { clerkOrgId: ORG });
    expect(result?.cancelAt).toBe(live.items.data[0]!.current_period_end * 1000);

    await deliverSince(t, delivered);
    const mirror = await runInBilling(t, async (ctx) =>
      await ctx.db.query("subscriptions").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).first(),
    );
    expect(mirror?.cancelAtPeriodEnd).toBe(true);
  });

  test("nothing to cancel (no account, or an account without a subscription) returns null and calls Stripe for nothing", async () => {
    const t = makeTest();
    expect(await t.action(internal.orgMemberships.cancelDeletedOrganization, { clerkOrgId: "org_never_billed" })).toBeNull();
    await seedOrgAccount(t, ORG);
    expect(await t.action(internal.orgMemberships.cancelDeletedOrganization, { clerkOrgId: ORG })).toBeNull();
  });
});
