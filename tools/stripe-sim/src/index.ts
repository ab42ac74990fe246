/**
 * A stateful local Stripe: the REST API the backend calls (wire format of
 * API version 2026-10-28.endive, as pinned by stripe 23.1.0), hosted
 * Checkout / Billing Portal / invoice pages, signed webhooks with retries and
 * chaos, test clocks, and a `/_sim` control API. Binds 127.0.0.1 only.
 *
 * ```ts
 * const sim = await startStripeSimulator({ port: 0, webhookUrl, webhookSecret, seeder: seedStripe, seed: true });
 * const stripe = new Stripe("sk_test_x", { host: "127.0.0.1", port: sim.port, protocol: "http" });
 * …
 * await sim.close();
 * ```
 * See docs/STRIPE_SIMULATOR.md.
 */
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { buildWebhookEndpoint } from "./builders.ts";
import { defaultConfig, mergeConfig, type SimConfig, type SimConfigPatch } from "./config.ts";
import type { SimContext } from "./context.ts";
import { Delivery } from "./delivery.ts";
import { registerApiRoutes } from "./routes/v1/index.ts";
import { registerControlRoutes } from "./routes/control.ts";
import { registerHostedRoutes } from "./routes/hosted.ts";
import { Router } from "./router.ts";
import { createSimServer } from "./server.ts";
import { Store, type SimState } from "./store.ts";

export type { SimConfig, SimConfigPatch } from "./config.ts";
export type { DeliveryRecord, SimState } from "./store.ts";

export const DEFAULT_PORT = 12111;
/** Id of the endpoint configured from `webhookUrl` / `webhookSecret`. */
export const CLI_ENDPOINT_ID = "we_simulator_cli";

/**
 * Creates a catalogue (products, prices, Portal configuration…) through the
 * SDK client it is given, e.g. an app's `seedStripe`. `log` receives one line
 * per thing done. The simulator knows no catalogue of its own.
 */
export type Seeder = (stripe: Stripe, log: (line: string) => void) => Promise<unknown>;

export type StripeSimulatorOptions = SimConfigPatch & {
  /** TCP port on 127.0.0.1; 0 picks a free one. Default 12111. */
  port?: number;
  /** Base URL used in hosted page links (default `http://127.0.0.1:<port>`). */
  publicUrl?: string;
  /** What `seed` (and `reset({ seed: true })`) runs. Required for those. */
  seeder?: Seeder;
  /** Run `seeder` at start. */
  seed?: boolean;
  /** Load state from this JSON file at start and save it after each change. */
  stateFile?: string;
  /** `true` logs to stderr; a function receives each line. Default silent. */
  log?: boolean | ((line: string) => void);
};

export type StripeSimulator = {
  /** `http://127.0.0.1:<port>` (the SDK's `host`/`port`/`protocol`: 127.0.0.1, `port`, http). */
  url: string;
  port: number;
  /** Live context (state, config, delivery); for tests that need to look inside. */
  ctx: SimContext;
  state: () => SimState;
  /** A stripe SDK client pointed at the simulator. */
  stripe: (apiKey?: string) => Stripe;
  configure: (patch: SimConfigPatch) => SimConfig;
  reset: (opts?: { seed?: boolean }) => Promise<void>;
  /** Runs the configured seeder; throws when there is none. */
  seed: () => Promise<unknown>;
  /** Resolves true once every queued delivery and retry has finished. */
  waitForDeliveries: (timeoutMs?: number) => Promise<boolean>;
  close: () => Promise<void>;
};

export async function startStripeSimulator(options: StripeSimulatorOptions = {}): Promise<StripeSimulator> {
  const { port: wantedPort, publicUrl, seeder, seed, stateFile, log, ...patch } = options;
  const logger =
    typeof log === "function" ? log : log ? (line: string) => process.stderr.write(`[stripe-sim] ${line}\n`) : () => {};
  const store = new Store();
  if (stateFile) store.load(stateFile);
  const delivery = new Delivery();
  const ctx: SimContext = {
    store,
    config: mergeConfig(defaultConfig(), patch),
    baseUrl: "",
    delivery,
    currentRequest: null,
    log: logger,
  };
  delivery.attach(ctx);

  /** Keeps the CLI-configured endpoint in line with `config.webhookUrl/Secret`. */
  const applyConfig = () => {
    const { webhookUrl, webhookSecret } = ctx.config;
    const endpoints = ctx.store.state.webhookEndpoints;
    if (!webhookUrl) {
      delete endpoints[CLI_ENDPOINT_ID];
      return;
    }
    const secret = webhookSecret ?? "whsec_simulator";
    const existing = endpoints[CLI_ENDPOINT_ID];
    if (existing) {
      existing.url = webhookUrl;
      existing.secret = secret;
      existing.status = "enabled";
    } else {
      endpoints[CLI_ENDPOINT_ID] = buildWebhookEndpoint({
        id: CLI_ENDPOINT_ID,
        created: ctx.store.realNow(),
        url: webhookUrl,
        enabledEvents: ["*"],
        secret,
        description: "Configured from the simulator's command line",
        metadata: {},
      });
    }
  };

  let saveTimer: NodeJS.Timeout | null = null;
  const afterWrite = () => {
    if (!stateFile || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      store.save(stateFile);
    }, 50);
  };

  const api = new Router();
  const pages = new Router();
  const control = new Router();
  let client: (apiKey?: string) => Stripe = () => {
    throw new Error("simulator not listening yet");
  };
  const doSeed = async () => {
    if (!seeder) throw new Error("no seeder configured: pass `seeder` to startStripeSimulator (the CLI: --seed-module)");
    return await seeder(client(), logger);
  };
  const reset = async (opts: { seed?: boolean } = {}) => {
    delivery.clear();
    store.reset();
    applyConfig();
    if (opts.seed) await doSeed();
  };
  registerApiRoutes(api, ctx);
  registerHostedRoutes(pages, ctx);
  registerControlRoutes(control, ctx, { reset: (o) => reset(o), applyConfig });

  const server = createSimServer({ ctx, api, pages, control, afterWrite });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(wantedPort ?? DEFAULT_PORT, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  ctx.baseUrl = publicUrl ?? url;
  client = (apiKey = "sk_test_simulator") =>
    new Stripe(apiKey, { host: "127.0.0.1", port, protocol: "http", maxNetworkRetries: 0 });
  applyConfig();
  if (seed) await doSeed();
  logger(`listening on ${url}`);

  return {
    url,
    port,
    ctx,
    state: () => store.state,
    stripe: client,
    configure: (p) => {
      ctx.config = mergeConfig(ctx.config, p);
      applyConfig();
      return ctx.config;
    },
    reset,
    seed: doSeed,
    waitForDeliveries: (timeoutMs) => delivery.waitForIdle(timeoutMs),
    close: async () => {
      delivery.close();
      if (saveTimer) clearTimeout(saveTimer);
      if (stateFile) store.save(stateFile);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
