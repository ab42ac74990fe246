/**
 * The whole product on the local stack, in one process: the local Convex
 * backend (convex-test behind Convex's wire protocols, with the dev sign-in
 * issuer), the Stripe simulator seeded with the plan catalogue and wired to
 * the backend's webhook route, and the React client.
 *
 * Used by `npm run demo` (scripts/demo.ts) and by Playwright's globalSetup
 * (tests/e2e/global-setup.ts). Everything runs in this process, so closing it
 * (or the process exiting) leaves nothing behind; no child processes.
 *
 * ```ts
 * const stack = await startDemoStack({ ports: DEMO_PORTS });
 * console.log(stack.appUrl);
 * await stack.close();
 * ```
 *
 * Wiring (see docs/DEMO.md):
 * - simulator webhook endpoint → `<siteUrl>/stripe/webhook`, signed with a
 *   `whsec_` secret generated per start;
 * - dev sign-in's Clerk webhooks (membership changes) → `<siteUrl>/clerk/webhook`,
 *   svix-signed with another generated `whsec_` secret, the backend's
 *   `CLERK_WEBHOOK_SECRET`;
 * - backend functions env: `STRIPE_SECRET_KEY` (a generated `sk_test_local…`),
 *   `STRIPE_API_HOST` / `STRIPE_API_PORT` / `STRIPE_API_PROTOCOL` (the
 *   simulator, as the SDK's host options), `STRIPE_WEBHOOK_SECRET` (the same
 *   secret), `SITE_URL` (the client), `LOCAL_DEV_AUTH_ISSUER` (the issuer),
 *   `STRIPE_TEST_CLOCKS=per_customer` (each new customer on its own test clock);
 * - client build env: `VITE_CONVEX_URL`, `VITE_DEV_AUTH_URL`, an empty
 *   `VITE_CLERK_PUBLISHABLE_KEY` (dev sign-in) and `VITE_DEV_SIGN_IN=1` (the
 *   opt-in vite.config.ts requires to build with the dev sign-in), ignoring
 *   any `.env*` file so a developer's real keys never leak into the demo.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_MEMBERSHIPS, DEMO_STAFF_SUBJECT, DEMO_USERS, type DevUser } from "@offline/dev-auth";
import { startLocalBackend, withEnv, type LocalBackend } from "@offline/local-backend";
import { startMailbox, type Mailbox } from "@offline/mailbox";
import { startStripeSimulator, type SimConfigPatch, type StripeSimulator } from "@offline/stripe-sim";
import { seedStripe } from "../seed-stripe";
import { DEMO_PORTS, type DemoPorts } from "./demoPorts";

export { DEMO_PORTS, TEST_PORTS, portsFromEnv, type DemoPorts } from "./demoPorts";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * How the client is served:
 * - `preview` (default): `vite build` into `.local/demo-client/<port>` with
 *   this stack's URLs baked in, served by `vite preview`. About 3 s to build;
 *   pages then load fast and never reload under a test.
 * - `dev`: the Vite dev server (HMR), for working on the client.
 * - `none`: no client (backend + simulator only).
 */
export type ClientMode = "preview" | "dev" | "none";

export type DemoStackOptions = {
  ports?: Partial<DemoPorts>;
  client?: ClientMode;
  /** Demo users offered by the dev sign-in, in addition to (or instead of) the defaults. */
  users?: readonly DevUser[];
  /** Simulator settings (chaos, retry delays, dunning, …). */
  simulator?: SimConfigPatch;
  /** `"schedule"` runs the crons (the billing component's `convex/billing/crons.ts`) on their schedules (default); `"manual"` only on demand. */
  crons?: "schedule" | "manual";
  /** Operator console staff: dev sign-in subjects (`dev_<user id>`) put in the backend's `STAFF_USER_IDS`. */
  staffUserIds?: readonly string[];
  /**
   * Notification email offline: start the local mailbox (`tools/mailbox`,
   * on `port`, default any free port), send the backend's
   * `https://api.resend.com` calls there and set `RESEND_API_KEY`, so every
   * email lands in the mailbox (docs/NOTIFICATIONS.md). Off by default.
   */
  mailbox?: { port?: number };
  /** Log sink for the stack's components; default `console.log`; `false` for silence. */
  log?: ((line: string) => void) | false;
};

export type DemoStack = {
  /** The client, e.g. `http://127.0.0.1:5173` (null with `client: "none"`). */
  appUrl: string | null;
  /** `VITE_CONVEX_URL`. */
  convexUrl: string;
  /** HTTP actions origin; Stripe webhooks go to `<siteUrl>/stripe/webhook`. */
  siteUrl: string;
  /** The Stripe simulator (the backend's `STRIPE_API_HOST`/`_PORT`/`_PROTOCOL`; control API under `/_sim`). */
  stripeUrl: string;
  /** The dev sign-in issuer (`VITE_DEV_AUTH_URL`, `LOCAL_DEV_AUTH_ISSUER`). */
  authUrl: string;
  webhookUrl: string;
  /** The `whsec_` secret shared by the simulator's endpoint and the backend. */
  webhookSecret: string;
  /** The svix `whsec_` secret of the dev sign-in's Clerk webhooks (`CLERK_WEBHOOK_SECRET`). */
  clerkWebhookSecret: string;
  /** Admin key of the local backend (`Authorization: Convex <key>`). */
  adminKey: string;
  users: readonly DevUser[];
  backend: LocalBackend;
  simulator: StripeSimulator;
  /** The local mailbox (with the `mailbox` option), else null. */
  mailbox: Mailbox | null;
  /** Stops the client, the simulator and the backend (idempotent). */
  close(): Promise<void>;
};

type Closer = { name: string; close: () => Promise<void> };

/** Fails fast with a clear message when a port is taken (e.g. a demo already running). */
export async function assertPortFree(port: number, what: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const probe = createNetServer();
    probe.once("error", (e: NodeJS.ErrnoException) =>
      fail(
        new Error(
          e.code === "EADDRINUSE"
            ? `Port ${port} (${what}) is already in use on 127.0.0.1. Stop whatever uses it (another \`npm run demo\`?) or choose other ports (see docs/DEMO.md).`
            : `Cannot listen on 127.0.0.1:${port} (${what}): ${e.message}`,
        ),
      ),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => ok()));
  });
}

function originOf(server: Server | null | undefined, fallbackPort: number): string {
  const addr = server?.address();
  const port = typeof addr === "object" && addr ? addr.port : fallbackPort;
  return `http://127.0.0.1:${port}`;
}

async function startClient(
  mode: Exclude<ClientMode, "none">,
  port: number,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const vite = await import("vite");
  const common = {
    root: REPO_ROOT,
    configFile: resolve(REPO_ROOT, "vite.config.ts"),
    // Only the variables given here: a developer's .env.local (Clerk keys,
    // a cloud deployment URL) must not change what the demo talks to.
    envDir: false as const,
    logLevel: "warn" as const,
    clearScreen: false,
  };
  // Vite reads `VITE_*` from process.env while resolving its config.
  if (mode === "dev") {
    const server = await withEnv(env, () =>
      vite.createServer({
        ...common,
        // A cache per port so a test stack and a running demo don't share one.
        cacheDir: resolve(REPO_ROOT, "node_modules/.vite", `demo-${port}`),
        server: { host: "127.0.0.1", port, strictPort: true },
      }),
    );
    await server.listen();
    const url = originOf(server.httpServer as Server | null, port);
    log(`client (vite dev server) ${url}`);
    return { url, close: () => server.close() };
  }
  const outDir = resolve(REPO_ROOT, ".local/demo-client", String(port));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  await withEnv(env, () =>
    vite.build({
      ...common,
      logLevel: "error",
      build: { outDir, emptyOutDir: true, reportCompressedSize: false },
    }),
  );
  log(`client built in ${Date.now() - started} ms → ${outDir}`);
  const server = await vite.preview({
    ...common,
    build: { outDir },
    preview: { host: "127.0.0.1", port, strictPort: true },
  });
  const url = originOf(server.httpServer as Server, port);
  log(`client (vite preview) ${url}`);
  return {
    url,
    close: async () => {
      // Keep-alive sockets from the browser would hold close() open.
      (server.httpServer as Server).closeAllConnections();
      await server.close();
      // Built for this stack's URLs only; a later start builds afresh.
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the local stack. Ports default to `DEMO_PORTS`; 0 picks a free one
 * (not for `app`, whose URL must be known before the backend starts).
 * Throws (after stopping what it started) when a port is taken.
 */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const ports: DemoPorts = { ...DEMO_PORTS, ...(options.ports ?? {}) };
  const log = options.log === false ? () => undefined : (options.log ?? ((line: string) => console.log(line)));
  const clientMode: ClientMode = options.client ?? "preview";
  const closers: Closer[] = [];
  let closed = false;

  const closeAll = async () => {
    if (closed) return;
    closed = true;
    // Reverse start order: the client first (no new requests), the backend last.
    for (const c of closers.reverse()) {
      try {
        await c.close();
      } catch (e) {
        log(`[demo] stopping ${c.name}: ${(e as Error).message}`);
      }
    }
  };

  try {
    await assertPortFree(ports.convex, "Convex backend");
    await assertPortFree(ports.site, "Convex HTTP actions");
    await assertPortFree(ports.auth, "dev sign-in");
    await assertPortFree(ports.stripe, "Stripe simulator");
    if (clientMode !== "none") await assertPortFree(ports.app, "client");

    const webhookSecret = `whsec_${randomBytes(24).toString("base64url")}`;
    // svix secrets are base64 (not base64url) after the prefix.
    const clerkWebhookSecret = `whsec_${randomBytes(24).toString("base64")}`;
    const secretKey = `sk_test_local_${randomBytes(12).toString("hex")}`;
    const appUrl = clientMode === "none" ? null : `http://127.0.0.1:${ports.app}`;

    // The simulator first: the backend's env needs its URL. Its webhook
    // target is set once the backend's site port is known.
    const simulator = await startStripeSimulator({
      port: ports.stripe,
      seeder: seedStripe,
      seed: true,
      log: (line) => log(`[stripe-sim] ${line}`),
      ...(options.simulator ?? {}),
    });
    closers.push({ name: "Stripe simulator", close: () => simulator.close() });

    let mailbox: Mailbox | null = null;
    if (options.mailbox) {
      mailbox = await startMailbox({ port: options.mailbox.port ?? 0, onMail: (m) => log(`[mailbox] ${m.to.join(", ")}: ${m.subject}`) });
      const box = mailbox;
      closers.push({ name: "mailbox", close: () => box.close() });
    }

    const users = options.users ?? DEMO_USERS;
    const backend = await startLocalBackend({
      port: ports.convex,
      sitePort: ports.site,
      devAuth: { port: ports.auth, users },
      // Hermetic: the demo's env is exactly what is wired here, not .local/convex.env.
      envFile: null,
      persist: null,
      crons: options.crons ?? "schedule",
      ...(mailbox ? { fetchRedirects: { "https://api.resend.com": mailbox.url } } : {}),
      env: {
        ...(mailbox ? { RESEND_API_KEY: "re_local_mailbox", EMAIL_FROM: "Tokenly Billing <billing@tokenly.test>" } : {}),
        STRIPE_SECRET_KEY: secretKey,
        STRIPE_API_HOST: "127.0.0.1",
        STRIPE_API_PORT: String(simulator.port),
        STRIPE_API_PROTOCOL: "http",
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        SITE_URL: appUrl ?? "http://127.0.0.1:5173",
        // Each new customer lives on its own test clock, so journeys can move
        // one customer's time (renewals, yearly plans' monthly allowance)
        // and the app follows it through `test_helpers.test_clock.ready`.
        STRIPE_TEST_CLOCKS: "per_customer",
        CLERK_WEBHOOK_SECRET: clerkWebhookSecret,
        // The operator console's staff: the dev sign-in's "Sam Staff".
        STAFF_USER_IDS: DEMO_STAFF_SUBJECT,
        ...(options.staffUserIds?.length ? { STAFF_USER_IDS: options.staffUserIds.join(",") } : {}),
      },
      log: (line) => log(`[local-convex] ${line}`),
    });
    closers.push({ name: "local Convex backend", close: () => backend.close() });
    if (!backend.devAuth) throw new Error("The local backend started without its dev sign-in issuer.");

    const webhookUrl = `${backend.siteUrl}/stripe/webhook`;
    simulator.configure({ webhookUrl, webhookSecret });
    // Membership changes made on the dev sign-in reach the app as Clerk's would.
    backend.devAuth.configureClerkWebhook({ url: `${backend.siteUrl}/clerk/webhook`, secret: clerkWebhookSecret });
    // The seeded organisation's memberships (Ada admin, Grace member of Acme)
    // reach the app the same way, as if made after the endpoint was set up:
    // seats count members from the recorded memberships (docs/SEATS.md).
    for (const m of DEMO_MEMBERSHIPS) {
      const delivery = await backend.devAuth.sendMembershipWebhook("organizationMembership.created", m.orgId, m.userId, m.role);
      if (delivery && ("error" in delivery || delivery.status !== 200)) {
        throw new Error(`The seeded membership of ${m.userId} in ${m.orgId} was not recorded: ${JSON.stringify(delivery)}`);
      }
    }

    let clientUrl: string | null = null;
    if (clientMode !== "none") {
      const client = await startClient(
        clientMode,
        ports.app,
        {
          VITE_CONVEX_URL: backend.url,
          VITE_DEV_AUTH_URL: backend.devAuth.issuer,
          VITE_CLERK_PUBLISHABLE_KEY: "",
          VITE_DEV_SIGN_IN: "1",
        },
        (line) => log(`[demo] ${line}`),
      );
      closers.push({ name: "client", close: client.close });
      clientUrl = client.url;
    }

    return {
      appUrl: clientUrl,
      convexUrl: backend.url,
      siteUrl: backend.siteUrl,
      stripeUrl: simulator.url,
      authUrl: backend.devAuth.issuer,
      webhookUrl,
      webhookSecret,
      clerkWebhookSecret,
      adminKey: backend.adminKey,
      users,
      backend,
      simulator,
      mailbox,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
