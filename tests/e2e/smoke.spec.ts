/**
 * Issue 3 smoke journey: sign in, see the plans from the backend, upgrade,
 * pay on the simulator's Checkout, land on the success page, and see the
 * plan change without a reload (the webhook → Convex → live query path).
 * Prints how long the change took to show after the webhook was delivered.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, firstSeenAt, payOnCheckout, signIn, test, watchFirstSeen } from "./support/app";
import { sim } from "./support/sim";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "smoke" });

test("a signed-in user upgrades to Pro through Checkout and the plan flips live", async ({ page, journey }) => {
  const user = E2E_USERS.smoke;

  await page.goto("/");
  await expect(page.getByTestId("demo-sign-in")).toBeVisible();
  await journey.shot("signed-out-home");

  await signIn(page, user);
  await expect(page.getByTestId("plan-badge")).toHaveText("Free");
  await journey.shot("signed-in");

  await page.goto("/pricing");
  // The catalogue comes from plans.list: every tier with its name and monthly price.
  for (const tier of ["free", "starter", "pro", "elite"] as const) {
    await expect(page.getByTestId(`pricing-card-${tier}`)).toContainText(PLANS[tier].name);
  }
  await expect(page.getByTestId("price-pro")).toContainText("$29");
  await expect(page.getByTestId("current-plan-free")).toBeVisible();
  await journey.shot("pricing");

  await page.getByTestId("upgrade-button-pro").click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
  await expect(page.getByTestId("checkout-total")).toHaveText("$29.00");
  await journey.shot("checkout");

  const key = "__e2eActiveAt";
  await watchFirstSeen(page, key, '[data-testid="success-status"][data-state="active"]');
  const submittedAt = await payOnCheckout(page, CARDS.visa, user.name);

  await expect(page).toHaveURL(/\/billing\/success\?session_id=cs_/);
  const status = page.getByTestId("success-status");
  await expect(status).toHaveAttribute("data-state", "active");
  await expect(status).toContainText("You're on Pro");
  // The header flipped in the same render, with no reload.
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");
  await journey.shot("success");

  // Figures, not assertions: from the webhook deliveries to the visible change.
  const visibleAt = (await firstSeenAt(page, key)) ?? Date.now();
  await sim.idle();
  const deliveries = (await sim.deliveries()).filter((d) => d.at >= submittedAt && !d.duplicate);
  const beforeVisible = deliveries.filter((d) => d.at <= visibleAt);
  const first = deliveries[0];
  const subscriptionEvent = deliveries.find((d) => d.eventType === "customer.subscription.created");
  const lastBefore = beforeVisible[beforeVisible.length - 1];
  const lines = [
    `Pay clicked → success text visible: ${visibleAt - submittedAt} ms`,
    first ? `first webhook acknowledged (${first.eventType}) → visible: ${visibleAt - first.at} ms` : "no webhook recorded after Pay",
    subscriptionEvent ? `customer.subscription.created acknowledged → visible: ${visibleAt - subscriptionEvent.at} ms` : "",
    lastBefore ? `last webhook before the change (${lastBefore.eventType}) → visible: ${visibleAt - lastBefore.at} ms` : "",
    `deliveries after Pay: ${deliveries.map((d) => `${d.eventType}@+${d.at - submittedAt}ms`).join(", ")}`,
  ].filter(Boolean);
  console.log(`[smoke] webhook → visible latency\n  ${lines.join("\n  ")}`);
  await test.info().attach("latency.txt", { body: lines.join("\n"), contentType: "text/plain" });

  expect(deliveries.map((d) => d.eventType)).toContain("checkout.session.completed");
  expect(deliveries.every((d) => d.outcome === "succeeded")).toBe(true);
});
