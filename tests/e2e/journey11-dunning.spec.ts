/**
 * Issue 11, the dunning walk (docs/DUNNING.md): a yearly Pro subscription
 * paid with the …0341 card (pays at Checkout, declines later) fails to
 * renew, and its customer's test clock walks the timeline day 0 → 14 → 30
 * → 45: the overdue banner with its day count, the admin banner, the
 * suspension (Free, tokens frozen, Billing can still pay), the restriction
 * (only Billing), one email per step in the local mailbox, then paying the
 * invoice on Stripe's hosted page restores everything on the open page.
 *
 * The simulator leaves the subscription `past_due` after Stripe's last
 * retry (day 15), as the Dashboard's "leave the subscription past-due"
 * setting does, so the app's own timeline governs access up to day 45.
 * Yearly, so no second renewal falls inside the 45 days.
 */
import { CARDS, expect, subscribe, test } from "./support/app";
import { mailbox } from "./support/mailbox";
import { sim, type SimDunningConfig } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "11-dunning" });

const DAY = 24 * 3600;
const HOUR = 3600;

/** The timeline's emails (subjects = notification titles, convex/billing/model/dunning.ts). */
const STEP_SUBJECTS = {
  day0: "Your payment failed",
  day14: "Payment overdue for 14 days",
  suspended: "Your account is suspended",
  restricted: "Your account is restricted",
};

let dunningBefore: SimDunningConfig | null = null;

test.beforeAll(async () => {
  dunningBefore = await sim.dunning();
  await sim.setDunning({ finalAction: "past_due" });
});

test.afterAll(async () => {
  if (dunningBefore) await sim.setDunning(dunningBefore);
});

test("a failing card walks day 0 → 14 → 30 → 45 with banners, suspension, restriction and emails; paying restores it live", async ({
  page,
  context,
  journey,
}) => {
  const user = E2E_USERS.dunning;
  await subscribe(page, user, "pro", CARDS.failsAfterAttach, "year");
  const sub = await sim.subscriptionOf(user.email);
  const banner = page.getByTestId("payment-banner");
  const badge = page.getByTestId("plan-badge");
  const guard = page.getByTestId("restricted-guard");
  await page.goto("/");
  await expect(banner).toHaveCount(0);

  /** Moves this customer's test clock on and waits until the app has every webhook. */
  const advance = async (seconds: number) => {
    await sim.advance({ subscription: sub.id, seconds });
    await sim.idle();
  };

  // Day 0: the renewal fails. The plan stays while Stripe retries.
  await sim.advance({ subscription: sub.id, to: "period_end" });
  await sim.idle();
  await expect(banner).toBeVisible();
  await expect(banner).toHaveAttribute("data-stage", "overdue");
  await expect(banner).toContainText("Payment overdue for 0 days.");
  await expect(banner).not.toHaveAttribute("data-admin-banner", "true");
  await expect(badge).toHaveText("Pro");
  await journey.shot("day-0-payment-failed");

  // Day 14: Stripe's retries (days 3 and 8) failed too; the admin banner warns of the suspension.
  await advance(14 * DAY + HOUR);
  await expect(banner).toContainText("Payment overdue for 14 days.");
  await expect(banner).toHaveAttribute("data-admin-banner", "true");
  await expect(banner).toContainText("paid features will be suspended for everyone on this account");
  await expect(badge).toHaveText("Pro");
  await mailbox.waitFor(user.email, STEP_SUBJECTS.day14);
  // The day-0 email waits 30 s (PAYMENT_FAILED_EMAIL_HOLD_MS) in case the bank only wanted a 3-D Secure confirmation.
  await mailbox.waitFor(user.email, STEP_SUBJECTS.day0, 45_000);
  await journey.shot("day-14-admin-banner");

  // Day 30: suspended. Paid features off, tokens frozen, Billing can still pay.
  await advance(16 * DAY);
  expect((await sim.subscriptionOf(user.email)).status).toBe("past_due");
  await expect(banner).toHaveAttribute("data-stage", "suspended");
  await expect(banner).toContainText("Your account is suspended. Payment overdue for 30 days.");
  await expect(badge).toHaveText("Free");
  await mailbox.waitFor(user.email, STEP_SUBJECTS.suspended);
  const quick = page.getByTestId("analysis-quick_analysis");
  await quick.getByTestId("analysis-run-quick_analysis").click();
  await expect(page.getByText("Paid features and tokens are paused until the overdue invoice is paid.")).toBeVisible();
  await expect(quick.getByTestId("analysis-result-quick_analysis")).toHaveCount(0);
  await expect(page.getByTestId("token-meter-frozen")).toHaveText("frozen");
  await page.goto("/billing");
  await expect(banner.getByTestId("payment-banner-pay")).toBeVisible();
  await expect(guard).toHaveCount(0);
  await expect(page.getByTestId("subscription-dunning-stage")).toHaveAttribute("data-stage", "suspended");
  await expect(page.getByTestId("tokens-frozen")).toBeVisible();
  await journey.shot("day-30-suspended");

  // Day 45: restricted. Every page but Billing shows the guard.
  await advance(15 * DAY);
  await expect(banner).toHaveAttribute("data-stage", "restricted");
  await expect(banner).toContainText("Your account is restricted. Payment overdue for 45 days.");
  await expect(guard).toHaveCount(0);
  await mailbox.waitFor(user.email, STEP_SUBJECTS.restricted);
  for (const path of ["/", "/usage", "/pricing"]) {
    await page.goto(path);
    await expect(guard).toBeVisible();
  }
  await expect(page.getByTestId("analysis-quick_analysis")).toHaveCount(0);
  await journey.shot("day-45-restricted");

  // More sweeps (the clock moves on, the events replay): no step fires twice.
  await advance(HOUR);
  await advance(HOUR);
  const subjects = await mailbox.subjects(user.email);
  for (const subject of Object.values(STEP_SUBJECTS)) {
    expect(subjects.filter((s) => s === subject), `one "${subject}" email`).toHaveLength(1);
  }
  // Reminders sent on their days (3 and 7, at Stripe's retries) come once each too; no other dunning mail.
  expect(subjects.filter((s) => s.startsWith("Payment overdue for")).length).toBe(new Set(subjects.filter((s) => s.startsWith("Payment overdue for"))).size);
  const mail = await mailbox.waitFor(user.email, STEP_SUBJECTS.restricted);
  expect(mail.text).toContain("only the billing page");

  // Paying on the hosted invoice page (another tab) lifts everything on the open page, no reload.
  await page.getByTestId("restricted-guard-billing").click();
  await expect(page).toHaveURL(/\/billing$/);
  const invoiceUrl = await banner.getByTestId("payment-banner-pay").getAttribute("href");
  expect(invoiceUrl).toBeTruthy();
  await page.goto("/");
  await expect(guard).toBeVisible();
  const invoicePage = await context.newPage();
  await invoicePage.goto(invoiceUrl ?? "");
  await invoicePage.getByTestId("invoice-card-number").fill(CARDS.visa);
  await invoicePage.getByTestId("invoice-pay").click();
  await expect(invoicePage.getByTestId("invoice-paid")).toBeVisible();
  await invoicePage.close();

  await expect(guard).toHaveCount(0);
  await expect(banner).toHaveCount(0);
  await expect(badge).toHaveText("Pro");
  await expect(page.getByTestId("token-meter-frozen")).toHaveCount(0);
  await quick.getByTestId("analysis-run-quick_analysis").click();
  await expect(quick.getByTestId("analysis-result-quick_analysis")).toBeVisible();
  expect((await sim.subscriptionOf(user.email)).status).toBe("active");
  await journey.shot("paid-restored");
});
