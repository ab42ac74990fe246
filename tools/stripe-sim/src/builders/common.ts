/** Shared pieces of the object builders: the pinned API version, decimals, list objects. */
import Stripe from "stripe";

export const API_VERSION = Stripe.API_VERSION;

export const decimal = (n: number): Stripe.Decimal => Stripe.Decimal.from(String(n));

/** An empty list object as Stripe embeds it (`{object:"list", data, has_more, url}`). */
export function listOf<T>(data: T[], url: string, hasMore = false): Stripe.ApiList<T> {
  return { object: "list", data, has_more: hasMore, url };
}
