/**
 * Contract tests: the real `convex` 1.48 clients against the local backend
 * running the fixture app in tests/fixtures/convex.
 */
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalBackend } from "../src/index";
import { startFixtureBackend, waitFor } from "./fixtures/backend";

type Message = { _id: string; channel: string; body: string; author: string };

const list = makeFunctionReference<"query", { channel: string }, Message[]>("messages:list");
const count = makeFunctionReference<"query", { channel: string }, number>("messages:count");
const send = makeFunctionReference<"mutation", { channel: string; body: string }, string>("messages:send");
const fail = makeFunctionReference<"mutation", { kind: "convex" | "plain" }, null>("messages:fail");
const failingQuery = makeFunctionReference<"query", Record<string, never>, null>("messages:failingQuery");
const sendLater = makeFunctionReference<"mutation", { channel: string; body: string; delayMs: number }, null>("messages:sendLater");
const sendViaAction = makeFunctionReference<"action", { channel: string; body: string }, string>("messages:sendViaAction");
const whoami = makeFunctionReference<"query", Record<string, never>, { tokenIdentifier: string; subject: string; name?: string; email?: string } | null>("messages:whoami");
const internalInsert = makeFunctionReference<"mutation", { channel: string; body: string; author: string }, string>("messages:insertInternal");
const secretCount = makeFunctionReference<"query", Record<string, never>, number>("messages:secretCount");

let backend: LocalBackend;
const clients: ConvexClient[] = [];
function client(): ConvexClient {
  const c = new ConvexClient(backend.url, { unsavedChangesWarning: false });
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

describe("WebSocket sync", () => {
  it("pushes a subscribed query's new result after a mutation from another client", async () => {
    const watcher = client();
    const writer = client();
    const empty = await waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "general" }, ok, err), () => true);
    expect(empty).toEqual([]);

    const seen = waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "general" }, ok, err), (v) => v.length === 1);
    const id = await writer.mutation(send, { channel: "general", body: "hello" });
    const rows = await seen;
    expect(rows[0]).toMatchObject({ _id: id, body: "hello", author: "anonymous" });
  });

  it("resolves a mutation only once the writer's own query reflects it", async () => {
    const c = client();
    const unsubscribe = c.onUpdate(count, { channel: "own" }, () => undefined);
    await waitFor<number>((ok, err) => c.onUpdate(count, { channel: "own" }, ok, err), (n) => n === 0);
    await c.mutation(send, { channel: "own", body: "one" });
    // The mutation promise resolves only after the Transition that carries its write.
    expect(c.client.localQueryResult("messages:count", { channel: "own" })).toBe(1);
    unsubscribe();
  });

  it("reads the same commit clock as ctx.meta.getSnapshotTs(), and advances it on writes", async () => {
    const before = backend.engine.commitTs();
    await client().mutation(send, { channel: "clock", body: "tick" });
    const after = backend.engine.commitTs();
    expect(after).toBeGreaterThan(before);
    expect(await backend.engine.snapshotTs()).toBe(after);
  });

  it("raises ConvexError with the thrown data, and a plain Error without data", async () => {
    const c = client();
    const convexFailure = await c.mutation(fail, { kind: "convex" }).catch((e: unknown) => e);
    expect(convexFailure).toBeInstanceOf(ConvexError);
    expect((convexFailure as ConvexError<{ code: string; detail: number }>).data).toEqual({ code: "NOPE", detail: 42 });

    const plainFailure = await c.mutation(fail, { kind: "plain" }).catch((e: unknown) => e);
    expect(plainFailure).toBeInstanceOf(Error);
    expect(plainFailure).not.toBeInstanceOf(ConvexError);
    expect((plainFailure as Error).message).toContain("plain failure");

    const queryFailure = await waitFor<unknown>(
      (ok, err) => c.onUpdate(failingQuery, {}, ok, err),
      () => true,
    ).catch((e: unknown) => e);
    expect(queryFailure).toBeInstanceOf(ConvexError);
    expect((queryFailure as ConvexError<{ code: string }>).data).toEqual({ code: "QUERY_NOPE" });
  });

  it("refuses internal functions to clients", async () => {
    const c = client();
    const error = await c.mutation(internalInsert, { channel: "x", body: "y", author: "z" }).catch((e: unknown) => e);
    expect((error as Error).message).toContain("Could not find public function for 'messages:insertInternal'");
    const queryError = await waitFor<unknown>((ok, err) => c.onUpdate(secretCount, {}, ok, err), () => true).catch((e: unknown) => e);
    expect((queryError as Error).message).toContain("Could not find public function for 'messages:secretCount'");
    const http = new ConvexHttpClient(backend.url);
    await expect(http.query(secretCount, {})).rejects.toThrow(/Could not find public function/);
    expect(await c.query(count, { channel: "x" })).toBe(0);
  });

  it("pushes writes made by an action and by a scheduled function", async () => {
    const watcher = client();
    await waitFor<number>((ok, err) => watcher.onUpdate(count, { channel: "async" }, ok, err), (n) => n === 0);
    const afterAction = waitFor<number>((ok, err) => watcher.onUpdate(count, { channel: "async" }, ok, err), (n) => n === 1);
    await client().action(sendViaAction, { channel: "async", body: "from action" });
    await afterAction;

    const afterScheduled = waitFor<number>((ok, err) => watcher.onUpdate(count, { channel: "async" }, ok, err), (n) => n === 2);
    await client().mutation(sendLater, { channel: "async", body: "later", delayMs: 300 });
    expect(await afterScheduled).toBe(2);
  });
});

describe("authentication", () => {
  it("shows the dev user's identity to queries after setAuth, and clears it", async () => {
    const c = client();
    const token = await backend.devAuth!.mintToken("ada");
    const authChanges: boolean[] = [];
    c.setAuth(() => Promise.resolve(token.token), (isAuthenticated) => authChanges.push(isAuthenticated));
    const me = await waitFor<{ tokenIdentifier: string; subject: string; name?: string; email?: string } | null>((ok, err) => c.onUpdate(whoami, {}, ok, err), (v) => v !== null);
    expect(me).toEqual({
      tokenIdentifier: `${backend.devAuth!.issuer}|dev_ada`,
      subject: "dev_ada",
      name: "Ada Lovelace",
      email: "ada@example.com",
    });
    expect(authChanges).toContain(true);

    const id = await c.mutation(send, { channel: "authed", body: "signed" });
    const rows = await c.query(list, { channel: "authed" });
    expect(rows.find((r) => r._id === id)?.author).toBe("Ada Lovelace");

    c.client.clearAuth();
    await waitFor((ok, err) => c.onUpdate(whoami, {}, ok, err), (v) => v === null);
  });

  it("reports a token that fails verification as not authenticated", async () => {
    const c = client();
    const wrongAudience = await backend.devAuth!.mintToken("grace", { audience: "not-convex" });
    const changes: boolean[] = [];
    const settled = new Promise<void>((resolve) => {
      c.setAuth(() => Promise.resolve(wrongAudience.token), (ok) => {
        changes.push(ok);
        resolve();
      });
    });
    await settled;
    expect(changes).toEqual([false]);
    expect(await c.query(whoami, {})).toBeNull();
  });
});
