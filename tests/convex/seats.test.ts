/**
 * Seats on per-seat plans (docs/SEATS.md) against the Stripe simulator: the
 * subscription quantity mirrored, the allowance scaling with paid seats,
 * the prorated preview and the change (idempotent), members mode, the
 * delivery order of the seat change's events, and who may call.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { StripeSimulator } from "@offline/stripe-sim";
import { payCheckout } from "@offline/stripe-sim/testing";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { checkoutQuantity } from "../../convex/billing/model/seats";
import { PLANS, seatAllowance } from "../../convex/billing/model/plans";
import { runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, inOrg, seedAccount, seedOrgAccount, type TestConvex } from "./billingFixtures";
import { deliverSimulatorEvents, simulatorEvents, startSeededSimulator, stopSimulator } from "./fixtures/simulator";
import { makeTest } from "./setup";

const KEY = "sk_test_seats_sim";
const ORG = "org_seats";
const admin = inOrg(alice, ORG, "org:admin");
const member = inOrg(bob, ORG, "org:member");

let sim: StripeSimulator;
let client: Stripe;

// No webhook endpoint: each test delivers the simulator's events itself, in the order it wants.
beforeEach(async () => {
  ({ sim, client } = await startSeededSimulator(KEY));
});
afterEach(() => stopSimulator(sim));

/** The simulator's events so far, oldest first. */
const allEvents = (): Promise<Stripe.Event[]> => simulatorEvents(client);

/** Delivers the simulator's events from index `from` on (in `order`), running their processing; returns the next index. */
const deliverFrom = (t: TestConvex, from: number, order?: (events: Stripe.Event[]) => Stripe.Event[]): Promise<number> =>
  deliverSimulatorEvents(t, client, from, order);

/** An organisation (admin alice, member bob) subscribed to `lookupKey` with `quantity` seats, paid on the simulator. */
async function subscribedOrg(t: TestConvex, lookupKey: string, quantity: number): Promise<{ accountId: Id<"billingAccounts">; subscriptionId: string; delivered: number }> {
  const before = (await allEvents()).length;
  await seedAccount(t, alice);
  await seedAccount(t, bob);
  const accountId = await seedOrgAccount(t, ORG);
  const price = (await client.prices.list({ lookup_keys: [lookupKey], active: true })).data[0]!;
  const customer = await client.customers.create({ name: "Seats Org" });
  const session = await client.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    client_reference_id: accountId,
    metadata: { accountId },
    line_items: [{ price: price.id, quantity }],
    success_url: "https://app.example.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "https://app.example.test/pricing",
  });
  expect((await payCheckout(sim, session, "4242424242424242")).status).toBe(303);
  const delivered = await deliverFrom(t, before);
  const subscriptionId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;
  return { accountId, subscriptionId, delivered };
}

async function seatFacts(t: TestConvex, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) => {
    const subscription = await ctx.db.query("subscriptions").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).first();
    const balance = await ctx.db.query("tokenBalances").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).unique();
    return { quantity: subscription?.quantity, allowance: balance?.allowance, windowSeats: balance?.windowSeats ?? 1 };
  });
}

async function recordMember(t: TestConvex, clerkUserId: string, eventAt: number) {
  const role = clerkUserId === alice.subject ? "admin" : "member";
  await t.mutation(internal.orgMemberships.record, { clerkOrgId: ORG, clerkUserId, status: "active", role, eventAt });
}

/**
 * Runs scheduled work until `check` passes: members-mode syncs go through
 * the `seatSyncs` workpool, whose loop waits in 100 ms segments of real time
 * that `finishAllScheduledFunctions` alone does not wait for.
 */
async function settle(t: TestConvex, check: () => Promise<void>): Promise<void> {
  await vi.waitFor(
    async () => {
      await t.finishAllScheduledFunctions(() => {});
      await check();
    },
    { timeout: 15_000, interval: 150 },
  );
}

describe("checkout quantity", () => {
  test("personal accounts and flat plans buy one seat; organisations buy their seats within the plan's range", () => {
    expect(checkoutQuantity("personal", "pro", {})).toBe(1);
    expect(checkoutQuantity("organization", "starter", { members: 4 })).toBe(1);
    expect(checkoutQuantity("organization", "pro", { seats: 5, members: 3 })).toBe(5);
    expect(checkoutQuantity("organization", "pro", { members: 3 })).toBe(3);
    expect(checkoutQuantity("organization", "elite", { seats: 9, members: 4 })).toBe(4);
    expect(() => checkoutQuantity("organization", "pro", { seats: 2, members: 3 })).toThrow(/keep at least 3 seats/);
    expect(() => checkoutQuantity("organization", "pro", { seats: 51 })).toThrow(/between 1 and 50/);
    expect(() => checkoutQuantity("personal", "pro", { seats: 3 })).toThrow(/not sold per seat/);
  });

  test("the allowance is per seat on Pro and scales beyond the first seat on Elite", () => {
    expect(seatAllowance("pro", 1)).toBe(PLANS.pro.tokensPerPeriod);
    expect(seatAllowance("pro", 4)).toBe(4 * PLANS.pro.tokensPerPeriod);
    expect(seatAllowance("elite", 3)).toBe(PLANS.elite.tokensPerPeriod + 2 * 250);
    expect(seatAllowance("starter", 7)).toBe(PLANS.starter.tokensPerPeriod);
  });
});

describe("seats against the simulator", () => {
  test("checkout with 3 seats mirrors quantity 3 and grants 3 seats' allowance once paid", async () => {
    const t = makeTest();
    const { accountId } = await subscribedOrg(t, "pro_monthly", 3);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 3, allowance: 3 * PLANS.pro.tokensPerPeriod, windowSeats: 3 });
    const view = await t.withIdentity(admin).query(api.seats.view, {});
    expect(view).toMatchObject({ perSeat: true, mode: "chosen", seats: 3, paidSeats: 3, members: 1, overCapacity: false, blocked: null });
    expect(await t.withIdentity(member).query(api.seats.view, {})).toBeNull();
  });

  test("an admin previews 5 seats (prorated), confirms, and the seats and allowance follow the paid invoice; a retry charges nothing more", async () => {
    const t = makeTest();
    const { accountId, subscriptionId, delivered } = await subscribedOrg(t, "pro_monthly", 3);
    const preview = await t.withIdentity(admin).action(api.seats.preview, { seats: 5 });
    expect(preview).toMatchObject({ kind: "increase", from: 3, to: 5, currency: "usd", unitAmount: 2900, nextInvoiceAmount: 5 * 2900 });
    // Almost the whole month is left: credit ≈ 3 seats, charge ≈ 5 seats, due ≈ 2 seats.
    expect(preview.prorationCredit).toBeGreaterThan(3 * 2900 - 30);
    expect(preview.dueNow).toBeGreaterThan(2 * 2900 - 30);
    expect(preview.dueNow).toBeLessThanOrEqual(2 * 2900);
    expect(preview.allowanceAfter).toBe(5 * PLANS.pro.tokensPerPeriod);

    const result = await t.withIdentity(admin).action(api.seats.change, { seats: 5, requestId: "dialog-1" });
    expect(result).toMatchObject({ status: "applied", seats: 5 });
    const updateInvoices = async () => (await client.invoices.list({ subscription: subscriptionId, limit: 20 })).data.filter((i) => i.billing_reason === "subscription_update");
    const invoices = await updateInvoices();
    expect(invoices).toHaveLength(1);
    expect(invoices[0]!.amount_paid).toBe(preview.dueNow);

    await deliverFrom(t, delivered);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 5, allowance: 5 * PLANS.pro.tokensPerPeriod, windowSeats: 5 });
    // The same confirm again: Stripe already has 5 seats, nothing is billed twice.
    await expectCode(t.withIdentity(admin).action(api.seats.change, { seats: 5, requestId: "dialog-1" }), "NOT_A_CHANGE");
    expect(await updateInvoices()).toHaveLength(1);

    const audit = await runInBilling(t, async (ctx) => await ctx.db.query("auditLog").collect());
    expect(audit.filter((a) => a.action === "seats.change").map((a) => [a.actor, a.before, a.after])).toEqual([
      [alice.subject, JSON.stringify({ seats: 3 }), JSON.stringify({ seats: 5 })],
    ]);
  });

  test("the seat change's events end in the same state in either delivery order", async () => {
    const results = [];
    for (const order of [(e: Stripe.Event[]) => e, (e: Stripe.Event[]) => [...e].reverse()]) {
      const t = makeTest();
      const { accountId, delivered } = await subscribedOrg(t, "pro_monthly", 2);
      await t.withIdentity(admin).action(api.seats.change, { seats: 4, requestId: `order-${results.length}` });
      await deliverFrom(t, delivered, order);
      results.push(await seatFacts(t, accountId));
    }
    expect(results[0]).toEqual({ quantity: 4, allowance: 4 * PLANS.pro.tokensPerPeriod, windowSeats: 4 });
    expect(results[1]).toEqual(results[0]);
  });

  test("a decrease bills nothing now, keeps this period's paid allowance, and is refused below the member count", async () => {
    const t = makeTest();
    const { accountId, subscriptionId, delivered } = await subscribedOrg(t, "pro_monthly", 4);
    for (const [i, user] of ["user_alice", "user_bob", "user_carol"].entries()) await recordMember(t, user, 1_000 + i);
    await expectCode(t.withIdentity(admin).action(api.seats.preview, { seats: 2 }), "INVALID_ARGUMENT");
    const preview = await t.withIdentity(admin).action(api.seats.preview, { seats: 3 });
    expect(preview).toMatchObject({ kind: "decrease", dueNow: 0, nextInvoiceAmount: 3 * 2900 });
    expect((await t.withIdentity(admin).action(api.seats.change, { seats: 3, requestId: "down-1" })).status).toBe("applied");
    await deliverFrom(t, delivered);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 3, allowance: 4 * PLANS.pro.tokensPerPeriod, windowSeats: 4 });
    const upcoming = await client.invoices.createPreview({ subscription: subscriptionId });
    expect(upcoming.amount_due).toBe(3 * 2900);
    const invoices = (await client.invoices.list({ subscription: subscriptionId, limit: 20 })).data;
    expect(invoices.map((i) => i.billing_reason)).toEqual(["subscription_create"]);
  });

  test("members beyond the seats show over capacity; members are refused; signed out is refused", async () => {
    const t = makeTest();
    await subscribedOrg(t, "pro_monthly", 1);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    expect(await t.withIdentity(admin).query(api.seats.view, {})).toMatchObject({ seats: 1, members: 2, overCapacity: true });
    await expectCode(t.withIdentity(member).action(api.seats.preview, { seats: 2 }), "FORBIDDEN");
    await expectCode(t.withIdentity(member).action(api.seats.change, { seats: 2, requestId: "x" }), "FORBIDDEN");
    await expectCode(t.action(api.seats.preview, { seats: 2 }), "UNAUTHENTICATED");
    await expectCode(t.withIdentity(admin).action(api.seats.change, { seats: 2, requestId: "not a valid id!" }), "INVALID_ARGUMENT");
  });

  test("members mode: seats follow the member count, and the allowance scales once paid", async () => {
    const t = makeTest();
    const { accountId, delivered } = await subscribedOrg(t, "elite_monthly", 2);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    await recordMember(t, "user_carol", 3);
    const result = await t.action(internal.seats.syncMembers, { clerkOrgId: ORG, eventAt: 3 });
    expect(result).toMatchObject({ status: "applied", seats: 3 });
    await deliverFrom(t, delivered);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 3, allowance: seatAllowance("elite", 3), windowSeats: 3 });
    expect((await t.action(internal.seats.syncMembers, { clerkOrgId: ORG, eventAt: 3 })).status).toBe("unchanged");
  });
});

/** The Stripe subscription's plan quantity. */
async function stripeSeats(subscriptionId: string): Promise<number | undefined> {
  return (await client.subscriptions.retrieve(subscriptionId)).items.data[0]?.quantity;
}

/** The simulator's Checkout Session behind a URL `billing.createCheckoutSession` returned. */
async function sessionOf(url: string): Promise<Stripe.Checkout.Session> {
  return await client.checkout.sessions.retrieve(url.split("/").pop()!);
}

describe("Checkout buys seats", () => {
  test("an org admin buys the seats chosen on Pro; once paid, Stripe bills 4 seats and the allowance is 4 seats'", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    const accountId = await seedOrgAccount(t, ORG);
    for (const [i, user] of ["user_alice", "user_bob", "user_carol"].entries()) await recordMember(t, user, 10 + i);
    const before = (await allEvents()).length;

    // Fewer seats than members, or seats out of range, are refused before Stripe is touched.
    await expectCode(t.withIdentity(admin).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", seats: 2 }), "INVALID_ARGUMENT");
    await expectCode(t.withIdentity(admin).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", seats: 51 }), "INVALID_ARGUMENT");
    expect((await client.customers.list({ limit: 10 })).data).toHaveLength(0);

    const { url } = await t.withIdentity(admin).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", seats: 4 });
    const session = await sessionOf(url);
    const lines = await client.checkout.sessions.listLineItems(session.id);
    expect(lines.data.find((l) => l.price?.lookup_key === "pro_monthly")?.quantity).toBe(4);
    // Nothing is granted before the payment.
    expect((await seatFacts(t, accountId)).allowance ?? 0).toBe(0);

    expect((await payCheckout(sim, session, "4242424242424242", { billingCountry: "US", billingPostalCode: "10001" })).status).toBe(303);
    await deliverFrom(t, before);
    const subscriptionId = (await client.checkout.sessions.retrieve(session.id)).subscription as string;
    expect(await stripeSeats(subscriptionId)).toBe(4);
    const first = (await client.invoices.list({ subscription: subscriptionId })).data[0]!;
    expect(first.amount_paid).toBe(4 * 2900);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 4, allowance: 4 * PLANS.pro.tokensPerPeriod, windowSeats: 4 });
    expect(await t.withIdentity(admin).query(api.seats.view, {})).toMatchObject({ seats: 4, paidSeats: 4, members: 3, overCapacity: false });
  });

  test("without a choice Pro buys one seat per member; Elite always buys the member count; a personal account buys one", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await seedAccount(t, bob);
    await seedOrgAccount(t, ORG);
    for (const [i, user] of ["user_alice", "user_bob", "user_carol"].entries()) await recordMember(t, user, 10 + i);
    const quantityOf = async (url: string) => (await client.checkout.sessions.listLineItems((await sessionOf(url)).id)).data[0]?.quantity;

    const pro = await t.withIdentity(admin).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(await quantityOf(pro.url)).toBe(3);
    const elite = await t.withIdentity(admin).action(api.billing.createCheckoutSession, { tier: "elite", interval: "year", seats: 9 });
    expect(await quantityOf(elite.url)).toBe(3);
    const personal = await t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" });
    expect(await quantityOf(personal.url)).toBe(1);
    await expectCode(t.withIdentity(alice).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", seats: 3 }), "INVALID_ARGUMENT");
    // Members cannot buy at all.
    await expectCode(t.withIdentity(member).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month", seats: 3 }), "FORBIDDEN");
  });
});

describe("membership changes", () => {
  test("members mode: a Clerk membership event schedules the sync; an added member is charged, a removal lowers the seats without credit", async () => {
    const t = makeTest();
    const { accountId, subscriptionId, delivered } = await subscribedOrg(t, "elite_monthly", 2);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    await t.finishAllScheduledFunctions(() => {});
    // Two members, two seats: nothing changed at Stripe.
    expect(await stripeSeats(subscriptionId)).toBe(2);

    await recordMember(t, "user_carol", 3);
    await settle(t, async () => expect(await stripeSeats(subscriptionId)).toBe(3));
    const updates = async () => (await client.invoices.list({ subscription: subscriptionId, limit: 20 })).data.filter((i) => i.billing_reason === "subscription_update");
    expect(await updates()).toHaveLength(1);
    expect((await updates())[0]!.status).toBe("paid");
    // A second sync before the events are mirrored finds Stripe at the count already: nothing more.
    expect(await t.action(internal.seats.syncMembers, { clerkOrgId: ORG, eventAt: 3 })).toMatchObject({ status: "unchanged", seats: 3 });
    expect(await updates()).toHaveLength(1);
    const next = await deliverFrom(t, delivered);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 3, allowance: seatAllowance("elite", 3), windowSeats: 3 });

    // A redelivered event: the seats already match the members, nothing more is billed.
    expect(await t.mutation(internal.orgMemberships.record, { clerkOrgId: ORG, clerkUserId: "user_carol", status: "active", role: "member", eventAt: 3 })).toBe(true);
    await t.finishAllScheduledFunctions(() => {});
    expect(await updates()).toHaveLength(1);

    // Carol leaves: 2 seats from now, no credit and no invoice; this period keeps 3 seats' allowance.
    await t.mutation(internal.orgMemberships.record, { clerkOrgId: ORG, clerkUserId: "user_carol", status: "removed", role: "member", eventAt: 4 });
    await settle(t, async () => expect(await stripeSeats(subscriptionId)).toBe(2));
    expect(await updates()).toHaveLength(1);
    await deliverFrom(t, next);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 2, allowance: seatAllowance("elite", 3), windowSeats: 3 });
    const audit = await runInBilling(t, async (ctx) => await ctx.db.query("auditLog").collect());
    expect(audit.filter((a) => a.action === "seats.change").map((a) => [a.actor, a.before, a.after])).toEqual([
      ["members-sync", JSON.stringify({ seats: 2 }), JSON.stringify({ seats: 3 })],
      ["members-sync", JSON.stringify({ seats: 3 }), JSON.stringify({ seats: 2 })],
    ]);
  });

  test("members mode: a burst of joins ends at the member count, each seat change an increase that was paid", async () => {
    const t = makeTest();
    const { accountId, subscriptionId, delivered } = await subscribedOrg(t, "elite_monthly", 2);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    // Three joins back to back, before any sync has run.
    await recordMember(t, "user_carol", 3);
    await recordMember(t, "user_dave", 4);
    await recordMember(t, "user_erin", 5);
    await settle(t, async () => expect(await stripeSeats(subscriptionId)).toBe(5));
    const updates = (await client.invoices.list({ subscription: subscriptionId, limit: 20 })).data.filter((i) => i.billing_reason === "subscription_update");
    // Each seat change charged something and was paid: none took seats away
    // again (a slower sync setting an older count would net a credit).
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.map((invoice) => [invoice.status, invoice.total > 0])).toEqual(updates.map(() => ["paid", true]));
    // Seats only ever went up: 2 → … → 5, each step once.
    const audit = await runInBilling(t, async (ctx) => await ctx.db.query("auditLog").collect());
    const seatsOf = (json: string | undefined) => (JSON.parse(json ?? "{}") as { seats?: number }).seats ?? 0;
    const steps = audit.filter((a) => a.action === "seats.change").map((a) => [seatsOf(a.before), seatsOf(a.after)] as const);
    expect(steps.every(([from, to]) => to > from)).toBe(true);
    expect(steps.at(-1)?.[1]).toBe(5);
    await deliverFrom(t, delivered);
    expect(await seatFacts(t, accountId)).toEqual({ quantity: 5, allowance: seatAllowance("elite", 5), windowSeats: 5 });
  });

  test("chosen mode: a member beyond the seats notifies the organisation once per member count, and changes nothing at Stripe", async () => {
    const t = makeTest();
    const { accountId, subscriptionId } = await subscribedOrg(t, "pro_monthly", 2);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    const notices = async () =>
      await runInBilling(t, async (ctx) =>
        (await ctx.db.query("notifications").withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", accountId)).collect()).filter(
          (n) => n.kind === "seats_exceeded",
        ),
      );
    expect(await notices()).toHaveLength(0);

    await recordMember(t, "user_carol", 3);
    await t.mutation(internal.orgMemberships.record, { clerkOrgId: ORG, clerkUserId: "user_carol", status: "active", role: "member", eventAt: 4 });
    await t.finishAllScheduledFunctions(() => {});
    const sent = await notices();
    expect(sent.map((n) => [n.title, n.link])).toEqual([["3 members, 2 seats: add seats", "/billing#seats"]]);
    expect(await stripeSeats(subscriptionId)).toBe(2);
    expect(await t.withIdentity(admin).query(api.seats.view, {})).toMatchObject({ seats: 2, members: 3, overCapacity: true });

    await recordMember(t, "user_dave", 5);
    expect((await notices()).map((n) => n.title)).toEqual(["3 members, 2 seats: add seats", "4 members, 2 seats: add seats"]);
  });

  test("seats.summary: anyone in the organisation reads the seats; signed out and former members read nothing", async () => {
    const t = makeTest();
    await subscribedOrg(t, "pro_monthly", 2);
    await recordMember(t, "user_alice", 1);
    await recordMember(t, "user_bob", 2);
    const expected = { perSeat: true, mode: "chosen", seats: 2, members: 2, overCapacity: false };
    expect(await t.withIdentity(member).query(api.seats.summary, {})).toEqual(expected);
    expect(await t.withIdentity(admin).query(api.seats.summary, {})).toEqual(expected);
    expect(await t.query(api.seats.summary, {})).toBeNull();
    await t.mutation(internal.orgMemberships.record, { clerkOrgId: ORG, clerkUserId: "user_bob", status: "removed", role: "member", eventAt: 3 });
    expect(await t.withIdentity(member).query(api.seats.summary, {})).toBeNull();
    expect(await t.withIdentity(admin).query(api.seats.summary, {})).toMatchObject({ seats: 2, members: 1 });
  });

  test("an organisation without a billing account or plan records memberships as before", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await recordMember(t, "user_alice", 1);
    await seedOrgAccount(t, ORG);
    await recordMember(t, "user_bob", 2);
    await t.finishAllScheduledFunctions(() => {});
    expect(await t.withIdentity(admin).query(api.seats.view, {})).toMatchObject({ perSeat: false, seats: 1, members: 2, overCapacity: false });
  });
});
