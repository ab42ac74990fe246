/**
 * Readers of Stripe object shapes, shared by the webhook endpoint, the event
 * handlers and reconciliation. A leaf module: it imports only the stripe SDK's
 * types, nothing from the app, so anything may import it.
 *
 * Shapes follow API version 2026-10-28.endive and also read the versions
 * before 2025-03-31 (basil), because events listed from the API by
 * reconciliation are rendered at the account's default version:
 * - a subscription's current period sits on its items (older: on the
 *   subscription), https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end;
 * - an invoice's subscription is `parent.subscription_details.subscription`
 *   (older: `subscription`);
 * - an invoice line's price is `pricing.price_details.price` (older: `price`).
 *
 * Stripe times are seconds; `secondsToMs` converts them to Convex ms.
 */
import type Stripe from "stripe";

/** Stripe id of an expandable field (`"cus_…"` or `{ id: "cus_…" }`), or undefined when absent. */
export function stripeIdOf(value: string | { id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === "string" ? value : value.id;
}

/** Stripe seconds → Convex ms; undefined for null/undefined. */
export function secondsToMs(seconds: number | null | undefined): number | undefined {
  return seconds === null || seconds === undefined ? undefined : seconds * 1000;
}

/**
 * The Stripe customer an event concerns (`cus_…`): the object itself when it
 * is a customer, else its `customer` field. Undefined when it has none (e.g. a
 * test clock).
 */
export function customerIdOfEvent(event: Pick<Stripe.Event, "data">): string | undefined {
  const object = event.data.object as { object?: string; id?: string; customer?: string | { id: string } | null };
  if (object.object === "customer") return object.id;
  return stripeIdOf(object.customer ?? undefined);
}

/**
 * The fields the event queue records for a delivery (`webhooks.receive`'s
 * args): `payload` is the raw JSON as received, or the API's rendering for an
 * event fetched by reconciliation. Times are Stripe seconds.
 */
export function deliveryOf(event: Stripe.Event, payload: string) {
  return {
    eventId: event.id,
    type: event.type,
    apiVersion: event.api_version ?? undefined,
    livemode: event.livemode,
    eventCreated: event.created,
    payload,
    stripeCustomerId: customerIdOfEvent(event),
  };
}

/**
 * Why an event of the other mode than the deployment's key is ignored
 * (`"test event on a live-mode deployment"`), or undefined when they match:
 * test events never change live data, nor live events test data.
 */
export function modeMismatch(livemode: boolean | undefined, mode: "live" | "test"): string | undefined {
  const eventMode = livemode ? "live" : "test";
  return eventMode === mode ? undefined : `${eventMode} event on a ${mode}-mode deployment`;
}

/** `data.previous_attributes.status` of an update event, when the update changed the status. */
export function previousStatusOf(event: Pick<Stripe.Event, "data">): string | undefined {
  const previous = (event.data as { previous_attributes?: { status?: unknown } }).previous_attributes;
  return typeof previous?.status === "string" ? previous.status : undefined;
}

/** Shapes of API versions before 2025-03-31 (basil). */
type LegacyInvoice = { subscription?: string | { id: string } | null };
type LegacyLine = { price?: { id: string } | string | null };
type LegacySubscriptionPeriod = { current_period_start?: number | null; current_period_end?: number | null };

/** The subscription an invoice bills (`sub_…`), in either API shape; undefined for a one-off invoice. */
export function invoiceSubscriptionId(invoice: Stripe.Invoice): string | undefined {
  const fromParent = stripeIdOf(invoice.parent?.subscription_details?.subscription);
  return fromParent ?? stripeIdOf((invoice as Stripe.Invoice & LegacyInvoice).subscription);
}

/** The price id of an invoice line, in either API shape, or undefined (a line without a price). */
export function linePriceId(line: Stripe.InvoiceLineItem): string | undefined {
  const detailsPrice = line.pricing?.price_details?.price;
  if (typeof detailsPrice === "string") return detailsPrice;
  if (detailsPrice && typeof detailsPrice === "object") return detailsPrice.id;
  const legacy = (line as Stripe.InvoiceLineItem & LegacyLine).price;
  if (typeof legacy === "string") return legacy;
  return legacy?.id;
}

/** The current period of a subscription (seconds), from its item or, in older versions, the subscription. */
export function subscriptionPeriod(
  subscription: Stripe.Subscription,
  item: Stripe.SubscriptionItem | undefined,
): { start: number | undefined; end: number | undefined } {
  const legacy = subscription as Stripe.Subscription & LegacySubscriptionPeriod;
  return {
    start: item?.current_period_start ?? legacy.current_period_start ?? undefined,
    end: item?.current_period_end ?? legacy.current_period_end ?? undefined,
  };
}

/** The id of a price given as an id or an object. */
export function priceIdOf(price: string | { id: string }): string {
  return typeof price === "string" ? price : price.id;
}

/** The subscription a schedule governs (or, once released, governed); undefined for a schedule not started yet. */
export function scheduleSubscriptionId(schedule: Stripe.SubscriptionSchedule): string | undefined {
  return stripeIdOf(schedule.subscription) ?? schedule.released_subscription ?? undefined;
}
