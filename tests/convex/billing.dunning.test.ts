import { afterEach, describe, expect, test, vi } from "vitest";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { BILLING_CONFIG, type Tier } from "../../convex/billing/model/plans";
import { GRACE_SWEEP_BATCH } from "../../convex/billing/model/billingModel";
import { alice, bob, getAccount, ISSUER, seedAccount, type TestConvex } from "./billingFixtures";
import { billing, billingInternal, runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 20, 12, 0, 0);
const GRACE = BILLING_CONFIG.pastDueGraceDays * DAY;

afterEach(() => {
  vi.useRealTimers();
});

/** A past-due `tier` account whose payment first failed at `pastDueSince`. */
async function seedPastDue(
  t: TestConvex,
  identity: typeof alice,
  pastDueSince: number,
  extra: { tierOverride?: Tier } = {},
): Promise<Id<"billingAccounts">> {
  const subscriptionId = `sub_${identity.subject}`;
  const accountId = await seedAccount(t, identity, {
    tier: extra.tierOverride ?? "pro",
    stripeCustomerId: `cus_${identity.subject}`,
    stripeSubscriptionId: subscriptionId,
    graceEndsAt: pastDueSince + GRACE,
    ...extra,
  });
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("subscriptions", {
      stripeSubscriptionId: subscriptionId,
      stripeCustomerId: `cus_${identity.subject}`,
      accountId,
      status: "past_due",
      tier: "pro",
      interval: "month",
      quantity: 1,
      cancelAtPeriodEnd: false,
      eventCreated: Math.floor(pastDueSince / 1000),
      pastDueSince,
    });
  });
  return accountId;
}

describe("billing.expireGracePeriods", () => {
  test("drops accounts to free once the grace period has passed, and only those", async () => {
    const t = makeTest();
    const expired = await seedPastDue(t, alice, NOW - GRACE - 1);
    const inGrace = await seedPastDue(t, bob, NOW - GRACE + DAY);
    const current = await seedAccount(t, { ...alice, subject: "user_carol" }, { tier: "starter" });

    const result = await billing(t).mutation(billingInternal.accounts.expireGracePeriods, { now: NOW });

    expect(result).toEqual({ processed: 1, done: true });
    const dropped = (await getAccount(t, expired))!;
    expect(dropped.tier).toBe("free");
    expect(dropped.graceEndsAt).toBeUndefined();
    expect(await getAccount(t, inGrace)).toMatchObject({ tier: "pro", graceEndsAt: NOW - GRACE + DAY + GRACE });
    expect(await getAccount(t, current)).toMatchObject({ tier: "starter" });

    // A second run finds nothing left to do.
    expect(await billing(t).mutation(billingInternal.accounts.expireGracePeriods, { now: NOW })).toEqual({ processed: 0, done: true });
  });

  test("the grace boundary: at graceEndsAt the tier goes, a millisecond before it stays", async () => {
    const t = makeTest();
    const accountId = await seedPastDue(t, alice, NOW - GRACE);
    await billing(t).mutation(billingInternal.accounts.expireGracePeriods, { now: NOW - 1 });
    expect(await getAccount(t, accountId)).toMatchObject({ tier: "pro" });
    await billing(t).mutation(billingInternal.accounts.expireGracePeriods, { now: NOW });
    expect(await getAccount(t, accountId)).toMatchObject({ tier: "free" });
  });

  test("a staff override survives the grace expiry", async () => {
    const t = makeTest();
    const accountId = await seedPastDue(t, alice, NOW - GRACE - DAY, { tierOverride: "elite" });
    await billing(t).mutation(billingInternal.accounts.expireGracePeriods, { now: NOW });
    const account = (await getAccount(t, accountId))!;
    expect(account.tier).toBe("elite");
    expect(account.graceEndsAt).toBeUndefined();
  });

  test("more accounts than one batch are all handled through self-scheduled continuations", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    const t = makeTest();
    const count = GRACE_SWEEP_BATCH + 5;
    const ids: Id<"billingAccounts">[] = [];
    for (let i = 0; i < count; i++) {
      ids.push(await seedPastDue(t, { subject: `user_${i}`, issuer: ISSUER, name: `U${i}`, email: `u${i}@example.com` }, NOW - GRACE - i));
    }

    const first = await billing(t).mutation(billingInternal.accounts.expireGracePeriods, {});
    expect(first).toEqual({ processed: GRACE_SWEEP_BATCH, done: false });
    await t.finishAllScheduledFunctions(vi.runAllTimers);

    const tiers = await runInBilling(t, async (ctx) =>
      Promise.all(ids.map(async (id) => (await ctx.db.get("billingAccounts", id))!.tier)),
    );
    expect(tiers.filter((tier) => tier !== "free")).toEqual([]);
  });
});
