/**
 * What a person does in the app and on the simulator's hosted pages, as
 * reusable steps, plus a `journey` fixture that keeps numbered screenshots
 * of each step in test-results/screenshots/<journey>/<nn>-<step>.png.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { expect, test as base, type Page, type TestInfo } from "@playwright/test";
import type { Interval, PaidTier } from "../../../convex/billing/model/plans";
import { billingQuery } from "./backend";
import { sim } from "./sim";
import type { E2EUser } from "./users";

export const CARDS = {
  visa: "4242 4242 4242 4242",
  /** Pays at Checkout; every later charge (renewals) declines. */
  failsAfterAttach: "4000 0000 0000 0341",
  /** Every charge needs 3-D Secure: on-session the challenge page, off-session `authentication_required`. */
  threeDSecure: "4000 0027 6000 3184",
} as const;

export type Journey = {
  /** Saves `<nn>-<step>.png` for this journey and attaches it to the report. */
  shot: (step: string) => Promise<void>;
};

function screenshotsDir(testInfo: TestInfo, journey: string): string {
  const root = testInfo.config.configFile ? dirname(testInfo.config.configFile) : process.cwd();
  return resolve(root, "test-results/screenshots", journey);
}

export const test = base.extend<{ journey: Journey; journeyName: string }>({
  journeyName: ["journey", { option: true }],
  journey: async ({ page, journeyName }, use, testInfo) => {
    const dir = screenshotsDir(testInfo, journeyName);
    // Last run's pictures would otherwise mix with this run's.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    let n = 0;
    await useWithDiagnostics(testInfo, () =>
      use({
        shot: async (step: string) => {
          n += 1;
          const name = `${String(n).padStart(2, "0")}-${step}`;
          const path = resolve(dir, `${name}.png`);
          await page.screenshot({ path, fullPage: true });
          await testInfo.attach(name, { path, contentType: "image/png" });
        },
      }),
    );
  },
});

/**
 * Runs the test body; when it failed, attaches what Stripe sent and what the
 * backend made of it (the simulator's deliveries and the webhook queue), so a
 * failure in the webhook path can be read from the report.
 */
async function useWithDiagnostics(testInfo: TestInfo, body: () => Promise<void>): Promise<void> {
  await body();
  if (testInfo.status === testInfo.expectedStatus) return;
  const attachJson = async (name: string, load: () => Promise<unknown>) => {
    const path = testInfo.outputPath(name);
    let text: string;
    try {
      text = JSON.stringify(await load(), null, 2);
    } catch (e) {
      text = JSON.stringify({ error: String(e) });
    }
    writeFileSync(path, text);
    await testInfo.attach(name, { path, contentType: "application/json" });
  };
  await attachJson("sim-deliveries.json", () => sim.deliveries());
  await attachJson("webhook-queue.json", () => billingQuery("webhooks:list", { limit: 100 }));
}

export { expect };

/** Opens the app and signs in through the dev sign-in dialog; waits until the header shows the user. */
export async function signIn(page: Page, user: E2EUser): Promise<void> {
  await page.goto("/");
  await page.getByTestId("demo-sign-in").click();
  await expect(page.getByTestId("demo-sign-in-dialog")).toBeVisible();
  await page.getByTestId(`demo-user-${user.id}`).click();
  await expect(page.getByTestId("account-name")).toHaveText(user.name);
  // users.store ran: the account exists and has its plan and balance.
  await expect(page.getByTestId("plan-badge")).toBeVisible();
  await expect(page.getByTestId("token-meter")).toBeVisible();
}

/** From /pricing, clicks Upgrade on `tier` (billed every `interval`) and waits for the simulator's Checkout page. */
export async function startUpgradeFromPricing(page: Page, tier: PaidTier, interval: Interval = "month"): Promise<void> {
  await page.goto("/pricing");
  const toggle = page.getByTestId("interval-toggle");
  if ((await toggle.getAttribute("data-interval")) !== interval) await toggle.click();
  await expect(toggle).toHaveAttribute("data-interval", interval);
  await page.getByTestId(`upgrade-button-${tier}`).click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
}

/** A billing address for Checkout's tax: the simulator taxes US customers at 0% (docs/STRIPE_SIMULATOR.md). */
export type CheckoutAddress = { country: string; postalCode: string };
export const US_ADDRESS: CheckoutAddress = { country: "US", postalCode: "10001" };

/**
 * Fills the simulator's Checkout form with `card` (and, when the page asks
 * for a billing address because of automatic tax, `address`; default a US
 * one, untaxed) and submits it; returns the submit time (ms).
 */
export async function payOnCheckout(page: Page, card: string, cardholder: string, address: CheckoutAddress = US_ADDRESS): Promise<number> {
  const country = page.getByTestId("checkout-country");
  if (await country.isVisible()) {
    await country.selectOption(address.country);
    await page.getByTestId("checkout-postal-code").fill(address.postalCode);
  }
  await page.getByTestId("card-number").fill(card);
  await page.getByTestId("card-expiry").fill("12 / 34");
  await page.getByTestId("card-cvc").fill("123");
  await page.getByTestId("cardholder-name").fill(cardholder);
  const submittedAt = Date.now();
  await page.getByTestId("checkout-submit").click();
  return submittedAt;
}

/** "Mar 5, 2026" as the app formats a date (en-US, UTC: see playwright.config.ts). */
export function appDate(unixSeconds: number): string {
  return new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeZone: "UTC" }).format(new Date(unixSeconds * 1000));
}

/**
 * Records, in the page, the first moment (ms) an element matching `selector`
 * exists; read it back with `firstSeenAt`. Installed before navigation so it
 * catches the change as the page renders it, not when a test polls for it.
 */
export async function watchFirstSeen(page: Page, key: string, selector: string): Promise<void> {
  await page.addInitScript(
    ({ key, selector }) => {
      const w = window as unknown as Record<string, number | undefined>;
      const check = () => {
        if (w[key] === undefined && document.querySelector(selector)) w[key] = Date.now();
      };
      new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
      check();
    },
    { key, selector },
  );
}

export async function firstSeenAt(page: Page, key: string): Promise<number | null> {
  return page.evaluate((k) => (window as unknown as Record<string, number | undefined>)[k] ?? null, key);
}

const TIER_NAMES: Record<PaidTier, string> = { starter: "Starter", pro: "Pro", elite: "Elite" };

/**
 * Signs in, upgrades from /pricing to `tier` (monthly unless `interval`), pays with `card` and
 * waits until the success page shows the new plan (the webhook landed).
 */
export async function subscribe(
  page: Page,
  user: E2EUser,
  tier: PaidTier,
  card: string = CARDS.visa,
  interval: Interval = "month",
): Promise<void> {
  await signIn(page, user);
  await startUpgradeFromPricing(page, tier, interval);
  await payOnCheckout(page, card, user.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("success-status")).toContainText(`You're on ${TIER_NAMES[tier]}`);
  await expect(page.getByTestId("plan-badge")).toHaveText(TIER_NAMES[tier]);
}
