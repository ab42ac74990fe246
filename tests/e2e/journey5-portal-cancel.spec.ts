/**
 * Issue 4, journey 5: "Manage billing" opens the simulator's Customer Portal;
 * cancelling there (at period end) shows "Cancels on <period end>" in the
 * app, and the plan stays until then.
 */
import { appDate, expect, subscribe, test } from "./support/app";
import { periodEndOf, sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "5-portal-cancel" });

test("cancelling in the portal shows 'Ends on <date>'", async ({ page, journey }) => {
  const user = E2E_USERS.portal;
  await subscribe(page, user, "starter");
  await page.getByRole("link", { name: "View billing" }).click();
  const periodEnd = periodEndOf(await sim.subscriptionOf(user.email));
  await expect(page.getByTestId("renews-on")).toHaveText(appDate(periodEnd));
  await expect(page.getByTestId("cancels-on")).toHaveCount(0);
  await journey.shot("billing-before");

  await page.getByTestId("manage-billing").click();
  await expect(page.getByTestId("portal-title")).toBeVisible();
  await expect(page.getByTestId("portal-customer-email")).toHaveText(user.email);
  await expect(page.getByTestId("portal-plan-name")).toHaveText("Starter");
  await journey.shot("portal");

  await page.getByTestId("portal-cancel").click();
  // The portal writes dates as YYYY-MM-DD.
  await expect(page.getByTestId("portal-cancel-notice")).toContainText(new Date(periodEnd * 1000).toISOString().slice(0, 10));
  await journey.shot("portal-cancelled");

  await page.getByTestId("portal-return").click();
  await expect(page).toHaveURL(/\/billing$/);
  const cancelsOn = page.getByTestId("cancels-on");
  await expect(cancelsOn).toHaveText(appDate(periodEnd));
  await expect(page.locator("dt", { hasText: "Ends on" })).toBeVisible();
  await expect(page.getByTestId("renews-on")).toHaveCount(0);
  // Still Starter until the period ends.
  await expect(page.getByTestId("plan-badge")).toHaveText("Starter");
  await expect(page.getByTestId("subscription-tier")).toHaveText("Starter");
  await journey.shot("cancels-on");
});
