/**
 * `npm run stripe-sim -- [flags]`: runs the simulator until SIGINT/SIGTERM.
 *
 * Flags (env fallback in brackets):
 *   --port <n>                 [STRIPE_SIM_PORT]        default 12111
 *   --webhook-url <url>        [STRIPE_SIM_WEBHOOK_URL]
 *   --webhook-secret <whsec_>  [STRIPE_WEBHOOK_SECRET]
 *   --seed-module <path>       [STRIPE_SIM_SEED_MODULE] module whose `seedStripe(stripe, log)`
 *                                                       (or default export) creates the catalogue
 *   --seed                     [STRIPE_SIM_SEED=1]      run it at start
 *   --state-file <path>        [STRIPE_SIM_STATE_FILE]  persist state as JSON
 *   --retry-delays <ms,ms,…>   delivery retry schedule (default 1000,5000,25000)
 *   --duplicate-rate <0..1>    --shuffle    --delay-ms <min[,max]>
 *   --drop-rate <0..1>         --drop-next <n>          --drop-types <t1,t2>
 *   --chaos-seed <n>           repeatable chaos
 *   --dunning-retry-days <d,d,…>  --dunning-final <cancel|unpaid|past_due>
 *   --portal-cancel-style <at_period_end|cancel_at>
 *   --public-url <url>         base for hosted page links
 *   --quiet                    no request/delivery log
 */
import { parseArgs } from "node:util";
import type { SimConfigPatch } from "./config.ts";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_PORT, startStripeSimulator, type Seeder } from "./index.ts";

/** The seeder a `--seed-module` file exports: `seedStripe`, else its default export. */
async function loadSeeder(path: string): Promise<Seeder> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { seedStripe?: unknown; default?: unknown };
  const seeder = mod.seedStripe ?? mod.default;
  if (typeof seeder !== "function") throw new Error(`${path} exports neither seedStripe nor a default function`);
  return seeder as Seeder;
}

function numbers(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "webhook-url": { type: "string" },
      "webhook-secret": { type: "string" },
      seed: { type: "boolean" },
      "seed-module": { type: "string" },
      "state-file": { type: "string" },
      "retry-delays": { type: "string" },
      "duplicate-rate": { type: "string" },
      shuffle: { type: "boolean" },
      "delay-ms": { type: "string" },
      "drop-rate": { type: "string" },
      "drop-next": { type: "string" },
      "drop-types": { type: "string" },
      "chaos-seed": { type: "string" },
      "dunning-retry-days": { type: "string" },
      "dunning-final": { type: "string" },
      "portal-cancel-style": { type: "string" },
      "public-url": { type: "string" },
      quiet: { type: "boolean" },
    },
  });
  const env = process.env;
  const delay = numbers(values["delay-ms"]);
  const chaos: NonNullable<SimConfigPatch["chaos"]> = {};
  if (values["duplicate-rate"]) chaos.duplicateRate = Number(values["duplicate-rate"]);
  if (values.shuffle) chaos.shuffle = true;
  if (delay && delay.length > 0) chaos.delayMs = [delay[0] ?? 0, delay[1] ?? delay[0] ?? 0];
  if (values["drop-rate"]) chaos.dropRate = Number(values["drop-rate"]);
  if (values["drop-next"]) chaos.dropNext = Number(values["drop-next"]);
  if (values["drop-types"]) chaos.dropTypes = values["drop-types"].split(",").map((s) => s.trim());
  if (values["chaos-seed"]) chaos.seed = Number(values["chaos-seed"]);
  const dunning: NonNullable<SimConfigPatch["dunning"]> = {};
  const retryDays = numbers(values["dunning-retry-days"]);
  if (retryDays) dunning.retryDays = retryDays;
  if (values["dunning-final"] === "cancel" || values["dunning-final"] === "unpaid" || values["dunning-final"] === "past_due") dunning.finalAction = values["dunning-final"];
  const cancelStyle = values["portal-cancel-style"];

  const seedModule = values["seed-module"] ?? env.STRIPE_SIM_SEED_MODULE;
  const sim = await startStripeSimulator({
    ...(seedModule ? { seeder: await loadSeeder(seedModule) } : {}),
    port: Number(values.port ?? env.STRIPE_SIM_PORT ?? DEFAULT_PORT),
    webhookUrl: values["webhook-url"] ?? env.STRIPE_SIM_WEBHOOK_URL ?? null,
    webhookSecret: values["webhook-secret"] ?? env.STRIPE_WEBHOOK_SECRET ?? null,
    seed: values.seed ?? env.STRIPE_SIM_SEED === "1",
    stateFile: values["state-file"] ?? env.STRIPE_SIM_STATE_FILE,
    publicUrl: values["public-url"],
    log: !values.quiet,
    chaos,
    dunning,
    ...(numbers(values["retry-delays"]) ? { retryDelaysMs: numbers(values["retry-delays"]) } : {}),
    ...(cancelStyle === "at_period_end" || cancelStyle === "cancel_at" ? { portalCancelStyle: cancelStyle } : {}),
  });
  const webhook = sim.ctx.config.webhookUrl ? ` → webhooks to ${sim.ctx.config.webhookUrl}` : " (no webhook endpoint configured)";
  console.log(`Stripe simulator on ${sim.url}${webhook}`);
  console.log(`  Stripe SDK options: host 127.0.0.1, port ${sim.port}, protocol http  (any sk_test_… key works)`);
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
