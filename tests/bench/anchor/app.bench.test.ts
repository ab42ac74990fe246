/**
 * This app's `POST /stripe/webhook` fed the shared anchor stream: 880 signed
 * deliveries (100 customers × 8 events + 80 redeliveries), the same stream
 * `baseline/` measured on the official `@convex-dev/stripe` component.
 * Adapted from `../shared/bench/anchor-convex-stripe/bench/app.bench.test.ts.example`.
 *
 * A benchmark, not a test: run with `npm run bench:anchor` (its own vitest
 * config, `vitest.bench.config.ts`, outside `npm test`). The assertions below
 * only check the replay did real work: every delivery answered 200, every
 * customer's account got its customer, subscription, invoices and paid
 * allowance, and no event was refused, parked or left for a retry. Budgets
 * are checked by `report.mjs` on the results file.
 *
 * Each pass gets a fresh convex-test instance seeded by `appStream.ts`
 * (accounts and prices; not counted), and the stream's checkout sessions are
 * pointed at the seeded accounts before they are signed. Results go to
 * `tests/bench/anchor/results/` (`BENCH_OUT` overrides).
 */
import { convexTest } from "convex-test";
import { expect, test } from "vitest";
import schema from "../../../convex/schema";
import { billingModules, modules } from "../../convex/setup";
import { registerBilling, runInBilling } from "../../lib/billingComponent";
import { linkCheckoutSessions, seedStreamAccounts, seedStreamPrices } from "./appStream";
import { runBench } from "./harness";
import { instrumentModules, type FunctionCounters } from "./instrument";

const BENCH_LABEL = "convex-stripe-billing";
const TARGET = { path: "/stripe/webhook", secret: "whsec_bench_app_000000000000000000000" };

type T = ReturnType<typeof makeTest>;

/**
 * A fresh instance with every function instrumented: the app's (`app/…`)
 * and the billing component's (`billing/…`), each module map wrapped once,
 * so a call from the app's webhook route into the component counts once.
 */
function makeTest(counters: FunctionCounters) {
  const t = convexTest({ schema, modules: instrumentModules(modules, "app", counters), transactionLimits: true });
  registerBilling(t, instrumentModules(billingModules, "billing", counters));
  return t;
}

/** How many of `rows` have each value of `field`. */
function countBy<R>(rows: readonly R[], field: keyof R): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const key = String(row[field]);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** What the stream left behind: row counts, and counts by status / tier / reason. */
async function finalState(t: T) {
  const users = await t.run(async (ctx) => (await ctx.db.query("users").collect()).length);
  return await runInBilling(t, async (ctx) => {
    const accounts = await ctx.db.query("billingAccounts").collect();
    const subscriptions = await ctx.db.query("subscriptions").collect();
    return {
      users,
      accounts: accounts.length,
      accountsWithCustomer: accounts.filter((a) => a.stripeCustomerId).length,
      accountsByTier: countBy(accounts, "tier"),
      subscriptionsByStatus: countBy(subscriptions, "status"),
      subscriptionsByTier: countBy(subscriptions, "tier"),
      invoicesByStatus: countBy(await ctx.db.query("invoices").collect(), "status"),
      paidCoverage: (await ctx.db.query("paidCoverage").collect()).length,
      ledgerByReason: countBy(await ctx.db.query("tokenLedger").collect(), "reason"),
      stripePrices: (await ctx.db.query("stripePrices").collect()).length,
      webhookEventsByStatus: countBy(await ctx.db.query("webhookEvents").collect(), "status"),
      webhookPayloads: (await ctx.db.query("webhookPayloads").collect()).length,
    };
  });
}

test("this app: webhook replay of the anchor stream", async () => {
  process.env.BENCH_OUT ||= "tests/bench/anchor/results";
  const out = await runBench({
    label: BENCH_LABEL,
    target: TARGET,
    env: (double) => ({
      STRIPE_WEBHOOK_SECRET: TARGET.secret,
      STRIPE_SECRET_KEY: "sk_test_bench_app",
      // Any Stripe call goes to the harness's double and is counted: the app
      // points its SDK at it through the host / port / protocol variables;
      // calls to api.stripe.com are redirected to it regardless.
      STRIPE_API_HOST: "127.0.0.1",
      STRIPE_API_PORT: String(double.port),
      STRIPE_API_PROTOCOL: "http",
    }),
    makeT: makeTest,
    prepare: async (t, stream) => {
      await runInBilling(t, (ctx) => seedStreamPrices(ctx, stream));
      return linkCheckoutSessions(await t.run((ctx) => seedStreamAccounts(ctx, stream)));
    },
    finalState,
    meta: {
      app: "convex-stripe-billing POST /stripe/webhook (convex/http.ts → billing component, convex/billing)",
      seeding:
        "one storeUser account per stream customer; checkout.session.completed client_reference_id and metadata.accountId point at it; stripePrices: basic_monthly→starter_monthly, pro_monthly→pro_monthly",
    },
  });

  // The stream the harness replayed (same knobs, same bytes).
  const customers = Number(process.env.BENCH_CUSTOMERS || 100);
  for (const r of out.runs) {
    expect(r.overall.statuses).toEqual({ "200": r.deliveries });
    // The route's one call into the component, counted once per delivery.
    expect(r.totals.byFunction).toEqual({ "billing/webhooks:receive": r.deliveries });
    expect(r.totals.stripeUnhandled + r.totals.drain.stripeUnhandled).toBe(0);
    const state = r.finalState as Awaited<ReturnType<typeof finalState>>;
    // Every customer's checkout linked its account; every subscription and
    // invoice landed on it; paid allowances were granted beyond the free ones.
    expect(state.accountsWithCustomer).toBe(customers);
    expect(state.subscriptionsByStatus).toEqual({ canceled: customers });
    expect(state.invoicesByStatus).toEqual({ paid: 2 * customers });
    expect(state.paidCoverage).toBe(2 * customers);
    expect(state.ledgerByReason.period_grant).toBeGreaterThan(customers);
    // No dead letters: nothing refused, parked or left for a retry.
    expect(Object.keys(state.webhookEventsByStatus).filter((s) => s !== "succeeded" && s !== "ignored")).toEqual([]);
    expect(state.webhookEventsByStatus.succeeded).toBeGreaterThan(0);
  }
  process.stdout.write(`results: ${out.file}\n`);
});
