/**
 * Issue 11's trial journeys: starting a trial from /pricing, reading the
 * trial from the simulator, moving its clock to a moment of the trial, and
 * calling the app's Checkout action as the signed-in user would (to see the
 * server's own answer to a second trial, whatever the page offers).
 * Stripe times are seconds.
 */
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import type { Page } from "@playwright/test";
import { api } from "../../../convex/_generated/api";
import type { PaidTier } from "../../../convex/billing/model/plans";
import { expect } from "./app";
import { E2E } from "./env";
import { sim } from "./sim";
import type { E2EUser } from "./users";

/** From /pricing (monthly), clicks "Start N-day trial" on `tier` and waits for the simulator's Checkout page. */
export async function startTrialFromPricing(page: Page, tier: PaidTier): Promise<void> {
  await page.goto("/pricing");
  const toggle = page.getByTestId("interval-toggle");
  await expect(toggle).toHaveAttribute("data-interval", "month");
  await page.getByTestId(`start-trial-${tier}`).click();
  await expect(page.getByTestId("checkout-title")).toBeVisible();
}

/** The user's newest subscription at the simulator, with its trial times (seconds). Throws when it has no trial. */
export async function trialOf(email: string): Promise<{ id: string; status: string; trialStart: number; trialEnd: number }> {
  const sub = (await sim.subscriptionOf(email)) as Awaited<ReturnType<typeof sim.subscriptionOf>> & {
    trial_start: number | null;
    trial_end: number | null;
  };
  if (sub.trial_start === null || sub.trial_end === null) throw new Error(`subscription ${sub.id} has no trial`);
  return { id: sub.id, status: sub.status, trialStart: sub.trial_start, trialEnd: sub.trial_end };
}

/** Moves the subscription's customer to `to` (seconds) and waits until every webhook it caused was delivered. */
export async function advanceTo(subscription: string, to: number): Promise<void> {
  await sim.advance({ subscription, to });
  await sim.idle();
}

/**
 * Calls `billing.createCheckoutSession` as `user` (a dev sign-in token, as
 * the page's Convex client sends it) and returns the ConvexError's data, or
 * the URL when Checkout was created.
 */
export async function checkoutAs(
  user: E2EUser,
  args: { tier: PaidTier; interval: "month" | "year"; trial?: boolean },
): Promise<{ url: string } | { error: { code?: string; message?: string } }> {
  const res = await fetch(`${E2E.authUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId: user.id }),
  });
  if (!res.ok) throw new Error(`dev sign-in /token → ${res.status}`);
  const { token } = (await res.json()) as { token: string };
  const client = new ConvexHttpClient(E2E.convexUrl);
  client.setAuth(token);
  try {
    return await client.action(api.billing.createCheckoutSession, args);
  } catch (e) {
    if (e instanceof ConvexError) return { error: e.data as { code?: string; message?: string } };
    throw e;
  }
}
