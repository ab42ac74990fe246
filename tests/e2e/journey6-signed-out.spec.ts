/**
 * Issue 4, journey 6: a signed-out visitor sees the plans; choosing a paid
 * plan asks them to sign in (no Checkout without an account); once signed
 * in, the same button starts the upgrade.
 */
import { expect, test } from "./support/app";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "6-signed-out" });

test("a signed-out visitor sees pricing and the upgrade asks them to sign in", async ({ page, journey }) => {
  await page.goto("/");
  await expect(page.getByTestId("sign-in-cta")).toBeVisible();
  await expect(page.getByTestId("pricing-card-pro")).toBeVisible();
  await expect(page.getByTestId("plan-badge")).toHaveCount(0);
  await journey.shot("home-signed-out");

  await page.goto("/pricing");
  for (const tier of ["free", "starter", "pro", "elite"] as const) {
    await expect(page.getByTestId(`pricing-card-${tier}`)).toBeVisible();
  }
  await expect(page.getByTestId("price-starter")).toContainText("$9");
  const upgrade = page.getByTestId("upgrade-button-pro");
  await expect(upgrade).toHaveText("Sign in to upgrade");
  await journey.shot("pricing-signed-out");

  await upgrade.click();
  const dialog = page.getByTestId("demo-sign-in-dialog");
  await expect(dialog).toBeVisible();
  await expect(page).toHaveURL(/\/pricing$/);
  await journey.shot("sign-in-asked");

  const user = E2E_USERS.visitor;
  await dialog.getByTestId(`demo-user-${user.id}`).click();
  await expect(page.getByTestId("account-name")).toHaveText(user.name);
  await expect(page.getByTestId("current-plan-free")).toBeVisible();
  await expect(page.getByTestId("upgrade-button-pro")).toHaveText("Upgrade");
  await journey.shot("signed-in-on-pricing");

  await page.getByTestId("upgrade-button-pro").click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
  await expect(page.getByTestId("checkout-email")).toHaveValue(user.email);
  await journey.shot("checkout");
});
