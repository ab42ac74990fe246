/**
 * The event queue: waiting (never dead, no attempts spent) for another event
 * and waking when it lands, refusals dead at once, retries with backoff and
 * jitter for unexpected errors, dead-lettering, replay, the sweep, payload
 * compaction, and the rollback that makes a failed handler leave no writes
 * behind.
 */
import type Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import { WAITING_RECHECK_MS, wakeWaitingEvents } from "../../convex/billing/model/webhookQueue";
import { BILLING_CONFIG } from "../../convex/billing/model/plans";
import { checkoutSession, customer, event, price, subscription } from "./fixtures/stripe";
import {
  account,
  advance,
  allEventRows,
  createAccount,
  deliverOk,
  drain,
  eventRow,
  restoreEnvironment,
  runDueNow,
  storedPayload,
  subscriptionRows,
  useWebhookEnvironment,
  type TestConvex,
} from "./fixtures/webhookHarness";
import { billing, billingApi, billingInternal, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });

function subscriptionCreated(customerId: string, subId = "sub_queue1") {
  return event(
    "customer.subscription.created",
    subscription({ id: subId, customer: customerId, status: "active", price: proMonthly }),
  );
}

/** A queue row for `e` as an earlier run left it (status, attempts, error), with its payload. */
async function insertEventRow(
  t: TestConvex,
  e: Stripe.Event,
  fields: Pick<Doc<"webhookEvents">, "stripeCustomerId" | "status" | "attempts"> & Partial<Doc<"webhookEvents">>,
): Promise<void> {
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("webhookEvents", {
      eventId: e.id,
      type: e.type,
      livemode: false,
      eventCreated: e.created,
      receivedAt: Date.now(),
      ...fields,
    });
    await ctx.db.insert("webhookPayloads", { eventId: e.id, payload: JSON.stringify(e) });
  });
}

/** Links `stripeCustomerId` to the account and wakes what waits for it, as `billing.linkCustomer` does. */
async function linkAndWake(t: TestConvex, accountId: Id<"billingAccounts">, stripeCustomerId: string): Promise<number> {
  return await runInBilling(t, async (ctx) => {
    await ctx.db.patch("billingAccounts", accountId, { stripeCustomerId });
    return await wakeWaitingEvents(ctx, [`customer:${stripeCustomerId}`], Date.now());
  });
}

/** A top-up naming a pack we do not sell: the handler links the customer, then throws (a plain error, not a wait). */
function throwingCheckout(accountId: Id<"billingAccounts">, customerId: string) {
  return event(
    "checkout.session.completed",
    checkoutSession({
      mode: "payment",
      customer: customerId,
      clientReferenceId: accountId,
      metadata: { kind: "top_up", packId: "pack_nonexistent" },
    }),
  );
}

describe("webhook queue", () => {
  let t: TestConvex;
  beforeEach(() => {
    useWebhookEnvironment();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    t = makeTest();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    restoreEnvironment();
  });

  test("an event before its account exists waits without spending attempts, then is applied once after checkout links the customer", async () => {
    const e = subscriptionCreated("cus_late");
    await deliverOk(t, e);

    const waiting = await eventRow(t, e.id);
    expect(waiting).toMatchObject({ status: "waiting", attempts: 0, stripeCustomerId: "cus_late", waitingFor: "customer:cus_late" });
    expect(waiting?.lastError).toMatch(/cus_late is not linked/);
    expect(waiting!.nextAttemptAt).toBe(Date.now() + WAITING_RECHECK_MS);
    expect(await subscriptionRows(t, "sub_queue1")).toHaveLength(0);

    const accountId = await createAccount(t);
    const checkout = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_late", subscription: "sub_queue1", clientReferenceId: accountId }),
    );
    await deliverOk(t, checkout);
    // Checkout is applied on receipt and wakes the waiting event, which runs now.
    expect(await eventRow(t, checkout.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(await eventRow(t, e.id)).toMatchObject({ status: "pending", attempts: 0 });
    await runDueNow(t);

    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect((await eventRow(t, e.id))?.waitingFor).toBeUndefined();
    expect(await subscriptionRows(t, "sub_queue1")).toHaveLength(1);
    expect(await account(t, accountId)).toMatchObject({
      // No invoice paid yet: the subscription is mirrored, the tier waits for the money.
      tier: "free",
      stripeCustomerId: "cus_late",
      stripeSubscriptionId: "sub_queue1",
    });

    // Nothing else runs it again.
    await drain(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(await subscriptionRows(t, "sub_queue1")).toHaveLength(1);
  });

  test("a landed key wakes only the events waiting for it", async () => {
    const mine = subscriptionCreated("cus_wake", "sub_wake");
    const other = subscriptionCreated("cus_other", "sub_other");
    await deliverOk(t, mine);
    await deliverOk(t, other);

    const accountId = await createAccount(t);
    expect(await linkAndWake(t, accountId, "cus_wake")).toBe(1);
    await runDueNow(t);

    expect(await eventRow(t, mine.id)).toMatchObject({ status: "succeeded" });
    expect(await eventRow(t, other.id)).toMatchObject({ status: "waiting", attempts: 0 });
    expect(await subscriptionRows(t, "sub_wake")).toHaveLength(1);
    expect(await subscriptionRows(t, "sub_other")).toHaveLength(0);
  });

  test("an event waiting for its customer is parked, never dead, however long; linking the customer wakes it", async () => {
    const e = subscriptionCreated("cus_patient", "sub_patient");
    await deliverOk(t, e);
    await drain(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "customer:cus_patient" });
    // Days later the sweep has rechecked it hourly; still waiting, no attempt spent, not dead.
    for (let hour = 0; hour < 48; hour++) {
      await advance(t, WAITING_RECHECK_MS);
      await billing(t).mutation(billingInternal.webhooks.sweepRetries, {});
      await runDueNow(t);
    }
    expect(await eventRow(t, e.id)).toMatchObject({ status: "waiting", attempts: 0, waitingFor: "customer:cus_patient" });

    const accountId = await createAccount(t);
    await linkAndWake(t, accountId, "cus_patient");
    await drain(t);
    const applied = await eventRow(t, e.id);
    expect(applied).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(applied?.waitingFor).toBeUndefined();
    expect(await subscriptionRows(t, "sub_patient")).toHaveLength(1);
  });

  test("a dead event that died waiting (before parking existed) is revived when its customer is linked", async () => {
    const e = subscriptionCreated("cus_legacy", "sub_legacy");
    await insertEventRow(t, e, { stripeCustomerId: "cus_legacy", status: "dead", attempts: 8, lastError: "customer cus_legacy is not linked to an account yet" });
    const accountId = await createAccount(t);
    expect(await linkAndWake(t, accountId, "cus_legacy")).toBe(1);
    await drain(t);
    expect((await eventRow(t, e.id))?.status).toBe("succeeded");
  });

  test("a permanent refusal (a session naming an account that does not exist) is dead at once, without backoff", async () => {
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_forged", subscription: "sub_x", clientReferenceId: "not-an-account" }),
    );
    await deliverOk(t, e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "dead", attempts: 1 });
    expect((await eventRow(t, e.id))?.nextAttemptAt).toBeUndefined();
    await drain(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "dead", attempts: 1 });
  });

  test("unexpected errors back off exponentially with ±20% jitter, then the event goes dead; it is never dropped", async () => {
    const accountId = await createAccount(t);
    const e = throwingCheckout(accountId, "cus_never");
    await deliverOk(t, e);

    for (let attempt = 1; attempt < BILLING_CONFIG.maxWebhookAttempts; attempt++) {
      const row = await eventRow(t, e.id);
      expect(row).toMatchObject({ status: "failed_retrying", attempts: attempt });
      const delay = row!.nextAttemptAt! - Date.now();
      const nominal = Math.min(BILLING_CONFIG.webhookRetryMaxMs, BILLING_CONFIG.webhookRetryBaseMs * 2 ** (attempt - 1));
      expect(delay).toBeGreaterThanOrEqual(Math.floor(nominal * 0.8));
      expect(delay).toBeLessThanOrEqual(Math.ceil(nominal * 1.2));
      // Not yet due: nothing happens a millisecond early.
      await advance(t, delay - 1);
      expect((await eventRow(t, e.id))?.attempts).toBe(attempt);
      await advance(t, 1);
    }

    const dead = await eventRow(t, e.id);
    expect(dead).toMatchObject({ status: "dead", attempts: BILLING_CONFIG.maxWebhookAttempts });
    expect(dead?.nextAttemptAt).toBeUndefined();
    expect(dead?.lastError).toMatch(/unknown token pack/);
    await drain(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "dead", attempts: BILLING_CONFIG.maxWebhookAttempts });
    const listed = await billing(t).query(billingApi.webhooks.list, { status: "dead" });
    expect(listed.map((r) => r.eventId)).toEqual([e.id]);
  });

  test("replay re-queues a dead event, which then applies; replaying an applied event changes nothing", async () => {
    const e = subscriptionCreated("cus_replay", "sub_replay");
    await insertEventRow(t, e, { stripeCustomerId: "cus_replay", status: "dead", attempts: 8, lastError: "an operator's problem" });

    const accountId = await createAccount(t, { stripeCustomerId: "cus_replay" });
    expect(await billing(t).mutation(billingApi.webhooks.replay, { eventId: e.id })).toEqual({ requeued: true, status: "pending" });
    await drain(t);
    const applied = await eventRow(t, e.id);
    expect(applied).toMatchObject({ status: "succeeded", attempts: 1 });
    expect((await account(t, accountId)).stripeSubscriptionId).toBe("sub_replay");

    expect(await billing(t).mutation(billingApi.webhooks.replay, { eventId: e.id })).toEqual({
      requeued: false,
      status: "succeeded",
    });
    await drain(t);
    expect(await eventRow(t, e.id)).toEqual(applied);
    expect(await subscriptionRows(t, "sub_replay")).toHaveLength(1);
    expect(await billing(t).mutation(billingApi.webhooks.replay, { eventId: "evt_unknown" })).toEqual({
      requeued: false,
      status: "not_found",
    });
  });

  test("a failed handler's writes roll back with it, on receipt and on every retry", async () => {
    const accountId = await createAccount(t);
    // Links the customer first, then throws on the unknown pack.
    const e = throwingCheckout(accountId, "cus_rollback");
    await deliverOk(t, e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "failed_retrying", attempts: 1 });
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
    await advance(t, BILLING_CONFIG.webhookRetryBaseMs * 2);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "failed_retrying", attempts: 2 });
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
  });

  test("the sweep picks up a due event whose scheduled run was lost", async () => {
    const accountId = await createAccount(t, { stripeCustomerId: "cus_swept" });
    const e = event("customer.updated", customer("cus_swept"));
    await insertEventRow(t, e, { stripeCustomerId: "cus_swept", status: "failed_retrying", attempts: 3, nextAttemptAt: Date.now() - 1 });
    expect(await billing(t).mutation(billingInternal.webhooks.sweepRetries, {})).toEqual({ scheduled: 1 });
    await runDueNow(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded", attempts: 4 });
    expect(await billing(t).mutation(billingInternal.webhooks.sweepRetries, {})).toEqual({ scheduled: 0 });
    expect((await account(t, accountId)).stripeCustomerDeleted).toBeUndefined();
  });

  test("duplicate runs for the same attempt count it once", async () => {
    const accountId = await createAccount(t);
    const e = throwingCheckout(accountId, "cus_dup_runs");
    await deliverOk(t, e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "failed_retrying", attempts: 1 });
    // Two runs for attempt 1 (e.g. its own scheduled run and a sweep): only the first acts.
    await billing(t).mutation(billingInternal.webhooks.process, { eventId: e.id, attempt: 1 });
    await billing(t).mutation(billingInternal.webhooks.process, { eventId: e.id, attempt: 1 });
    expect(await eventRow(t, e.id)).toMatchObject({ status: "failed_retrying", attempts: 2 });
    expect(await allEventRows(t)).toHaveLength(1);
  });

  test("payloads of settled events are compacted after the retention period; the rows, and dead events' payloads, stay", async () => {
    const accountId = await createAccount(t, { stripeCustomerId: "cus_compact" });
    const settled = event("customer.updated", customer("cus_compact"));
    const dead = subscriptionCreated("cus_compact_dead", "sub_compact_dead");
    await insertEventRow(t, settled, { stripeCustomerId: "cus_compact", status: "pending", attempts: 0, nextAttemptAt: Date.now() });
    await insertEventRow(t, dead, { stripeCustomerId: "cus_compact_dead", status: "dead", attempts: 8, lastError: "an operator's problem" });
    await billing(t).mutation(billingInternal.webhooks.process, { eventId: settled.id, attempt: 0 });
    expect(await eventRow(t, settled.id)).toMatchObject({ status: "succeeded" });
    expect(await storedPayload(t, settled.id)).not.toBeNull();

    const retentionMs = BILLING_CONFIG.webhookPayloadRetentionDays * 24 * 60 * 60 * 1000;
    await advance(t, retentionMs - 1);
    expect(await billing(t).mutation(billingInternal.webhooks.compactPayloads, {})).toEqual({ deleted: 0, more: false });
    await advance(t, 2);
    expect(await billing(t).mutation(billingInternal.webhooks.compactPayloads, {})).toEqual({ deleted: 1, more: false });
    expect(await storedPayload(t, settled.id)).toBeNull();
    expect(await eventRow(t, settled.id)).toMatchObject({ eventId: settled.id, type: "customer.updated", status: "succeeded" });
    expect(await storedPayload(t, dead.id)).not.toBeNull();
    expect((await account(t, accountId)).stripeCustomerId).toBe("cus_compact");
  });
});
