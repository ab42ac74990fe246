/**
 * Many clients at once: convex-test runs one top-level query or mutation at
 * a time, and the backend must never let two mutations interleave (it has
 * no OCC to catch it if they did). `messages:appendNext` reads, yields to
 * the event loop, then writes what it read, so an interleaving would show
 * as a repeated body; `stats().transactions` shows the queueing.
 */
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LocalBackend } from "../src/index";
import { startFixtureBackend } from "./fixtures/backend";

type Message = { _id: string; channel: string; body: string; author: string };

const appendNext = makeFunctionReference<"mutation", { channel: string }, string>("messages:appendNext");
const list = makeFunctionReference<"query", { channel: string }, Message[]>("messages:list");

let backend: LocalBackend;
const sockets: ConvexClient[] = [];

beforeAll(async () => {
  backend = await startFixtureBackend();
});

afterAll(async () => {
  await Promise.all(sockets.map((c) => c.close()));
  await backend.close();
});

it("runs concurrent read-modify-write mutations from many clients one at a time, and counts the queueing", async () => {
  const webSocketClients = Array.from({ length: 20 }, () => new ConvexClient(backend.url, { unsavedChangesWarning: false }));
  sockets.push(...webSocketClients);
  const httpClients = Array.from({ length: 5 }, () => new ConvexHttpClient(backend.url));
  const perClient = 5;
  const before = backend.stats().transactions;

  const calls = [
    ...webSocketClients.flatMap((c) => Array.from({ length: perClient }, () => c.mutation(appendNext, { channel: "race" }))),
    ...httpClients.flatMap((c) => Array.from({ length: perClient }, () => c.mutation(appendNext, { channel: "race" }))),
  ];
  const bodies = await Promise.all(calls);
  const total = calls.length;

  // Each mutation saw every earlier one: the counts 0 … n−1, each once.
  const expected = Array.from({ length: total }, (_, i) => String(i));
  expect([...bodies].sort((a, b) => Number(a) - Number(b))).toEqual(expected);
  const rows = await httpClients[0]!.query(list, { channel: "race" });
  expect(rows.map((r) => r.body)).toEqual(expected);

  const after = backend.stats().transactions;
  expect(after.started - before.started).toBeGreaterThanOrEqual(total);
  // They did arrive together: some found the lock taken and queued …
  expect(after.waited - before.waited).toBeGreaterThan(0);
  expect(after.maxWaiting).toBeGreaterThan(1);
  // … and never ran side by side.
  expect(after.maxRunning).toBe(1);
  expect(after.running).toBe(0);
});

it("reports the transaction counters on /_local/health", async () => {
  const health = (await (await fetch(`${backend.url}/_local/health`)).json()) as { transactions?: Record<string, number> };
  expect(health.transactions).toEqual(backend.stats().transactions);
  expect(Object.keys(health.transactions ?? {}).sort()).toEqual(["maxRunning", "maxWaiting", "running", "started", "waited"]);
});
