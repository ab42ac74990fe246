/**
 * Issue 4, journey 4: the renewal of a subscription paid with the …0341 card
 * (pays at Checkout, declines later) fails; the app shows the past-due
 * banner while keeping the tier (grace period); updating the card and paying
 * the open invoice in the portal clears the banner.
 */
import { CARDS, expect, subscribe, test } from "./support/app";
import { sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "4-past-due" });

test("a failed renewal shows the past-due banner; paying it clears the banner", async ({ page, journey }) => {
  const user = E2E_USERS.pastDue;
  await subscribe(page, user, "pro", CARDS.failsAfterAttach);
  await page.getByRole("link", { name: "View billing" }).click();
  const banner = page.getByTestId("payment-banner");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  await expect(banner).toHaveCount(0);
  await journey.shot("active-before-renewal");

  const sub = await sim.subscriptionOf(user.email);
  await sim.advance({ subscription: sub.id, to: "period_end" });
  expect((await sim.subscriptionOf(user.email)).status).toBe("past_due");

  await expect(banner).toBeVisible();
  await expect(banner).toContainText("Payment overdue for 0 days.");
  await expect(banner).toHaveAttribute("data-kind", "past_due");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "past_due");
  const badge = page.getByTestId("plan-badge");
  // Grace period: the tier stays while the customer fixes the payment.
  await expect(badge).toHaveText("Pro");
  await expect(badge).toHaveAttribute("data-status", "past_due");
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/open|due/i);
  await journey.shot("past-due-banner");

  // The banner shows on every page, not only on /billing.
  await page.goto("/");
  await expect(banner).toBeVisible();
  await page.getByTestId("payment-banner-update-card").click();
  await expect(page.getByTestId("portal-title")).toBeVisible();
  await expect(page.getByTestId("portal-subscription-status")).toHaveText("past_due");
  await page.getByTestId("portal-card-number").fill(CARDS.visa);
  await page.getByTestId("portal-update-card").click();
  await expect(page.getByTestId("portal-message")).toContainText("payment method has been updated");
  await expect(page.getByTestId("portal-current-card")).toContainText("4242");
  await journey.shot("portal-card-updated");

  await page.getByTestId("portal-pay-invoice").first().click();
  await expect(page.getByTestId("portal-message")).toContainText("Payment successful");
  await expect(page.getByTestId("portal-subscription-status")).toHaveText("active");
  await journey.shot("portal-invoice-paid");

  await page.getByTestId("portal-return").click();
  await expect(page).toHaveURL(/\/billing$/);
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  await expect(banner).toHaveCount(0);
  await expect(badge).toHaveAttribute("data-status", "active");
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/paid/i);
  await journey.shot("banner-cleared");
});
