/**
 * A local Convex component served by the local backend to the real `convex`
 * clients: the component-app fixture (tests/fixtures/component-app, an app
 * with a local `counter` component; its `_generated` is checked by the codegen
 * package's components test).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startLocalBackend, withEnv, type LocalBackend, type LocalBackendOptions } from "../src/index";
import { CronRunner } from "../src/cronRunner";
import { Engine, type PersistedState } from "../src/engine";
import { waitFor } from "./fixtures/backend";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const FIXTURE = join(import.meta.dirname, "fixtures", "component-app");
const tmp = mkdtempSync(join(tmpdir(), "local-convex-components-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const increment = makeFunctionReference<"mutation", { name: string }, number>("counters:increment");
const addMany = makeFunctionReference<"action", { name: string; amount: number }, number>("counters:addMany");
const value = makeFunctionReference<"query", { name: string }, number>("counters:value");
const componentConfig = makeFunctionReference<"query", Record<string, never>, { label: string | null; mode: string; names: string[] }>("counters:componentConfig");

const ENV = { COUNTER_TOKEN: "fixture-token", COUNTER_LABEL: "Fixture counters" };

async function start(options: LocalBackendOptions = {}, env: Record<string, string> = ENV, project = FIXTURE): Promise<LocalBackend> {
  return await startLocalBackend({
    convexDir: join(project, "convex"),
    port: 0,
    sitePort: 0,
    devAuth: false,
    envFile: null,
    crons: "manual",
    log: false,
    ...options,
    env,
  });
}

describe("local backend with a component", () => {
  let backend: LocalBackend;
  const clients: ConvexClient[] = [];

  beforeAll(async () => {
    backend = await start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await backend.close();
  });

  it("registers the installed component instance", () => {
    expect(backend.engine.componentPaths()).toEqual(["counter"]);
  });

  it("runs app functions that call the component, and pushes the new result to subscribers", async () => {
    const watcher = new ConvexClient(backend.url, { unsavedChangesWarning: false });
    const writer = new ConvexClient(backend.url, { unsavedChangesWarning: false });
    clients.push(watcher, writer);
    await waitFor<number>((ok, err) => watcher.onUpdate(value, { name: "ws" }, ok, err), (n) => n === 0);
    const seen = waitFor<number>((ok, err) => watcher.onUpdate(value, { name: "ws" }, ok, err), (n) => n === 6);
    expect(await writer.mutation(increment, { name: "ws" })).toBe(1);
    expect(await writer.action(addMany, { name: "ws", amount: 5 })).toBe(6);
    expect(await seen).toBe(6);

    const http = new ConvexHttpClient(backend.url);
    expect(await http.query(value, { name: "ws" })).toBe(6);
  });

  it("gives the component its declared env only: a literal, a var bound to the app's, and the platform vars", async () => {
    const http = new ConvexHttpClient(backend.url);
    expect(await http.query(componentConfig, {})).toEqual({
      label: "Fixture counters",
      mode: "strict",
      names: ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL", "LABEL", "MODE"],
    });
    // The component's MODE=strict refuses a negative amount; the error reaches the client.
    const error = await http.action(addMany, { name: "neg", amount: -1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConvexError);
    expect((error as ConvexError<{ code: string }>).data).toEqual({ code: "NEGATIVE_AMOUNT" });
  });

  it("keeps component functions out of clients' reach", async () => {
    const http = new ConvexHttpClient(backend.url);
    for (const path of ["counter/lib:get", "lib:get"]) {
      await expect(http.query(makeFunctionReference<"query">(path), { name: "ws" })).rejects.toThrow(/Could not find public function/);
    }
    const ws = new ConvexClient(backend.url, { unsavedChangesWarning: false });
    clients.push(ws);
    await expect(ws.mutation(makeFunctionReference<"mutation">("counter/lib:add"), { name: "ws", amount: 1 })).rejects.toThrow(/Could not find public function/);
    expect(await http.query(value, { name: "ws" })).toBe(6);
  });

  it("calls a component's functions, internal included, through /api/function with componentPath and the admin key only", async () => {
    const admin = `Convex ${backend.adminKey}`;
    // The body `ConvexHttpClient.function` (behind `npx convex run --component counter …`) sends.
    const call = async (endpoint: string, componentPath: string | undefined, path: string, args: object, authorization?: string) => {
      const res = await fetch(`${backend.url}${endpoint}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ componentPath, path, args: endpoint === "/api/function" ? args : [args], format: "json" }),
      });
      return { status: res.status, body: (await res.json()) as { status?: string; value?: unknown; errorMessage?: string } };
    };
    expect(await call("/api/function", "counter", "lib:add", { name: "admin", amount: 2 }, admin)).toEqual({ status: 200, body: expect.objectContaining({ status: "success", value: 2 }) as unknown });
    // `current` is internal to the component.
    expect((await call("/api/function", "counter", "lib:current", { name: "admin" }, admin)).body).toMatchObject({ status: "success", value: { name: "admin", value: 2 } });
    expect(await new ConvexHttpClient(backend.url).query(value, { name: "admin" })).toBe(2);
    // Without the admin key: refused, and nothing ran.
    expect((await call("/api/function", "counter", "lib:add", { name: "admin", amount: 1 })).status).toBe(403);
    expect(await new ConvexHttpClient(backend.url).query(value, { name: "admin" })).toBe(2);
    // The app has no `lib` module; an unknown component has no functions.
    for (const componentPath of [undefined, "nope"]) {
      expect(await call("/api/function", componentPath, "lib:get", { name: "admin" }, admin)).toEqual({ status: 560, body: expect.objectContaining({ errorMessage: expect.stringMatching(/Could not find public function for 'lib:get'/) as unknown }) as unknown });
    }
    // Only /api/function reads componentPath, as on a deployment: elsewhere the path is the app's.
    expect((await call("/api/query", "counter", "lib:get", { name: "admin" }, admin)).status).toBe(560);
  });

  it("lists the app's and the component's crons.ts jobs, each named by its component", async () => {
    const jobs = (await (await fetch(`${backend.url}/_local/crons`)).json()) as Record<string, unknown>[];
    expect(jobs).toEqual([
      expect.objectContaining({ componentPath: "", name: "tick", udfPath: "counters:tickFromApp", args: { name: "app-cron" }, schedule: { type: "interval", hours: 1 }, nextRunAt: null }),
      expect.objectContaining({ componentPath: "counter", name: "tick", udfPath: "lib:tick", args: { name: "component-cron" }, schedule: { type: "interval", minutes: 1 }, nextRunAt: null }),
    ]);
  });

  it("runs the component's cron job inside the component, apart from the app's job of the same name", async () => {
    const watcher = new ConvexClient(backend.url, { unsavedChangesWarning: false });
    clients.push(watcher);
    const http = new ConvexHttpClient(backend.url);
    await waitFor<number>((ok, err) => watcher.onUpdate(value, { name: "component-cron" }, ok, err), (n) => n === 0);
    const pushed = waitFor<number>((ok, err) => watcher.onUpdate(value, { name: "component-cron" }, ok, err), (n) => n === 1);

    // `lib:tick` is internal to the component and the app has no `lib` module: it resolves in the component.
    const res = await fetch(`${backend.url}/_local/crons/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tick", componentPath: "counter" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ componentPath: "counter", name: "tick", ok: true });
    expect(await pushed).toBe(1);
    expect(await http.query(value, { name: "app-cron" })).toBe(0);

    expect(await backend.runCron("tick")).toMatchObject({ componentPath: "", name: "tick", ok: true });
    expect(await http.query(value, { name: "app-cron" })).toBe(1);
    expect(await http.query(value, { name: "component-cron" })).toBe(1);

    await expect(backend.runCron("tick", "nope")).rejects.toThrow(/No cron job named "tick" in component nope; known: none/);
    const unknown = await fetch(`${backend.url}/_local/crons/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "sweep", componentPath: "counter" }),
    });
    expect(unknown.status).toBe(404);
  });

  it("serves the component's route mounted by registerRoutes, with the app's env-derived token", async () => {
    const post = (token: string) =>
      fetch(`${backend.siteUrl}/counter/add?name=hook&amount=4`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect((await post("wrong")).status).toBe(401);
    const ok = await post(ENV.COUNTER_TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ value: 4 });
    expect(await new ConvexHttpClient(backend.url).query(value, { name: "hook" })).toBe(4);
  });
});

describe("component state and declared env across starts", () => {
  it("persists the component's table, reloads it, and empties it on reset", async () => {
    const persist = join(tmp, "state.json");
    const first = await start({ persist });
    await new ConvexHttpClient(first.url).mutation(increment, { name: "kept" });
    await first.close();

    const saved = JSON.parse(readFileSync(persist, "utf8")) as PersistedState;
    expect(saved.documents).toEqual([]);
    expect(saved.components?.counter?.documents).toEqual([expect.objectContaining({ name: "kept", value: 1 })]);

    const second = await start({ persist });
    const http = new ConvexHttpClient(second.url);
    expect(await http.mutation(increment, { name: "kept" })).toBe(2);
    await second.reset();
    expect(await http.query(value, { name: "kept" })).toBe(0);
    await second.close();
  });

  it("refuses to start when the app's required declared env is unset", async () => {
    delete process.env.COUNTER_TOKEN;
    await expect(start({}, { COUNTER_LABEL: "x" })).rejects.toThrow(/declared env of the app: COUNTER_TOKEN is required but not set/);
  });

  it("logs a failed component cron run, which ran with the component's env", async () => {
    const project = join(tmp, "failing-cron-project");
    cpSync(FIXTURE, project, { recursive: true });
    const crons = join(project, "convex/counter/crons.ts");
    // A public component function is allowed too; MODE=strict (the component's env) makes it throw.
    writeFileSync(crons, readFileSync(crons, "utf8").replace('internal.lib.tick, { name: "component-cron" }', 'api.lib.add, { name: "neg", amount: -1 }').replace("import { internal }", "import { api }"));
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    const lines: string[] = [];
    const backend = await start({ log: (line) => lines.push(line) }, ENV, project);
    try {
      const run = await backend.runCron("tick", "counter");
      expect(run).toMatchObject({ componentPath: "counter", name: "tick", ok: false, error: expect.stringContaining("NEGATIVE_AMOUNT") as unknown });
      expect(lines).toContainEqual(expect.stringMatching(/^cron tick in component counter \(lib:add\) failed: .*NEGATIVE_AMOUNT/));
      expect(await new ConvexHttpClient(backend.url).query(value, { name: "neg" })).toBe(0);
    } finally {
      await backend.close();
    }
  });

  it("refuses to start when a component's env value fails its validator, as a push would", async () => {
    const project = join(tmp, "bad-env-project");
    cpSync(FIXTURE, project, { recursive: true });
    const config = join(project, "convex/convex.config.ts");
    writeFileSync(config, readFileSync(config, "utf8").replace('MODE: "strict"', 'MODE: "lenient"'));
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    await expect(start({}, ENV, project)).rejects.toThrow(/declared env of component counter: MODE="lenient" does not match/);
  });
});

describe("component crons on their schedule", () => {
  afterAll(() => {
    vi.useRealTimers();
  });

  it("fires the component's one-minute job after a minute, the app's hourly job of the same name not yet", async () => {
    const start = Date.UTC(2030, 0, 1, 12, 0, 0);
    // Only the runner's clock and timers are fake; convex-test keeps the real timers it captured at import.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: start });
    await withEnv(ENV, async () => {
      const engine = new Engine({ convexDir: join(FIXTURE, "convex") });
      await engine.init();
      let finished!: () => void;
      const firstRun = new Promise<void>((ok) => (finished = ok));
      const lines: string[] = [];
      const runner = new CronRunner(engine, () => finished(), (line) => lines.push(line));
      await runner.load();
      runner.start();
      try {
        expect(runner.list().map((j) => [j.componentPath, j.name, j.nextRunAt])).toEqual([
          ["", "tick", start + 3_600_000],
          ["counter", "tick", start + 60_000],
        ]);
        await vi.advanceTimersByTimeAsync(59_000);
        expect(runner.history).toEqual([]);
        await vi.advanceTimersByTimeAsync(1_000);
        await firstRun;
        expect(runner.history).toEqual([expect.objectContaining({ componentPath: "counter", name: "tick", ok: true, startedAt: start + 60_000 })]);
        expect(lines).toEqual([]);

        // Observed through the app's public query, as a client would.
        const read = await engine.resolve("counters:value");
        expect(read?.visibility).toBe("public");
        expect(await engine.call(read!, { name: "component-cron" }, null)).toBe(1);
        expect(await engine.call(read!, { name: "app-cron" }, null)).toBe(0);
      } finally {
        runner.stop();
        vi.useRealTimers();
      }
    });
  });
});
