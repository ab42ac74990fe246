/**
 * Reconnects and reactive pagination against the local backend, with the real
 * `ConvexClient`: what the sync protocol's de-duplication and query journals
 * are for.
 */
import { ConvexClient } from "convex/browser";
import { makeFunctionReference, type PaginationOptions, type PaginationResult } from "convex/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { LocalBackend } from "../src/index";
import { startFixtureBackend, waitFor } from "./fixtures/backend";

type Message = { _id: string; channel: string; body: string; author: string };
type Paginated = { results: Message[]; status: string; loadMore: (n: number) => boolean };

const list = makeFunctionReference<"query", { channel: string }, Message[]>("messages:list");
const send = makeFunctionReference<"mutation", { channel: string; body: string }, string>("messages:send");
const page = makeFunctionReference<"query", { channel: string; paginationOpts: PaginationOptions }, PaginationResult<Message>>("messages:page");

let backend: LocalBackend;
const clients: ConvexClient[] = [];
function client(): ConvexClient {
  // The client logs every reconnect; these tests cause dozens on purpose.
  const c = new ConvexClient(backend.url, { unsavedChangesWarning: false, logger: false });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  backend = await startFixtureBackend();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await backend.close();
});

describe("reconnects", () => {
  it("applies every mutation exactly once while sockets are dropped mid-stream", async () => {
    const writers = Array.from({ length: 5 }, () => client());
    const perWriter = 20;
    // Drops are spaced so clients get back in between (their reconnect backoff
    // grows while they have not caught up), but frequent enough to land while
    // mutations are in flight.
    let dropping = true;
    let drops = 0;
    const dropper = (async () => {
      while (dropping && drops < 12) {
        await new Promise((r) => setTimeout(r, 40));
        backend.dropConnections();
        drops += 1;
      }
    })();
    const before = backend.stats();
    await Promise.all(
      writers.map(async (w, wi) => {
        // Half sequential, half fired together, so some are in flight at every drop.
        for (let i = 0; i < perWriter / 2; i++) await w.mutation(send, { channel: "stress", body: `w${wi}-s${i}` });
        await Promise.all(
          Array.from({ length: perWriter / 2 }, (_, i) => w.mutation(send, { channel: "stress", body: `w${wi}-p${i}` })),
        );
      }),
    );
    dropping = false;
    await dropper;

    const rows = await client().query(list, { channel: "stress" });
    const bodies = rows.map((r) => r.body).sort();
    expect(bodies).toHaveLength(writers.length * perWriter);
    expect(new Set(bodies).size).toBe(writers.length * perWriter);
    // Whether a random drop lands between a mutation running and its reply is
    // timing; the deterministic case is the next test.
    expect(backend.stats().mutationsRun - before.mutationsRun).toBeGreaterThanOrEqual(writers.length * perWriter);
  });

  it("answers a mutation re-sent on a new socket from the first run instead of running it again", async () => {
    const sessionId = crypto.randomUUID();
    const wsUrl = `${backend.url.replace(/^http/, "ws")}/api/1.48.0/sync`;
    const mutation = { type: "Mutation", requestId: 0, udfPath: "messages:send", args: [{ channel: "resend", body: "once" }] };
    const before = backend.stats();

    // First socket: the mutation is sent, then the socket closes before any reply.
    const first = new WebSocket(wsUrl);
    await new Promise<void>((ok, err) => {
      first.on("open", () => ok());
      first.on("error", err);
    });
    first.send(JSON.stringify({ type: "Connect", sessionId, connectionCount: 0, lastCloseReason: null }));
    first.send(JSON.stringify(mutation));
    first.close();

    // Second socket, same session: the client re-sends every unacknowledged mutation.
    const second = new WebSocket(wsUrl);
    const reply = new Promise<{ success: boolean }>((ok, err) => {
      second.on("message", (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; requestId?: number; success: boolean };
        if (message.type === "MutationResponse" && message.requestId === 0) ok(message);
      });
      second.on("error", err);
    });
    await new Promise<void>((ok) => second.on("open", () => ok()));
    second.send(JSON.stringify({ type: "Connect", sessionId, connectionCount: 1, lastCloseReason: "closed" }));
    second.send(JSON.stringify(mutation));
    expect((await reply).success).toBe(true);
    second.close();

    const rows = await client().query(list, { channel: "resend" });
    expect(rows.map((r) => r.body)).toEqual(["once"]);
    expect(backend.stats().mutationsRun - before.mutationsRun).toBe(1);
    expect(backend.stats().mutationsDeduplicated - before.mutationsDeduplicated).toBe(1);
  });

  it("re-subscribes queries after a dropped connection and keeps pushing updates", async () => {
    const watcher = client();
    await waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "after-drop" }, ok, err), (v) => v.length === 0);
    backend.dropConnections();
    const seen = waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "after-drop" }, ok, err), (v) => v.length === 1);
    await client().mutation(send, { channel: "after-drop", body: "still live" });
    expect((await seen)[0]?.body).toBe("still live");
  });
});

describe("reactive pagination", () => {
  it("keeps page boundaries when rows are inserted inside earlier pages, across a reconnect", async () => {
    const writer = client();
    for (const body of ["a", "c", "e", "g", "i"]) await writer.mutation(send, { channel: "pages", body });

    const reader = client();
    let latest: Paginated | undefined;
    const updates: Paginated[] = [];
    // The experimental API's types ask for `paginationOpts`, which the paginated client adds itself.
    const args = { channel: "pages" } as { channel: string; paginationOpts: PaginationOptions };
    const unsubscribe = reader.onPaginatedUpdate_experimental(page, args, { initialNumItems: 2 }, (result) => {
      latest = result as unknown as Paginated;
      updates.push(latest);
    });
    const until = async (predicate: (p: Paginated) => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!(latest && predicate(latest))) {
        if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(latest?.results.map((m) => m.body))} ${latest?.status}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return latest;
    };
    const bodies = (p: Paginated) => p.results.map((m) => m.body);

    await until((p) => p.status === "CanLoadMore" && p.results.length === 2);
    latest!.loadMore(2);
    await until((p) => p.results.length === 4 && p.status === "CanLoadMore");
    latest!.loadMore(2);
    const full = await until((p) => p.status === "Exhausted");
    expect(bodies(full)).toEqual(["a", "c", "e", "g", "i"]);

    // "b" lands in page 1, "f" in page 2, "z" after the last page.
    for (const body of ["b", "f", "z"]) await writer.mutation(send, { channel: "pages", body });
    const grown = await until((p) => p.results.length === 8);
    expect(bodies(grown)).toEqual(["a", "b", "c", "e", "f", "g", "i", "z"]);

    // After a reconnect the client re-adds its pages with their journals.
    backend.dropConnections();
    await writer.mutation(send, { channel: "pages", body: "d" });
    const afterReconnect = await until((p) => p.results.length === 9);
    expect(bodies(afterReconnect)).toEqual(["a", "b", "c", "d", "e", "f", "g", "i", "z"]);
    // No update ever showed a row twice or skipped one it had shown before.
    for (const u of updates) expect(new Set(bodies(u)).size).toBe(u.results.length);
    unsubscribe();
  });
});
