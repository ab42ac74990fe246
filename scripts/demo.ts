/**
 * `npm run demo`: the whole product on the local stack, with no accounts,
 * keys or network. Starts the local Convex backend (+ dev sign-in), the
 * Stripe simulator (seeded, webhooks wired to the backend) and the client,
 * prints the URLs, and stops everything on Ctrl-C / SIGTERM.
 *
 * Flags (env fallback in brackets; see docs/DEMO.md):
 *   --convex-port <n>   [DEMO_CONVEX_PORT]  default 3210
 *   --site-port <n>     [DEMO_SITE_PORT]    default 3211
 *   --auth-port <n>     [DEMO_AUTH_PORT]    default 3212
 *   --stripe-port <n>   [DEMO_STRIPE_PORT]  default 12111
 *   --app-port <n>      [DEMO_APP_PORT]     default 5173
 *   --test-ports        the browser tests' ports (4210/4211/4212/13111/4173)
 *   --dev               Vite dev server (HMR) instead of a production build + vite preview
 *   --manual-crons      run the billing component's crons (convex/billing/crons.ts) only on demand
 *   --quiet             only the summary and errors
 */
import { parseArgs } from "node:util";
import { portNumber } from "./lib/demoPorts";
import { DEMO_PORTS, TEST_PORTS, portsFromEnv, startDemoStack, type DemoPorts, type DemoStack } from "./lib/demoStack";

const { values } = parseArgs({
  options: {
    "convex-port": { type: "string" },
    "site-port": { type: "string" },
    "auth-port": { type: "string" },
    "stripe-port": { type: "string" },
    "app-port": { type: "string" },
    "test-ports": { type: "boolean" },
    dev: { type: "boolean" },
    "manual-crons": { type: "boolean" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  const text = (await import("node:fs")).readFileSync(new URL(import.meta.url), "utf8");
  console.log(/\/\*\*([\s\S]*?)\*\//.exec(text)?.[1]?.replace(/^ \* ?/gm, "") ?? "");
  process.exit(0);
}

let ports: DemoPorts;
try {
  ports = portsFromEnv("DEMO_", values["test-ports"] ? TEST_PORTS : DEMO_PORTS);
  for (const key of Object.keys(ports) as (keyof DemoPorts)[]) {
    const raw = values[`${key}-port`];
    if (raw !== undefined) ports[key] = portNumber(`--${key}-port`, raw);
  }
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

let stack: DemoStack | null = null;
let stopping = false;

async function stop(reason: string, code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log(`\n[demo] ${reason}: stopping…`);
    // A second Ctrl-C, or a close that hangs, must not leave the terminal stuck.
    setTimeout(() => {
      console.error("[demo] shutdown took longer than 10 s; exiting anyway");
      process.exit(code || 1);
    }, 10_000).unref();
    await stack?.close();
    console.log("[demo] stopped");
  }
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void stop(signal, 0));
}
// If whatever started us dies without passing a signal on (e.g. the tsx
// wrapper killed with SIGKILL), we are re-parented: stop rather than linger.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop("parent process exited", 0);
}, 1000).unref();

try {
  const started = Date.now();
  stack = await startDemoStack({
    ports,
    client: values.dev ? "dev" : "preview",
    crons: values["manual-crons"] ? "manual" : "schedule",
    // Notification email lands in the local mailbox (docs/NOTIFICATIONS.md).
    mailbox: { port: ports.convex + 3 },
    log: values.quiet ? (line) => (/error|fail/i.test(line) ? console.error(line) : undefined) : undefined,
  });
  if (stopping) process.exit(0);
  const s = stack;
  const users = s.users.map((u) => `${u.name} (${u.id})`).join(", ");
  console.log(`
  ◆ Demo ready in ${((Date.now() - started) / 1000).toFixed(1)} s: open ${s.appUrl}

    App              ${s.appUrl}
    Convex           ${s.convexUrl}   (WebSocket sync, HTTP API)
    Convex HTTP      ${s.siteUrl}   (Stripe webhooks: ${s.webhookUrl})
    Dev sign-in      ${s.authUrl}   (users: ${users})
    Stripe sim       ${s.stripeUrl}  (control API: ${s.stripeUrl}/_sim/state, /_sim/deliveries, POST /_sim/advance)
    Mailbox          ${s.mailbox?.url ?? "off"}   (every notification email; JSON at /api/messages)
    Admin key        ${s.adminKey}   (the billing component's functions: POST /api/function with "componentPath": "billing")

    Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0341 pays at Checkout, then renewals fail;
                4000 0000 0000 0002 is declined.
    State lives in memory: restarting starts empty. Ctrl-C stops everything.
`);
} catch (e) {
  console.error(`[demo] could not start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
