/**
 * Journey 10, seats (docs/SEATS.md): an organisation admin buys Pro with the
 * seats chosen on the pricing page; a member joins beyond the seats and the
 * admin is prompted, live, to add seats; on /billing the admin previews the
 * prorated amount, confirms, and the seats and the allowance follow once the
 * proration invoice is paid in the simulator, with the charge among the
 * invoices.
 */
import { CARDS, expect, payOnCheckout, signIn, test } from "./support/app";
import { devAuth, switchTo } from "./support/orgs";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "journey10-seats" });

const admin = E2E_USERS.orgAdmin;
const member = E2E_USERS.orgMember;

test("an org admin buys Pro seats, is prompted when a member joins beyond them, adds seats with a prorated preview, and sees seats and tokens follow", async ({ page, journey }) => {
  const org = await devAuth("POST", "/orgs", { userId: admin.id, name: `Journey Ten Seats ${Date.now()}` });
  const orgId = org.id as string;

  await signIn(page, admin);
  await switchTo(page, orgId);

  // Pricing: Pro is sold per seat; the admin is the only member, so one seat.
  await page.goto("/pricing");
  const seatsAtCheckout = page.getByTestId("checkout-seats-pro-input");
  await expect(seatsAtCheckout).toHaveValue("1");
  await expect(page.getByTestId("checkout-seats-pro-total")).toHaveText("1 seat · $29.00 /month · 150 tokens a month");
  await journey.shot("pricing-seats");
  await page.getByTestId("upgrade-button-pro").click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
  await payOnCheckout(page, CARDS.visa, admin.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");

  await page.goto("/billing");
  const card = page.getByTestId("seats-card");
  await expect(card.getByTestId("seats-current")).toHaveText("1");
  await expect(card.getByTestId("seats-members")).toHaveText("1");
  await expect(card.getByTestId("seats-allowance")).toHaveText("150 tokens");
  await expect(page.getByTestId("seats-prompt")).toHaveCount(0);

  // A member joins (Clerk's signed webhook through the dev sign-in): two members, one seat.
  const added = await devAuth("PUT", "/memberships", { orgId, userId: member.id, role: "org:member" });
  expect(added.webhook).toEqual({ type: "organizationMembership.created", status: 200 });
  const prompt = page.getByTestId("seats-prompt");
  await expect(prompt).toContainText("2 members, 1 seat.");
  await expect(card.getByTestId("seats-over-capacity")).toContainText("add 1 seat to cover everyone");
  await journey.shot("prompt-members-beyond-seats");

  // The prompt leads to the seats card; the picker starts at the member count.
  await prompt.getByTestId("seats-prompt-add").click();
  await expect(page).toHaveURL(/\/billing#seats$/);
  await expect(card.getByTestId("seats-input")).toHaveValue("2");
  await expect(card.getByTestId("seats-minus")).toBeDisabled();
  await card.getByTestId("seats-plus").click();
  await expect(card.getByTestId("seats-input")).toHaveValue("3");
  await card.getByTestId("seats-preview").click();

  const panel = card.getByTestId("seats-preview-panel");
  await expect(panel).toContainText("1 seat → 3 seats");
  const dueNow = (await panel.getByTestId("seats-due-now").innerText()).trim();
  // Almost the whole month is left: about two more seats at $29.
  const dueMinor = Math.round(Number(dueNow.replace(/[^0-9.]/g, "")) * 100);
  expect(dueMinor).toBeGreaterThan(2 * 2900 - 100);
  expect(dueMinor).toBeLessThanOrEqual(2 * 2900);
  await expect(panel.getByTestId("seats-next-invoice")).toHaveText("$87.00");
  await expect(panel.getByTestId("seats-allowance-after")).toHaveText("150 tokens → 450 tokens");
  await journey.shot("seats-preview");

  await panel.getByTestId("seats-confirm").click();
  await expect(page.getByText("You now have 3 seats.", { exact: false })).toBeVisible();

  // Live: Stripe's events arrive, the proration invoice is paid, seats and tokens follow.
  await expect(card.getByTestId("seats-current")).toHaveText("3", { timeout: 30_000 });
  await expect(card.getByTestId("seats-allowance")).toHaveText("450 tokens", { timeout: 30_000 });
  await expect(page.getByTestId("seats-prompt")).toHaveCount(0);
  await expect(card.getByTestId("seats-over-capacity")).toHaveCount(0);
  // What the preview said is what was charged: the proration invoice, paid.
  await expect(page.getByTestId("invoice-amount").filter({ hasText: dueNow }).first()).toBeVisible({ timeout: 30_000 });
  await journey.shot("seats-added");
});
