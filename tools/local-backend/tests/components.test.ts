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
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalBackend, type LocalBackend, type LocalBackendOptions } from "../src/index";
import type { PersistedState } from "../src/engine";
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

  it("refuses to start when a component's env value fails its validator, as a push would", async () => {
    const project = join(tmp, "bad-env-project");
    cpSync(FIXTURE, project, { recursive: true });
    const config = join(project, "convex/convex.config.ts");
    writeFileSync(config, readFileSync(config, "utf8").replace('MODE: "strict"', 'MODE: "lenient"'));
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    await expect(start({}, ENV, project)).rejects.toThrow(/declared env of component counter: MODE="lenient" does not match/);
  });
});
