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
import { modules } from "../../convex/setup";
import { linkCheckoutSessions, seedStreamAccounts } from "./appStream";
import { runBench } from "./harness";
import { instrumentModules } from "./instrument";

const BENCH_LABEL = "convex-stripe-billing";
const TARGET = { path: "/stripe/webhook", secret: "whsec_bench_app_000000000000000000000" };

type Row = Record<string, unknown>;
type Ctx = { db: { query: (table: string) => { collect: () => Promise<Row[]> } } };

/** Row counts, and counts by a field's value, of the tables the stream writes. */
async function finalState(t: { run: <T>(f: (ctx: Ctx) => Promise<T>) => Promise<T> }): Promise<Record<string, unknown>> {
  return await t.run(async (ctx) => {
    const rows = async (table: string) => await ctx.db.query(table).collect();
    const countBy = (list: Row[], field: string) =>
      list.reduce<Record<string, number>>((acc, row) => {
        const key = String(row[field]);
        acc[key] = (acc[key] ?? 0) + 1;
        return acc;
      }, {});
    const accounts = await rows("billingAccounts");
    const subscriptions = await rows("subscriptions");
    const invoices = await rows("invoices");
    const ledger = await rows("tokenLedger");
    const events = await rows("webhookEvents");
    return {
      users: (await rows("users")).length,
      accounts: accounts.length,
      accountsWithCustomer: accounts.filter((a) => a.stripeCustomerId).length,
      accountsByTier: countBy(accounts, "tier"),
      subscriptionsByStatus: countBy(subscriptions, "status"),
      subscriptionsByTier: countBy(subscriptions, "tier"),
      invoicesByStatus: countBy(invoices, "status"),
      paidCoverage: (await rows("paidCoverage")).length,
      ledgerByReason: countBy(ledger, "reason"),
      stripePrices: (await rows("stripePrices")).length,
      webhookEventsByStatus: countBy(events, "status"),
      webhookPayloads: (await rows("webhookPayloads")).length,
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
    makeT: (counters) => convexTest({ schema, modules: instrumentModules(modules, "app", counters), transactionLimits: true }),
    prepare: async (t: ReturnType<typeof convexTest>, stream) => {
      const accounts = await t.run(async (ctx) => await seedStreamAccounts(ctx, stream, Date.now()));
      return linkCheckoutSessions(accounts);
    },
    finalState: (t: ReturnType<typeof convexTest>) => finalState(t as unknown as Parameters<typeof finalState>[0]),
    meta: {
      app: "convex-stripe-billing POST /stripe/webhook (convex/http.ts)",
      seeding:
        "one storeUser account per stream customer; checkout.session.completed client_reference_id and metadata.accountId point at it; stripePrices: basic_monthly→starter_monthly, pro_monthly→pro_monthly",
    },
  });

  // The stream the harness replayed (same knobs, same bytes).
  const customers = Number(process.env.BENCH_CUSTOMERS || 100);
  for (const r of out.runs) {
    expect(r.overall.statuses).toEqual({ "200": r.deliveries });
    expect(r.totals.stripeUnhandled + r.totals.drain.stripeUnhandled).toBe(0);
    const state = r.finalState as Record<string, Record<string, number> | number>;
    expect(state.accountsWithCustomer).toBe(customers);
    expect(state.subscriptionsByStatus).toEqual({ canceled: customers });
    expect(state.invoicesByStatus).toEqual({ paid: 2 * customers });
    expect((state.ledgerByReason as Record<string, number>).period_grant).toBeGreaterThan(customers);
    const events = state.webhookEventsByStatus as Record<string, number>;
    expect(Object.keys(events).filter((s) => s !== "succeeded" && s !== "ignored")).toEqual([]);
    expect(events.succeeded).toBeGreaterThan(0);
  }
  process.stdout.write(`results: ${out.file}\n`);
});
