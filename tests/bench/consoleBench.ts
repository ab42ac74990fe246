/**
 * The operator console's figures (issue 10 "Figures"): the account list
 * reads one page whatever the number of accounts, and the account-detail
 * queries are bounded.
 *
 * Seeds background accounts (each with a balance row, an invoice and a
 * subscription), then measures, at 10 and at 10,000 accounts, through
 * `components.billing.console.*` as the app's staff wrappers call them:
 * `listAccounts` (no filter, a tier filter, a name-prefix search, a customer
 * id search) for a 25-row page, and `accountDetail` / `ledgerPage` of one
 * account. Fails when a figure changes with the number of accounts.
 *
 * Run alone: `npx tsx tests/bench/consoleBench.ts [--accounts N]`.
 */
import { parseArgs } from "node:util";
import { components } from "../../convex/_generated/api";
import { runInBilling } from "../lib/billingComponent";
import { enableScaleIndexes, formatTable, makeHarness, measure, withoutSchemaValidation, type Harness, type Metrics } from "../lib/convexHarness";

const SEED_BATCH = 500;
const PAGE = 25;

export type ConsoleFigure = { accounts: number; query: string; metrics: Metrics };

async function seed(t: Harness, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += SEED_BATCH) {
    const end = Math.min(to, start + SEED_BATCH);
    await runInBilling(t, async (ctx) => {
      for (let i = start; i < end; i++) {
        const customer = `cus_bench_${i}`;
        const accountId = await ctx.db.insert("billingAccounts", {
          kind: i % 3 === 0 ? "organization" : "personal",
          ownerKey: `user:bench_${i}`,
          tier: i % 2 === 0 ? "pro" : "free",
          name: `Account ${String(i).padStart(6, "0")}`,
          email: `bench${i}@example.com`,
          stripeCustomerId: customer,
          stripeSubscriptionId: `sub_bench_${i}`,
        });
        await ctx.db.insert("tokenBalances", { accountId, allowance: 100, purchased: 0, used: 30, held: 0, balance: 70, grantsVersion: 1 });
        await ctx.db.insert("subscriptions", {
          stripeSubscriptionId: `sub_bench_${i}`,
          stripeCustomerId: customer,
          accountId,
          status: "active",
          tier: "pro",
          quantity: 1,
          cancelAtPeriodEnd: false,
          eventCreated: 1,
        });
        await ctx.db.insert("invoices", {
          stripeInvoiceId: `in_bench_${i}`,
          stripeCustomerId: customer,
          accountId,
          status: "paid",
          amountDue: 2900,
          amountPaid: 2900,
          amountRemaining: 0,
          currency: "usd",
          createdAt: 1_000 + i,
          eventCreated: 1,
        });
        await ctx.db.insert("tokenLedger", { accountId, amount: 100, reason: "period_grant", sourceKey: `period:${i}`, balanceAfter: 100 });
      }
    });
  }
}

async function figuresAt(t: Harness, accounts: number): Promise<ConsoleFigure[]> {
  const target = await runInBilling(t, async (ctx) =>
    (await ctx.db.query("billingAccounts").withIndex("by_stripeCustomerId", (q) => q.eq("stripeCustomerId", "cus_bench_4")).unique())!._id,
  );
  const page = { numItems: PAGE, cursor: null };
  const runs: [string, (ctx: Parameters<Parameters<typeof measure>[1]>[0]) => Promise<unknown>][] = [
    [`listAccounts (${PAGE} rows)`, (ctx) => ctx.runQuery(components.billing.console.listAccounts, { paginationOpts: page })],
    [`listAccounts tier=pro`, (ctx) => ctx.runQuery(components.billing.console.listAccounts, { paginationOpts: page, tier: "pro" })],
    [`listAccounts search "Account 0000"`, (ctx) => ctx.runQuery(components.billing.console.listAccounts, { paginationOpts: page, search: "Account 0000" })],
    [`listAccounts search cus_`, (ctx) => ctx.runQuery(components.billing.console.listAccounts, { paginationOpts: page, search: "cus_bench_4" })],
    [`accountDetail`, (ctx) => ctx.runQuery(components.billing.console.accountDetail, { accountId: target })],
    [`ledgerPage (${PAGE})`, (ctx) => ctx.runQuery(components.billing.console.ledgerPage, { accountId: target, paginationOpts: page })],
  ];
  const figures: ConsoleFigure[] = [];
  for (const [query, fn] of runs) {
    const { metrics } = await measure(t, fn);
    figures.push({ accounts, query, metrics });
  }
  return figures;
}

/** The console figures at 10 and `large` accounts, and the problems found. */
export async function benchConsole(large = 10_000): Promise<{ figures: ConsoleFigure[]; problems: string[] }> {
  const t = makeHarness();
  await enableScaleIndexes(t);
  const figures: ConsoleFigure[] = [];
  let seeded = 0;
  for (const accounts of [Math.min(10, large), large]) {
    await withoutSchemaValidation(t, () => seed(t, seeded, accounts));
    seeded = accounts;
    figures.push(...(await figuresAt(t, accounts)));
  }
  const problems: string[] = [];
  for (const f of figures.filter((g) => g.accounts === large)) {
    const small = figures.find((g) => g.query === f.query && g.accounts !== large);
    // A list page at 10 accounts holds only 10 rows; the fixed-size reads must match exactly.
    const fullPageOnlyAtLarge = f.query.startsWith("listAccounts") && !f.query.includes("cus_");
    if (small && !fullPageOnlyAtLarge && small.metrics.databaseQueries !== f.metrics.databaseQueries) {
      problems.push(`console ${f.query} runs ${small.metrics.databaseQueries} queries at ${small.accounts} accounts but ${f.metrics.databaseQueries} at ${large}`);
    }
    // One page: at most PAGE accounts, each with its subscription, balance and newest invoice, plus the detail's bounded lists.
    if (fullPageOnlyAtLarge && f.metrics.databaseQueries > 3 * PAGE + 1) {
      problems.push(`console ${f.query} ran ${f.metrics.databaseQueries} queries for a ${PAGE}-row page`);
    }
    if (f.metrics.documentsRead > 4 * PAGE + 200) problems.push(`console ${f.query} read ${f.metrics.documentsRead} documents at ${large} accounts`);
  }
  return { figures, problems };
}

export function consoleTable(figures: ConsoleFigure[]): string {
  const fmt = (x: number) => x.toLocaleString("en-US");
  return formatTable(
    ["accounts", "query", "docs read", "bytes read", "queries"],
    figures.map((f) => [fmt(f.accounts), f.query, fmt(f.metrics.documentsRead), fmt(f.metrics.bytesRead), fmt(f.metrics.databaseQueries)]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { accounts: { type: "string" } } });
  const large = values.accounts ? Number(values.accounts) : 10_000;
  const { figures, problems } = await benchConsole(large);
  console.log(consoleTable(figures));
  for (const p of problems) console.log(`FAIL ${p}`);
  if (problems.length > 0) process.exit(1);
}
