/**
 * Issue 4, journey 3: moving the simulator's clock past the period end
 * renews the subscription (invoice paid, new period) and the token allowance
 * resets live on the open billing page.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { appDate, expect, subscribe, test } from "./support/app";
import { periodEndOf, sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "3-renewal" });

test("advancing the clock renews the subscription and resets the allowance live", async ({ page, journey }) => {
  const user = E2E_USERS.renewal;
  await subscribe(page, user, "pro");

  // Spend some of the allowance so the reset is visible.
  await page.getByRole("link", { name: "Start using it" }).click();
  const standard = page.getByTestId("analysis-standard_analysis");
  await standard.getByTestId("analysis-run-standard_analysis").click();
  await expect(standard.getByTestId("analysis-result-standard_analysis")).toBeVisible();
  const meter = page.getByTestId("token-meter");
  await expect(meter).toHaveText(String(PLANS.pro.tokensPerPeriod - 3));

  const sub = await sim.subscriptionOf(user.email);
  const firstPeriodEnd = periodEndOf(sub);
  await page.getByRole("link", { name: "Billing", exact: true }).click();
  await expect(page.getByTestId("renews-on")).toHaveText(appDate(firstPeriodEnd));
  await expect(page.getByTestId("token-usage-remaining")).toHaveText("147");
  await expect(page.getByTestId("invoice-row")).toHaveCount(1);
  await journey.shot("before-renewal");

  // The renewal happens in the simulator; the page is not touched from here on.
  await sim.advance({ subscription: sub.id, to: "period_end" });
  const renewed = await sim.subscriptionOf(user.email);
  const secondPeriodEnd = periodEndOf(renewed);
  expect(secondPeriodEnd).toBeGreaterThan(firstPeriodEnd);
  expect(renewed.status).toBe("active");

  // A fresh allowance, plus up to 75 of the 147 unused rolled over (Pro's rollover policy).
  const renewedTokens = PLANS.pro.tokensPerPeriod + Math.min(147, PLANS.pro.rollover!.maxTokens);
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(renewedTokens));
  await expect(meter).toHaveText(String(renewedTokens));
  await expect(page.getByTestId("renews-on")).toHaveText(appDate(secondPeriodEnd));
  await expect(page.getByTestId("invoice-row")).toHaveCount(2);
  await expect(page.getByTestId("invoice-row").first().getByTestId("invoice-status")).toContainText(/paid/i);
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  await journey.shot("after-renewal");
});
