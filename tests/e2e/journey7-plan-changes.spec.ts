/**
 * Issue 7: plan changes that follow the money, tried as a customer would.
 * Each journey signs in a fresh user, subscribes through Checkout, then
 * changes plan in the app (no Portal), and checks what the app shows —
 * plan badge, token meter, billing page — against what was paid.
 * Time moves only through the customer's own test clock (the demo puts each
 * customer on one), so journeys never disturb each other.
 */
import type { Page } from "@playwright/test";
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, appDate, expect, subscribe, test } from "./support/app";
import { periodEndOf, sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

const TOKENS = { starter: PLANS.starter.tokensPerPeriod, pro: PLANS.pro.tokensPerPeriod, elite: PLANS.elite.tokensPerPeriod };
const DAY = 24 * 60 * 60;

async function meter(page: Page): Promise<number> {
  return Number(await page.getByTestId("token-meter").getAttribute("data-remaining"));
}

/** Runs `feature` `times` times from the dashboard, confirming the cost when asked (bulk costs 10). */
async function spend(page: Page, feature: "quick_analysis" | "bulk_analysis", times: number): Promise<void> {
  await page.goto("/");
  for (let i = 0; i < times; i++) {
    const before = await meter(page);
    await page.getByTestId(`analysis-run-${feature}`).click();
    if (feature === "bulk_analysis") await page.getByTestId("confirm-accept").click();
    await expect.poll(() => meter(page)).toBeLessThan(before);
  }
}

/** Opens the plan-change dialog from /pricing for `tier` on `interval` and waits for the preview. */
async function openChange(page: Page, tier: "starter" | "pro" | "elite", interval: "month" | "year", kind: "upgrade" | "switch") {
  await page.goto("/pricing");
  const toggle = page.getByTestId("interval-toggle");
  if ((await toggle.getAttribute("data-interval")) !== interval) await toggle.click();
  await page.getByTestId(`${kind === "upgrade" ? "upgrade" : "switch"}-button-${tier}`).click();
  const dialog = page.getByTestId("plan-change-dialog");
  await expect(dialog).toHaveAttribute("data-state", "ready");
  return dialog;
}


test.describe(() => {
  test.use({ journeyName: "7a-upgrade" });

  test("upgrade in the app: exact preview, confirm, the plan and allowance flip live", async ({ page, journey }) => {
    await subscribe(page, E2E_USERS.planUpgrade, "starter");
    await spend(page, "quick_analysis", 2);
    expect(await meter(page)).toBe(TOKENS.starter - 2);

    const dialog = await openChange(page, "elite", "month", "upgrade");
    await expect(dialog.getByTestId("plan-change-due-now")).toHaveText(/^\$\d+\.\d\d$/);
    await expect(dialog.getByTestId("plan-change-proration-credit")).toBeVisible();
    await expect(dialog.getByTestId("plan-change-tokens-now")).toContainText(`+${TOKENS.elite - TOKENS.starter} tokens`);
    await journey.shot("upgrade-preview");
    await dialog.getByTestId("plan-change-confirm").click();

    await expect(page.getByTestId("plan-badge")).toHaveText("Elite");
    // Raised to Elite's allowance, not refilled: the 2 used stay used.
    await expect.poll(() => meter(page)).toBe(TOKENS.elite - 2);
    await page.goto("/billing");
    await expect(page.getByTestId("invoice-row")).toHaveCount(2);
    await journey.shot("upgrade-done");
  });
});

test.describe(() => {
  test.use({ journeyName: "7b-declined-upgrade" });

  test("upgrade with a card that fails: nothing unlocks and the message is clear", async ({ page, journey }) => {
    await subscribe(page, E2E_USERS.planDeclined, "starter", CARDS.failsAfterAttach);
    const dialog = await openChange(page, "elite", "month", "upgrade");
    await dialog.getByTestId("plan-change-confirm").click();
    await expect(dialog).toHaveAttribute("data-state", "payment_failed");
    await expect(dialog.getByTestId("plan-change-failed")).toContainText("your plan hasn't changed");
    await journey.shot("upgrade-declined");
    await dialog.getByTestId("plan-change-close").click();

    await expect(page.getByTestId("plan-badge")).toHaveText("Starter");
    expect(await meter(page)).toBe(TOKENS.starter);
    // Deep analysis stays Pro-only.
    await page.goto("/");
    await expect(page.locator('[data-testid="locked-feature"][data-feature="deep_analysis"]')).toBeVisible();
    await journey.shot("still-starter");
  });
});

test.describe(() => {
  test.use({ journeyName: "7c-scheduled-downgrade" });

  test("downgrade scheduled for the period end, then applied by the test clock", async ({ page, journey }) => {
    const user = E2E_USERS.planDowngrade;
    await subscribe(page, user, "elite");
    const dialog = await openChange(page, "starter", "month", "switch");
    const periodEnd = periodEndOf(await sim.subscriptionOf(user.email));
    await expect(dialog.getByTestId("plan-change-effective")).toContainText(appDate(periodEnd));
    await dialog.getByTestId("plan-change-confirm").click();

    await page.goto("/billing");
    await expect(page.getByTestId("scheduled-change")).toContainText(`Switches to Starter (monthly) on ${appDate(periodEnd)}`);
    // Elite is paid to the period end: it stays until then.
    await expect(page.getByTestId("plan-badge")).toHaveText("Elite");
    expect(await meter(page)).toBe(TOKENS.elite);
    await journey.shot("downgrade-scheduled");

    const sub = await sim.subscriptionOf(user.email);
    await sim.advance({ customer: typeof sub.customer === "string" ? sub.customer : sub.customer.id, to: periodEnd + 60 });
    await expect(page.getByTestId("plan-badge")).toHaveText("Starter");
    // Starter's allowance, plus the Elite window's unused tokens rolled over (Elite's policy: up to 500).
    await expect.poll(() => meter(page)).toBe(TOKENS.starter + Math.min(TOKENS.elite, PLANS.elite.rollover!.maxTokens));
    await expect(page.getByTestId("scheduled-change")).toHaveCount(0);
    await journey.shot("downgrade-applied");
  });
});

test.describe(() => {
  test.use({ journeyName: "7d-yearly-monthly-allowance" });

  test("a yearly plan gets the monthly allowance each month across three months of test clock", async ({ page, journey }) => {
    const user = E2E_USERS.planYearly;
    await subscribe(page, user, "pro", CARDS.visa, "year");
    expect(await meter(page)).toBe(TOKENS.pro);
    const sub = await sim.subscriptionOf(user.email);
    const customer = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
    const start = sub.items.data[0]!.current_period_start;
    // Each month a fresh 150, plus 75 of the unused allowance rolled over
    // (Pro's rollover policy); last month's rollover ends with its month.
    let expected = TOKENS.pro;
    for (const month of [1, 2, 3]) {
      await spend(page, "quick_analysis", 3);
      expect(await meter(page)).toBe(expected - 3);
      // One day past the next monthly anchor.
      await sim.advance({ customer, to: start + month * 31 * DAY + DAY });
      expected = TOKENS.pro + PLANS.pro.rollover!.maxTokens;
      await expect.poll(() => meter(page), { timeout: 20_000 }).toBe(expected);
      await journey.shot(`yearly-month-${month}`);
    }
    await page.goto("/billing");
    // One invoice for the whole year: the monthly allowances cost nothing extra.
    await expect(page.getByTestId("invoice-row")).toHaveCount(1);
  });
});

test.describe(() => {
  test.use({ journeyName: "7e-interval-round-trip" });

  test("an interval round trip yields no extra tokens", async ({ page, journey }) => {
    await subscribe(page, E2E_USERS.planRoundTrip, "starter");
    await spend(page, "bulk_analysis", 5);
    expect(await meter(page)).toBe(0);

    await page.goto("/billing");
    await page.getByTestId("switch-interval").click();
    const toYearly = page.getByTestId("plan-change-dialog");
    await expect(toYearly).toHaveAttribute("data-state", "ready");
    await toYearly.getByTestId("plan-change-confirm").click();
    await expect(page.getByTestId("subscription-interval")).toContainText("yearly");
    // Paying for the year did not refill this month's allowance.
    expect(await meter(page)).toBe(0);
    await journey.shot("now-yearly");

    await page.getByTestId("switch-interval").click();
    const toMonthly = page.getByTestId("plan-change-dialog");
    await expect(toMonthly).toHaveAttribute("data-state", "ready");
    await expect(toMonthly.getByTestId("plan-change-effective")).toBeVisible();
    await toMonthly.getByTestId("plan-change-confirm").click();
    await expect(page.getByTestId("scheduled-change")).toContainText("Switches to Starter (monthly)");
    expect(await meter(page)).toBe(0);
    await journey.shot("back-to-monthly-scheduled");
  });
});

test.describe(() => {
  test.use({ journeyName: "7f-cancel-resume" });

  test("cancel in the app with a reason, then resume before the end", async ({ page, journey }) => {
    const user = E2E_USERS.planCancel;
    await subscribe(page, user, "pro");
    await page.goto("/billing");
    await page.getByTestId("cancel-plan").click();
    await page.getByTestId("cancel-reason-too_expensive").check();
    await page.getByTestId("cancel-comment").fill("Trying a cheaper plan for now");
    await page.getByTestId("cancel-confirm").click();
    const periodEnd = periodEndOf(await sim.subscriptionOf(user.email));
    await expect(page.getByTestId("cancel-notice")).toContainText(appDate(periodEnd));
    await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
    const stored = await sim.subscriptionOf(user.email);
    expect(stored.cancel_at_period_end).toBe(true);
    await journey.shot("cancel-scheduled");

    await page.getByTestId("resume-plan").click();
    await expect(page.getByTestId("cancel-notice")).toHaveCount(0);
    await expect(page.getByTestId("cancel-plan")).toBeVisible();
    expect((await sim.subscriptionOf(user.email)).cancel_at_period_end).toBe(false);
    await journey.shot("resumed");
  });
});
