/**
 * Issue 7, "money shown honestly": a token pack bought through Checkout
 * leaves a receipt in the invoice list (Checkout's `invoice_creation`), so
 * the card statement's charge has a line in the app, and the tokens land.
 */
import { expect, payOnCheckout, signIn, test } from "./support/app";
import { sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "8-top-up-receipt" });

test("a token pack bought through Checkout shows its receipt and adds the tokens", async ({ page, journey }) => {
  const user = E2E_USERS.topUp;
  await signIn(page, user);
  const before = Number(await page.getByTestId("token-meter").getAttribute("data-remaining"));
  await page.goto("/billing");
  await expect(page.getByTestId("invoice-row")).toHaveCount(0);
  await page.getByTestId("buy-tokens-pack_100").click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
  await expect(page.getByTestId("checkout-total")).toHaveText("$10.00");
  await payOnCheckout(page, "4242 4242 4242 4242", user.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-kind", "top_up");
  await expect.poll(async () => Number(await page.getByTestId("token-meter").getAttribute("data-remaining"))).toBe(before + 100);

  await page.goto("/billing");
  const receipt = page.getByTestId("invoice-row");
  await expect(receipt).toHaveCount(1);
  await expect(receipt).toHaveAttribute("data-kind", "top_up");
  await expect(receipt.getByTestId("invoice-description")).toContainText("100 tokens");
  await expect(receipt.getByTestId("invoice-amount")).toHaveText("$10.00");
  await expect(receipt.getByTestId("invoice-status")).toContainText(/paid/i);
  await journey.shot("receipt");

  // Money paid back takes its tokens back, live: support refunds half the
  // pack ($5.00) in Stripe, and the 50 unspent tokens it paid for leave the
  // balance without a reload (charge.refunded → the pack's grant).
  await sim.refund(await sim.topUpPaymentOf(user.email), 500);
  await expect.poll(async () => Number(await page.getByTestId("token-meter").getAttribute("data-remaining"))).toBe(before + 50);
  await journey.shot("after-half-refund");
});
