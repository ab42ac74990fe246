/**
 * One free trial per person (docs/TRIALS.md, `model/trials.ts`): a person
 * who had a trial on one account is refused another on any account, before
 * anything reaches Stripe; a colleague may still start one; the pricing
 * page's `trialUsed` tells the caller only that boolean; and whatever order
 * two trials' events arrive in (the same person on two organisations, or a
 * stale session on the same account), only the earliest trial gives its
 * tier and its trial allowance.
 */
import type Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { freePeriod } from "../../convex/billing/model/periods";
import { PLANS } from "../../convex/billing/model/plans";
import { recordCataloguePrice } from "../../convex/billing/model/prices";
import { startFreePeriod } from "../../convex/billing/model/tokens";
import { TRIAL_STARTED_BY } from "../../convex/billing/model/trials";
import { startRecordingStripeServer, type RecordingStripeServer } from "../helpers/recordingStripeServer";
import { stripeApiEnv } from "../helpers/stripeApiEnv";
import { runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, inOrg, permutations, seedAccount, seedOrgAccount } from "./billingFixtures";
import { DAY, T0, event, invoice, price, subscription } from "./fixtures/stripe";
import {
  account,
  balance,
  createAccount,
  deliverAll,
  ledgerRows,
  SECRET,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { makeTest } from "./setup";

const MS = 1000;
const starterMonthly = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const TRIAL_TOKENS = PLANS.starter.trial!.tokens;
const FREE_TOKENS = PLANS.free.tokensPerPeriod;

type Trial = { sub: string; customer: string; start: number; person?: string };

/** A trialing Starter subscription over `[start, start + 14 days)`, stamped with the person who started it. */
function trialSubscription(trial: Trial): Stripe.Subscription {
  const end = trial.start + 14 * DAY;
  const built = subscription({
    id: trial.sub,
    customer: trial.customer,
    status: "trialing",
    price: starterMonthly,
    periodStart: trial.start,
    periodEnd: end,
    trialStart: trial.start,
    trialEnd: end,
    ...(trial.person ? { metadata: { [TRIAL_STARTED_BY]: trial.person } } : {}),
  });
  return { ...built, start_date: trial.start, default_payment_method: null };
}

/** The trial's two events: the subscription, and Stripe's paid $0 first invoice over the trial. */
function trialEvents(trial: Trial): [Stripe.Event, Stripe.Event] {
  const end = trial.start + 14 * DAY;
  return [
    event("customer.subscription.created", trialSubscription(trial), { created: trial.start }),
    event(
      "invoice.paid",
      invoice({
        id: `in_${trial.sub.slice(4)}`,
        customer: trial.customer,
        subscription: trial.sub,
        status: "paid",
        billingReason: "subscription_create",
        price: starterMonthly,
        lines: [{ price: starterMonthly, amount: 0, start: trial.start, end }],
        created: trial.start,
      }),
      { created: trial.start },
    ),
  ];
}

/** Tier, balance and current period of an account, with the ledger's invariant checked. */
async function state(t: TestConvex, accountId: Id<"billingAccounts">) {
  const b = await balance(t, accountId);
  const invariant = await runInBilling(t, async (ctx) => await ledger.checkInvariant(ctx, accountId));
  expect(invariant.problems).toEqual([]);
  return { tier: (await account(t, accountId)).tier, balance: b?.balance ?? 0, allowance: b?.allowance ?? 0, periodKey: b?.periodKey };
}

/** An account with the month's free allowance, as `accounts.ensure` leaves a new one. */
async function freeAccount(t: TestConvex, stripeCustomerId: string): Promise<Id<"billingAccounts">> {
  const accountId = await createAccount(t, { stripeCustomerId });
  await runInBilling(t, async (ctx) => {
    await recordCataloguePrice(ctx, starterMonthly);
    await startFreePeriod(ctx, accountId, Date.now());
  });
  return accountId;
}

const trialOf = (sub: string) => ({ tier: "starter", balance: TRIAL_TOKENS, allowance: TRIAL_TOKENS, periodKey: `trial:${sub}` });
const freeNow = () => ({ tier: "free", balance: FREE_TOKENS, allowance: FREE_TOKENS, periodKey: freePeriod(Date.now()).periodKey });

describe("two trials, every delivery order: only the earliest counts", () => {
  useWebhookSuite();

  // Alice's first trial (org A) and her second, an hour later, on org B: a
  // stale session or two tabs (the Checkout refusal cannot see a trial whose
  // events have not arrived yet).
  const first: Trial = { sub: "sub_first", customer: "cus_org_a", start: T0, person: "user_alice" };
  const second: Trial = { sub: "sub_second", customer: "cus_org_b", start: T0 + 3600, person: "user_alice" };

  test("the same person on two organisations: the first org keeps its trial; the second gets no tier and no trial allowance", async () => {
    const events = [...trialEvents(first), ...trialEvents(second)];
    for (const order of permutations(events)) {
      vi.setSystemTime((T0 + 7200) * MS);
      const t = makeTest();
      const orgA = await freeAccount(t, first.customer);
      const orgB = await freeAccount(t, second.customer);
      await deliverAll(t, ...order, ...order);
      const label = order.map((e) => `${e.type}:${(e.data.object as { id: string }).id}`);
      expect({ label, a: await state(t, orgA), b: await state(t, orgB) }).toEqual({ label, a: trialOf(first.sub), b: freeNow() });
      // Each account still remembers its own trial; the person has two recorded.
      expect((await account(t, orgB)).trialUsedAt).toBe(second.start * MS);
    }
  });

  test("a stale session on the same account: one trial's tier and allowance, in every order", async () => {
    const stale: Trial = { sub: "sub_stale", customer: first.customer, start: T0 + 3600, person: "user_alice" };
    for (const order of permutations([...trialEvents(first), ...trialEvents(stale)])) {
      vi.setSystemTime((T0 + 7200) * MS);
      const t = makeTest();
      const accountId = await freeAccount(t, first.customer);
      await deliverAll(t, ...order, ...order);
      const label = order.map((e) => `${e.type}:${(e.data.object as { id: string }).id}`);
      expect({ label, ...(await state(t, accountId)) }).toEqual({ label, ...trialOf(first.sub) });
      expect((await account(t, accountId)).trialUsedAt).toBe(first.start * MS);
      // The first trial ends without a card; the stale one's last hour gives no Starter access.
      const firstEnd = first.start + 14 * DAY;
      vi.setSystemTime((firstEnd + 60) * MS);
      const ended = { ...trialSubscription(first), status: "canceled" as const, ended_at: firstEnd, canceled_at: firstEnd };
      await deliverAll(t, event("customer.subscription.deleted", ended, { created: firstEnd }));
      expect({ label, tier: (await account(t, accountId)).tier }).toEqual({ label, tier: "free" });
    }
  });

  test("a colleague's trial on another organisation is not affected by someone else's", async () => {
    const bobs: Trial = { sub: "sub_bob", customer: "cus_org_b", start: T0 + 3600, person: "user_bob" };
    for (const order of permutations([...trialEvents(first), ...trialEvents(bobs)])) {
      vi.setSystemTime((T0 + 7200) * MS);
      const t = makeTest();
      const orgA = await freeAccount(t, first.customer);
      const orgB = await freeAccount(t, bobs.customer);
      await deliverAll(t, ...order);
      expect({ a: await state(t, orgA), b: await state(t, orgB) }).toEqual({ a: trialOf(first.sub), b: trialOf(bobs.sub) });
    }
  });

  test("taken back later: the second trial's unspent tokens expire through the ledger, spent ones stay spent; the ledger balances", async () => {
    vi.setSystemTime((T0 + 7200) * MS);
    const t = makeTest();
    const orgA = await freeAccount(t, first.customer);
    const orgB = await freeAccount(t, second.customer);
    await deliverAll(t, ...trialEvents(second));
    expect(await state(t, orgB)).toEqual(trialOf(second.sub));
    await runInBilling(t, async (ctx) => {
      await ledger.consume(ctx, orgB, { sourceKey: "use:1", cost: 7, feature: "analysis" });
    });
    await deliverAll(t, ...trialEvents(first));
    expect(await state(t, orgA)).toEqual(trialOf(first.sub));
    expect(await state(t, orgB)).toEqual(freeNow());
    const rows = await ledgerRows(t, orgB);
    // The 7 tokens used stay used; the 13 left of the trial allowance expire, once.
    expect(rows.filter((r) => r.sourceKey === "use:1").map((r) => r.amount)).toEqual([-7]);
    expect(rows.filter((r) => r.sourceKey === `trial:${second.sub}:revoked:expire`).map((r) => r.amount)).toEqual([-(TRIAL_TOKENS - 7)]);
    // Redelivering everything changes nothing more.
    await deliverAll(t, ...trialEvents(second), ...trialEvents(first));
    expect((await ledgerRows(t, orgB)).length).toBe(rows.length);
    const audit = await runInBilling(t, async (ctx) =>
      (await ctx.db.query("auditLog").collect()).filter((row) => row.action === "trial.revoked"),
    );
    expect(audit.map((row) => row.accountId)).toEqual([orgB]);
  });
});

describe("Checkout: one trial per person", () => {
  let stripe: RecordingStripeServer;
  beforeEach(async () => {
    stripe = await startRecordingStripeServer();
    vi.stubEnv("STRIPE_SECRET_KEY", "sk_test_trials");
    for (const [name, value] of Object.entries(stripeApiEnv(stripe.url))) vi.stubEnv(name, value);
    vi.stubEnv("SITE_URL", "https://app.example.test");
  });
  afterEach(async () => {
    await stripe.close();
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  const aliceInA = inOrg(alice, "org_a", "org:admin");
  const aliceInB = inOrg(alice, "org_b", "org:admin");
  const bobInB = inOrg(bob, "org_b", "org:admin");

  /** Alice's trial on org A as Stripe reports it, stamped by the Checkout she started. */
  async function aliceHadTrialOnA(t: TestConvex): Promise<void> {
    await t.withIdentity(aliceInA).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month", trial: true });
    const session = stripe.requestsTo("POST", "/v1/checkout/sessions")[0]!;
    expect(session.form).toMatchObject({
      "subscription_data[metadata][trial_started_by]": alice.subject,
      "subscription_data[trial_period_days]": "14",
    });
    const customer = session.form.customer as string;
    await runInBilling(t, async (ctx) => {
      await recordCataloguePrice(ctx, starterMonthly);
    });
    // Stripe's events for it, delivered to the webhook (fake timers run the queue).
    const now = Date.now();
    vi.stubEnv("STRIPE_WEBHOOK_SECRET", SECRET);
    vi.useFakeTimers();
    vi.setSystemTime(now);
    const start = Math.floor(now / MS) - 60;
    await deliverAll(t, ...trialEvents({ sub: "sub_alice_a", customer, start, person: alice.subject }));
    vi.useRealTimers();
  }

  test("the same person is refused a trial on a second organisation before anything reaches Stripe; a colleague there may start one", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await seedAccount(t, bob);
    await seedOrgAccount(t, "org_a");
    const orgB = await seedOrgAccount(t, "org_b");
    await aliceHadTrialOnA(t);

    const before = stripe.requests.length;
    await expectCode(
      t.withIdentity(aliceInB).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month", trial: true }),
      "TRIAL_ALREADY_USED",
    );
    expect(stripe.requests.length).toBe(before);
    // The same person may still buy without a trial.
    await t.withIdentity(aliceInB).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month" });
    const bought = stripe.requestsTo("POST", "/v1/checkout/sessions").at(-1)!;
    expect(bought.form).not.toHaveProperty("subscription_data[trial_period_days]");

    // Bob, a colleague in org B, has had no trial: his Checkout starts one, stamped with him.
    await t.withIdentity(bobInB).action(api.billing.createCheckoutSession, { tier: "starter", interval: "month", trial: true });
    const bobs = stripe.requestsTo("POST", "/v1/checkout/sessions").at(-1)!;
    expect(bobs.form).toMatchObject({
      "subscription_data[metadata][trial_started_by]": bob.subject,
      "subscription_data[metadata][accountId]": orgB,
      "subscription_data[trial_period_days]": "14",
    });
  });

  test("the pricing page's trialUsed is the caller's own: true for Alice on org B, false for Bob there; nothing else about org A shows", async () => {
    const t = makeTest();
    await seedAccount(t, alice);
    await seedAccount(t, bob);
    await seedOrgAccount(t, "org_a");
    await seedOrgAccount(t, "org_b");
    const bobBefore = await t.withIdentity(bobInB).query(api.billing.subscription, {});
    const aliceBefore = await t.withIdentity(aliceInB).query(api.billing.subscription, {});
    expect(aliceBefore).toEqual(bobBefore);
    expect(bobBefore).toMatchObject({ tier: "free", status: "none", trialUsed: false });

    await aliceHadTrialOnA(t);
    expect(await t.withIdentity(aliceInA).query(api.billing.subscription, {})).toMatchObject({ tier: "starter", trialUsed: true });
    // Org B's view for Bob is exactly what it was; for Alice only the boolean differs.
    expect(await t.withIdentity(bobInB).query(api.billing.subscription, {})).toEqual(bobBefore);
    expect(await t.withIdentity(aliceInB).query(api.billing.subscription, {})).toEqual({ ...bobBefore, trialUsed: true });
    // Her personal account too: she had her trial.
    expect(await t.withIdentity(alice).query(api.billing.subscription, {})).toMatchObject({ tier: "free", trialUsed: true });
    expect(await t.withIdentity(bob).query(api.billing.subscription, {})).toMatchObject({ trialUsed: false });
  });
});

