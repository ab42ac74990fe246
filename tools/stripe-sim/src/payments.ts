/**
 * Charges (https://docs.stripe.com/api/charges): every PaymentIntent the
 * simulator makes succeed gets one Charge, its `latest_charge`, carrying the
 * PaymentIntent's amount, customer and metadata.
 */
import type Stripe from "stripe";
import { idOf } from "./billing/lookups.ts";
import { buildCharge } from "./builders.ts";
import type { SimContext } from "./context.ts";
import { found } from "./errors.ts";

/** Creates the Charge of a PaymentIntent that just succeeded and sets its `latest_charge`. */
export function createCharge(ctx: SimContext, pi: Stripe.PaymentIntent): Stripe.Charge {
  const state = ctx.store.state;
  const pmId = idOf(pi.payment_method);
  const charge = buildCharge({
    created: ctx.store.now(idOf(pi.customer)),
    paymentIntent: pi,
    paymentMethod: pmId ? (state.paymentMethods[pmId] ?? null) : null,
  });
  state.charges[charge.id] = charge;
  pi.latest_charge = charge.id;
  return charge;
}

export function getCharge(ctx: SimContext, id: string, param = "id"): Stripe.Charge {
  return found(ctx.store.state.charges[id], "charge", id, param);
}
