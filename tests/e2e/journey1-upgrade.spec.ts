/**
 * Issue 4, journey 1: a Free user upgrades to Pro through the simulator's
 * Checkout (from the dashboard's upgrade prompt and the upgrade dialog); the
 * success page flips live; the header badge and the token allowance update.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, payOnCheckout, signIn, test } from "./support/app";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "1-upgrade" });

test("free user upgrades to Pro; success page, badge and allowance update live", async ({ page, journey }) => {
  const user = E2E_USERS.upgrade;
  await signIn(page, user);

  const badge = page.getByTestId("plan-badge");
  const meter = page.getByTestId("token-meter");
  await expect(badge).toHaveText("Free");
  await expect(badge).toHaveAttribute("data-tier", "free");
  await expect(meter).toHaveText(String(PLANS.free.tokensPerPeriod));
  // Free's untouched 5-token allowance is not "running low": no nudge yet.
  const prompt = page.getByTestId("upgrade-prompt");
  await expect(page.getByTestId("analysis-run-quick_analysis")).toBeEnabled();
  await expect(prompt).toHaveCount(0);
  // One quick analysis later, 4 are left: now the dashboard nudges.
  const quick = page.getByTestId("analysis-quick_analysis");
  await quick.getByTestId("analysis-run-quick_analysis").click();
  await expect(quick.getByTestId("analysis-result-quick_analysis")).toBeVisible();
  await expect(meter).toHaveText(String(PLANS.free.tokensPerPeriod - 1));
  await expect(prompt).toHaveAttribute("data-trigger", "low_tokens");
  await expect(prompt).toContainText("Running low: 4 tokens left");
  await journey.shot("free-dashboard");

  await page.getByTestId("upgrade-prompt-upgrade").click();
  const modal = page.getByTestId("upgrade-modal");
  await expect(modal).toBeVisible();
  await expect(modal.getByTestId("upgrade-modal-option-pro")).toContainText("150");
  await journey.shot("upgrade-dialog");

  await modal.getByTestId("upgrade-modal-upgrade-pro").click();
  await expect(page.getByTestId("checkout-title")).toHaveText("Subscribe");
  await expect(page.getByTestId("checkout-total")).toHaveText("$29.00");
  await payOnCheckout(page, CARDS.visa, user.name);

  await expect(page).toHaveURL(/\/billing\/success/);
  const status = page.getByTestId("success-status");
  // The page may render "activating" first; it must flip by itself, without a reload.
  await expect(status).toHaveAttribute("data-state", "active");
  await expect(status).toContainText("You're on Pro");
  await expect(badge).toHaveText("Pro");
  await expect(badge).toHaveAttribute("data-status", "active");
  // The paid window starts now with Pro's full allowance (the free month's tokens expire).
  await expect(meter).toHaveText(String(PLANS.pro.tokensPerPeriod));
  await journey.shot("success");

  await page.getByTestId("success-status").getByRole("link", { name: "View billing" }).click();
  await expect(page.getByTestId("subscription-tier")).toHaveText("Pro");
  await expect(page.getByTestId("subscription-interval")).toContainText("monthly");
  await expect(page.getByTestId("renews-on")).toBeVisible();
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PLANS.pro.tokensPerPeriod));
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/paid/i);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-amount")).toContainText("$29.00");
  await journey.shot("billing");
});
