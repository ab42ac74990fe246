/**
 * Browser tests (tests/e2e) against the whole local stack, with Debian's
 * Chromium (Playwright's own browser download can't run offline; see
 * scripts/ensure-chromium.sh). globalSetup starts the stack in the runner
 * process on the test ports (4210/4211/4212/13111/4173, overridable with
 * E2E_*_PORT) so the tests can run beside a running `npm run demo`.
 */
import { defineConfig } from "@playwright/test";
import { e2ePorts } from "./tests/e2e/support/env";

const ports = e2ePorts();

export default defineConfig({
  testDir: "tests/e2e",
  outputDir: "test-results/artifacts",
  globalSetup: "./tests/e2e/global-setup.ts",
  // One worker: 2 cores, and one in-process backend that serialises transactions anyway.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL: `http://127.0.0.1:${ports.app}`,
    browserName: "chromium",
    // Dates on the page ("Cancels on …") are compared with what the simulator says.
    locale: "en-US",
    timezoneId: "UTC",
    viewport: { width: 1280, height: 860 },
    screenshot: "on",
    trace: "retain-on-failure",
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
  projects: [{ name: "chromium" }],
});
