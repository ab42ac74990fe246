/// <reference types="vite/client" />
/**
 * convex-test with a local component: the component-app fixture
 * (tools/local-backend/tests/fixtures/component-app) with its `counter` component registered
 * through `t.registerComponent`. The app's module glob leaves the component's
 * directory out; the component's glob includes its own `_generated`.
 *
 * convex-test has one `process.env` for the app and its components, so the
 * component's declared env (`LABEL`, `MODE`) is stubbed under its own names.
 */
import { convexTest } from "convex-test";
import { ConvexError } from "convex/values";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { api, components } from "../../tools/local-backend/tests/fixtures/component-app/convex/_generated/api";
import schema from "../../tools/local-backend/tests/fixtures/component-app/convex/schema";
import counterSchema from "../../tools/local-backend/tests/fixtures/component-app/convex/counter/schema";

const appModules = import.meta.glob([
  "../../tools/local-backend/tests/fixtures/component-app/convex/**/*.*s",
  "!../../tools/local-backend/tests/fixtures/component-app/convex/**/*.*.*s",
  "!../../tools/local-backend/tests/fixtures/component-app/convex/counter/**",
]);
const counterModules = import.meta.glob([
  "../../tools/local-backend/tests/fixtures/component-app/convex/counter/**/*.*s",
  "!../../tools/local-backend/tests/fixtures/component-app/convex/counter/**/*.*.*s",
]);

function makeTest() {
  const t = convexTest({ schema, modules: appModules, transactionLimits: true });
  t.registerComponent("counter", counterSchema, counterModules);
  return t;
}

beforeEach(() => {
  vi.stubEnv("COUNTER_TOKEN", "fixture-token");
  vi.stubEnv("LABEL", "Fixture counters");
  vi.stubEnv("MODE", "strict");
});

describe("component-app under convex-test", () => {
  it("runs app functions that call into the component, which keeps its own table", async () => {
    const t = makeTest();
    expect(await t.mutation(api.counters.increment, { name: "a" })).toBe(1);
    expect(await t.action(api.counters.addMany, { name: "a", amount: 4 })).toBe(5);
    expect(await t.query(api.counters.value, { name: "a" })).toBe(5);
    // The component's functions are reachable through `components.counter`, as the app calls them.
    expect(await t.query(components.counter.lib.get, { name: "a" })).toBe(5);
    expect(await t.query(components.counter.lib.get, { name: "never" })).toBe(0);
  });

  it("applies the component's env: MODE=strict refuses a negative amount", async () => {
    const t = makeTest();
    const error = await t.action(api.counters.addMany, { name: "neg", amount: -2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConvexError);
    expect((error as ConvexError<{ code: string }>).data).toEqual({ code: "NEGATIVE_AMOUNT" });
    expect(await t.query(api.counters.componentConfig, {})).toMatchObject({ label: "Fixture counters", mode: "strict" });

    vi.stubEnv("MODE", "loose");
    expect(await t.action(api.counters.addMany, { name: "neg", amount: -2 })).toBe(-2);
  });

  it("serves the route registerRoutes mounts, guarded by the token from the app's env", async () => {
    const t = makeTest();
    const post = (token: string) => t.fetch("/counter/add?name=hook&amount=3", { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect((await post("wrong")).status).toBe(401);
    const ok = await post("fixture-token");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ value: 3 });
    expect(await t.query(api.counters.value, { name: "hook" })).toBe(3);
  });
});
