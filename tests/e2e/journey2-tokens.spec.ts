/**
 * Issue 4, journey 2: spending tokens lowers the header meter live; at ≤ 5
 * the upgrade prompt appears; at 0 a guarded action opens the upgrade path
 * instead of running.
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

test("spending lowers the meter live; low prompt at ≤ 5; at 0 the guard opens the upgrade path", async ({ page, journey }) => {
  const user = E2E_USERS.tokens;
  // Starter's 50 tokens leave room above the low-tokens threshold.
  await subscribe(page, user, "starter");
  await page.getByRole("link", { name: "Start using it" }).click();

  const meter = page.getByTestId("token-meter");
  const prompt = page.getByTestId("upgrade-prompt");
  await expect(meter).toHaveText(String(PLANS.starter.tokensPerPeriod));
  await expect(prompt).toHaveCount(0);
  await journey.shot("starter-50-tokens");

  // Bulk analysis, thorough: 15 tokens each, over the confirmation threshold.
  await runAnalysis(page, "bulk_analysis", "high", { confirm: true });
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
