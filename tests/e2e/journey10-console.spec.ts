/**
 * Issue 10, operator console journeys (/admin, docs/OPERATOR_CONSOLE.md):
 * - staff grant tokens with a reason: the audit entry appears on the
 *   account's page, and the customer's header meter shows the new balance
 *   live in their own browser;
 * - staff resync a customer whose Stripe events never arrived (the
 *   simulator dropped them): the account goes from Free to the plan it paid
 *   for, with an audit entry;
 * - a signed-in user who isn't staff opening /admin sees "Staff only" and
 *   no console link.
 */
import type { Browser, Page } from "@playwright/test";
import { PLANS } from "../../convex/billing/model/plans";
import { expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { E2E } from "./support/env";
import { operatorPost, sim } from "./support/sim";
import { E2E_USERS, type E2EUser } from "./support/users";

test.use({ journeyName: "10-console" });

/** A second signed-in browser (its own storage, so its own dev sign-in). */
async function browserFor(browser: Browser, user: E2EUser): Promise<Page> {
  const context = await browser.newContext({ baseURL: E2E.appUrl, locale: "en-US", timezoneId: "UTC", viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await signIn(page, user);
  return page;
}

/** From the console's list, finds the account by email and opens it. */
async function openAccount(staff: Page, email: string): Promise<void> {
  await staff.getByTestId("nav-admin").click();
  await expect(staff.getByRole("heading", { name: "Operator console" })).toBeVisible();
  await staff.getByTestId("admin-search").fill(email);
  await staff.getByTestId("admin-search-submit").click();
  const rows = staff.getByTestId("admin-account-row");
  await expect(rows).toHaveCount(1);
  await rows.first().getByTestId("admin-account-link").click();
  await expect(staff.getByTestId("admin-account")).toBeVisible();
}

/** Fills an action's form (reason required: the button stays disabled without it), reviews and confirms it. */
async function runAction(staff: Page, kind: string, reason: string, fill?: (dialog: ReturnType<Page["getByTestId"]>) => Promise<void>) {
  await staff.getByTestId(`admin-action-${kind}`).click();
  const dialog = staff.getByTestId("admin-action-dialog");
  await expect(dialog).toHaveAttribute("data-state", "form");
  if (fill) await fill(dialog);
  const review = dialog.getByTestId("admin-action-review");
  await expect(review).toBeDisabled();
  await dialog.getByTestId("admin-action-reason").fill(reason);
  await expect(review).toBeEnabled();
  await review.click();
  await expect(dialog).toHaveAttribute("data-state", "confirm");
  await dialog.getByTestId("admin-action-confirm").click();
  await expect(dialog).toHaveCount(0);
}

test("staff grant tokens with a reason; the audit entry appears and the customer's balance follows live", async ({ page, browser, journey }) => {
  const customer = E2E_USERS.consoleCustomer;
  const free = PLANS.free.tokensPerPeriod;
  // Run alone on a fresh stack, this is the stack's first sign-in: give it longer than signIn's wait.
  await page.goto("/");
  await page.getByTestId("demo-sign-in").click();
  await page.getByTestId(`demo-user-${customer.id}`).click();
  await expect(page.getByTestId("token-meter")).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("token-meter")).toHaveText(String(free));
  await expect(page.getByTestId("nav-admin")).toHaveCount(0);

  const staff = await browserFor(browser, E2E_USERS.consoleStaff);
  await openAccount(staff, customer.email);
  await expect(staff.getByTestId("admin-detail-balance")).toHaveText(String(free));
  await staff.screenshot({ path: "/tmp/console-account.png", fullPage: true });

  const reason = "Ticket 1042: credit for the March 3 outage";
  await runAction(staff, "grant", reason, async (dialog) => {
    await dialog.getByTestId("admin-action-amount").fill("100");
  });
  await expect(staff.getByText("Granted 100 tokens")).toBeVisible();
  await expect(staff.getByTestId("admin-detail-balance")).toHaveText(String(free + 100));
  const entry = staff.getByTestId("admin-audit-row").filter({ hasText: reason });
  await expect(entry).toHaveCount(1);
  await expect(entry.getByTestId("admin-audit-actor")).toContainText("Staff");
  await expect(staff.getByTestId("admin-ledger-row").first().getByTestId("admin-ledger-amount")).toHaveText("+100");
  await staff.screenshot({ path: "/tmp/console-granted.png", fullPage: true });

  // The customer's open page follows without a reload.
  await expect(page.getByTestId("token-meter")).toHaveText(String(free + 100));
  await journey.shot("customer-sees-grant");

  // The global audit log has it too.
  await staff.getByTestId("admin-back").click();
  await staff.getByTestId("admin-tab-audit").click();
  await expect(staff.getByTestId("admin-audit-row").filter({ hasText: reason })).toHaveCount(1);
  await staff.getByTestId("admin-tab-queue").click();
  await expect(staff.getByTestId("admin-queue-counts")).toBeVisible();
  await staff.screenshot({ path: "/tmp/console-queue.png", fullPage: true });
  await staff.getByTestId("admin-tab-accounts").click();
  await expect(staff.getByTestId("admin-account-row").first()).toBeVisible();
  await staff.screenshot({ path: "/tmp/console-list.png", fullPage: true });
  await staff.context().close();
});

test("staff resync a customer whose Stripe events were lost: the paid plan appears, audited", async ({ page, browser, journey }) => {
  const customer = E2E_USERS.consoleResync;
  await signIn(page, customer);
  await startUpgradeFromPricing(page, "starter");
  // Stripe takes the payment, but none of its events reach the app.
  await fetch(`${E2E.stripeUrl}/_sim/config`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ chaos: { dropRate: 1 } }),
  });
  try {
    await payOnCheckout(page, "4242 4242 4242 4242", customer.name);
    await expect(page.getByTestId("success-status")).toBeVisible();
    await sim.idle();
  } finally {
    await fetch(`${E2E.stripeUrl}/_sim/config`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ chaos: { dropRate: 0 } }),
    });
  }
  const subscription = await sim.subscriptionOf(customer.email);
  expect(subscription.status).toBe("active");
  await page.goto("/billing");
  await expect(page.getByTestId("plan-badge")).toHaveText("Free");

  const staff = await browserFor(browser, E2E_USERS.consoleStaff);
  await openAccount(staff, customer.email);
  await expect(staff.getByTestId("admin-detail-tier")).toHaveAttribute("data-tier", "free");
  await runAction(staff, "resync", "Webhooks lost during the outage");
  await expect(staff.getByText("Resynced from Stripe")).toBeVisible();
  await expect(staff.getByTestId("admin-detail-tier")).toHaveAttribute("data-tier", "starter");
  await expect(staff.getByTestId("admin-subscription-status")).toHaveText("Active");
  await expect(staff.getByTestId("admin-audit-row").filter({ hasText: "Webhooks lost during the outage" })).toHaveCount(1);
  await staff.screenshot({ path: "/tmp/console-resynced.png", fullPage: true });

  // Staff attach a coupon to the subscription (issue 12): audited, and Stripe carries the discount.
  const coupon = await operatorPost<{ id: string }>("/v1/coupons", { percent_off: "25", duration: "forever", name: "Partner 25%" });
  await runAction(staff, "coupon", "Partner programme discount", async (dialog) => {
    await dialog.getByTestId("admin-action-coupon-id").fill(coupon.id);
  });
  await expect(staff.getByText("Coupon Partner 25% attached")).toBeVisible();
  await expect(staff.getByTestId("admin-audit-row").filter({ hasText: "Partner programme discount" })).toHaveCount(1);
  expect((await sim.subscriptionOf(customer.email)).discounts ?? []).toHaveLength(1);
  await staff.screenshot({ path: "/tmp/console-coupon.png", fullPage: true });

  // The customer's page follows.
  await expect(page.getByTestId("plan-badge")).toHaveText("Starter");
  await journey.shot("customer-on-starter-after-resync");
  await staff.context().close();
});

test("a signed-in user who isn't staff sees 'Staff only' at /admin, and no console link", async ({ page, journey }) => {
  await signIn(page, E2E_USERS.consoleNonStaff);
  await expect(page.getByTestId("nav-admin")).toHaveCount(0);
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Staff only" })).toBeVisible();
  await expect(page.getByTestId("admin-console")).toHaveCount(0);
  await expect(page.getByTestId("admin-account-row")).toHaveCount(0);
  await page.goto("/admin/accounts/anything");
  await expect(page.getByTestId("admin-staff-only")).toBeVisible();
  await journey.shot("staff-only");
  await page.screenshot({ path: "/tmp/console-staff-only.png", fullPage: true });
});
