/**
 * The handler table: one entry per Stripe event type we handle, keyed by the
 * type and typed against the stripe SDK's event union, so each handler
 * receives its own narrowed event. Everything else is derived from it: the
 * webhook endpoint's event list (`HANDLED_EVENT_TYPES`, in the README),
 * reconciliation's `types[]` filter
 * (`RECONCILED_EVENT_TYPES`, at most Stripe's 20) and dispatch.
 *
 * Each handler returns an `EventOutcome` (`model/eventOutcome.ts`):
 * `applied`, `ignored`, `wait` or `refused`, deciding waits and refusals
 * before writing anything. The pipeline (`model/webhookPipeline.ts`) calls
 * it inside the transaction that records the event; a throw rolls back every
 * write and the event is retried. Handlers never touch the queue.
 *
 * No Stripe API calls here: processing depends only on the payload, so it is
 * deterministic and replayable. Payloads are API 2026-10-28.endive (older
 * shapes read too, see `model/stripeShapes.ts`),
 * https://docs.stripe.com/api/events/types.
 */
import type Stripe from "stripe";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer, settleAccount } from "./access";
import { IGNORED, applied, dependency, refuse, waitFor, type EventClock, type EventOutcome } from "./eventOutcome";
import { stripeActor } from "./audit";
import { syncInvoice } from "./invoiceSync";
import { applyDispute, applyRefund, grantForPayment } from "./clawback";
import { formatMoney, grantSucceededPayment } from "./autoRecharge";
import { notify } from "./notifications";
import { grant } from "./ledger";
import { tokenPack } from "./plans";
import { applyScheduleEvent, applyTestClockReady } from "./scheduleSync";
import { previousStatusOf, stripeIdOf } from "./stripeShapes";
import { syncSubscription } from "./subscriptionSync";
import { subscriptionRow } from "./currentSubscription";
import { notifyTrialEnding } from "./trials";

/** When and what an event is, as handlers see it. `nowMs`: the time rules are evaluated at (ms). */
export type EventContext = EventClock & { nowMs: number };

type EventOfType<K extends Stripe.Event["type"]> = Extract<Stripe.Event, { type: K }>;

/** One table entry: the handler, and whether reconciliation lists this type (Stripe filters by at most 20). */
type HandlerEntry<K extends Stripe.Event["type"]> = {
  reconcile: boolean;
  apply: (ctx: MutationCtx, event: EventOfType<K>, at: EventContext) => Promise<EventOutcome>;
};

type HandlerTable = { [K in Stripe.Event["type"]]?: HandlerEntry<K> };

const subscriptionEntry = {
  reconcile: true,
  apply: async (ctx: MutationCtx, event: { data: { object: Stripe.Subscription } }, at: EventContext) =>
    await syncSubscription(ctx, event.data.object, at, at.nowMs),
};

const invoiceEntry = {
  reconcile: true,
  apply: async (ctx: MutationCtx, event: { type: string; data: { object: Stripe.Invoice } }, at: EventContext) =>
    await syncInvoice(ctx, event.data.object, event.type, at, at.nowMs),
};

/**
 * Schedule events. `completed` and `aborted` are handled when delivered but
 * not reconciled (the 20-type limit): the subscription's own update, its
 * `schedule` cleared, says the same.
 */
const scheduleEntry = (reconcile: boolean) => ({
  reconcile,
  apply: async (ctx: MutationCtx, event: { data: { object: Stripe.SubscriptionSchedule } }, at: EventContext) =>
    await applyScheduleEvent(ctx, event.data.object, at.eventCreated),
});

const checkoutEntry = {
  reconcile: true,
  apply: async (ctx: MutationCtx, event: { data: { object: Stripe.Checkout.Session } }, at: EventContext) =>
    await applyCheckoutSession(ctx, event.data.object, at.nowMs, at.eventId),
};

export const STRIPE_EVENT_HANDLERS = {
  "checkout.session.completed": checkoutEntry,
  "checkout.session.async_payment_succeeded": checkoutEntry,
  "customer.subscription.created": subscriptionEntry,
  "customer.subscription.updated": subscriptionEntry,
  "customer.subscription.deleted": subscriptionEntry,
  // A reminder 3 days before a trial ends: mirrors the subscription and
  // notifies once (`model/trials.ts`). The state it carries comes with the
  // subscription's own updates, so reconciliation leaves it out (Stripe's
  // 20-type filter).
  "customer.subscription.trial_will_end": {
    reconcile: false,
    apply: async (ctx, event, at) => await applyTrialWillEnd(ctx, event.data.object, at),
  },
  "customer.subscription.paused": subscriptionEntry,
  "customer.subscription.resumed": subscriptionEntry,
  "invoice.paid": invoiceEntry,
  "invoice.payment_failed": invoiceEntry,
  "invoice.payment_action_required": invoiceEntry,
  "invoice.finalized": invoiceEntry,
  "invoice.voided": invoiceEntry,
  "invoice.marked_uncollectible": invoiceEntry,
  "subscription_schedule.created": scheduleEntry(true),
  "subscription_schedule.updated": scheduleEntry(true),
  "subscription_schedule.released": scheduleEntry(true),
  "subscription_schedule.canceled": scheduleEntry(true),
  "subscription_schedule.completed": scheduleEntry(false),
  "subscription_schedule.aborted": scheduleEntry(false),
  // Test mode: subscriptions on a test clock live at its time. Not reconciled:
  // a later clock event, or the hourly allowance run, does the same.
  "test_helpers.test_clock.ready": {
    reconcile: false,
    apply: async (ctx, event, at) => await applyTestClockReady(ctx, event.data.object, at.eventId, at.nowMs),
  },
  "customer.updated": {
    reconcile: true,
    apply: async (ctx, event) => await applyCustomerUpdated(ctx, event.data.object),
  },
  "customer.deleted": {
    reconcile: true,
    apply: async (ctx, event, at) => await applyCustomerDeleted(ctx, event.data.object, at.nowMs, at.eventId),
  },
  // Token packs paid back: refunds take their tokens back (`model/clawback.ts`).
  "charge.refunded": {
    reconcile: true,
    apply: async (ctx, event) => await applyChargeRefunded(ctx, event.data.object),
  },
  // Disputes freeze, then release or remove, a pack's tokens. Not reconciled
  // (the 20-type filter is full); a lost delivery is redelivered by Stripe
  // for 3 days and the operator list shows the dispute in Stripe.
  "charge.dispute.created": {
    reconcile: false,
    apply: async (ctx, event) => await applyDisputeEvent(ctx, event.data.object),
  },
  "charge.dispute.closed": {
    reconcile: false,
    apply: async (ctx, event) => await applyDisputeEvent(ctx, event.data.object),
  },
  // An auto-recharge paid off-session: grants the pack if the charging
  // action did not live to (`model/autoRecharge.ts`). Not reconciled (the
  // 20-type filter is full): the cron re-drives a pending attempt, whose
  // idempotent PaymentIntent call returns the same success.
  "payment_intent.succeeded": {
    reconcile: false,
    apply: async (ctx, event) => await applyPaymentIntentSucceeded(ctx, event.data.object),
  },
} satisfies HandlerTable;

export type HandledEventType = keyof typeof STRIPE_EVENT_HANDLERS;

/** Every event type we handle, in table order: the webhook endpoint's enabled events. */
export const HANDLED_EVENT_TYPES = Object.keys(STRIPE_EVENT_HANDLERS) as HandledEventType[];

/** The types reconciliation lists from `GET /v1/events` (`types[]`, at most 20). */
export const RECONCILED_EVENT_TYPES: readonly HandledEventType[] = HANDLED_EVENT_TYPES.filter(
  (type) => STRIPE_EVENT_HANDLERS[type].reconcile,
);

export function isHandledEventType(type: string): type is HandledEventType {
  return Object.hasOwn(STRIPE_EVENT_HANDLERS, type);
}

/**
 * Applies one verified event with its table entry; `ignored` for a type not
 * in the table. `receivedMs` is when it arrived (ms); rules are evaluated at
 * `max(receivedMs, event.created)`, since a customer on a test clock lives
 * ahead of the wall clock.
 */
export async function applyStripeEvent(ctx: MutationCtx, event: Stripe.Event, receivedMs: number): Promise<EventOutcome> {
  if (!isHandledEventType(event.type)) return IGNORED;
  const entry = STRIPE_EVENT_HANDLERS[event.type] as HandlerEntry<HandledEventType>;
  const at: EventContext = {
    eventId: event.id,
    eventCreated: event.created,
    previousStatus: previousStatusOf(event),
    nowMs: Math.max(receivedMs, event.created * 1000),
  };
  return await entry.apply(ctx, event as EventOfType<HandledEventType>, at);
}

/**
 * Links the Checkout customer (and subscription) to the account named by
 * `client_reference_id` or `metadata.accountId`, and for a paid top-up
 * (`mode: "payment"`, `metadata.kind: "top_up"`, `metadata.packId`) grants
 * the pack's tokens once per session (sourceKey `checkout:<session id>`).
 * Lands `customer:<id>`, so events waiting for the link wake.
 *
 * `refused` (dead at once, for an operator), since our own sessions never
 * look like this and `client_reference_id` is the one field a buyer can set
 * on Stripe-hosted flows (Payment Links, pricing tables):
 * - `client_reference_id` and `metadata.accountId` name different accounts,
 *   or name no account;
 * - the customer is linked to another account;
 * - the account already has a different live customer (our Checkout reuses
 *   it, see `billingActions.ensureCustomer`); moving the account would orphan
 *   that customer's invoices and open the wrong Customer Portal.
 * `wait` for `customer:<id>` when the session names no account and its
 * customer is not linked yet. A top-up naming a pack we do not sell throws
 * (retried: a newer deploy may sell it).
 */
async function applyCheckoutSession(
  ctx: MutationCtx,
  session: Stripe.Checkout.Session,
  nowMs: number,
  eventId: string,
): Promise<EventOutcome> {
  const stripeCustomerId = stripeIdOf(session.customer);
  const metadataAccountId = session.metadata?.accountId;
  if (session.client_reference_id && metadataAccountId && session.client_reference_id !== metadataAccountId) {
    return refuse(
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
    // or a session created elsewhere.
    return refuse(`checkout session ${session.id} references unknown account "${reference}"`);
  }
  account ??= owner;
  if (!account) {
    if (!stripeCustomerId) return IGNORED;
    return waitFor(
      dependency.customer(stripeCustomerId),
      `checkout session ${session.id} has no account reference and its customer is unknown`,
    );
  }
  if (stripeCustomerId) {
    if (owner && owner._id !== account._id) {
      return refuse(`customer ${stripeCustomerId} is already linked to another account (${owner._id})`);
    }
    if (account.stripeCustomerId !== stripeCustomerId && account.stripeCustomerId && !account.stripeCustomerDeleted) {
      return refuse(
        `checkout session ${session.id} has customer ${stripeCustomerId}, but account ${account._id} already has customer ${account.stripeCustomerId}`,
      );
    }
  }

  const subscriptionId = stripeIdOf(session.subscription);
  const linksSubscription = session.mode === "subscription" && subscriptionId !== undefined;
  if (stripeCustomerId || linksSubscription) {
    await settleAccount(ctx, account, nowMs, {
      actor: stripeActor(eventId),
      changes: stripeCustomerId ? { stripeCustomerId, stripeCustomerDeleted: undefined } : {},
      // The new subscription's own events may not have arrived; the account
      // points at it rather than at nothing or an ended one.
      awaitingSubscriptionId: linksSubscription ? subscriptionId : undefined,
    });
  }

  if (session.mode === "payment" && session.metadata?.kind === "top_up") {
    const pack = tokenPack(session.metadata?.packId);
    if (!pack) throw new Error(`checkout session ${session.id} names unknown token pack "${session.metadata?.packId}"`);
    if (session.payment_status === "paid") {
      const paymentIntentId = stripeIdOf(session.payment_intent);
      await grant(ctx, account._id, {
        sourceKey: `checkout:${session.id}`,
        amount: pack.tokens,
        reason: "top_up",
        note: `Token pack ${pack.id} (${pack.tokens} tokens)`,
        stripePaymentIntentId: paymentIntentId,
      });
      return applied([
        stripeCustomerId ? dependency.customer(stripeCustomerId) : undefined,
        paymentIntentId ? dependency.payment(paymentIntentId) : undefined,
      ]);
    }
    // Unpaid (delayed payment methods): `checkout.session.async_payment_succeeded` grants it later.
  }
  return applied([stripeCustomerId ? dependency.customer(stripeCustomerId) : undefined]);
}

/**
 * A refund of a token pack's payment takes the refunded share of its tokens
 * back (`applyRefund`). A refund whose pack is not granted yet waits for
 * `payment:<pi>` when the charge says it paid for a top-up (our Checkout
 * sets `payment_intent_data.metadata.kind: "top_up"`); any other charge's
 * refund (a subscription invoice's) is `ignored` here.
 */
async function applyChargeRefunded(ctx: MutationCtx, charge: Stripe.Charge): Promise<EventOutcome> {
  const paymentIntentId = stripeIdOf(charge.payment_intent);
  if (!paymentIntentId) return IGNORED;
  const pack = await grantForPayment(ctx, paymentIntentId);
  if (!pack) {
    if (charge.metadata?.kind !== "top_up") return IGNORED;
    return waitFor(dependency.payment(paymentIntentId), `refund of ${charge.id}: its token pack is not granted yet`);
  }
  const changed = await applyRefund(ctx, pack, { chargeId: charge.id, amount: charge.amount, amountRefunded: charge.amount_refunded });
  if (changed) {
    // Once per cumulative refund (a later partial refund is a new notice).
    await notify(ctx, {
      accountId: pack.accountId,
      kind: "refund_received",
      dedupeKey: `refund_received:${charge.id}:${charge.amount_refunded}`,
      title: `Refund of ${formatMoney(charge.amount_refunded, charge.currency)}`,
      body: `${formatMoney(charge.amount_refunded, charge.currency)} of your ${formatMoney(charge.amount, charge.currency)} token pack payment is refunded to your card. The pack's tokens were reduced to match.`,
      link: "/usage",
      critical: false,
    });
  }
  return applied();
}

/**
 * A dispute on a token pack's payment freezes its unspent tokens; closed
 * `won` releases them, `lost` takes the pack back (`applyDispute`).
 * A dispute names no metadata of what its payment bought, so one whose
 * pack is not granted waits for `payment:<pi>`: it applies the moment the
 * purchase lands, whatever order Stripe delivered them in. A dispute of a
 * payment that bought no pack (a subscription invoice's) therefore stays
 * `waiting`, visible in the operator list; `ignored` without a
 * PaymentIntent.
 */
async function applyDisputeEvent(ctx: MutationCtx, dispute: Stripe.Dispute): Promise<EventOutcome> {
  const paymentIntentId = stripeIdOf(dispute.payment_intent);
  if (!paymentIntentId) return IGNORED;
  const pack = await grantForPayment(ctx, paymentIntentId);
  if (!pack) return waitFor(dependency.payment(paymentIntentId), `dispute ${dispute.id}: no token pack paid by ${paymentIntentId} yet`);
  await applyDispute(ctx, pack, { id: dispute.id, status: dispute.status });
  return applied();
}

/**
 * A PaymentIntent of an auto-recharge attempt (`metadata.autoRechargeAttemptId`)
 * succeeded: the pack is granted once (`grantSucceededPayment`), and
 * `payment:<pi>` lands so a refund or dispute that came first applies.
 * Other PaymentIntents (Checkout's, invoices') are `ignored`: their own
 * events grant what they bought. `refused` for an attempt id this
 * deployment never made.
 */
async function applyPaymentIntentSucceeded(ctx: MutationCtx, paymentIntent: Stripe.PaymentIntent): Promise<EventOutcome> {
  const reference = paymentIntent.metadata?.autoRechargeAttemptId;
  if (!reference) return IGNORED;
  const attemptId = ctx.db.normalizeId("autoRechargeAttempts", reference);
  const attempt = attemptId ? await ctx.db.get("autoRechargeAttempts", attemptId) : null;
  if (!attempt) return refuse(`payment intent ${paymentIntent.id} names unknown auto-recharge attempt "${reference}"`);
  await grantSucceededPayment(ctx, attempt, {
    stripePaymentIntentId: paymentIntent.id,
    amount: paymentIntent.amount_received || paymentIntent.amount,
    currency: paymentIntent.currency,
  });
  return applied([dependency.payment(paymentIntent.id)]);
}

/**
 * Mirrors the customer's credit balance (`balance`, minor units, negative =
 * credit) and the currency Stripe bills it in (`currency`, fixed once billed:
 * `model/currency.ts`) onto the account, writing only when one changed. The
 * account's name and email come from the user profile, not Stripe.
 * `ignored` for a customer linked to no account.
 */
async function applyCustomerUpdated(ctx: MutationCtx, customer: Stripe.Customer): Promise<EventOutcome> {
  const account = await accountForStripeCustomer(ctx, customer.id);
  if (!account) return IGNORED;
  const currency = customer.currency ?? account.balanceCurrency;
  const billed = customer.currency ?? account.currency;
  if (account.customerBalance !== customer.balance || account.balanceCurrency !== currency || account.currency !== billed) {
    await ctx.db.patch("billingAccounts", account._id, {
      customerBalance: customer.balance,
      balanceCurrency: currency ?? undefined,
      currency: billed ?? undefined,
    });
  }
  return applied();
}

/**
 * Marks the account's customer deleted. The account keeps its customer id,
 * subscriptions and invoices as history; the next Checkout creates a new
 * customer. Stripe cancels the customer's subscriptions and sends their
 * `customer.subscription.deleted` events, which move the tier. `ignored`
 * for a customer linked to no account.
 */
async function applyCustomerDeleted(
  ctx: MutationCtx,
  customer: Stripe.Customer | Stripe.DeletedCustomer,
  nowMs: number,
  eventId: string,
): Promise<EventOutcome> {
  const account = await accountForStripeCustomer(ctx, customer.id);
  if (!account) return IGNORED;
  await settleAccount(ctx, account, nowMs, { changes: { stripeCustomerDeleted: true }, actor: stripeActor(eventId) });
  return applied();
}

/**
 * `customer.subscription.trial_will_end`: mirrors the subscription like its
 * other events, then, once it is mirrored, notifies `trial_ending` once per
 * subscription (a replay finds the notification and adds nothing). Waits
 * like `syncSubscription` while the customer is not linked.
 */
async function applyTrialWillEnd(ctx: MutationCtx, subscription: Stripe.Subscription, at: EventContext): Promise<EventOutcome> {
  const outcome = await syncSubscription(ctx, subscription, at, at.nowMs);
  if (outcome.kind !== "applied") return outcome;
  const mirror = await subscriptionRow(ctx, subscription.id);
  if (mirror && mirror.status === "trialing") await notifyTrialEnding(ctx, mirror.accountId, mirror);
  return outcome;
}
