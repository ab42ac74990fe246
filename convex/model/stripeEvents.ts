/**
 * Applies one verified Stripe event to Convex state. Called only from
 * `webhooks.applyEvent`, inside the transaction that also marks the event
 * applied; a throw rolls every write back and the event is retried.
 *
 * No Stripe API calls here: processing depends only on the stored payload,
 * so it is deterministic and replayable.
 *
 * Handled (API 2026-10-28.endive payloads,
 * https://docs.stripe.com/api/events/types):
 * - `checkout.session.completed`, `checkout.session.async_payment_succeeded`
 * - `customer.subscription.created|updated|deleted|trial_will_end|paused|resumed`
 * - `invoice.paid|payment_failed|payment_action_required|finalized|voided|marked_uncollectible`
 * - `subscription_schedule.created|updated|released|canceled|completed|aborted`
 * - `test_helpers.test_clock.ready` (test mode: subscriptions on a test clock)
 * - `customer.updated` (credit balance), `customer.deleted`
 * Anything else is `ignored`.
 */
import type Stripe from "stripe";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer, isTerminalStatus, recomputeAccountTier } from "./access";
import { grant } from "./ledger";
import { syncInvoice } from "./invoiceSync";
import { TOKEN_PACKS } from "./plans";
import { pointAccountAtCurrentSubscription, stripeIdOf, syncSubscription, type EventClock } from "./subscriptionSync";
import { applyScheduleEvent, applyTestClockReady } from "./scheduleSync";
import { PermanentEventError, RetryableEventError, wakeEventsForCustomer } from "./webhookQueue";

export type ApplyOutcome = "succeeded" | "ignored";

export const SUBSCRIPTION_EVENT_TYPES: readonly string[] = [
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.trial_will_end",
  "customer.subscription.paused",
  "customer.subscription.resumed",
];

export const INVOICE_EVENT_TYPES: readonly string[] = [
  "invoice.paid",
  "invoice.payment_failed",
  "invoice.payment_action_required",
  "invoice.finalized",
  "invoice.voided",
  "invoice.marked_uncollectible",
];

/**
 * Schedule events that reconciliation lists (Stripe's `types[]` filter takes
 * 20 types). `completed` and `aborted` are handled when delivered; the
 * subscription's own update (its `schedule` cleared) says the same.
 */
export const SCHEDULE_EVENT_TYPES: readonly string[] = [
  "subscription_schedule.created",
  "subscription_schedule.updated",
  "subscription_schedule.released",
  "subscription_schedule.canceled",
];

/**
 * The Stripe customer an event concerns (`cus_…`), stored on the queue row so
 * linking that customer can wake the event. Undefined when it has none.
 */
export function customerIdOfEvent(event: Stripe.Event): string | undefined {
  const object = event.data.object as { object?: string; id?: string; customer?: string | { id: string } | null };
  if (object.object === "customer") return object.id;
  return stripeIdOf(object.customer ?? undefined);
}

/** `data.previous_attributes.status` of an update event, when the update changed the status. */
function previousStatusOf(event: Stripe.Event): string | undefined {
  const previous = (event.data as { previous_attributes?: { status?: unknown } }).previous_attributes;
  return typeof previous?.status === "string" ? previous.status : undefined;
}

/** Dispatches by event type. Returns whether the event changed anything we track. */
export async function applyStripeEvent(ctx: MutationCtx, event: Stripe.Event, receivedMs: number): Promise<ApplyOutcome> {
  const clock: EventClock = { eventId: event.id, eventCreated: event.created, previousStatus: previousStatusOf(event) };
  // The time rules are evaluated at: never before the event itself happened
  // (a customer on a test clock lives ahead of the wall clock).
  const nowMs = Math.max(receivedMs, event.created * 1000);
  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded":
      return await applyCheckoutSession(ctx, event.data.object, event.id, nowMs);
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
    case "customer.subscription.trial_will_end":
    case "customer.subscription.paused":
    case "customer.subscription.resumed": {
      const result = await syncSubscription(ctx, event.data.object, clock, nowMs);
      if (result.outcome === "applied" || result.learnedPrice) {
        // Invoices that arrived before their subscription (or its price) wait for it.
        const customerId = stripeIdOf(event.data.object.customer);
        if (customerId) await wakeEventsForCustomer(ctx, customerId, { exceptEventId: event.id });
      }
      return "succeeded";
    }
    case "invoice.paid":
    case "invoice.payment_failed":
    case "invoice.payment_action_required":
    case "invoice.finalized":
    case "invoice.voided":
    case "invoice.marked_uncollectible":
      await syncInvoice(ctx, event.data.object, event.type, clock, nowMs);
      return "succeeded";
    case "subscription_schedule.created":
    case "subscription_schedule.updated":
    case "subscription_schedule.released":
    case "subscription_schedule.canceled":
    case "subscription_schedule.completed":
    case "subscription_schedule.aborted":
      return await applyScheduleEvent(ctx, event.data.object, event.created);
    case "test_helpers.test_clock.ready":
      return await applyTestClockReady(ctx, event.data.object, event.id, nowMs);
    case "customer.updated":
      return await applyCustomerUpdated(ctx, event.data.object);
    case "customer.deleted":
      return await applyCustomerDeleted(ctx, event.data.object, nowMs);
    default:
      return "ignored";
  }
}

/**
 * Links the Checkout customer (and subscription) to the account named by
 * `client_reference_id` or `metadata.accountId`, and for a paid top-up
 * (`mode: "payment"`, `metadata.kind: "top_up"`, `metadata.packId`) grants
 * the pack's tokens once per session (sourceKey `checkout:<session id>`).
 *
 * Refused (`PermanentEventError`: dead-lettered at once for an operator), since
 * our own sessions never look like this and `client_reference_id` is the one
 * field a buyer can set on Stripe-hosted flows (Payment Links, pricing
 * tables):
 * - `client_reference_id` and `metadata.accountId` name different accounts;
 * - the customer is linked to another account;
 * - the account already has a different live customer (our Checkout reuses
 *   it, see `billingActions.ensureCustomer`); moving the account would orphan
 *   that customer's invoices and open the wrong Customer Portal.
 */
async function applyCheckoutSession(
  ctx: MutationCtx,
  session: Stripe.Checkout.Session,
  eventId: string,
  nowMs: number,
): Promise<ApplyOutcome> {
  const stripeCustomerId = stripeIdOf(session.customer);
  const metadataAccountId = session.metadata?.accountId;
  if (session.client_reference_id && metadataAccountId && session.client_reference_id !== metadataAccountId) {
    throw new PermanentEventError(
      `checkout session ${session.id}: client_reference_id "${session.client_reference_id}" and metadata.accountId "${metadataAccountId}" disagree`,
    );
  }
  const reference = session.client_reference_id ?? metadataAccountId ?? null;
  const referencedId = reference ? ctx.db.normalizeId("billingAccounts", reference) : null;
  // The account that already owns the session's customer, read once: it is
  // both the fallback link and the guard against moving a customer.
  const owner = stripeCustomerId ? await accountForStripeCustomer(ctx, stripeCustomerId) : null;
  let account = referencedId ? await ctx.db.get("billingAccounts", referencedId) : null;
  if (reference && !account) {
    // Our checkout action always sets a real account id; a wrong one is a bug
    // or a session created elsewhere: dead-letter it for an operator.
    throw new PermanentEventError(`checkout session ${session.id} references unknown account "${reference}"`);
  }
  account ??= owner;
  if (!account) {
    if (!stripeCustomerId) return "ignored";
    throw new RetryableEventError(
      `checkout session ${session.id} has no account reference and its customer is unknown`,
      `customer:${stripeCustomerId}`,
    );
  }

  if (stripeCustomerId) {
    if (owner && owner._id !== account._id) {
      throw new PermanentEventError(`customer ${stripeCustomerId} is already linked to another account (${owner._id})`);
    }
    if (account.stripeCustomerId !== stripeCustomerId) {
      if (account.stripeCustomerId && !account.stripeCustomerDeleted) {
        throw new PermanentEventError(
          `checkout session ${session.id} has customer ${stripeCustomerId}, but account ${account._id} already has customer ${account.stripeCustomerId}`,
        );
      }
      await ctx.db.patch("billingAccounts", account._id, {
        stripeCustomerId,
        stripeCustomerDeleted: undefined,
      });
    }
    await wakeEventsForCustomer(ctx, stripeCustomerId, { exceptEventId: eventId });
  }

  const subscriptionId = stripeIdOf(session.subscription);
  if (session.mode === "subscription" && subscriptionId) {
    const current = await pointAccountAtCurrentSubscription(ctx, account._id);
    if (current === undefined || isTerminalStatus(current.status)) {
      // The new subscription's own events have not arrived; point at it
      // rather than at nothing or an ended one. The tier moves when they do.
      await ctx.db.patch("billingAccounts", account._id, { stripeSubscriptionId: subscriptionId });
    }
    await recomputeAccountTier(ctx, account._id, nowMs);
  }

  if (session.mode === "payment" && session.metadata?.kind === "top_up") {
    const pack = TOKEN_PACKS.find((p) => p.id === session.metadata?.packId);
    if (!pack) throw new Error(`checkout session ${session.id} names unknown token pack "${session.metadata?.packId}"`);
    if (session.payment_status === "paid") {
      await grant(ctx, account._id, {
        sourceKey: `checkout:${session.id}`,
        amount: pack.tokens,
        reason: "top_up",
        note: `Token pack ${pack.id} (${pack.tokens} tokens)`,
      });
    }
    // Unpaid (delayed payment methods): `checkout.session.async_payment_succeeded` grants it later.
  }
  return "succeeded";
}

/**
 * Mirrors the customer's credit balance (`balance`, minor units, negative =
 * credit) onto the account, writing only when it changed. The account's name
 * and email come from the user profile, not Stripe.
 */
async function applyCustomerUpdated(ctx: MutationCtx, customer: Stripe.Customer): Promise<ApplyOutcome> {
  const account = await accountForStripeCustomer(ctx, customer.id);
  if (!account) return "ignored";
  const currency = customer.currency ?? account.balanceCurrency;
  if (account.customerBalance !== customer.balance || account.balanceCurrency !== currency) {
    await ctx.db.patch("billingAccounts", account._id, { customerBalance: customer.balance, balanceCurrency: currency ?? undefined });
  }
  return "succeeded";
}

/**
 * Marks the account's customer deleted. The account keeps its customer id,
 * subscriptions and invoices as history; the next Checkout creates a new
 * customer. Stripe cancels the customer's subscriptions and sends their
 * `customer.subscription.deleted` events, which move the tier.
 */
async function applyCustomerDeleted(
  ctx: MutationCtx,
  customer: Stripe.Customer | Stripe.DeletedCustomer,
  nowMs: number,
): Promise<ApplyOutcome> {
  const account = await accountForStripeCustomer(ctx, customer.id);
  if (!account) return "ignored";
  if (!account.stripeCustomerDeleted) {
    await ctx.db.patch("billingAccounts", account._id, { stripeCustomerDeleted: true });
  }
  await recomputeAccountTier(ctx, account._id, nowMs);
  return "succeeded";
}
