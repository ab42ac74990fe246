/**
 * Smoke test: the local backend on the project's own convex/ directory,
 * with the real clients, so the demo and browser tests can rely on it.
 */
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PUBLIC_TIERS } from "../../convex/billing/model/plans";
import { startLocalBackend, type LocalBackend } from "@offline/local-backend";
import { waitFor } from "@offline/local-backend/testing";

type PlanView = { tier: string; rank: number; name: string };
const plansList = makeFunctionReference<"query", Record<string, never>, PlanView[]>("plans:list");

let backend: LocalBackend;
beforeAll(async () => {
  backend = await startLocalBackend({ port: 0, sitePort: 0, devAuth: { port: 0 }, envFile: null, crons: "manual", log: false });
});
afterAll(async () => {
  await backend.close();
});

it("serves plans:list from the project's functions over HTTP and WebSocket", async () => {
  const overHttp = await new ConvexHttpClient(backend.url).query(plansList, {});
  expect(overHttp.map((p) => p.tier)).toEqual([...PUBLIC_TIERS]);

  const client = new ConvexClient(backend.url, { unsavedChangesWarning: false });
  try {
    const overSocket = await waitFor<PlanView[]>((ok, err) => client.onUpdate(plansList, {}, ok, err), () => true);
    expect(overSocket).toEqual(overHttp);
  } finally {
    await client.close();
  }
  // The project's crons.ts is read too.
  expect(backend.listCrons().length).toBeGreaterThan(0);
});
