/**
 * Issue 9, auto-recharge: the customer opts in on /billing; a run that
 * leaves the balance below the threshold buys the pack off-session with the
 * saved card, and the tokens arrive live. A card that declines later
 * charges fails three times and auto-recharge turns itself off and says so.
 * A card whose bank wants 3-D Secure gets a link to finish the purchase
 * on-session, and the tokens arrive once it is paid.
 */
import type { Page } from "@playwright/test";
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, subscribe, test } from "./support/app";
import { E2E_USERS } from "./support/users";

/** Turns auto-recharge on from /billing: below `threshold` tokens, buy 100 for $10, at most $50 a month. */
async function turnOn(page: Page, threshold: number) {
  await page.goto("/billing");
  const card = page.getByTestId("auto-recharge");
  await expect(card.getByTestId("auto-recharge-state")).toHaveText("Off");
  await card.getByTestId("auto-recharge-threshold").fill(String(threshold));
  await card.getByTestId("auto-recharge-pack").selectOption("pack_100");
  await card.getByTestId("auto-recharge-cap").fill("50");
  await card.getByTestId("auto-recharge-save").click();
  await expect(card.getByTestId("auto-recharge-state")).toHaveText("On");
  await expect(card.getByTestId("auto-recharge-summary")).toContainText(
    `When fewer than ${threshold} tokens remain, we buy 100 tokens for $10.00`,
  );
}

/** Runs a standard analysis (3 tokens at medium) from the dashboard and waits for its result. */
async function runStandard(page: Page) {
  const card = page.getByTestId("analysis-standard_analysis");
  await card.getByTestId("analysis-run-standard_analysis").click();
  await expect(card.getByTestId("analysis-result-standard_analysis")).toBeVisible();
  await expect(card.getByTestId("analysis-run-standard_analysis")).toBeEnabled();
}

const meterValue = async (page: Page) => Number(await page.getByTestId("token-meter").getAttribute("data-remaining"));

test.describe(() => {
  test.use({ journeyName: "9-auto-recharge" });
  test("a run below the threshold buys the pack with the saved card, and the tokens arrive live", async ({ page, journey }) => {
    await subscribe(page, E2E_USERS.autoRecharge, "starter");
    await turnOn(page, 45);
    await journey.shot("turned-on");

    await page.goto("/");
    await expect(page.getByTestId("token-meter")).toHaveText("50");
    await runStandard(page); // 47: not below 45
    await runStandard(page); // 44: buys 100
    await expect.poll(() => meterValue(page)).toBe(144);
    await expect(page.getByTestId("token-alert-auto_recharge_succeeded")).toHaveText(
      "Auto-recharge added 100 tokens for $10.00.",
    );
    await journey.shot("bought-100");

    await page.goto("/billing");
    await expect(page.getByTestId("auto-recharge-last")).toHaveText("Last bought 100 tokens for $10.00.");
    await expect(page.getByTestId("auto-recharge-summary")).toContainText("This month: $10.00 of $50.00.");
    // The card statement's $10.00 has its line here.
    await page.getByText("Recent auto-recharges").click();
    const rows = page.getByTestId("auto-recharge-row");
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText("$10.00");
    await expect(rows.first()).toContainText("Paid");
    await journey.shot("billing-after");
  });
});

test.describe(() => {
  test.use({ journeyName: "9-auto-recharge-declined" });
  test("a card that declines later: three failed charges turn auto-recharge off, and nothing is granted", async ({
    page,
    journey,
  }) => {
    await subscribe(page, E2E_USERS.autoRechargeDeclined, "starter", CARDS.failsAfterAttach);
    await turnOn(page, 48);
    await page.goto("/");
    const alerts = page.getByTestId("token-alerts");
    for (const [remaining, failures] of [
      [47, 1],
      [44, 2],
      [41, 3],
    ] as const) {
      await runStandard(page);
      await expect(page.getByTestId("token-meter")).toHaveText(String(remaining));
      await expect(alerts.getByTestId("token-alert-auto_recharge_failed")).toHaveCount(failures);
    }
    await expect(alerts.getByTestId("token-alert-auto_recharge_disabled")).toContainText(
      "Auto-recharge is off after 3 failed payments in a row",
    );
    await expect(alerts.getByTestId("token-alert-auto_recharge_failed").first()).toContainText("your card was declined.");
    await journey.shot("off-after-3");

    await page.goto("/billing");
    await expect(page.getByTestId("auto-recharge-state")).toHaveText("Off");
    await expect(page.getByTestId("auto-recharge-disabled")).toContainText("turned itself off after 3 failed payments");
    await page.goto("/");
    await runStandard(page);
    await expect(page.getByTestId("token-meter")).toHaveText("38");
    await expect(alerts.getByTestId("token-alert-auto_recharge_failed")).toHaveCount(3);
    await journey.shot("billing-off");
  });
});

test.describe(() => {
  test.use({ journeyName: "9-auto-recharge-3ds" });
  test("a bank asking for 3-D Secure: the customer follows the link, confirms, and the tokens arrive", async ({
    page,
    journey,
  }) => {
    const user = E2E_USERS.autoRecharge3ds;
    await signIn(page, user);
    await startUpgradeFromPricing(page, "starter");
    await payOnCheckout(page, CARDS.threeDSecure, user.name);
    await page.getByTestId("3ds-approve").click();
    await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");

    await turnOn(page, 48);
    await page.goto("/");
    await runStandard(page); // 47: the off-session charge needs the customer
    const alert = page.getByTestId("token-alert-auto_recharge_action_required");
    await expect(alert).toContainText("Your bank asks you to confirm the $10.00 auto-recharge of 100 tokens");
    await expect(page.getByTestId("token-meter")).toHaveText("47");
    await journey.shot("confirm-needed");

    await alert.getByRole("link", { name: "Complete the purchase" }).click();
    await expect(page.getByTestId("checkout-total")).toHaveText("$10.00");
    await payOnCheckout(page, CARDS.threeDSecure, user.name);
    await page.getByTestId("3ds-approve").click();
    await expect(page.getByTestId("success-status")).toHaveAttribute("data-kind", "top_up");
    await expect.poll(() => meterValue(page)).toBe(147);
    await journey.shot("confirmed-and-granted");
  });
});

test.describe(() => {
  test.use({ journeyName: "9-auto-recharge-free" });
  test("a free user needs a saved card first: a pack bought with “save my card” lets auto-recharge turn on", async ({
    page,
    journey,
  }) => {
    const user = E2E_USERS.autoRechargeFree;
    await signIn(page, user);
    await page.goto("/billing");
    const card = page.getByTestId("auto-recharge");
    await card.getByTestId("auto-recharge-save").click();
    await expect(page.getByText("No saved card")).toBeVisible();
    await expect(card.getByTestId("auto-recharge-state")).toHaveText("Off");
    await journey.shot("no-saved-card");

    await page.getByTestId("buy-tokens-pack_100").click();
    await expect(page.getByTestId("checkout-save-card")).toBeVisible();
    await page.getByTestId("checkout-save-card").check();
    await payOnCheckout(page, CARDS.visa, user.name);
    await expect(page.getByTestId("success-status")).toHaveAttribute("data-kind", "top_up");

    await turnOn(page, 110); // 105 left: below, so the first pack is bought at once
    await expect.poll(() => meterValue(page)).toBe(205);
    await expect(page.getByTestId("auto-recharge-last")).toHaveText("Last bought 100 tokens for $10.00.");
    await journey.shot("on-with-saved-card");
  });
});
