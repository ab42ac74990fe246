/**
 * `expand[]` and list pagination, as Stripe does them
 * (https://docs.stripe.com/api/expanding_objects, /api/pagination).
 *
 * Expansion replaces an id string with the object it names, following dotted
 * paths (`data.product`, `latest_invoice.lines`, `items.data.price.product`);
 * a `data` segment walks every element of a list. `line_items` on a Checkout
 * Session is includable-only, as in Stripe.
 */
import type Stripe from "stripe";
import { listOf } from "./builders.ts";
import type { SimContext } from "./context.ts";
import { invalid } from "./errors.ts";
import { snapshot } from "./events.ts";

/** Finds any stored object by id. */
export function lookupById(ctx: SimContext, id: string): object | undefined {
  const s = ctx.store.state;
  const tables: Record<string, object>[] = [
    s.customers,
    s.products,
    s.prices,
    s.paymentMethods,
    s.paymentIntents,
    s.charges,
    s.refunds,
    s.disputes,
    s.checkoutSessions,
    s.portalSessions,
    s.coupons,
    s.deletedCoupons,
    s.promotionCodes,
    s.discounts,
    s.taxIds,
    s.subscriptions,
    s.invoices,
    s.subscriptionSchedules,
    s.portalConfigurations,
    s.testClocks,
    s.webhookEndpoints,
  ];
  for (const t of tables) {
    const found = t[id];
    if (found) return found;
  }
  return undefined;
}

type Json = Record<string, unknown>;

function expandPath(ctx: SimContext, node: unknown, path: string[], full: string): unknown {
  if (path.length === 0 || node === null || node === undefined) return node;
  if (Array.isArray(node)) return node.map((n) => expandPath(ctx, n, path, full));
  if (typeof node !== "object") return node;
  const obj = node as Json;
  const [head, ...rest] = path as [string, ...string[]];
  if (head === "line_items" && obj.object === "checkout.session") {
    const items = ctx.store.state.checkoutLineItems[String(obj.id)] ?? [];
    obj.line_items = snapshot(listOf(items, `/v1/checkout/sessions/${String(obj.id)}/line_items`));
  }
  if (!(head in obj)) {
    throw invalid(`This property cannot be expanded (${full}).`, "expand");
  }
  let value = obj[head];
  if (typeof value === "string") {
    const target = lookupById(ctx, value);
    if (target) value = snapshot(target);
  }
  obj[head] = expandPath(ctx, value, rest, full);
  return obj;
}

/** Returns a wire copy of `object` with `expand` paths (max depth 4, like Stripe) applied. */
export function render<T>(ctx: SimContext, object: T, expand: string[] = []): T {
  const copy = snapshot(object) as unknown;
  for (const path of expand) {
    const parts = path.split(".");
    if (parts.length > 4) throw invalid(`You cannot expand more than 4 levels of a property (${path}).`, "expand");
    expandPath(ctx, copy, parts, path);
  }
  return copy as T;
}

export type ListParams = { limit?: number; starting_after?: string; ending_before?: string };

/**
 * Pages `items` (already in Stripe's order, newest first) the way list
 * endpoints do: `limit` 1..100 (default 10), cursors by object id.
 */
export function paginate<T extends { id: string }>(items: T[], params: ListParams, url: string): Stripe.ApiList<T> {
  const limit = params.limit ?? 10;
  if (limit < 1 || limit > 100) throw invalid("Invalid integer: limit must be between 1 and 100", "limit");
  let start = 0;
  let end = items.length;
  if (params.starting_after) {
    const i = items.findIndex((x) => x.id === params.starting_after);
    if (i < 0) throw invalid(`No such object: '${params.starting_after}'`, "starting_after", "resource_missing");
    start = i + 1;
  }
  if (params.ending_before) {
    const i = items.findIndex((x) => x.id === params.ending_before);
    if (i < 0) throw invalid(`No such object: '${params.ending_before}'`, "ending_before", "resource_missing");
    end = i;
    start = Math.max(0, end - limit);
  }
  const page = items.slice(start, Math.min(end, start + limit));
  const hasMore = params.ending_before ? start > 0 : start + limit < end;
  return listOf(page, url, hasMore);
}

/** Newest first by `created`, ties broken by insertion order (later first). */
export function newestFirst<T extends { created: number }>(items: T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => b.item.created - a.item.created || b.index - a.index)
    .map((x) => x.item);
}
