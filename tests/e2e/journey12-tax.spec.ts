/**
 * Issue 12, tax: a subscriber pays with a billing address in a taxed country
 * (GB, 20% in the simulator's deterministic test tax, exclusive); Checkout
 * shows the tax on top of the price, and the first invoice on /billing shows
 * Subtotal, Tax and the Total charged, adding up.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "12-tax" });

const usd = (minor: number) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(minor / 100);

test("tax for a GB billing address appears on Checkout and on the invoice", async ({ page, journey }) => {
  const user = E2E_USERS.tax;
  const price = PLANS.pro.prices!.month.displayAmount; // $29.00
  const tax = Math.round(price * 0.2); // $5.80
  const total = price + tax; // $34.80

  await signIn(page, user);
  await startUpgradeFromPricing(page, "pro");
  // Checkout collects the billing address (and an optional tax ID) for tax.
  await expect(page.getByTestId("checkout-country")).toBeVisible();
  await expect(page.getByTestId("checkout-tax-id")).toBeVisible();
  await page.getByTestId("checkout-country").selectOption("GB");
  await page.getByTestId("checkout-postal-code").fill("SW1A 1AA");
  await page.getByTestId("checkout-address-apply").click();
  await expect(page.getByTestId("checkout-tax")).toHaveText(usd(tax));
  await expect(page.getByTestId("checkout-total")).toHaveText(usd(total));
  await journey.shot("checkout-with-tax");

  await payOnCheckout(page, CARDS.visa, user.name, { country: "GB", postalCode: "SW1A 1AA" });
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");

  await page.goto("/billing");
  const row = page.getByTestId("invoice-row").first();
  await expect(row.getByTestId("invoice-amount")).toHaveText(usd(total));
  await row.getByRole("button", { name: /^Show lines/ }).click();
  const panel = page.locator('[data-testid^="invoice-lines-panel-"]').first();
  await expect(panel.getByTestId("invoice-subtotal")).toHaveText(usd(price));
  await expect(panel.getByTestId("invoice-tax")).toHaveText(usd(tax));
  await expect(panel.getByTestId("invoice-total")).toHaveText(usd(total));
  await expect(panel.getByTestId("invoice-discount")).toHaveCount(0);
  await journey.shot("invoice-with-tax");
});
