/**
 * Issue 12, overage billed through Stripe: a Pro (monthly) subscriber runs
 * past the allowance, is told what the overage costs before the run, sees
 * it accrue on /billing, the usage reaches the simulator's Billing Meter,
 * and the invoice at the period end (test clock) carries the usage line
 * next to the plan fee.
 */
import type { Page } from "@playwright/test";
import { OVERAGE_METER, PLANS } from "../../convex/billing/model/plans";
import { expect, subscribe, test } from "./support/app";
import { E2E } from "./support/env";
import { sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "12-overage" });

/** Deep analysis at high complexity: 30 tokens a run (20 × 1.5). */
const RUN_COST = 30;

async function runDeep(page: Page, confirmText?: RegExp) {
  const card = page.getByTestId("analysis-deep_analysis");
  await card.getByTestId("analysis-complexity-deep_analysis").selectOption("high");
  await card.getByTestId("analysis-run-deep_analysis").click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toBeVisible();
  if (confirmText) await expect(dialog).toContainText(confirmText);
  await dialog.getByRole("button", { name: `Use ${RUN_COST} tokens` }).click();
  await expect(card.getByTestId("analysis-result-deep_analysis")).toBeVisible();
  await expect(card.getByTestId("analysis-run-deep_analysis")).toBeEnabled();
}

/** What the simulator's overage meter holds for `customer` over the whole of the last month and the next. */
async function meteredTokens(customer: string): Promise<number> {
  const auth = { authorization: "Bearer sk_test_e2e_operator" };
  const meters = (await (await fetch(`${E2E.stripeUrl}/v1/billing/meters?status=active`, { headers: auth })).json()) as {
    data: { id: string; event_name: string }[];
  };
  const meter = meters.data.find((m) => m.event_name === OVERAGE_METER.eventName);
  if (!meter) return -1;
  const now = Math.floor(Date.now() / 60_000) * 60;
  const query = new URLSearchParams({ customer, start_time: String(now - 40 * 86_400), end_time: String(now + 40 * 86_400) });
  const summaries = (await (
    await fetch(`${E2E.stripeUrl}/v1/billing/meters/${meter.id}/event_summaries?${query}`, { headers: auth })
  ).json()) as { data: { aggregated_value: number }[] };
  return summaries.data.reduce((sum, s) => sum + s.aggregated_value, 0);
}

test("a Pro subscriber's overage is confirmed, shown live, metered, and billed on the period-end invoice", async ({ page, journey }) => {
  const user = E2E_USERS.overage;
  await subscribe(page, user, "pro");
  const allowance = PLANS.pro.tokensPerPeriod; // 150: five runs of 30
  const cap = PLANS.pro.overage!.capTokens;

  await page.getByRole("link", { name: "Start using it" }).click();
  for (let i = 0; i < allowance / RUN_COST; i++) await runDeep(page);
  await expect(page.getByTestId("token-meter")).toHaveText("0");

  // The next run goes past the balance: the guard says what it will bill first.
  await runDeep(page, /30 tokens will be billed as overage \(\$3\.60\)/);
  await journey.shot("overage-confirmed");

  await page.getByRole("link", { name: "Billing", exact: true }).click();
  await expect(page.getByTestId("tokens-overage")).toHaveAttribute("data-overage", String(RUN_COST));
  await expect(page.getByTestId("tokens-overage-amount")).toHaveText("$3.60");
  await expect(page.getByTestId("tokens-overage-cap")).toContainText(`up to ${cap} tokens a period (${cap - RUN_COST} left)`);
  await journey.shot("overage-on-billing");

  // The reporter sends it to Stripe's meter within seconds of the run.
  const sub = await sim.subscriptionOf(user.email);
  const customer = typeof sub.customer === "string" ? sub.customer : sub.customer.id;
  await expect.poll(() => meteredTokens(customer), { timeout: 45_000 }).toBe(RUN_COST);

  // The period ends on the test clock: the renewal invoice bills the plan and the usage.
  await sim.advance({ subscription: sub.id, to: "period_end" });
  const rows = page.getByTestId("invoice-row");
  await expect(rows).toHaveCount(2);
  const renewal = rows.first();
  const planFee = PLANS.pro.prices!.month.displayAmount;
  await expect(renewal.getByTestId("invoice-amount")).toHaveText("$32.60");
  await renewal.getByRole("button", { name: /lines/i }).click();
  const lines = page.locator("[data-testid^='invoice-lines-panel-']:visible").getByTestId("invoice-line");
  await expect(lines).toHaveCount(2);
  const usage = page.locator("[data-testid='invoice-line'][data-usage]:visible");
  await expect(usage.getByTestId("invoice-line-quantity")).toHaveText(String(RUN_COST));
  await expect(usage.getByTestId("invoice-line-amount")).toHaveText("$3.60");
  await expect(usage.getByTestId("invoice-line-usage")).toBeVisible();
  expect(planFee + RUN_COST * OVERAGE_METER.price.unitAmount).toBe(3260);
  // A new period starts with no overage.
  await expect(page.getByTestId("tokens-overage")).toHaveCount(0);
  await journey.shot("usage-invoice-lines");
});
