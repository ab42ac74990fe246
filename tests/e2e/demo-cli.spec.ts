/**
 * `npm run demo` as a person runs it: it starts, serves the app, and Ctrl-C
 * (SIGINT to the process group) or SIGTERM (to npm) stops everything it
 * started, leaving every port free. Runs on its own free ports, beside both
 * a running demo and the test stack.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";
import { expect, test } from "@playwright/test";

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => ok(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      ok(true);
    });
    socket.once("error", () => ok(false));
  });
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };
type Demo = { child: ChildProcess; output: () => string; exited: Promise<Exit>; ports: number[]; appUrl: string };

async function startDemo(): Promise<Demo> {
  const ports = { convex: await freePort(), site: await freePort(), auth: await freePort(), stripe: await freePort(), app: await freePort() };
  let out = "";
  const child = spawn("npm", ["run", "--silent", "demo", "--", "--quiet"], {
    cwd: process.cwd(),
    // Its own process group, so "Ctrl-C" can go to the whole group as a terminal sends it.
    detached: true,
    env: {
      ...process.env,
      DEMO_CONVEX_PORT: String(ports.convex),
      DEMO_SITE_PORT: String(ports.site),
      DEMO_AUTH_PORT: String(ports.auth),
      DEMO_STRIPE_PORT: String(ports.stripe),
      DEMO_APP_PORT: String(ports.app),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<Exit>((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  await expect.poll(() => out, { timeout: 60_000, message: "demo prints its ready banner" }).toContain("Demo ready");
  return { child, output: () => out, exited, ports: Object.values(ports), appUrl: `http://127.0.0.1:${ports.app}` };
}

async function expectStopped(demo: Demo): Promise<void> {
  const { code, signal } = await demo.exited;
  // npm reports the signal it passed on (killed by it, or 128 + signal number);
  // what matters is that the demo itself shut down and released its ports.
  const byNpm = code === 0 || code === 130 || code === 143 || signal === "SIGINT" || signal === "SIGTERM";
  expect(byNpm, `exit ${code} ${signal}: ${demo.output()}`).toBe(true);
  expect(demo.output()).toContain("[demo] stopped");
  // npm may exit before the demo finished closing: wait for every port to be released.
  for (const port of demo.ports) {
    await expect.poll(() => portOpen(port), { timeout: 15_000, message: `port ${port} is released` }).toBe(false);
  }
}

test.describe("npm run demo", () => {
  test.describe.configure({ timeout: 120_000 });

  test("serves the app with the local stack's URLs; Ctrl-C stops everything", async ({ page }) => {
    const demo = await startDemo();
    try {
      expect(demo.output()).toContain(`App              ${demo.appUrl}`);
      const res = await fetch(demo.appUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
      await page.goto(demo.appUrl);
      await expect(page.getByTestId("pricing-card-pro")).toBeVisible();
      await expect(page.getByTestId("demo-sign-in")).toBeVisible();
    } finally {
      await page.close();
      if (demo.child.pid) process.kill(-demo.child.pid, "SIGINT");
    }
    await expectStopped(demo);
  });

  test("SIGTERM to npm stops everything", async () => {
    const demo = await startDemo();
    demo.child.kill("SIGTERM");
    await expectStopped(demo);
  });
});
