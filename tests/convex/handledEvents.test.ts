/**
 * The handler table is the one list of handled Stripe event types: the
 * README's endpoint setup, reconciliation's `types[]` filter and dispatch all
 * follow it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { RECONCILE_EVENT_TYPES, STRIPE_MAX_TYPES_FILTER } from "../../convex/billing/model/reconcile";
import {
  HANDLED_EVENT_TYPES,
  RECONCILED_EVENT_TYPES,
  STRIPE_EVENT_HANDLERS,
  isHandledEventType,
} from "../../convex/billing/model/stripeEventHandlers";

/** The event types the README's endpoint setup lists, between its `handled-events` markers, in order. */
function readmeEventTypes(): string[] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const block = /<!-- handled-events:start -->([\s\S]*?)<!-- handled-events:end -->/.exec(readme);
  if (!block) throw new Error("README.md has no handled-events block");
  return [...block[1]!.matchAll(/`([a-z_.]+)`/g)].map((m) => m[1]!);
}

describe("handled event types", () => {
  test("the README lists exactly the handler table's types, in its order", () => {
    const expected = HANDLED_EVENT_TYPES.map((type) => `\`${type}\``).join(", ");
    expect(readmeEventTypes(), `README handled-events block should read:\n${expected}.`).toEqual([...HANDLED_EVENT_TYPES]);
  });

  test("reconciliation lists the table's reconciled types, within Stripe's 20-type filter", () => {
    expect(RECONCILE_EVENT_TYPES).toEqual(RECONCILED_EVENT_TYPES);
    expect(RECONCILED_EVENT_TYPES.length).toBeLessThanOrEqual(STRIPE_MAX_TYPES_FILTER);
    for (const type of RECONCILED_EVENT_TYPES) expect(STRIPE_EVENT_HANDLERS[type].reconcile).toBe(true);
    // What is left out has a reason in the table (a later event or the hourly run covers it).
    expect(HANDLED_EVENT_TYPES.filter((type) => !RECONCILED_EVENT_TYPES.includes(type))).toEqual([
      "customer.subscription.trial_will_end",
      "subscription_schedule.completed",
      "subscription_schedule.aborted",
      "test_helpers.test_clock.ready",
      "charge.dispute.created",
      "charge.dispute.closed",
      "payment_intent.succeeded",
    ]);
  });

  test("dispatch knows exactly the table's types", () => {
    for (const type of HANDLED_EVENT_TYPES) expect(isHandledEventType(type)).toBe(true);
    expect(isHandledEventType("invoice.payment_succeeded")).toBe(false);
    expect(isHandledEventType("toString")).toBe(false);
  });
});
