/**
 * Ending a trial early (docs/TRIALS.md, "Ending a trial early"), against the
 * simulator:
 * - a Pro trial with a good card: "Start paid plan now" → the dialog shows
 *   Stripe's preview ($29.00 now, the days given up, 150 tokens a month, the
 *   next renewal) → confirm: the card reads Pro active, /billing lists the
 *   paid $29.00 invoice, /usage one trial grant and one paid grant;
 * - a Pro trial whose card declines later charges (0341): the payment fails,
 *   the dialog says so, and the trial runs on unchanged (trialing, the trial
 *   allowance, nothing granted); its open invoice is no dunning case: no
 *   overdue banner, no "Your payment failed" in the bell or the mailbox.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, payOnCheckout, signIn, test } from "./support/app";
import { mailbox } from "./support/mailbox";
import { startTrialFromPricing, trialOf } from "./support/trials";
import { E2E_USERS, type E2EUser } from "./support/users";
import type { Page } from "@playwright/test";

test.use({ journeyName: "11-end-trial" });

const PRO_TRIAL = PLANS.pro.trial!;

/** Signs in, starts a Pro trial paying Checkout with `card`, and opens /billing. */
async function proTrial(page: Page, user: E2EUser, card: string): Promise<void> {
  await signIn(page, user);
  await startTrialFromPricing(page, "pro");
  await payOnCheckout(page, card, user.name);
  await expect(page.getByTestId("success-status")).toContainText("Pro trial");
  await page.getByTestId("success-status").getByRole("link", { name: "View billing" }).click();
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "trialing");
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PRO_TRIAL.tokens));
}

/** Opens "Start paid plan now" and waits for Stripe's preview. */
async function openEndTrial(page: Page) {
  const notice = page.getByTestId("trial-notice");
  await expect(notice).toHaveAttribute("data-card", "on-file");
  await notice.getByTestId("trial-start-paid").click();
  const dialog = page.getByTestId("end-trial-dialog");
  await expect(dialog).toHaveAttribute("data-state", "ready");
  return dialog;
}

/** The /usage history's allowance grants (amounts, newest first). */
async function allowanceGrants(page: Page): Promise<number[]> {
  await page.goto("/usage");
  await expect(page.getByTestId("usage-history")).toBeVisible();
  await expect(page.getByTestId("usage-history-row").first()).toBeVisible();
  const rows = page.getByTestId("usage-history-row").and(page.locator('[data-reason="period_grant"]'));
  return await rows.evaluateAll((els) => els.map((el) => Number(el.getAttribute("data-amount"))));
}

test("Start paid plan now: the preview's amount is charged, Pro is active at once with its paid allowance", async ({ page, journey }) => {
  const user = E2E_USERS.trialEndEarly;
  await proTrial(page, user, CARDS.visa);
  const trial = await trialOf(user.email);

  const dialog = await openEndTrial(page);
  await expect(dialog.getByTestId("end-trial-due-now")).toHaveText("$29.00");
  await expect(dialog.getByTestId("end-trial-days")).toContainText(`the ${PRO_TRIAL.days} days left of it`);
  await expect(dialog.getByTestId("end-trial-allowance")).toContainText(`${PLANS.pro.tokensPerPeriod} tokens a month`);
  await expect(dialog.getByTestId("end-trial-allowance")).toContainText(`replacing your ${PRO_TRIAL.tokens} trial tokens`);
  await expect(dialog.getByTestId("end-trial-renewal")).toContainText("Your next renewal is on");
  await expect(dialog.getByTestId("end-trial-confirm")).toHaveText("Pay $29.00 and start now");
  await journey.shot("end-trial-preview");

  await dialog.getByTestId("end-trial-confirm").click();
  // The dialog closes once the webhooks show Pro active.
  await expect(page.getByTestId("end-trial-dialog")).toHaveCount(0);
  await expect(page.getByText("You're on Pro (monthly)")).toBeVisible();
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  await expect(page.getByTestId("trial-notice")).toHaveCount(0);
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PLANS.pro.tokensPerPeriod));
  // Stripe ended the trial now (before its planned end) and billed the month from now.
  const after = await trialOf(user.email);
  expect(after.status).toBe("active");
  expect(after.trialEnd).toBeLessThan(trial.trialEnd);
  await expect(page.getByTestId("invoice-row")).toHaveCount(2);
  const paidRow = page.getByTestId("invoice-row").first();
  await expect(paidRow.getByTestId("invoice-amount")).toContainText("$29.00");
  await expect(paidRow.getByTestId("invoice-status")).toContainText(/paid/i);
  await journey.shot("end-trial-pro-active");

  // One trial grant and one paid grant (after the free month's at sign-in).
  expect(await allowanceGrants(page)).toEqual([PLANS.pro.tokensPerPeriod, PRO_TRIAL.tokens, PLANS.free.tokensPerPeriod]);
  await journey.shot("end-trial-usage");
});

test("a declined card: nothing granted, the trial continues unchanged", async ({ page, journey }) => {
  const user = E2E_USERS.trialEndDeclined;
  await proTrial(page, user, CARDS.failsAfterAttach);
  const trial = await trialOf(user.email);

  const dialog = await openEndTrial(page);
  const declinedAt = Date.now();
  await dialog.getByTestId("end-trial-confirm").click();
  await expect(dialog).toHaveAttribute("data-state", "payment_failed");
  await expect(dialog.getByTestId("end-trial-failed")).toContainText("your trial continues unchanged");
  await journey.shot("end-trial-declined");
  await dialog.getByTestId("end-trial-cancel").click();

  expect(await trialOf(user.email)).toMatchObject({ status: "trialing", trialEnd: trial.trialEnd });
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "trialing");
  await expect(page.getByTestId("trial-notice").getByTestId("trial-days-left")).toHaveText(`Trial: ${PRO_TRIAL.days} days left`);
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(PRO_TRIAL.tokens));
  // The declined attempt's invoice stays open (Stripe voids it in 23 hours), but it is a
  // pending update, not an overdue renewal (docs/DUNNING.md): no overdue banner, and the
  // bell has no "Your payment failed" (it already has the trial's start notice).
  await expect(page.getByTestId("invoice-row")).toHaveCount(2);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/open/i);
  await expect(page.getByTestId("payment-banner")).toHaveCount(0);
  await page.getByTestId("notification-bell").click();
  const panel = page.getByTestId("notification-panel");
  await expect(panel.getByTestId("notification-item").filter({ hasText: "trial has started" })).toHaveCount(1);
  await expect(panel.locator('[data-kind="payment_failed"]')).toHaveCount(0);
  await expect(panel.getByText("Your payment failed")).toHaveCount(0);
  await journey.shot("end-trial-declined-bell");
  await page.getByTestId("notification-bell").click();
  await journey.shot("end-trial-declined-billing");
  expect(await allowanceGrants(page)).toEqual([PRO_TRIAL.tokens, PLANS.free.tokensPerPeriod]);

  // Nor by email, once the day-0 decline email's hold (PAYMENT_FAILED_EMAIL_HOLD_MS, 30 s) is over.
  const holdOver = declinedAt + 35_000 - Date.now();
  if (holdOver > 0) await page.waitForTimeout(holdOver);
  expect(await mailbox.subjects(user.email)).not.toContain("Your payment failed");
});
