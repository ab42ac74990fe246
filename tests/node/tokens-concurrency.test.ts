/**
 * The credits engine under many clients at once, on the local backend with
 * the project's own convex/: one signed-in user, 20 connections (WebSocket
 * `ConvexClient`s and `ConvexHttpClient`s) firing reserves and consumes
 * together for more than the balance holds, then repeating them, then
 * settling and releasing the holds together. The account must never be
 * overspent, every refusal must be a clean `INSUFFICIENT_TOKENS`, and the
 * component's invariant must hold after each round.
 *
 * The local backend runs one transaction at a time (convex-test's lock), so
 * it has no write conflicts to retry; `stats().transactions` says how many
 * calls queued behind another, which is what a deployment would have run
 * concurrently under OCC (https://docs.convex.dev/database/advanced/occ).
 * The figures go to the console and into docs/CREDITS.md.
 */
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference, type FunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startLocalBackend, type LocalBackend, type TransactionStats } from "@offline/local-backend";
import type { Id } from "../../convex/_generated/dataModel";
import { billingOwnerKey } from "../../convex/model/auth";
import { waitFor } from "@offline/local-backend/testing";

type BalanceView = { allowance: number; purchased: number; used: number; held: number; remaining: number; periodEnd: number | null };
type ConsumeResult = { cost: number; remaining: number; duplicate: boolean };
type HoldView = { holdId: string; status: string; amount: number; expiresAt: number; remaining: number; duplicate: boolean };
type SettleResult = { charged: number; returned: number; shortfall: number; remaining: number; duplicate: boolean };
type ReleaseResult = { returned: number; remaining: number; duplicate: boolean };
type Complexity = "low" | "medium" | "high";
type ErrorData = { code: string; message: string; required?: number; available?: number };
type Invariant = { ok: boolean; balance: number; ledgerSum: number; grantsSum: number; entries: number; problems: string[] };

const store = makeFunctionReference<"mutation", Record<string, never>, Id<"users">>("users:store");
const balance = makeFunctionReference<"query", Record<string, never>, BalanceView | null>("tokens:balance");
const consume = makeFunctionReference<"mutation", { feature: string; complexity?: Complexity; idempotencyKey: string }, ConsumeResult>("tokens:consume");
const reserve = makeFunctionReference<"mutation", { feature: string; complexity?: Complexity; idempotencyKey: string }, HoldView>("tokens:reserve");
const settle = makeFunctionReference<"mutation", { holdId: string }, SettleResult>("tokens:settle");
const release = makeFunctionReference<"mutation", { holdId: string }, ReleaseResult>("tokens:release");

const CLIENTS = 20;
const CALLS_PER_CLIENT = 6;
const INITIAL = 100;
/** Free-tier features at catalogue prices (convex/billing/model/plans.ts): 1, 3, 5, 7 and 10 tokens. */
const MENU: { feature: string; complexity: Complexity; cost: number }[] = [
  { feature: "quick_analysis", complexity: "medium", cost: 1 },
  { feature: "standard_analysis", complexity: "medium", cost: 3 },
  { feature: "standard_analysis", complexity: "high", cost: 5 },
  { feature: "bulk_analysis", complexity: "low", cost: 7 },
  { feature: "bulk_analysis", complexity: "medium", cost: 10 },
];

/** One authenticated connection: both client kinds behind one call shape. */
type Conn = {
  kind: "ws" | "http";
  mutation(ref: FunctionReference<"mutation">, args: Record<string, unknown>): Promise<unknown>;
};

type Call = { kind: "reserve" | "consume"; key: string; client: number; feature: string; complexity: Complexity; cost: number };
type Outcome =
  | { call: Call; ok: true; value: ConsumeResult | HoldView }
  | { call: Call; ok: false; error: unknown };

let backend: LocalBackend;
let token: string;
let accountId: string;
const sockets: ConvexClient[] = [];
const conns: Conn[] = [];
let observer: ConvexClient;
/** Every balance the observer was pushed, in order. */
const seen: BalanceView[] = [];

async function admin<T>(path: string, args: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${backend.url}/api/function`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Convex ${backend.adminKey}` },
    body: JSON.stringify({ componentPath: "billing", path, args, format: "json" }),
  });
  const body = (await res.json()) as { status?: string; value?: T; errorMessage?: string };
  if (body.status !== "success") throw new Error(`billing/${path}: ${body.errorMessage ?? res.status}`);
  return body.value as T;
}

async function currentBalance(): Promise<BalanceView> {
  const http = new ConvexHttpClient(backend.url, { logger: false });
  http.setAuth(token);
  const view = await http.query(balance, {});
  if (!view) throw new Error("no balance for the signed-in user");
  return view;
}

function errorData(error: unknown): ErrorData | null {
  return error instanceof ConvexError ? (error.data as ErrorData) : null;
}

function txDelta(before: TransactionStats, after: TransactionStats) {
  return { started: after.started - before.started, waited: after.waited - before.waited, maxWaiting: after.maxWaiting, maxRunning: after.maxRunning };
}

/** Runs every call at once; returns the outcomes in call order. */
async function fire(calls: Call[]): Promise<Outcome[]> {
  return await Promise.all(
    calls.map(async (call): Promise<Outcome> => {
      const conn = conns[call.client]!;
      const args = { feature: call.feature, complexity: call.complexity, idempotencyKey: call.key };
      try {
        const value = (await conn.mutation(call.kind === "reserve" ? reserve : consume, args)) as ConsumeResult | HoldView;
        return { call, ok: true, value };
      } catch (error) {
        return { call, ok: false, error };
      }
    }),
  );
}

beforeAll(async () => {
  backend = await startLocalBackend({ port: 0, sitePort: 0, devAuth: { port: 0 }, envFile: null, crons: "manual", log: false });
  ({ token } = await backend.devAuth!.mintToken({ id: "concurrency", name: "Connie Current", email: "concurrency@example.com" }));

  // Sign in once (creates the user, the account and its free allowance), then top up to INITIAL.
  const first = new ConvexHttpClient(backend.url, { logger: false });
  first.setAuth(token);
  const userId = await first.mutation(store, {});
  const account = await admin<{ _id: string } | null>("accounts:get", { ownerKey: billingOwnerKey(userId) });
  accountId = account!._id;
  const start = await currentBalance();
  await admin("tokens:grant", { accountId, amount: INITIAL - start.remaining, reason: "concurrency test", idempotencyKey: "concurrency-seed" });

  for (let i = 0; i < CLIENTS; i++) {
    if (i % 4 === 3) {
      const http = new ConvexHttpClient(backend.url, { logger: false });
      http.setAuth(token);
      conns.push({ kind: "http", mutation: (ref, args) => http.mutation(ref, args) });
    } else {
      const ws = new ConvexClient(backend.url, { unsavedChangesWarning: false, logger: false });
      sockets.push(ws);
      await new Promise<void>((ok, fail) => ws.setAuth(() => Promise.resolve(token), (authed) => (authed ? ok() : fail(new Error("token refused")))));
      conns.push({ kind: "ws", mutation: (ref, args) => ws.mutation(ref, args) });
    }
  }

  observer = new ConvexClient(backend.url, { unsavedChangesWarning: false, logger: false });
  observer.setAuth(() => Promise.resolve(token));
  observer.onUpdate(balance, {}, (view) => {
    if (view) seen.push(view);
  });
  await waitFor<BalanceView | null>((ok, err) => observer.onUpdate(balance, {}, ok, err), (v) => v?.remaining === INITIAL);
});

afterAll(async () => {
  await Promise.all([...sockets, observer].filter(Boolean).map((c) => c.close()));
  await backend?.close();
});

const holds: { holdId: string; amount: number; key: string }[] = [];
let consumedTotal = 0;
let reservedTotal = 0;
let firstRound: Outcome[] = [];

it("never overspends under reserves and consumes from 20 connections at once; every refusal is INSUFFICIENT_TOKENS", async () => {
  const start = await currentBalance();
  expect(start.remaining).toBe(INITIAL);
  expect(conns.filter((c) => c.kind === "ws")).toHaveLength(15);

  const calls: Call[] = [];
  for (let client = 0; client < CLIENTS; client++) {
    for (let j = 0; j < CALLS_PER_CLIENT; j++) {
      const item = MENU[(client + j) % MENU.length]!;
      calls.push({ kind: (client + j) % 2 === 0 ? "reserve" : "consume", key: `c${client}-${j}`, client, ...item });
    }
  }
  const demand = calls.reduce((sum, c) => sum + c.cost, 0);
  expect(demand).toBeGreaterThan(INITIAL * 4);

  const before = backend.stats().transactions;
  const t0 = performance.now();
  firstRound = await fire(calls);
  const ms = Math.round(performance.now() - t0);
  const tx = txDelta(before, backend.stats().transactions);

  const wins = firstRound.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const refusals = firstRound.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
  for (const o of wins) {
    expect(o.value.duplicate).toBe(false);
    expect(o.value.remaining).toBeGreaterThanOrEqual(0);
    if (o.call.kind === "consume") {
      expect((o.value as ConsumeResult).cost).toBe(o.call.cost);
      consumedTotal += o.call.cost;
    } else {
      const hold = o.value as HoldView;
      expect(hold).toMatchObject({ status: "open", amount: o.call.cost });
      reservedTotal += hold.amount;
      holds.push({ holdId: hold.holdId, amount: hold.amount, key: o.call.key });
    }
  }
  for (const o of refusals) {
    expect(o.error).toBeInstanceOf(ConvexError);
    const data = errorData(o.error)!;
    expect(data.code).toBe("INSUFFICIENT_TOKENS");
    expect(data.required).toBe(o.call.cost);
    expect(data.available).toBeGreaterThanOrEqual(0);
    expect(data.available).toBeLessThan(o.call.cost);
  }
  expect(wins.some((o) => o.call.kind === "consume")).toBe(true);
  expect(wins.some((o) => o.call.kind === "reserve")).toBe(true);
  expect(refusals.length).toBeGreaterThan(0);

  // Successful spends and what is left add up to the start.
  const after = await currentBalance();
  expect(after.remaining).toBeGreaterThanOrEqual(0);
  expect(consumedTotal + reservedTotal + after.remaining).toBe(INITIAL);
  expect(after.held).toBe(reservedTotal);
  expect(after.used - start.used).toBe(consumedTotal);

  const invariant = await admin<Invariant>("tokens:checkInvariant", { accountId });
  expect(invariant).toMatchObject({ ok: true, balance: after.remaining, problems: [] });

  // Every balance pushed to a live subscriber on the way was within bounds.
  await waitFor<BalanceView | null>((ok, err) => observer.onUpdate(balance, {}, ok, err), (v) => v?.remaining === after.remaining);
  expect(seen.length).toBeGreaterThan(1);
  for (const view of seen) {
    expect(view.remaining).toBeGreaterThanOrEqual(0);
    expect(view.remaining + (view.used - start.used) + view.held).toBe(INITIAL);
  }

  // The backend ran them one at a time; `waited` is how many queued.
  expect(tx.started).toBeGreaterThanOrEqual(calls.length);
  expect(tx.waited).toBeGreaterThan(0);
  expect(tx.waited).toBeLessThanOrEqual(tx.started);
  expect(tx.maxRunning).toBe(1);
  console.log(
    `[tokens-concurrency] round 1: ${CLIENTS} connections (${conns.filter((c) => c.kind === "ws").length} WebSocket, ${conns.filter((c) => c.kind === "http").length} HTTP), ` +
      `${calls.length} calls (${calls.filter((c) => c.kind === "reserve").length} reserves, ${calls.filter((c) => c.kind === "consume").length} consumes) ` +
      `asking ${demand} of ${INITIAL} tokens in ${ms} ms: ${wins.length} succeeded (consumed ${consumedTotal}, held ${reservedTotal}), ` +
      `${refusals.length} INSUFFICIENT_TOKENS, ${after.remaining} left. Transactions: ${tx.started} begun (the calls and the ` +
      `live subscriber's re-runs), ${tx.waited} queued behind another ` +
      `(at most ${tx.maxWaiting} waiting), at most ${tx.maxRunning} running; OCC conflicts/retries: 0 (the local backend has no OCC).`,
  );
});

it("applies nothing twice when every successful key is sent again, twice at once, from other connections", async () => {
  const before = await currentBalance();
  const entriesBefore = (await admin<Invariant>("tokens:checkInvariant", { accountId })).entries;
  const wins = firstRound.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
  const repeats: Call[] = wins.flatMap((o) => [
    { ...o.call, client: (o.call.client + 7) % CLIENTS },
    { ...o.call, client: (o.call.client + 13) % CLIENTS },
  ]);
  const stats0 = backend.stats().transactions;
  const outcomes = await fire(repeats);
  const tx = txDelta(stats0, backend.stats().transactions);

  outcomes.forEach((o, i) => {
    expect(o.ok, `repeat of ${o.call.key}`).toBe(true);
    if (!o.ok) return;
    expect(o.value.duplicate).toBe(true);
    const original = (wins[Math.floor(i / 2)] as Extract<Outcome, { ok: true }>).value;
    if (o.call.kind === "consume") expect((o.value as ConsumeResult).cost).toBe((original as ConsumeResult).cost);
    else expect(o.value).toMatchObject({ holdId: (original as HoldView).holdId, amount: (original as HoldView).amount, status: "open" });
  });

  const after = await currentBalance();
  expect(after).toEqual(before);
  const invariant = await admin<Invariant>("tokens:checkInvariant", { accountId });
  expect(invariant).toMatchObject({ ok: true, balance: before.remaining, entries: entriesBefore, problems: [] });
  expect(tx.maxRunning).toBe(1);
  console.log(
    `[tokens-concurrency] round 2: ${repeats.length} repeated keys at once, all duplicates, balance and ledger unchanged. ` +
      `Transactions: ${tx.started} begun (the calls and the live subscriber's re-runs), ${tx.waited} queued behind another.`,
  );
});

it("settles and releases the holds concurrently, each exactly once, and the invariant holds", async () => {
  expect(holds.length).toBeGreaterThanOrEqual(3);
  const before = await currentBalance();
  // Per hold: settle twice, release twice, or settle and release racing each other.
  type Op = { hold: (typeof holds)[number]; op: "settle" | "release"; group: number; client: number };
  const ops: Op[] = holds.flatMap((hold, i): Op[] => {
    const group = i % 3;
    const pair: ("settle" | "release")[] = group === 0 ? ["settle", "settle"] : group === 1 ? ["release", "release"] : ["settle", "release"];
    return pair.map((op, k) => ({ hold, op, group, client: (i + k * 11) % CLIENTS }));
  });
  const stats0 = backend.stats().transactions;
  type OpOutcome = Op & ({ ok: true; value: SettleResult | ReleaseResult } | { ok: false; error: unknown });
  const outcomes = await Promise.all(
    ops.map(async (o): Promise<OpOutcome> => {
      const conn = conns[o.client]!;
      try {
        const value = (await conn.mutation(o.op === "settle" ? settle : release, { holdId: o.hold.holdId })) as SettleResult | ReleaseResult;
        return { ...o, ok: true, value };
      } catch (error) {
        return { ...o, ok: false, error };
      }
    }),
  );
  const tx = txDelta(stats0, backend.stats().transactions);

  let settled = 0;
  let released = 0;
  let lostRaces = 0;
  for (const hold of holds) {
    const mine = outcomes.filter((o) => o.hold === hold);
    const firsts = mine.filter((o): o is Extract<OpOutcome, { ok: true }> => o.ok && !o.value.duplicate);
    expect(firsts, `hold ${hold.key}`).toHaveLength(1);
    const winner = firsts[0]!;
    if (winner.op === "settle") {
      expect(winner.value).toMatchObject({ charged: hold.amount, returned: 0, shortfall: 0 });
      settled += hold.amount;
    } else {
      expect(winner.value).toMatchObject({ returned: hold.amount });
      released += hold.amount;
    }
    for (const other of mine.filter((o) => o !== winner)) {
      if (other.ok) {
        expect(other.value.duplicate).toBe(true);
        expect(other.op).toBe(winner.op);
      } else {
        // Only the settle/release race may refuse, and only as HOLD_CLOSED.
        expect(other.group).toBe(2);
        expect(errorData(other.error)?.code).toBe("HOLD_CLOSED");
        lostRaces += 1;
      }
    }
    if (mine[0]!.group === 2) expect(mine.filter((o) => !o.ok)).toHaveLength(1);
  }

  const after = await currentBalance();
  expect(after.held).toBe(0);
  expect(settled + released).toBe(reservedTotal);
  expect(after.remaining).toBe(before.remaining + released);
  expect(consumedTotal + settled + after.remaining).toBe(INITIAL);
  expect(after.used - before.used).toBe(settled);
  const invariant = await admin<Invariant>("tokens:checkInvariant", { accountId });
  expect(invariant).toMatchObject({ ok: true, balance: after.remaining, problems: [] });
  for (const view of seen) {
    expect(view.remaining).toBeGreaterThanOrEqual(0);
    expect(view.remaining + (view.used - before.used) + view.held).toBe(before.remaining + before.held);
  }

  expect(tx.started).toBeGreaterThanOrEqual(ops.length);
  expect(tx.maxRunning).toBe(1);
  console.log(
    `[tokens-concurrency] round 3: ${ops.length} settles/releases of ${holds.length} holds at once: settled ${settled}, released ${released}, ` +
      `${lostRaces} lost settle/release races (HOLD_CLOSED); ${after.remaining} left. Transactions: ${tx.started} begun, ${tx.waited} queued ` +
      `behind another, at most ${tx.maxRunning} running.`,
  );
});
