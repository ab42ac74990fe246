/**
 * The shared anchor stream (`./stream.ts`, copied from
 * `../shared/bench/anchor-convex-stripe`) made to do real work in this app.
 *
 * The stream's checkout sessions name users the app does not have
 * (`client_reference_id: "user_bench_0007"`), and its prices
 * (`basic_monthly`, `pro_monthly`) are not all in our catalogue. Replayed
 * as is, every checkout would be refused as naming an unknown account and
 * the rest would measure dead letters. So, before a pass:
 * - `seedStreamPrices` records the stream's prices in the billing
 *   component's `stripePrices` (`basic_monthly` sells Starter, `pro_monthly`
 *   Pro), so no Stripe call is needed to learn them;
 * - `seedStreamAccounts` signs in one user per stream customer
 *   (`storeUser`, as `users.store` does: a user in the app, and in the
 *   component a personal free account and its free allowance);
 * - `linkCheckoutSessions` rewrites each `checkout.session.completed` body so
 *   `client_reference_id` and `metadata.accountId` name that customer's
 *   account, as our checkout action sets them. The harness signs the
 *   rewritten body with our webhook secret. A redelivery gets the same bytes
 *   as its first delivery.
 * Nothing else in the stream changes, so its digest (`Stream.digest`) still
 * identifies it across apps.
 *
 * Exported, with the stream builder (`generateStream`; its defaults are the
 * anchor's 880 deliveries) and the signer, for budget tests under
 * `tests/convex`: plain `MutationCtx` code, no harness or `vitest` imports.
 * `seedStreamPrices` runs inside the component (`runInBilling`),
 * `seedStreamAccounts` in the app (`t.run`), in that order or the other.
 */
import { components } from "../../../convex/_generated/api";
import type { MutationCtx } from "../../../convex/_generated/server";
import type { MutationCtx as BillingMutationCtx } from "../../../convex/billing/_generated/server";
import { planForLookupKey } from "../../../convex/billing/model/plans";
import { upsertPrice, type PriceRecord } from "../../../convex/billing/model/prices";
import { billingOwnerKey } from "../../../convex/model/auth";
import { storeUser } from "../../../convex/model/users";
import type { Delivery, Stream } from "./stream";

export { generateStream, signDelivery, type Delivery, type Stream, type StreamOptions, type Target } from "./stream";

/** The catalogue lookup key each of the stream's price lookup keys stands for. */
export const STREAM_PRICE_PLANS: Readonly<Record<string, string>> = {
  basic_monthly: "starter_monthly",
  pro_monthly: "pro_monthly",
};

/** Issuer of the seeded users' identities (any string: nothing verifies it under convex-test). */
export const BENCH_ISSUER = "https://clerk.bench.test";

type StreamPrice = { id: string; lookup_key: string | null; unit_amount: number | null; currency: string };

/** The stream's `userId` of customer `c`, as its checkout sessions and subscription metadata carry it. */
export function streamUserId(c: number): string {
  return `user_bench_${String(c).padStart(4, "0")}`;
}

/**
 * The distinct prices the stream's subscription events carry, as
 * `stripePrices` rows for the plans they stand for (`STREAM_PRICE_PLANS`).
 * @throws Error for a stream price with no mapping, so a changed stream fails loudly.
 */
export function streamPriceRecords(stream: Stream): PriceRecord[] {
  const seen = new Map<string, StreamPrice>();
  for (const d of stream.deliveries) {
    if (!d.type.startsWith("customer.subscription.")) continue;
    const sub = (JSON.parse(d.body) as { data: { object: { items: { data: { price: StreamPrice }[] } } } }).data.object;
    for (const item of sub.items.data) seen.set(item.price.id, item.price);
  }
  return [...seen.values()].map((p) => {
    const lookupKey = p.lookup_key ? STREAM_PRICE_PLANS[p.lookup_key] : undefined;
    const plan = planForLookupKey(lookupKey);
    if (!lookupKey || !plan) throw new Error(`stream price ${p.id} (${p.lookup_key}) maps to no catalogue plan`);
    return {
      stripePriceId: p.id,
      lookupKey,
      tier: plan.tier,
      interval: plan.interval,
      unitAmount: p.unit_amount ?? undefined,
      currency: p.currency,
    };
  });
}

/** Records the stream's prices (`streamPriceRecords`) in `stripePrices`. Runs inside the billing component. */
export async function seedStreamPrices(ctx: BillingMutationCtx, stream: Stream): Promise<void> {
  for (const price of streamPriceRecords(stream)) await upsertPrice(ctx, price);
}

/**
 * Seeds one signed-in user per stream customer (`storeUser`: the user, and
 * through the component its personal free account and free allowance).
 * Returns the account ids (the component's, strings here) by customer
 * index. About 5 documents per customer: call it from a test's `t.run` for
 * up to a few hundred customers.
 */
export async function seedStreamAccounts(ctx: MutationCtx, stream: Stream): Promise<string[]> {
  const accounts: string[] = [];
  for (let c = 0; c < stream.options.customers; c++) {
    const subject = streamUserId(c);
    const userId = await storeUser(ctx, {
      issuer: BENCH_ISSUER,
      subject,
      tokenIdentifier: `${BENCH_ISSUER}|${subject}`,
      email: `bench+${c}@example.test`,
      name: `Bench Customer ${c}`,
    });
    const account = await ctx.runQuery(components.billing.accounts.get, { ownerKey: billingOwnerKey(userId) });
    if (!account) throw new Error(`storeUser made no account for ${subject}`);
    accounts.push(account._id);
  }
  return accounts;
}

/**
 * A delivery rewriter: `checkout.session.completed` bodies get
 * `client_reference_id` and `metadata.accountId` set to `accounts[customer]`;
 * other deliveries pass unchanged. Memoised by event id, so a redelivery is
 * byte-identical to its first delivery.
 */
export function linkCheckoutSessions(accounts: readonly string[]): (d: Delivery) => Delivery {
  const bodies = new Map<string, string>();
  return (d) => {
    if (d.type !== "checkout.session.completed") return d;
    let body = bodies.get(d.eventId);
    if (body === undefined) {
      const accountId = accounts[d.customer];
      if (!accountId) throw new Error(`no seeded account for stream customer ${d.customer}`);
      const event = JSON.parse(d.body) as { data: { object: { client_reference_id: string | null; metadata: Record<string, string> | null } } };
      const session = event.data.object;
      session.client_reference_id = accountId;
      session.metadata = { ...session.metadata, accountId };
      body = JSON.stringify(event, null, 2);
      bodies.set(d.eventId, body);
    }
    return { ...d, body };
  };
}
