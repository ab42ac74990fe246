/**
 * What applying one Stripe event came to. Every handler returns one of these;
 * the pipeline (`model/webhookPipeline.ts`) acts on it. A leaf module.
 *
 * - `applied`: the event's effect is in the database (or it was already, or
 *   it is older than what is). `landed` lists the dependency keys this event
 *   made available, so the pipeline can wake events waiting for them.
 * - `ignored`: nothing of ours is concerned (an unknown customer's profile, a
 *   session without any account reference and no customer).
 * - `wait`: it cannot apply until `waitingFor` lands. The handler returns it
 *   before writing anything. The event is parked `waiting` (no attempt is
 *   counted) and woken when that key lands.
 * - `refused`: it can never apply as it stands (a forged or conflicting
 *   account link). The handler returns it before writing anything; the event
 *   goes to `dead` at once for an operator.
 *
 * Anything unexpected is a throw: the transaction rolls back and the event is
 * retried with backoff.
 *
 * Dependency keys: `customer:cus_…` (a customer linked to an account),
 * `subscription:sub_…` (a subscription mirrored), `price:price_…` (a price
 * whose tier is known), `payment:pi_…` (a top-up paid by that PaymentIntent
 * granted).
 */

/** Where an event sits in time, for ordering. */
export type EventClock = {
  eventId: string;
  /** Stripe `created`, seconds. */
  eventCreated: number;
  /** `data.previous_attributes.status` when the event changed the status. */
  previousStatus?: string;
};

export type DependencyKey = `customer:${string}` | `subscription:${string}` | `price:${string}` | `payment:${string}`;

export type EventOutcome =
  | { kind: "applied"; landed: DependencyKey[] }
  | { kind: "ignored" }
  | { kind: "wait"; waitingFor: DependencyKey; reason: string }
  | { kind: "refused"; reason: string };

export const dependency = {
  customer: (stripeCustomerId: string): DependencyKey => `customer:${stripeCustomerId}`,
  subscription: (stripeSubscriptionId: string): DependencyKey => `subscription:${stripeSubscriptionId}`,
  price: (stripePriceId: string): DependencyKey => `price:${stripePriceId}`,
  payment: (stripePaymentIntentId: string): DependencyKey => `payment:${stripePaymentIntentId}`,
};

/** The price id a `price:` key waits for, else undefined. */
export function priceOfKey(key: string | undefined): string | undefined {
  return key?.startsWith("price:") ? key.slice("price:".length) : undefined;
}

export function applied(landed: ReadonlyArray<DependencyKey | undefined> = []): EventOutcome {
  return { kind: "applied", landed: landed.filter((key): key is DependencyKey => key !== undefined) };
}

export const IGNORED: EventOutcome = { kind: "ignored" };

export function waitFor(waitingFor: DependencyKey, reason: string): EventOutcome {
  return { kind: "wait", waitingFor, reason };
}

export function refuse(reason: string): EventOutcome {
  return { kind: "refused", reason };
}
