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
});

it("runs the billing component's crons.ts inside the component; the app has none", async () => {
  const jobs = backend.listCrons();
  expect(jobs.map((j) => [j.componentPath, j.name, j.udfPath])).toEqual([
    ["billing", "reset free-tier tokens", "tokens:resetFreeTier"],
    ["billing", "dunning timeline", "dunning:sweep"],
    ["billing", "expire token grants", "tokens:expireGrants"],
    ["billing", "release expired token holds", "tokens:expireHolds"],
    ["billing", "redrive stalled auto-recharges", "autoRecharge:redriveStale"],
    ["billing", "report overage to Stripe", "metering:report"],
    ["billing", "reconcile overage with Stripe", "metering:reconcile"],
    ["billing", "audit token balances", "tokens:auditBalances"],
    ["billing", "sweep webhook retries", "webhooks:sweepRetries"],
    ["billing", "compact settled webhook payloads", "webhooks:compactPayloads"],
    ["billing", "reconcile missed Stripe events", "reconcile:reconcileEvents"],
  ]);
  // The dunning timeline job, addressed by its component path.
  expect(await backend.runCron("dunning timeline", "billing")).toMatchObject({ componentPath: "billing", ok: true });
  await expect(backend.runCron("dunning timeline")).rejects.toThrow(/No cron job named/);
});

it("calls the billing component's functions over the admin HTTP API by component path", async () => {
  const call = (authorization?: string) =>
    fetch(`${backend.url}/api/function`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ componentPath: "billing", path: "webhooks:list", args: { limit: 5 }, format: "json" }),
    });
  const res = await call(`Convex ${backend.adminKey}`);
  expect(await res.json()).toMatchObject({ status: "success", value: [] });
  expect((await call()).status).toBe(403);
});
