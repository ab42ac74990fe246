/**
 * Issue 9, part 8, "usage you can see": a signed-in customer runs an
 * analysis from the dashboard, opens /usage and finds it there: the plan
 * allowance it drew on (with its expiry), today's bar in the chart (uPlot,
 * loaded as its own chunk), the debit in the history with what it drew
 * from, and the same rows in the CSV download. Screenshots at desktop and
 * phone widths.
 */
import { readFileSync } from "node:fs";
import { DEMO_USERS } from "@offline/dev-auth";
import { FEATURES, PLANS, featureCost } from "../../convex/billing/model/plans";
import { expect, signIn, test } from "./support/app";

test.use({ journeyName: "8-usage" });

// A demo user no other journey signs in as (support/users.ts has one per journey; the
// demo users are offered by the e2e stack too and stay untouched by the other specs).
const user = DEMO_USERS.find((u) => u.id === "grace")!;

test("an analysis shows up on /usage: grant, chart, history with what it drew from, CSV", async ({ page, journey }) => {
  const feature = "standard_analysis";
  const cost = featureCost(feature, "medium");
  const allowance = PLANS.free.tokensPerPeriod;
  const today = new Date().toISOString().slice(0, 10);

  await signIn(page, user);
  await expect(page.getByTestId("token-meter")).toHaveText(String(allowance));

  // The chart's code is not part of the app's first load.
  const chartChunks: string[] = [];
  page.on("request", (r) => {
    if (/\/assets\/UsageChart-[^/]+\.js$/.test(r.url())) chartChunks.push(r.url());
  });

  const card = page.getByTestId(`analysis-${feature}`);
  await card.getByTestId(`analysis-complexity-${feature}`).selectOption("medium");
  await card.getByTestId(`analysis-run-${feature}`).click();
  await expect(card.getByTestId(`analysis-result-${feature}`)).toBeVisible();
  await expect(page.getByTestId("token-meter")).toHaveText(String(allowance - cost));
  expect(chartChunks).toEqual([]);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage" }).click();
  await expect(page).toHaveURL(/\/usage$/);
  await expect(page.getByRole("heading", { name: "Usage", level: 1 })).toBeVisible();

  // Balance by grant: the free allowance, what is left of it, when it expires.
  const grant = page.getByTestId("usage-grant");
  await expect(grant).toHaveCount(1);
  await expect(grant).toHaveAttribute("data-category", "plan_allowance");
  await expect(grant.getByTestId("usage-grant-category")).toHaveText("Plan allowance");
  await expect(grant.getByTestId("usage-grant-remaining")).toHaveText(`${allowance - cost} of ${allowance}`);
  await expect(grant.getByTestId("usage-grant-expiry")).toHaveText(/^Expires [A-Z][a-z]{2} \d{1,2}, \d{4}$/);
  await expect(page.getByTestId("usage-draw-order")).toContainText("Tokens are used in this order: plan allowance.");

  // The chart: its own chunk, drawn on a canvas, today's bar in the legend and the table.
  const chart = page.getByTestId("usage-chart");
  await expect(chart.locator("canvas")).toHaveCount(1);
  expect(chartChunks).toHaveLength(1);
  await expect(chart.locator("canvas")).toHaveAttribute("aria-label", new RegExp(`${cost} this period \\(${FEATURES[feature]!.name} ${cost}\\)`));
  await expect(chart.locator(".u-legend")).toContainText(FEATURES[feature]!.name);
  const box = await chart.locator("canvas").boundingBox();
  expect(box?.width).toBeGreaterThan(600);
  expect(box?.height).toBeGreaterThan(200);
  await expect(page.getByTestId("usage-period-total")).toHaveText(String(cost));
  // Pointing at today's bar puts that day's numbers in the legend (a free period is the UTC month).
  const dayIndex = Math.round((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${today.slice(0, 8)}01T00:00:00Z`)) / 86_400_000);
  const over = chart.locator(".u-over");
  const overBox = (await over.boundingBox())!;
  const periodDays = new Date(Date.UTC(Number(today.slice(0, 4)), Number(today.slice(5, 7)), 0)).getUTCDate();
  await page.mouse.move(overBox.x + ((dayIndex + 0.5) / periodDays) * overBox.width, overBox.y + overBox.height - 10);
  const legend = chart.locator(".u-legend");
  await expect(legend.locator(".u-series").first()).toContainText(
    new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" }).format(new Date(`${today}T00:00:00Z`)),
  );
  await expect(legend.locator(".u-series").nth(1)).toHaveText(`${FEATURES[feature]!.name}${cost}`);
  await journey.shot("usage-desktop-hover");
  await page.mouse.move(0, 0);
  await page.getByTestId("usage-table-toggle").click();
  const todayRow = page.locator(`[data-testid="usage-table-row"][data-day="${today}"]`);
  await expect(todayRow).toBeVisible();
  await expect(todayRow.getByTestId("usage-table-total")).toHaveText(String(cost));
  await journey.shot("usage-desktop");

  // History: newest first, the settlement, the debit and what it drew from, then the allowance.
  const rows = page.getByTestId("usage-history-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toHaveAttribute("data-reason", "hold_settle");
  await expect(rows.nth(0).getByTestId("usage-history-label")).toHaveText(`${FEATURES[feature]!.name} finished`);
  await expect(rows.nth(0).getByTestId("usage-history-note")).toHaveText(`Charged ${cost} of ${cost} reserved`);
  const debit = rows.nth(1);
  await expect(debit).toHaveAttribute("data-reason", "hold");
  await expect(debit.getByTestId("usage-history-label")).toHaveText(`${FEATURES[feature]!.name} started: tokens reserved`);
  await expect(debit.getByTestId("usage-history-amount")).toHaveText(`\u2212${cost}`);
  await expect(debit.getByTestId("usage-history-drawn")).toHaveText(`${cost} from plan allowance`);
  await expect(debit.getByTestId("usage-history-balance")).toHaveText(String(allowance - cost));
  await expect(rows.nth(2)).toHaveAttribute("data-reason", "period_grant");
  await expect(rows.nth(2).getByTestId("usage-history-amount")).toHaveText(`+${allowance}`);
  await expect(page.getByTestId("usage-history-count")).toContainText("That's everything: 3 entries.");

  // The CSV: the loaded rows, header first, the debit with what it drew from.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("usage-download-csv").click()]);
  expect(download.suggestedFilename()).toMatch(/^token-history-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  const lines = csv.split("\r\n");
  expect(lines[0]).toBe("Date (UTC),Type,Description,Feature,Amount,Balance after,Drawn from,Note,Entry ID");
  expect(lines).toHaveLength(5);
  expect(lines[4]).toBe("");
  expect(lines[1]).toMatch(new RegExp(`^${today}T[\\d:.]+Z,hold_settle,${FEATURES[feature]!.name} finished,${FEATURES[feature]!.name},0,${allowance - cost},,Charged ${cost} of ${cost} reserved,\\w+$`));
  expect(lines[2]).toMatch(
    new RegExp(`^${today}T[\\d:.]+Z,hold,${FEATURES[feature]!.name} started: tokens reserved,${FEATURES[feature]!.name},-${cost},${allowance - cost},${cost} from plan allowance,,\\w+$`),
  );
  expect(lines[3]).toMatch(new RegExp(`^[\\d-]+T[\\d:.]+Z,period_grant,Plan allowance added,,${allowance},${allowance},,,\\w+$`));

  // Phone width: the same page, one column, the chart resized to fit.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect.poll(async () => (await chart.locator("canvas").boundingBox())?.width ?? 0).toBeLessThan(390);
  await journey.shot("usage-mobile");
});
