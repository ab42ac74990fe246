/**
 * The local backend's HTTP surfaces and lifecycle: the HTTP API through
 * `ConvexHttpClient`, HTTP actions on the site port, crons, env file,
 * persistence and reset.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextRunAt, parseCron, type LocalBackend } from "../src/index";
import { startFixtureBackend, waitFor } from "./fixtures/backend";

type Message = { _id: string; channel: string; body: string; author: string };

const list = makeFunctionReference<"query", { channel: string }, Message[]>("messages:list");
const count = makeFunctionReference<"query", { channel: string }, number>("messages:count");
const send = makeFunctionReference<"mutation", { channel: string; body: string }, string>("messages:send");
const fail = makeFunctionReference<"mutation", { kind: "convex" | "plain" }, null>("messages:fail");
const sendViaAction = makeFunctionReference<"action", { channel: string; body: string }, string>("messages:sendViaAction");
const whoami = makeFunctionReference<"query", Record<string, never>, { subject: string; name?: string } | null>("messages:whoami");
const greeting = makeFunctionReference<"query", Record<string, never>, string | null>("messages:greeting");

const tmp = mkdtempSync(join(tmpdir(), "local-convex-test-"));

describe("HTTP API, site port and crons", () => {
  let backend: LocalBackend;
  let watcher: ConvexClient;

  beforeAll(async () => {
    backend = await startFixtureBackend();
    watcher = new ConvexClient(backend.url, { unsavedChangesWarning: false });
  });
  afterAll(async () => {
    await watcher.close();
    await backend.close();
  });

  it("serves queries, mutations and actions to ConvexHttpClient, with auth and ConvexError data", async () => {
    const http = new ConvexHttpClient(backend.url);
    const id = await http.mutation(send, { channel: "api", body: "over http" });
    await http.action(sendViaAction, { channel: "api", body: "action over http" });
    const rows = await http.query(list, { channel: "api" });
    expect(rows.map((r) => [r._id === id, r.body])).toEqual([
      [true, "over http"],
      [false, "action over http"],
    ]);

    const error = await http.mutation(fail, { kind: "convex" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConvexError);
    expect((error as ConvexError<{ code: string }>).data).toEqual({ code: "NOPE", detail: 42 });

    expect(await http.query(whoami, {})).toBeNull();
    http.setAuth((await backend.devAuth!.mintToken("grace")).token);
    expect(await http.query(whoami, {})).toMatchObject({ subject: "dev_grace", name: "Grace Hopper" });

    http.setAuth((await backend.devAuth!.mintToken("grace", { ttlSeconds: -120 })).token);
    await expect(http.query(whoami, {})).rejects.toThrow(/Token expired/);
  });

  it("answers /api/run/<path> and lets only the admin key call internal functions", async () => {
    const run = (path: string, args: object, auth?: string) =>
      fetch(`${backend.url}/api/run/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ args, format: "json" }),
      });
    const publicCall = await run("messages/count", { channel: "api" });
    expect(publicCall.status).toBe(200);
    expect(await publicCall.json()).toMatchObject({ status: "success", value: 2 });

    const refused = await run("messages/secretCount", {});
    expect(refused.status).toBe(560);
    expect(((await refused.json()) as { errorMessage: string }).errorMessage).toContain("Could not find public function");

    const admin = await run("messages/secretCount", {}, `Convex ${backend.adminKey}`);
    expect(await admin.json()).toMatchObject({ status: "success" });
    const badAdmin = await run("messages/secretCount", {}, "Convex nope");
    expect(badAdmin.status).toBe(401);
  });

  it("routes site-port requests to http.ts with the raw body and headers, and pushes the write", async () => {
    const seen = waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "hooks" }, ok, err), (v) => v.length === 1);
    const raw = '{"id":"evt_1",  "spacing":"kept"}';
    const bad = await fetch(`${backend.siteUrl}/hook`, { method: "POST", headers: { "x-signature": "len=0" }, body: raw });
    expect(bad.status).toBe(400);
    const good = await fetch(`${backend.siteUrl}/hook`, { method: "POST", headers: { "x-signature": `len=${raw.length}` }, body: raw });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ ok: true, length: raw.length });
    expect((await seen)[0]?.body).toBe(raw);

    const unrouted = await fetch(`${backend.siteUrl}/nope`);
    expect(unrouted.status).toBe(404);

    const token = (await backend.devAuth!.mintToken("alan")).token;
    const who = await fetch(`${backend.siteUrl}/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await who.json()).toEqual({ subject: "dev_alan" });
  });

  it("lists crons.ts jobs with their next UTC run and runs one on demand", async () => {
    const jobs = (await (await fetch(`${backend.url}/_local/crons`)).json()) as { name: string; udfPath: string }[];
    expect(jobs.map((j) => [j.name, j.udfPath])).toEqual([
      ["tick", "messages:insertInternal"],
      ["nightly", "messages:insertInternal"],
    ]);

    const seen = waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "cron" }, ok, err), (v) => v.length === 1);
    const res = await fetch(`${backend.url}/_local/crons/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "nightly" }),
    });
    expect(await res.json()).toMatchObject({ name: "nightly", ok: true });
    expect((await seen)[0]).toMatchObject({ body: "nightly", author: "cron" });

    const run = await backend.runCron("tick");
    expect(run.ok).toBe(true);
    expect(await new ConvexHttpClient(backend.url).query(count, { channel: "cron" })).toBe(2);

    const unknown = await fetch(`${backend.url}/_local/crons/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "missing" }),
    });
    expect(unknown.status).toBe(404);
    // Without a JSON content type a cross-site form post cannot trigger it.
    const formPost = await fetch(`${backend.url}/_local/reset`, { method: "POST", body: "x" });
    expect(formPost.status).toBe(415);
  });
});

describe("cron schedules", () => {
  const at = (iso: string) => new Date(iso).getTime();
  it("computes the next run of cron lines in UTC", () => {
    expect(new Date(parseCron("17 3 * * *").next(at("2025-01-31T03:17:00Z"))).toISOString()).toBe("2025-02-01T03:17:00.000Z");
    expect(new Date(parseCron("*/15 * * * *").next(at("2025-01-01T10:07:30Z"))).toISOString()).toBe("2025-01-01T10:15:00.000Z");
    expect(new Date(parseCron("0 0 29 2 *").next(at("2025-03-01T00:00:00Z"))).toISOString()).toBe("2028-02-29T00:00:00.000Z");
    // Day-of-month and day-of-week both restricted: either matches (1st of the month or a Monday).
    expect(new Date(parseCron("0 9 1 * 1").next(at("2025-06-01T10:00:00Z"))).toISOString()).toBe("2025-06-02T09:00:00.000Z");
    expect(() => parseCron("61 * * * *")).toThrow(/out of range/);
  });
  it("maps interval, weekly and monthly schedules", () => {
    const start = at("2025-01-01T00:00:00Z");
    expect(nextRunAt({ type: "interval", minutes: 5 }, start + 7 * 60_000, start)).toBe(start + 10 * 60_000);
    expect(new Date(nextRunAt({ type: "weekly", dayOfWeek: "friday", hourUTC: 8 }, start, start)).toISOString()).toBe("2025-01-03T08:00:00.000Z");
    expect(new Date(nextRunAt({ type: "monthly", day: 15, hourUTC: 12, minuteUTC: 30 }, start, start)).toISOString()).toBe("2025-01-15T12:30:00.000Z");
  });
});

describe("env file, persistence and reset", () => {
  it("sets env file variables for functions", async () => {
    const envFile = join(tmp, "fixture.env");
    writeFileSync(envFile, '# comment\nFIXTURE_GREETING="hello from env"\n');
    const backend = await startFixtureBackend({ envFile });
    try {
      expect(await new ConvexHttpClient(backend.url).query(greeting, {})).toBe("hello from env");
    } finally {
      await backend.close();
    }
    expect(process.env.FIXTURE_GREETING).toBeUndefined();
  });

  it("keeps documents and ids across restarts with persist, and empties them on reset", async () => {
    const persist = join(tmp, "state.json");
    const first = await startFixtureBackend({ persist });
    const id = await new ConvexHttpClient(first.url).mutation(send, { channel: "kept", body: "survives" });
    await first.close();

    const second = await startFixtureBackend({ persist });
    const http = new ConvexHttpClient(second.url);
    expect((await http.query(list, { channel: "kept" })).map((r) => [r._id, r.body])).toEqual([[id, "survives"]]);
    // New ids do not collide with restored ones.
    const next = await http.mutation(send, { channel: "kept", body: "second" });
    expect(next).not.toBe(id);

    const watcher = new ConvexClient(second.url, { unsavedChangesWarning: false });
    await waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "kept" }, ok, err), (v) => v.length === 2);
    const emptied = waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "kept" }, ok, err), (v) => v.length === 0);
    const res = await fetch(`${second.url}/_local/reset`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
    await emptied;
    await watcher.close();
    await second.close();

    const third = await startFixtureBackend({ persist });
    expect(await new ConvexHttpClient(third.url).query(list, { channel: "kept" })).toEqual([]);
    await new ConvexHttpClient(third.url).mutation(send, { channel: "kept", body: "again" });
    await third.close();
    const fourth = await startFixtureBackend({ persist, reset: true });
    expect(await new ConvexHttpClient(fourth.url).query(list, { channel: "kept" })).toEqual([]);
    await fourth.close();
  });

  it("re-arms scheduled functions that were pending when the backend stopped", async () => {
    const persist = join(tmp, "scheduled.json");
    const sendLater = makeFunctionReference<"mutation", { channel: string; body: string; delayMs: number }, null>("messages:sendLater");
    const first = await startFixtureBackend({ persist });
    await new ConvexHttpClient(first.url).mutation(sendLater, { channel: "later", body: "after restart", delayMs: 400 });
    await first.close();

    const second = await startFixtureBackend({ persist });
    const watcher = new ConvexClient(second.url, { unsavedChangesWarning: false });
    const rows = await waitFor<Message[]>((ok, err) => watcher.onUpdate(list, { channel: "later" }, ok, err), (v) => v.length === 1);
    expect(rows[0]).toMatchObject({ body: "after restart", author: "scheduler" });
    await watcher.close();
    await second.close();
  });
});
