/**
 * Issue 11, 3-D Secure on renewals (docs/DUNNING.md, "3-D Secure"): a Pro
 * subscription paid with the …3184 card (every charge needs 3-D Secure)
 * renews off-session; the bank asks the customer to confirm. Every page
 * shows "Confirm your payment." with the hosted invoice link, worded as a
 * confirmation, not a decline; the mailbox has the "Confirm your payment"
 * email. Confirming on the hosted invoice page (another tab) clears the
 * banner on the open page without a reload.
 */
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { mailbox } from "./support/mailbox";
import { sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "11-sca" });

test("an SCA renewal asks to confirm the payment on every page and by email; confirming clears it live", async ({ page, context, journey }) => {
  const user = E2E_USERS.sca;
  await signIn(page, user);
  await startUpgradeFromPricing(page, "pro");
  await payOnCheckout(page, CARDS.threeDSecure, user.name);
  await page.getByTestId("3ds-approve").click();
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");

  const banner = page.getByTestId("payment-banner");
  await page.goto("/");
  await expect(banner).toHaveCount(0);

  // The renewal: Stripe tries the card off-session and the bank wants the customer.
  const sub = await sim.subscriptionOf(user.email);
  await sim.advance({ subscription: sub.id, to: "period_end" });
  await sim.idle();
  const renewedAt = Date.now();

  await expect(banner).toHaveAttribute("data-kind", "action_required");
  await expect(banner).toContainText("Confirm your payment.");
  await expect(banner).toContainText("Your bank asks you to confirm the payment of $29.00 for Pro.");
  await expect(banner).not.toContainText(/failed|declined|overdue/i);
  const confirm = banner.getByTestId("payment-banner-pay");
  await expect(confirm).toHaveText("Confirm payment");
  const invoiceUrl = await confirm.getAttribute("href");
  expect(invoiceUrl).toMatch(/\/invoice\/in_/);
  // The plan stays while the customer confirms.
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await journey.shot("confirm-your-payment");

  // The bell has the confirmation, not a decline (Stripe also sent invoice.payment_failed).
  await page.getByTestId("notification-bell").click();
  const items = page.getByTestId("notification-panel").getByTestId("notification-item");
  const confirmItem = items.filter({ hasText: "Confirm your payment" });
  await expect(confirmItem).toHaveCount(1);
  await expect(confirmItem).toHaveAttribute("data-kind", "action_required");
  await expect(confirmItem.getByRole("link", { name: "Open" })).toHaveAttribute("href", invoiceUrl ?? "");
  await expect(page.getByTestId("notification-panel").locator('[data-kind="payment_failed"]')).toHaveCount(0);
  await journey.shot("bell-confirm-your-payment");
  await page.getByTestId("notification-bell").click();

  // On every page, with the same link.
  for (const path of ["/usage", "/pricing", "/billing"]) {
    await page.goto(path);
    await expect(banner).toHaveAttribute("data-kind", "action_required");
    await expect(banner.getByTestId("payment-banner-pay")).toHaveAttribute("href", invoiceUrl ?? "");
  }

  // And by email, once, linking to the same hosted invoice; never worded as a decline.
  const mail = await mailbox.waitFor(user.email, "Confirm your payment");
  expect(mail.text).toContain("nothing was declined");
  expect(mail.html).toContain(invoiceUrl ?? "");
  await sim.advance({ subscription: sub.id, seconds: 3600 });
  await sim.idle();

  // Confirming on the hosted invoice page (another tab): the card on file, then the bank's challenge.
  const invoicePage = await context.newPage();
  await invoicePage.goto(invoiceUrl ?? "");
  await expect(invoicePage.getByTestId("invoice-status")).toHaveText("open");
  await invoicePage.getByTestId("invoice-pay").click();
  await invoicePage.getByTestId("3ds-approve").click();
  await expect(invoicePage.getByTestId("invoice-paid")).toBeVisible();
  await journey.shot("billing-before-live-clear");
  await invoicePage.close();

  await expect(banner).toHaveCount(0);
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "active");
  expect((await sim.subscriptionOf(user.email)).status).toBe("active");
  await journey.shot("confirmed-cleared");

  // The mailbox, once the day-0 decline email's hold (PAYMENT_FAILED_EMAIL_HOLD_MS, 30 s) is
  // over: one "Confirm your payment", and the "Your payment failed" email was withdrawn.
  const holdOver = renewedAt + 35_000 - Date.now();
  if (holdOver > 0) await page.waitForTimeout(holdOver);
  const subjects = await mailbox.subjects(user.email);
  expect(subjects.filter((s) => s === "Confirm your payment")).toHaveLength(1);
  expect(subjects).not.toContain("Your payment failed");
});
