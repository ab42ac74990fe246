/**
 * One free trial per person (docs/TRIALS.md): Pia starts a card-less
 * Starter trial on her first organisation, then creates a second one. There
 * /pricing offers her no trial ("You've already had your free trial") and
 * the server refuses one (`TRIAL_ALREADY_USED`), on the new organisation and
 * on her personal account alike; Cole, a colleague admin of the second
 * organisation who never had a trial, is still offered one there.
 */
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api } from "../../convex/_generated/api";
import { PLANS } from "../../convex/billing/model/plans";
import { US_ADDRESS, expect, signIn, test } from "./support/app";
import { E2E } from "./support/env";
import { devAuth, switchTo } from "./support/orgs";
import { E2E_USERS, type E2EUser } from "./support/users";

test.use({ journeyName: "11-trial-per-person" });

const pia = E2E_USERS.trialPerson;
const cole = E2E_USERS.trialColleague;
const STARTER_TRIAL = PLANS.starter.trial!;

/** `billing.createCheckoutSession` with a trial, as `user` acting for `orgId` (or their personal account): the error code, or "created". */
async function trialCheckoutAs(user: E2EUser, orgId?: string): Promise<string> {
  const res = await fetch(`${E2E.authUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId: user.id, ...(orgId ? { orgId } : {}) }),
  });
  expect(res.status).toBe(200);
  const { token } = (await res.json()) as { token: string };
  const client = new ConvexHttpClient(E2E.convexUrl);
  client.setAuth(token);
  try {
    await client.action(api.billing.createCheckoutSession, { tier: "starter", interval: "month", trial: true });
    return "created";
  } catch (e) {
    if (e instanceof ConvexError) return (e.data as { code: string }).code;
    throw e;
  }
}

test("a person who had a trial on one organisation is not offered one on their next; a colleague there is", async ({ page, browser, journey }) => {
  const stamp = Date.now();
  const first = (await devAuth("POST", "/orgs", { userId: pia.id, name: `Pia First ${stamp}` })).id as string;

  // Pia's trial on her first organisation (card-less Starter).
  await signIn(page, pia);
  await switchTo(page, first);
  await page.goto("/pricing");
  await page.getByTestId("start-trial-starter").click();
  await expect(page.getByTestId("checkout-no-card")).toBeVisible();
  await page.getByTestId("checkout-country").selectOption(US_ADDRESS.country);
  await page.getByTestId("checkout-postal-code").fill(US_ADDRESS.postalCode);
  await page.getByTestId("checkout-submit").click();
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("success-status")).toContainText("Starter trial");
  await page.goto("/billing");
  await expect(page.getByTestId("subscription-status")).toHaveAttribute("data-status", "trialing");
  await expect(page.getByTestId("token-usage-remaining")).toHaveText(String(STARTER_TRIAL.tokens));

  // Her second organisation, with Cole as a second admin.
  const second = (await devAuth("POST", "/orgs", { userId: pia.id, name: `Pia Second ${stamp}` })).id as string;
  await devAuth("PUT", "/memberships", { orgId: second, userId: cole.id, role: "org:admin" });
  await page.goto("/pricing");
  await switchTo(page, second);
  await expect(page.getByTestId("upgrade-button-starter")).toBeVisible();
  await expect(page.getByTestId("trial-used-starter")).toContainText("You've already had your free trial");
  await expect(page.getByTestId("start-trial-starter")).toHaveCount(0);
  await expect(page.getByTestId("start-trial-pro")).toHaveCount(0);
  await journey.shot("second-org-no-trial");

  // The server says the same, whatever the page offers: on the new organisation and on her personal account.
  expect(await trialCheckoutAs(pia, second)).toBe("TRIAL_ALREADY_USED");
  expect(await trialCheckoutAs(pia)).toBe("TRIAL_ALREADY_USED");

  // Cole, in his own browser, on the same organisation: offered the trial.
  const coleContext = await browser.newContext();
  const colePage = await coleContext.newPage();
  await signIn(colePage, cole);
  await switchTo(colePage, second);
  await colePage.goto("/pricing");
  await expect(colePage.getByTestId("start-trial-starter")).toBeVisible();
  await expect(colePage.getByTestId("trial-used-starter")).toHaveCount(0);
  await colePage.screenshot({ path: test.info().outputPath("colleague-offered-trial.png"), fullPage: true });
  await journey.shot("pia-still-not-offered");
  await coleContext.close();
});
