/**
 * Issue 4, journey 2: spending tokens lowers the header meter live; at ≤ 5
 * the upgrade prompt appears; at 0 a guarded action opens the upgrade path
 * instead of running.
 *
 * Issue 9: threshold alerts (80% and 100% of the allowance, low balance)
 * appear live, once each. A run reserves its price first (the header shows it as held
 * while the analysis runs), then settles it, so the balance drops by
 * exactly the cost; a failed run releases its hold and leaves the balance
 * as it was. To look at a run in progress without racing it, the page's
 * clock is paused while the simulated analysis waits on its timer.
 */
import { PLANS, type Complexity } from "../../convex/billing/model/plans";
import { expect, subscribe, test } from "./support/app";
import { E2E_USERS } from "./support/users";
import type { Page } from "@playwright/test";

test.use({ journeyName: "2-tokens" });

/** Runs an analysis through the token guard (confirming when asked) and waits for its result. */
async function runAnalysis(page: Page, feature: string, complexity: Complexity, { confirm = false } = {}) {
  const card = page.getByTestId(`analysis-${feature}`);
  await card.getByTestId(`analysis-complexity-${feature}`).selectOption(complexity);
  await card.getByTestId(`analysis-run-${feature}`).click();
  if (confirm) {
    await expect(page.getByTestId("confirm-dialog")).toBeVisible();
    await page.getByTestId("confirm-accept").click();
  }
  await expect(card.getByTestId(`analysis-result-${feature}`)).toBeVisible();
  await expect(card.getByTestId(`analysis-run-${feature}`)).toBeEnabled();
}

/**
 * Starts a thorough bulk analysis (15 tokens, confirmed) with the page's
 * clock paused, so the simulated analysis stays running (its timer cannot
 * fire) until `page.clock.resume()`. Returns once the guard has reserved:
 * the run button says "Running…" and the header shows the tokens held.
 */
async function startHeldBulkRun(page: Page) {
  const card = page.getByTestId("analysis-bulk_analysis");
  await card.getByTestId("analysis-complexity-bulk_analysis").selectOption("high");
  await card.getByTestId("analysis-run-bulk_analysis").click();
  await expect(page.getByTestId("confirm-dialog")).toBeVisible();
  // pauseAt jumps to a moment still ahead of the page's (running) clock, then holds it there.
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1_000);
  await page.getByTestId("confirm-accept").click();
  await expect(card.getByTestId("analysis-run-bulk_analysis")).toHaveText("Running…");
  await expect(page.getByTestId("token-meter-held")).toHaveText("· 15 reserved");
}

test("spending lowers the meter live; low prompt at ≤ 5; at 0 the guard opens the upgrade path", async ({ page, journey }) => {
  const user = E2E_USERS.tokens;
  // Time flows as usual; startHeldBulkRun pauses it while a run is in progress.
  await page.clock.install();
  // Starter's 50 tokens leave room above the low-tokens threshold.
  await subscribe(page, user, "starter");
  await page.getByRole("link", { name: "Start using it" }).click();

  const meter = page.getByTestId("token-meter");
  const prompt = page.getByTestId("upgrade-prompt");
  await expect(meter).toHaveText(String(PLANS.starter.tokensPerPeriod));
  await expect(prompt).toHaveCount(0);
  await journey.shot("starter-50-tokens");

  // Bulk analysis, thorough: 15 tokens each, over the confirmation threshold.
  const bulk = page.getByTestId("analysis-bulk_analysis");
  const held = page.getByTestId("token-meter-held");

  // A run that fails: its 15 tokens are held while it runs, then all come back.
  await bulk.getByTestId("analysis-fail-bulk_analysis").check();
  await startHeldBulkRun(page);
  await expect(meter).toHaveText("35");
  await expect(page.getByRole("link", { name: "35 tokens left, 15 tokens reserved for running jobs" })).toBeVisible();
  await journey.shot("failing-run-holds-15");
  await page.clock.resume();
  await expect(page.getByText("Bulk analysis failed")).toBeVisible();
  await expect(page.getByText("No tokens were used. Please try again.")).toBeVisible();
  await expect(bulk.getByTestId("analysis-run-bulk_analysis")).toBeEnabled();
  await expect(meter).toHaveText("50");
  await expect(held).toHaveCount(0);
  await expect(bulk.getByTestId("analysis-result-bulk_analysis")).toHaveCount(0);
  await journey.shot("failed-run-costs-nothing");

  // A run that succeeds: held while it runs, then charged exactly its cost.
  await bulk.getByTestId("analysis-fail-bulk_analysis").uncheck();
  await startHeldBulkRun(page);
  await expect(meter).toHaveText("35");
  await journey.shot("running-holds-15");
  await page.clock.resume();
  await expect(bulk.getByTestId("analysis-result-bulk_analysis")).toBeVisible();
  await expect(bulk.getByTestId("analysis-run-bulk_analysis")).toBeEnabled();
  await expect(page.getByText("Used 15 tokens · 35 tokens left")).toBeVisible();
  await expect(held).toHaveCount(0);
  await expect(meter).toHaveText("35");
  await expect(prompt).toHaveCount(0);
  await journey.shot("after-15");

  await runAnalysis(page, "bulk_analysis", "high", { confirm: true });
  await expect(meter).toHaveText("20");
  await runAnalysis(page, "bulk_analysis", "high", { confirm: true });
  await expect(meter).toHaveText("5");
  await expect(prompt).toBeVisible();
  await expect(prompt).toHaveAttribute("data-trigger", "low_tokens");
  await expect(prompt).toContainText("Running low: 5 tokens left");
  // The threshold alerts fired once each, live: 80% of the allowance used (at 45 of 50), and the low balance.
  const alerts = page.getByTestId("token-alerts");
  await expect(alerts.getByTestId("token-alert-allowance_80")).toHaveText("You've used 80% of this period's 50-token allowance.");
  await expect(alerts.getByTestId("token-alert-low_balance")).toHaveText("Only 5 tokens left.");
  await journey.shot("low-prompt-at-5");

  await runAnalysis(page, "standard_analysis", "medium");
  await expect(meter).toHaveText("2");
  await expect(prompt).toContainText("Running low: 2 tokens left");
  await runAnalysis(page, "quick_analysis", "medium");
  await expect(meter).toHaveText("1");
  await runAnalysis(page, "quick_analysis", "medium");
  await expect(meter).toHaveText("0");
  await expect(prompt).toHaveAttribute("data-trigger", "no_tokens");
  await expect(prompt).toContainText("You're out of tokens");
  await expect(alerts.getByTestId("token-alert-allowance_100")).toHaveText("You've used all 50 tokens of this period's allowance.");
  await expect(alerts.getByTestId("token-alert-low_balance")).toHaveCount(1);
  await journey.shot("out-of-tokens");

  // A guarded action with nothing left opens the upgrade dialog and runs nothing.
  const quick = page.getByTestId("analysis-quick_analysis");
  await quick.getByTestId("analysis-run-quick_analysis").click();
  const modal = page.getByTestId("upgrade-modal");
  await expect(modal).toBeVisible();
  await expect(modal).toContainText("You're out of tokens");
  await expect(modal.getByTestId("upgrade-modal-upgrade-pro")).toBeVisible();
  await expect(meter).toHaveText("0");
  await journey.shot("guard-opens-upgrade");

  // A subscriber changes plan in the app: the upgrade path opens the
  // plan-change preview for Pro, with the exact amount due now.
  await modal.getByTestId("upgrade-modal-upgrade-pro").click();
  const change = page.getByTestId("plan-change-dialog");
  await expect(change).toHaveAttribute("data-state", "ready");
  await expect(change.getByTestId("plan-change-due-now")).toHaveText(/^\$\d+\.\d\d$/);
  await journey.shot("plan-change-preview");
});
