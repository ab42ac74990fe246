/**
 * scripts/seed-stripe.ts against the simulator: idempotent runs, a price
 * that drifted from the catalogue being replaced (lookup key transferred),
 * the overage Billing Meter and its metered price,
 * the Customer Portal configuration (created once, then updated in place),
 * and the `npm run stripe-sim` / `npm run seed:stripe` entry points as
 * separate processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OVERAGE_METER, PAID_TIERS, PLANS, TOKEN_PACKS, allLookupKeys } from "../../convex/billing/model/plans.ts";
import { STRIPE_API_VERSION } from "../../convex/billing/model/stripeClient.ts";
import { CANCELLATION_FEEDBACK } from "../../convex/billing/model/validators.ts";
import { catalogPrices, overagePrice, PORTAL_HEADLINE, seedPortalConfiguration, seedStripe } from "../../scripts/seed-stripe.ts";
import { startRecordingStripeServer } from "../helpers/recordingStripeServer.ts";
import { startStripeSimulator, type StripeSimulator } from "@offline/stripe-sim";
import { stripeApiEnv } from "../helpers/stripeApiEnv";

const ROOT = resolve(import.meta.dirname, "../..");
const TSX = resolve(ROOT, "node_modules/.bin/tsx");

describe("seedStripe (in-process simulator)", () => {
  let sim: StripeSimulator;
  let stripe: Stripe;
  beforeAll(async () => {
    sim = await startStripeSimulator({ port: 0 });
    stripe = sim.stripe();
  });
  afterAll(async () => {
    await sim.close();
  });

  it("creates every catalogue price once; a second run finds the same prices", async () => {
    const first = await seedStripe(stripe);
    const keys = [...allLookupKeys(), ...TOKEN_PACKS.map((p) => p.lookupKey), OVERAGE_METER.price.lookupKey];
    expect(Object.keys(first.prices).sort()).toEqual([...keys].sort());
    expect(Object.values(first.prices).every((p) => p.created)).toBe(true);

    const second = await seedStripe(stripe);
    expect(Object.values(second.prices).every((p) => !p.created)).toBe(true);
    expect(Object.fromEntries(Object.entries(second.prices).map(([k, v]) => [k, v.id]))).toEqual(
      Object.fromEntries(Object.entries(first.prices).map(([k, v]) => [k, v.id])),
    );
    const all = await stripe.prices.list({ limit: 100 });
    expect(all.data).toHaveLength(keys.length);
    expect((await stripe.products.list({ limit: 100 })).data).toHaveLength(PAID_TIERS.length + TOKEN_PACKS.length + 1);
    expect(second.meters).toEqual({ [OVERAGE_METER.eventName]: { id: first.meters[OVERAGE_METER.eventName]?.id, created: false } });
    expect((await stripe.billing.meters.list({ limit: 100 })).data).toHaveLength(1);

    for (const tier of PAID_TIERS) {
      const prices = PLANS[tier].prices;
      const monthly = all.data.find((p) => p.lookup_key === prices?.month.lookupKey);
      expect(monthly).toMatchObject({ unit_amount: prices?.month.displayAmount, product: `billing_tier_${tier}` });
      expect(monthly?.recurring?.interval).toBe("month");
    }
  });

  it("creates the overage meter and its monthly metered price", async () => {
    await sim.reset();
    const result = await seedStripe(stripe);
    const meterId = result.meters[OVERAGE_METER.eventName]?.id;
    const meter = await stripe.billing.meters.retrieve(meterId ?? "");
    expect(meter).toMatchObject({
      event_name: OVERAGE_METER.eventName,
      display_name: OVERAGE_METER.displayName,
      status: "active",
      default_aggregation: { formula: "sum" },
      customer_mapping: { event_payload_key: "stripe_customer_id" },
      value_settings: { event_payload_key: "value" },
    });
    const price = (await stripe.prices.list({ lookup_keys: [OVERAGE_METER.price.lookupKey] })).data[0];
    expect(price).toMatchObject({
      unit_amount: OVERAGE_METER.price.unitAmount,
      currency: OVERAGE_METER.price.currency,
      product: "billing_overage",
      recurring: { interval: OVERAGE_METER.price.interval, usage_type: "metered", meter: meterId },
    });
    expect((await stripe.products.retrieve("billing_overage")).name).toBe(OVERAGE_METER.displayName);
    expect(overagePrice()).toMatchObject({ lookupKey: OVERAGE_METER.price.lookupKey, meterEventName: OVERAGE_METER.eventName });
  });

  it("replaces an overage price that is not metered on the overage meter", async () => {
    await sim.reset();
    await stripe.products.create({ id: "billing_overage", name: OVERAGE_METER.displayName });
    const stale = await stripe.prices.create({
      product: "billing_overage",
      currency: OVERAGE_METER.price.currency,
      unit_amount: OVERAGE_METER.price.unitAmount,
      recurring: { interval: "month" },
      lookup_key: OVERAGE_METER.price.lookupKey,
    });
    const result = await seedStripe(stripe);
    expect(result.prices[OVERAGE_METER.price.lookupKey]?.created).toBe(true);
    expect((await stripe.prices.retrieve(stale.id)).lookup_key).toBeNull();
    const current = (await stripe.prices.list({ lookup_keys: [OVERAGE_METER.price.lookupKey] })).data;
    expect(current.map((p) => p.recurring?.usage_type)).toEqual(["metered"]);
  });

  it("replaces a price that no longer matches the catalogue and moves its lookup key", async () => {
    await sim.reset();
    const spec = catalogPrices().find((p) => p.lookupKey === "pro_monthly");
    if (!spec) throw new Error("catalogue has no pro_monthly");
    await stripe.products.create({ id: spec.productId, name: spec.productName });
    const stale = await stripe.prices.create({
      product: spec.productId,
      currency: "usd",
      unit_amount: 1234,
      recurring: { interval: "month" },
      lookup_key: "pro_monthly",
    });
    const result = await seedStripe(stripe);
    expect(result.prices.pro_monthly?.created).toBe(true);
    const current = await stripe.prices.list({ lookup_keys: ["pro_monthly"] });
    expect(current.data.map((p) => p.unit_amount)).toEqual([spec.amount]);
    expect((await stripe.prices.retrieve(stale.id)).lookup_key).toBeNull();
  });
});

/** The catalogue's price ids as the recording server names them (`price_<lookupKey>`). */
function recordedPriceIds(): Record<string, string> {
  return Object.fromEntries(allLookupKeys().map((key) => [key, `price_${key}`]));
}

describe("seedPortalConfiguration (recording server)", () => {
  it("creates the configuration once with the app's rules, then updates it in place", async () => {
    const server = await startRecordingStripeServer();
    try {
      const url = new URL(server.url);
      const stripe = new Stripe("sk_test_seed", {
        apiVersion: STRIPE_API_VERSION,
        host: url.hostname,
        port: url.port,
        protocol: "http",
      });
      server.portalConfigurations.push({ id: "bpc_someone_else", active: true, metadata: {} });

      const first = await seedPortalConfiguration(stripe, recordedPriceIds());
      expect(first?.created).toBe(true);
      expect(first?.id).toMatch(/^bpc_test_/);
      const create = server.requestsTo("POST", "/v1/billing_portal/configurations")[0]!;
      expect(create.idempotencyKey).toMatch(/^seed-portal-configuration-[0-9a-f]{8}-v1$/);
      expect(create.body).toMatchObject({
        business_profile: { headline: PORTAL_HEADLINE },
        metadata: { app: "convex-stripe-billing" },
        features: {
          subscription_update: {
            enabled: "true",
            default_allowed_updates: ["price"],
            proration_behavior: "always_invoice",
            products: PAID_TIERS.map((tier) => ({
              product: `billing_tier_${tier}`,
              prices: [`price_${PLANS[tier].prices!.month.lookupKey}`, `price_${PLANS[tier].prices!.year.lookupKey}`],
            })),
            schedule_at_period_end: {
              conditions: [{ type: "decreasing_item_amount" }, { type: "shortening_interval" }],
            },
          },
          subscription_cancel: {
            enabled: "true",
            mode: "at_period_end",
            cancellation_reason: { enabled: "true", options: [...CANCELLATION_FEEDBACK] },
          },
          payment_method_update: { enabled: "true" },
          invoice_history: { enabled: "true" },
        },
      });

      server.clearRequests();
      const second = await seedPortalConfiguration(stripe, recordedPriceIds());
      expect(second).toEqual({ id: first!.id, created: false });
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        "GET /v1/billing_portal/configurations",
        `POST /v1/billing_portal/configurations/${first!.id}`,
      ]);
      expect(server.portalConfigurations.filter((c) => (c.metadata as Record<string, string>).app)).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe("seedStripe: Customer Portal configuration (simulator)", () => {
  it("creates it on the first run and updates, not duplicates, it on the second", async (ctx) => {
    const sim = await startStripeSimulator({ port: 0 });
    try {
      const stripe = sim.stripe();
      const first = await seedStripe(stripe);
      // Waiting for the simulator's /v1/billing_portal/configurations (seedStripe skips it when missing).
      if (first.portalConfiguration === null) ctx.skip("the simulator does not implement billing portal configurations yet");
      expect(first.portalConfiguration).toMatchObject({ created: true });
      const second = await seedStripe(stripe);
      expect(second.portalConfiguration).toEqual({ id: first.portalConfiguration!.id, created: false });
      const mine = (await stripe.billingPortal.configurations.list({ limit: 100 })).data.filter(
        (c) => c.metadata?.app === "convex-stripe-billing",
      );
      expect(mine.map((c) => c.id)).toEqual([first.portalConfiguration!.id]);
      const config = mine[0]!;
      expect(config.active).toBe(true);
      expect(config.features.subscription_update.proration_behavior).toBe("always_invoice");
      expect(config.features.subscription_update.schedule_at_period_end.conditions.map((c) => c.type)).toEqual([
        "decreasing_item_amount",
        "shortening_interval",
      ]);
      expect(config.features.subscription_cancel.mode).toBe("at_period_end");
      const products = config.features.subscription_update.products ?? [];
      expect(products.map((p) => p.product)).toEqual(PAID_TIERS.map((tier) => `billing_tier_${tier}`));
      for (const p of products) expect(p.prices).toHaveLength(2);
    } finally {
      await sim.close();
    }
  });
});

describe("--state-file", () => {
  it("keeps customers, prices and subscriptions across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "stripe-sim-state-"));
    const file = join(dir, "state.json");
    try {
      const first = await startStripeSimulator({ port: 0, seeder: seedStripe, seed: true, stateFile: file });
      const stripe = first.stripe();
      const customer = await stripe.customers.create({ email: "persist@example.com" });
      const price = (await stripe.prices.list({ lookup_keys: ["pro_monthly"] })).data[0];
      const sub = await stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price?.id ?? "" }],
        default_payment_method: "pm_card_visa",
      });
      expect(sub.status).toBe("active");
      await first.close();

      const second = await startStripeSimulator({ port: 0, stateFile: file });
      try {
        const again = second.stripe();
        expect((await again.customers.retrieve(customer.id)).id).toBe(customer.id);
        expect((await again.subscriptions.retrieve(sub.id)).status).toBe("active");
        expect((await again.prices.list({ lookup_keys: ["pro_monthly"] })).data[0]?.id).toBe(price?.id);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolvePromise, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got: ${buffer}`)), timeoutMs);
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = buffer.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code}: ${buffer}`)));
  });
}

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(TSX, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("exit", (code) => resolvePromise({ code, out }));
  });
}

describe("CLI entry points", () => {
  it("npm run stripe-sim serves the API; npm run seed:stripe seeds it idempotently", async () => {
    const sim = spawn(TSX, ["tools/stripe-sim/src/cli.ts", "--port", "0", "--quiet"], { cwd: ROOT });
    try {
      const [, url] = await waitForLine(sim, /Stripe simulator on (http:\/\/127\.0\.0\.1:\d+)/);
      const env = { STRIPE_SECRET_KEY: "sk_test_cli", ...stripeApiEnv(url ?? "") };
      const first = await run(["scripts/seed-stripe.ts"], env);
      expect(first.code).toBe(0);
      expect(first.out).toMatch(/pro_monthly\s+price_\w+\s+\(created\)/);
      const second = await run(["scripts/seed-stripe.ts"], env);
      expect(second.code).toBe(0);
      expect(second.out).not.toContain("(created)");
      const id = (s: string) => s.match(/pro_monthly\s+(price_\w+)/)?.[1];
      expect(id(second.out)).toBe(id(first.out));

      const refused = await run(["scripts/seed-stripe.ts"], { STRIPE_SECRET_KEY: "", ...stripeApiEnv(url ?? "") });
      expect(refused.code).toBe(1);
    } finally {
      sim.kill("SIGTERM");
    }
  });
});
