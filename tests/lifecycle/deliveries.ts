/**
 * How the lifecycle delivers Stripe events: each step's events once, about
 * half of them twice, shuffled by a seeded PRNG; each POSTed to the real
 * `POST /stripe/webhook` route signed with `WEBHOOK_SECRET`; then scheduled
 * work run until no event is pending or retrying.
 */
import Stripe from "stripe";
import { runInBilling } from "../lib/billingComponent";
import { drainScheduled, shuffle, type Harness } from "../lib/convexHarness";

/** The webhook secret the lifecycle's deployment is configured with. */
export const WEBHOOK_SECRET = "whsec_lifecycle_local_only";

/** Every event once, about half of them twice (at least one), shuffled. */
export function deliveryPlan(events: Stripe.Event[], random: () => number): Stripe.Event[] {
  const plan = [...events];
  const repeats = events.filter(() => random() < 0.5);
  if (repeats.length === 0 && events.length > 0) repeats.push(events[Math.floor(random() * events.length)]!);
  plan.push(...repeats);
  return shuffle(plan, random);
}

/** POSTs one event to the webhook route, signed now like Stripe does; returns the HTTP status. */
export async function deliver(t: Harness, e: Stripe.Event): Promise<number> {
  const payload = JSON.stringify(e, null, 2);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: WEBHOOK_SECRET,
    timestamp: Math.floor(Date.now() / 1000),
  });
  const response = await t.fetch("/stripe/webhook", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": signature },
    body: payload,
  });
  await response.text();
  return response.status;
}

/**
 * Runs scheduled work until no event is `pending` or `failed_retrying`, or
 * `maxWaitMs` has passed. Retries scheduled with backoff run on real timers,
 * so this waits for their `nextAttemptAt`.
 */
export async function settle(t: Harness, maxWaitMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    await drainScheduled(t);
    const waiting = await runInBilling(t, async (ctx) => {
      const rows = [];
      for (const status of ["pending", "failed_retrying"] as const) {
        rows.push(
          ...(await ctx.db
            .query("webhookEvents")
            .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
            .take(100)),
        );
      }
      return rows.map((r) => r.nextAttemptAt ?? 0);
    });
    if (waiting.length === 0 || Date.now() - start > maxWaitMs) return;
    const wait = Math.min(...waiting) - Date.now();
    await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(20, wait + 20))));
  }
}
