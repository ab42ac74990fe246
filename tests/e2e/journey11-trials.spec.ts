/**
 * Issue 11, trials (docs/TRIALS.md), on the simulator's clock:
 * - a Pro trial with a card: "Trial: 14 days left" and the trial allowance,
 *   the "trial ending" notification 3 days before the end, then the first
 *   paid invoice converts it and the paid allowance is granted once;
 * - a card-less Starter trial: "Add a card", the reminder, then the end
 *   without a card cancels it (Starter's `missing_payment_method: cancel`):
 *   back to Free, nothing paid granted;
 * - the same account is offered no second trial, and the server refuses one
 *   (`TRIAL_ALREADY_USED`).
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, US_ADDRESS, expect, payOnCheckout, signIn, test } from "./support/app";
import { advanceTo, checkoutAs, startTrialFromPricing, trialOf } from "./support/trials";
import { E2E_USERS } from "./support/users";
import type { Page } from "@playwright/test";

test.use({ journeyName: "11-trials" });

const DAY = 24 * 3600;
const PRO_TRIAL = PLANS.pro.trial!;
const STARTER_TRIAL = PLANS.starter.trial!;

/** Opens the bell and returns the `trial_ending` notification. */
async function trialEndingNotification(page: Page) {
  await expect(page.getByTestId("notification-count")).toBeVisible();
  await page.getByTestId("notification-bell").click();
  const item = page.getByTestId("notification-item").and(page.locator('[data-kind="trial_ending"]'));
  await expect(item).toHaveCount(1);
  return item;
}

/** The /usage history's allowance grants (amounts, newest first). */
async function allowanceGrants(page: Page): Promise<number[]> {
  await page.goto("/usage");
  const rows = page.getByTestId("usage-history-row").and(page.locator('[data-reason="period_grant"]'));
  await expect(page.getByTestId("usage-history")).toBeVisible();
  await expect(page.getByTestId("usage-history-row").first()).toBeVisible();
  return (await rows.evaluateAll((els) => els.map((el) => Number(el.getAttribute("data-amount")))));
}

test("a Pro trial with a card: days left, trial allowance, reminder, then conversion grants the paid allowance once", async ({ page, journey }) => {
  const user = E2E_USERS.trialCard;
  await signIn(page, user);
  await startTrialFromPricing(page, "pro");
  await expect(page.getByTestId("checkout-trial")).toHaveText(`${PRO_TRIAL.days}-day free trial`);
  await expect(page.getByTestId("checkout-total")).toHaveText("$0.00");
  await expect(page.getByTestId("checkout-submit")).toHaveText("Start trial");
  await payOnCheckout(page, CARDS.visa, user.name);

  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("success-status")).toContainText("Pro trial");
  await page.getByTestId("success-status").getByRole("link", { name: "View billing" }).click();

  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "trialing");
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  const notice = page.getByTestId("trial-notice");
  await expect(notice.getByTestId("trial-days-left")).toHaveText(`Trial: ${PRO_TRIAL.days} days left`);
  await expect(notice).toHaveAttribute("data-card", "on-file");
  await expect(notice.getByTestId("trial-add-card")).toHaveCount(0);
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PRO_TRIAL.tokens));
  await expect(page.getByTestId("invoice-row")).toHaveCount(1);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-amount")).toContainText("$0.00");
  await journey.shot("pro-trial-started");

  // Three days before the end Stripe sends trial_will_end: the bell says so.
  const trial = await trialOf(user.email);
  expect(trial.trialEnd - trial.trialStart).toBe(PRO_TRIAL.days * DAY);
  await advanceTo(trial.id, trial.trialEnd - 3 * DAY + 60);
  const reminder = await trialEndingNotification(page);
  await expect(reminder).toContainText("Your Pro trial ends");
  await expect(reminder).toContainText("card on file will then be charged");
  await journey.shot("pro-trial-ending-bell");
  await page.keyboard.press("Escape");

  // The trial ends: the first invoice is charged and Pro continues, paid.
  await advanceTo(trial.id, trial.trialEnd + 60);
  expect((await trialOf(user.email)).status).toBe("active");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  await expect(page.getByTestId("trial-notice")).toHaveCount(0);
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await expect(page.getByTestId("invoice-row")).toHaveCount(2);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-amount")).toContainText("$29.00");
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/paid/i);
  // Trial tokens don't roll over: exactly the paid allowance.
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PLANS.pro.tokensPerPeriod));
  await journey.shot("pro-converted");

  // The bell: the trial start and the conversion, never "your plan is now Free" in between.
  await page.getByTestId("notification-bell").click();
  const planNotices = page.getByTestId("notification-item").and(page.locator('[data-kind="plan_changed"]'));
  await expect(planNotices.first()).toBeVisible();
  await expect(planNotices.filter({ hasText: "now Free" })).toHaveCount(0);
  await expect(page.getByTestId("notification-item").filter({ hasText: "Your Pro trial has started" })).toHaveCount(1);
  await page.keyboard.press("Escape");

  // One trial grant and one paid grant in the history (after the free month's 5 at sign-in), not two paid ones.
  expect(await allowanceGrants(page)).toEqual([PLANS.pro.tokensPerPeriod, PRO_TRIAL.tokens, PLANS.free.tokensPerPeriod]);
});

test("a card-less Starter trial: add-a-card notice, reminder, cancelled at the end without a card; no second trial", async ({ page, journey }) => {
  const user = E2E_USERS.trialNoCard;
  await signIn(page, user);
  await startTrialFromPricing(page, "starter");
  await expect(page.getByTestId("checkout-no-card")).toBeVisible();
  await expect(page.getByTestId("card-number")).toHaveCount(0);
  await expect(page.getByTestId("checkout-total")).toHaveText("$0.00");
  // Automatic tax asks for a billing address, even with no card.
  await page.getByTestId("checkout-country").selectOption(US_ADDRESS.country);
  await page.getByTestId("checkout-postal-code").fill(US_ADDRESS.postalCode);
  await page.getByTestId("checkout-submit").click();

  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("success-status")).toContainText("Starter trial");
  await page.getByTestId("success-status").getByRole("link", { name: "View billing" }).click();

  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "trialing");
  const notice = page.getByTestId("trial-notice");
  await expect(notice.getByTestId("trial-days-left")).toHaveText(`Trial: ${STARTER_TRIAL.days} days left`);
  await expect(notice).toHaveAttribute("data-card", "missing");
  await expect(notice.getByTestId("trial-add-card")).toBeVisible();
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(STARTER_TRIAL.tokens));
  await journey.shot("starter-trial-add-card");

  const trial = await trialOf(user.email);
  await advanceTo(trial.id, trial.trialEnd - 3 * DAY + 60);
  const reminder = await trialEndingNotification(page);
  await expect(reminder).toContainText("Add a card before then to keep Starter");
  await page.keyboard.press("Escape");

  // No card at the end: Starter's trial is cancelled, the account is Free again.
  await advanceTo(trial.id, trial.trialEnd + 60);
  expect((await trialOf(user.email)).status).toBe("canceled");
  await expect(page.getByTestId("plan-badge")).toHaveText("Free");
  await expect(page.getByTestId("trial-notice")).toHaveCount(0);
  await expect(page.getByTestId("plan-ended")).toContainText("Your Starter trial ended on");
  // Only the $0 trial invoice: nothing was charged.
  await expect(page.getByTestId("invoice-row")).toHaveCount(1);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-amount")).toContainText("$0.00");
  await journey.shot("starter-trial-ended");
  // Nothing paid was granted: the trial allowance is the only one in the history.
  expect(await allowanceGrants(page)).toEqual([STARTER_TRIAL.tokens, PLANS.free.tokensPerPeriod]);

  // A second trial: not offered, and refused by the server if asked for anyway.
  await page.goto("/pricing");
  await expect(page.getByTestId("upgrade-button-starter")).toBeVisible();
  await expect(page.getByTestId("upgrade-button-pro")).toBeVisible();
  await expect(page.getByTestId("start-trial-starter")).toHaveCount(0);
  await expect(page.getByTestId("start-trial-pro")).toHaveCount(0);
  await expect(page.getByTestId("trial-used-starter")).toContainText("already had your free trial");
  await journey.shot("second-trial-not-offered");
  for (const tier of ["starter", "pro"] as const) {
    const answer = await checkoutAs(user, { tier, interval: "month", trial: true });
    expect(answer).toEqual({ error: expect.objectContaining({ code: "TRIAL_ALREADY_USED" }) });
  }
});
