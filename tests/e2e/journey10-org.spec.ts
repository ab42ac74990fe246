/**
 * Journey 10 (organisations): an admin upgrades the organisation through
 * Checkout and its member, in another browser, sees the new plan live; the
 * member has no buy buttons and no invoices; removing the member through
 * the dev sign-in's signed Clerk webhook takes the organisation away from
 * their open page at once.
 */
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { devAuth, switchTo } from "./support/orgs";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "journey10-org" });

const admin = E2E_USERS.orgAdmin;
const member = E2E_USERS.orgMember;

test("an admin upgrades the organisation, the member sees it live without buy buttons, and loses it when removed", async ({ page, browser, journey }) => {
  const org = await devAuth("POST", "/orgs", { userId: admin.id, name: `Journey Ten ${Date.now()}` });
  const orgId = org.id as string;
  const added = await devAuth("PUT", "/memberships", { orgId, userId: member.id, role: "org:member" });
  expect(added.webhook).toEqual({ type: "organizationMembership.created", status: 200 });

  // The admin acts for the organisation.
  await signIn(page, admin);
  await switchTo(page, orgId);
  await page.goto("/billing");
  await expect(page.getByTestId("subscription-tier")).toHaveText("Free");
  await expect(page.getByTestId("change-plan")).toBeVisible();

  // The member, in a second browser.
  const memberContext = await browser.newContext();
  const memberPage = await memberContext.newPage();
  await signIn(memberPage, member);
  await switchTo(memberPage, orgId);
  await memberPage.getByRole("link", { name: "Billing" }).first().click();
  await expect(memberPage.getByTestId("member-note")).toBeVisible();
  await expect(memberPage.getByTestId("subscription-tier")).toHaveText("Free");
  // (b) no buy or manage buttons, and no invoices.
  await expect(memberPage.getByTestId("admin-only-note").first()).toContainText("Only organisation admins can manage billing");
  await expect(memberPage.getByTestId("invoices-admin-only")).toBeVisible();
  for (const id of ["change-plan", "manage-billing", "buy-tokens-pack_100", "auto-recharge-threshold"]) {
    await expect(memberPage.getByTestId(id)).toHaveCount(0);
  }
  await memberPage.screenshot({ path: "test-results/screenshots/journey10-org/member-billing-free.png", fullPage: true });

  // (a) The admin upgrades through Checkout; the member's open page follows live.
  await startUpgradeFromPricing(page, "pro");
  await payOnCheckout(page, CARDS.visa, admin.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await journey.shot("admin-upgraded");
  await expect(memberPage.getByTestId("subscription-tier")).toHaveText("Pro", { timeout: 30_000 });
  await expect(memberPage.getByTestId("invoices-admin-only")).toBeVisible();
  await expect(memberPage.getByTestId("manage-billing")).toHaveCount(0);
  await memberPage.screenshot({ path: "test-results/screenshots/journey10-org/member-billing-pro-live.png", fullPage: true });

  // The member's pricing page: plans, no upgrade buttons.
  await memberPage.goto("/pricing");
  await expect(memberPage.getByTestId("price-elite")).toBeVisible();
  await expect(memberPage.getByTestId("pricing-action-elite")).toHaveText("Admins only");
  await expect(memberPage.getByTestId("upgrade-button-elite")).toHaveCount(0);
  await memberPage.goto("/billing");
  await expect(memberPage.getByTestId("subscription-tier")).toHaveText("Pro");

  // (c) Removed through the (dev) Clerk webhook: the open page loses the organisation at once.
  const removed = await devAuth("DELETE", "/memberships", { orgId, userId: member.id });
  expect(removed.webhook).toEqual({ type: "organizationMembership.deleted", status: 200 });
  await expect(async () => {
    const told = await memberPage.getByTestId("org-removed-note").isVisible();
    const backToPersonal = (await memberPage.getByTestId("org-switcher").inputValue()) === "";
    expect(told || backToPersonal).toBe(true);
  }).toPass({ timeout: 15_000 });
  await expect(memberPage.getByTestId("subscription-tier").filter({ hasText: "Pro" })).toHaveCount(0);
  await memberPage.screenshot({ path: "test-results/screenshots/journey10-org/member-removed.png", fullPage: true });
  await memberContext.close();
});
