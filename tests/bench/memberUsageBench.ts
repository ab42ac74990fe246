/**
 * `npm run bench`, part 7: the per-member usage query (issue 10 §3's figure).
 *
 * `memberUsage.list` (the admins' "Usage by member" table, as the app calls
 * it through `components.billing`) must read only the pre-aggregated
 * `tokenUsageByMember` rows of the organisation's current and previous
 * periods, its caps, the account and its balance row: the same figures
 * whatever the number of accounts and however long each member's ledger is.
 *
 * Seeds `accounts` background organisations (each with a balance and 3
 * members' rows), then one organisation with `members` members, each with
 * `LEDGER_ROWS_PER_MEMBER` consume rows in the ledger, a row this period and
 * last, and a cap for every other member; measures the query at 10 and at
 * 10,000 accounts, with 10 and with 200 members. Fails when a figure changes
 * with the number of accounts, or reads more documents than the
 * pre-aggregated rows and caps (plus the account, the balance row and the
 * previous-period look-up).
 */
import { components } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { MAX_MEMBERS_LISTED } from "../../convex/billing/model/memberUsage";
import { runInBilling } from "../lib/billingComponent";
import { enableScaleIndexes, formatTable, makeHarness, measure, withoutSchemaValidation, type Harness, type Metrics } from "../lib/convexHarness";

const SEED_BATCH = 500;
const LEDGER_ROWS_PER_MEMBER = 20;
const CURRENT = { periodKey: "bench:2026-11", periodStart: Date.UTC(2026, 10, 1), periodEnd: Date.UTC(2026, 11, 1) };
const PREVIOUS = { periodKey: "bench:2026-10", periodStart: Date.UTC(2026, 9, 1) };

export type MemberUsageFigure = { accounts: number; members: number; ledgerRows: number; metrics: Metrics; expectedMaxReads: number };

async function seedBackground(t: Harness, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += SEED_BATCH) {
    const end = Math.min(to, start + SEED_BATCH);
    await runInBilling(t, async (ctx) => {
      for (let i = start; i < end; i++) {
        const accountId = await ctx.db.insert("billingAccounts", { kind: "organization", ownerKey: `org:bench_bg_${i}`, tier: "free", name: `Org ${i}` });
        await ctx.db.insert("tokenBalances", {
          accountId,
          allowance: 100,
          purchased: 0,
          used: 30,
          held: 0,
          balance: 70,
          grantsVersion: 1,
          ...CURRENT,
        });
        for (let m = 0; m < 3; m++) {
          await ctx.db.insert("tokenUsageByMember", { accountId, ...pick(CURRENT), memberKey: `user:bg${i}_${m}`, used: 10, held: 0 });
        }
      }
    });
  }
}

function pick(p: { periodKey: string; periodStart: number }) {
  return { periodKey: p.periodKey, periodStart: p.periodStart };
}

/** The measured organisation: `members` members with usage this period and last, ledger rows, caps on every other member. */
async function seedTarget(t: Harness, tag: string, members: number): Promise<string> {
  const ownerKey = `org:bench_target_${tag}`;
  const accountId: Id<"billingAccounts"> = await runInBilling(t, async (ctx) => {
    const id = await ctx.db.insert("billingAccounts", { kind: "organization", ownerKey, tier: "pro", name: `Target ${tag}` });
    await ctx.db.insert("tokenBalances", { accountId: id, allowance: 100_000, purchased: 0, used: 0, held: 0, balance: 100_000, grantsVersion: 1, ...CURRENT });
    return id;
  });
  for (let start = 0; start < members; start += 50) {
    const end = Math.min(members, start + 50);
    await runInBilling(t, async (ctx) => {
      for (let m = start; m < end; m++) {
        const memberKey = `user:member_${tag}_${m}`;
        await ctx.db.insert("tokenUsageByMember", { accountId, ...pick(CURRENT), memberKey, used: 5 * LEDGER_ROWS_PER_MEMBER, held: 0 });
        await ctx.db.insert("tokenUsageByMember", { accountId, ...pick(PREVIOUS), memberKey, used: 40, held: 0 });
        if (m % 2 === 0) await ctx.db.insert("memberTokenCaps", { accountId, memberKey, capTokens: 500, setBy: "user:admin", setAt: 0 });
        for (let r = 0; r < LEDGER_ROWS_PER_MEMBER; r++) {
          await ctx.db.insert("tokenLedger", {
            accountId,
            amount: -5,
            reason: "consume",
            sourceKey: `consume:${tag}_${m}_${r}`,
            balanceAfter: 0,
            feature: "standard_analysis",
            memberKey,
          });
        }
      }
    });
  }
  return ownerKey;
}

async function measureList(t: Harness, ownerKey: string): Promise<Metrics> {
  const { metrics, result } = await measure(t, (ctx) => ctx.runQuery(components.billing.memberUsage.list, { ownerKey }));
  if (!result || result.current.members.length === 0) throw new Error(`memberUsage.list returned nothing for ${ownerKey}`);
  return metrics;
}

/**
 * Runs the figure at 10 and at `large` accounts (see the file's comment).
 * Returns the figures and the problems found.
 */
export async function benchMemberUsage(large = 10_000): Promise<{ figures: MemberUsageFigure[]; problems: string[] }> {
  const t = makeHarness();
  await enableScaleIndexes(t);
  const figures: MemberUsageFigure[] = [];
  let seeded = 0;
  for (const accounts of [Math.min(10, large), large]) {
    await withoutSchemaValidation(t, () => seedBackground(t, seeded, accounts));
    seeded = accounts;
    for (const members of [10, MAX_MEMBERS_LISTED]) {
      const ownerKey = await seedTarget(t, `${accounts}_${members}`, members);
      const metrics = await measureList(t, ownerKey);
      const caps = Math.ceil(members / 2);
      // account + balance + this period's rows + the previous-period look-up + its rows + caps
      const expectedMaxReads = 1 + 1 + members + 1 + members + caps;
      figures.push({ accounts, members, ledgerRows: members * LEDGER_ROWS_PER_MEMBER, metrics, expectedMaxReads });
    }
  }
  const problems: string[] = [];
  for (const f of figures) {
    if (f.metrics.documentsRead > f.expectedMaxReads) {
      problems.push(
        `memberUsage.list read ${f.metrics.documentsRead} documents with ${f.members} members (at most ${f.expectedMaxReads} pre-aggregated rows, caps and the account expected)`,
      );
    }
    const same = figures.find((g) => g.members === f.members && g.accounts !== f.accounts);
    if (same && (same.metrics.documentsRead !== f.metrics.documentsRead || same.metrics.databaseQueries !== f.metrics.databaseQueries)) {
      problems.push(`memberUsage.list with ${f.members} members reads differently at ${same.accounts} and ${f.accounts} accounts`);
    }
  }
  return { figures, problems };
}

export function memberUsageTable(figures: MemberUsageFigure[]): string {
  const fmt = (x: number) => x.toLocaleString("en-US");
  return formatTable(
    ["accounts", "members", "their ledger rows", "docs read", "bytes read", "queries", "docs written"],
    figures.map((f) => [
      fmt(f.accounts),
      fmt(f.members),
      fmt(f.ledgerRows),
      fmt(f.metrics.documentsRead),
      fmt(f.metrics.bytesRead),
      fmt(f.metrics.databaseQueries),
      fmt(f.metrics.documentsWritten),
    ]),
  );
}
