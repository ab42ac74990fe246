/**
 * Issue 12, promotion codes: an operator creates a 20%-off coupon and a
 * promotion code for it in Stripe (the simulator's REST API, test key); a
 * visitor applies the code on the hosted Checkout, which shows the discount
 * and the lower total; the first invoice on /billing shows Subtotal, the
 * Discount and the lower Total, adding up to what was charged.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { operatorPost } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "12-promotion-code" });

const usd = (minor: number) => new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(minor / 100);

test("a promotion code discounts Checkout and the first invoice shows the discount and the lower total", async ({ page, journey }) => {
  const user = E2E_USERS.promoCode;
  // A fresh code per run: the simulator may keep state between runs.
  const code = `SAVE20${Date.now().toString(36).toUpperCase()}`;
  const coupon = await operatorPost<{ id: string }>("/v1/coupons", { percent_off: "20", duration: "once", name: "20% off the first month" });
  await operatorPost("/v1/promotion_codes", { "promotion[type]": "coupon", "promotion[coupon]": coupon.id, code });

  const price = PLANS.pro.prices!.month.displayAmount; // $29.00
  const discount = Math.round(price * 0.2); // $5.80
  const total = price - discount; // $23.20

  await signIn(page, user);
  await startUpgradeFromPricing(page, "pro");
  await expect(page.getByTestId("checkout-total")).toHaveText(usd(price));
  await page.getByTestId("checkout-promotion-code").fill(code.toLowerCase());
  await page.getByTestId("checkout-promotion-code-apply").click();
  await expect(page.getByTestId("checkout-promotion-code-applied")).toHaveText(code);
  await expect(page.getByTestId("checkout-discount")).toHaveText(`−${usd(discount)}`);
  await expect(page.getByTestId("checkout-total")).toHaveText(usd(total));
  await journey.shot("checkout-with-code");

  await payOnCheckout(page, CARDS.visa, user.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");

  await page.goto("/billing");
  const row = page.getByTestId("invoice-row").first();
  await expect(row.getByTestId("invoice-amount")).toHaveText(usd(total));
  await row.getByRole("button", { name: /^Show lines/ }).click();
  const panel = page.locator('[data-testid^="invoice-lines-panel-"]').first();
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId("invoice-subtotal")).toHaveText(usd(price));
  await expect(panel.getByTestId("invoice-discount")).toHaveText(`−${usd(discount)}`);
  await expect(panel.getByTestId("invoice-total")).toHaveText(usd(total));
  await expect(panel.getByTestId("invoice-tax")).toHaveCount(0);
  await journey.shot("invoice-with-discount");
});
