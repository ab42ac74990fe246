/**
 * The Stripe side of auto-recharge (`model/autoRecharge.ts`): find the
 * customer's saved card and charge the pack off-session with one
 * PaymentIntent per attempt (https://docs.stripe.com/payments/save-and-reuse,
 * https://docs.stripe.com/api/payment_intents/create).
 *
 * - The idempotency key is `auto-recharge:<attempt id>`: the cron's re-drive
 *   of a stuck attempt gets Stripe's first answer back, never a second
 *   payment (https://docs.stripe.com/api/idempotent_requests).
 * - The amount is the pack's Stripe price (by lookup key) in the attempt's
 *   currency (the account's billed one, its `currency_options` entry for
 *   EUR or GBP), as Checkout would charge; the client names nothing but its
 *   choice.
 * - A card error is an outcome, not a failure of the action: `card_declined`
 *   and friends are recorded `failed`; `authentication_required` (the bank
 *   wants 3-D Secure, which needs the customer present) is recorded
 *   `requires_action` with a Checkout link for the same pack, where the
 *   customer completes it on-session.
 * - Anything else (Stripe unreachable, rate limited) throws: the attempt
 *   stays pending and the cron drives it again.
 */
import Stripe from "stripe";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx } from "../_generated/server";
import type { ChargeOutcome } from "./autoRecharge";
import { createTopUpCheckout, resolvePrice } from "./billingActions";
import { tokenPack } from "./plans";
import { getStripe, stripeRead, toStripeError } from "./stripeClient";
import { stripeIdOf } from "./stripeShapes";

const NO_CARD = "there is no saved card to charge. Add one in the billing portal.";

/** What the customer reads for a declined off-session payment, by Stripe's decline or error code (https://docs.stripe.com/declines/codes). */
const DECLINE_MESSAGES: Record<string, string> = {
  insufficient_funds: "your card has insufficient funds.",
  expired_card: "your card has expired.",
  incorrect_cvc: "your card's security code was refused.",
  lost_card: "your card was declined.",
  stolen_card: "your card was declined.",
  card_declined: "your card was declined.",
  generic_decline: "your card was declined.",
};

/**
 * The customer's card for off-session payments: its invoice default, else
 * the first card attached to it (a subscription's Checkout attaches one).
 * Null when it has none, or the customer was deleted.
 */
export async function savedCardOf(stripe: Stripe, customerId: string): Promise<string | null> {
  let customer: Stripe.Customer | Stripe.DeletedCustomer;
  try {
    customer = await stripe.customers.retrieve(customerId);
  } catch (error) {
    // A customer Stripe no longer has can hold no card.
    if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "resource_missing") return null;
    return toStripeError(error, "customers.retrieve");
  }
  if (customer.deleted) return null;
  const preferred = stripeIdOf(customer.invoice_settings?.default_payment_method);
  if (preferred) return preferred;
  const cards = await stripeRead("customers.listPaymentMethods", () =>
    stripe.customers.listPaymentMethods(customerId, { type: "card", limit: 1 }),
  );
  return cards.data[0]?.id ?? null;
}

/**
 * Charges one pending attempt and records the outcome
 * (`autoRecharge.recordResult`). Does nothing for an attempt that is no
 * longer pending. Throws (leaving it pending for the cron) when Stripe could
 * not be asked.
 */
export async function chargeAttempt(ctx: ActionCtx, attemptId: Id<"autoRechargeAttempts">): Promise<void> {
  const attempt = await ctx.runQuery(internal.autoRecharge.attemptContext, { attemptId });
  if (!attempt || attempt.status !== "pending") return;
  const record = async (outcome: ChargeOutcome) => {
    await ctx.runMutation(internal.autoRecharge.recordResult, { attemptId, outcome });
  };
  const pack = tokenPack(attempt.packId);
  if (!pack) return await record({ status: "failed", code: "unknown_pack", message: "that token pack is no longer sold." });
  if (!attempt.stripeCustomerId) return await record({ status: "failed", code: "no_payment_method", message: NO_CARD });
  const stripe = getStripe();
  const paymentMethod = await savedCardOf(stripe, attempt.stripeCustomerId);
  if (!paymentMethod) return await record({ status: "failed", code: "no_payment_method", message: NO_CARD });
  const price = await resolvePrice(stripe, pack.lookupKey, { oneOff: true }, attempt.currency);

  let paymentIntent: Stripe.PaymentIntent;
  try {
    paymentIntent = await stripe.paymentIntents.create(
      {
        amount: price.unitAmount ?? pack.displayAmount,
        currency: price.currency,
        customer: attempt.stripeCustomerId,
        payment_method: paymentMethod,
        off_session: true,
        confirm: true,
        description: `Auto-recharge: ${pack.tokens} tokens`,
        metadata: { kind: "top_up", packId: pack.id, accountId: attempt.accountId, autoRechargeAttemptId: attemptId },
      },
      { idempotencyKey: `auto-recharge:${attemptId}` },
    );
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeCardError)) return toStripeError(error, "paymentIntents.create");
    const stripePaymentIntentId = error.payment_intent?.id;
    if (error.code === "authentication_required") {
      return await record(await requiresAction(ctx, attempt, pack.id, stripePaymentIntentId));
    }
    const code = error.decline_code ?? error.code ?? "card_declined";
    return await record({
      status: "failed",
      code,
      message: DECLINE_MESSAGES[code] ?? "the payment was declined.",
      stripePaymentIntentId,
    });
  }
  switch (paymentIntent.status) {
    case "succeeded":
      return await record({
        status: "succeeded",
        stripePaymentIntentId: paymentIntent.id,
        amount: paymentIntent.amount,
        currency: paymentIntent.currency,
      });
    case "processing":
      // Settles later; `payment_intent.succeeded` grants it.
      return;
    case "requires_action":
      return await record(await requiresAction(ctx, attempt, pack.id, paymentIntent.id));
    default:
      return await record({
        status: "failed",
        code: paymentIntent.last_payment_error?.code ?? "payment_failed",
        message: "the payment was declined.",
        stripePaymentIntentId: paymentIntent.id,
      });
  }
}

/** The outcome for a payment the bank wants confirmed: a Checkout for the same pack, where 3-D Secure can run. */
async function requiresAction(
  ctx: ActionCtx,
  attempt: { ownerKey: string; currency: string },
  packId: string,
  stripePaymentIntentId: string | undefined,
): Promise<ChargeOutcome> {
  let actionUrl: string | undefined;
  try {
    actionUrl = (await createTopUpCheckout(ctx, { ownerKey: attempt.ownerKey, packId, currency: attempt.currency })).url;
  } catch (error) {
    console.error("auto-recharge: could not open a Checkout for 3-D Secure", error);
  }
  return {
    status: "requires_action",
    code: "authentication_required",
    message: "your bank asks you to confirm this payment.",
    stripePaymentIntentId,
    actionUrl,
  };
}
