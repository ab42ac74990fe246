/**
 * The lifecycle's dunning story (docs/DUNNING.md): **Dora** subscribes to
 * Pro, her first renewal fails, and the overdue timeline walks day 0 → 3 →
 * 7 → 14 → 30 (suspended: tier Free, debits refused) → 45 (restricted) →
 * paid, when everything is restored at once.
 *
 * The timeline's cron (`dunning.sweep`) runs with `now` at each step's day,
 * as the hourly cron would on that day. Stripe's own retries in between are
 * left out (they change nothing here until one succeeds). The next period's
 * renewal (about day 30) fails too: the count stays on the oldest invoice.
 * Paying both on day 46 restores Pro and opens the current window (2);
 * the elapsed window 1, paid after its end, grants nothing.
 *
 * Stripe times are seconds; Convex times are milliseconds.
 */
import { ConvexError } from "convex/values";
import { api } from "../../convex/_generated/api";
import { BILLING_CONFIG, PLANS } from "../../convex/billing/model/plans";
import { billing, billingInternal } from "../lib/billingComponent";
import { checkout, completionEvents, IDENTITY, signIn, type Customer, type DunningExpectation, type Expectation, type Step, type Story } from "./story";

const PRO = PLANS.pro.tokensPerPeriod;
const PRO_ROLLOVER = PLANS.pro.rollover!.maxTokens;
const DAY_MS = 24 * 60 * 60 * 1000;

export const DORA: Customer = {
  identity: { ...IDENTITY, subject: "user_lifecycle_dora", name: "Dora Dunning", email: "dora@example.com" },
  subId: "sub_lifecycle_dunning",
};

/** When the renewal's payment first failed (Stripe seconds): the overdue count starts here. */
const failedAt = (s: Story) => s.period(1).periodStart + 1;
const RENEWAL = (s: Story) => `in_${s.subId}_renew1`;
const NEXT_RENEWAL = (s: Story) => `in_${s.subId}_renew2`;

/** The state while the renewal is unpaid, at `dunning`; `tier` Pro until the suspension. */
function overdue(dunning: DunningExpectation, notified: Record<string, number>, invoices = ["open", "paid"]): Expectation {
  const cutOff = dunning.stage !== "overdue";
  return {
    tier: cutOff ? "free" : "pro",
    status: "past_due",
    cancelScheduled: false,
    // `graceEndsAt` is the suspension day while it is ahead.
    grace: !cutOff,
    // No payment, no new allowance: the first window's stays (frozen once suspended).
    tokens: { allowance: PRO, used: 0, remaining: PRO },
    invoices,
    subscriptions: 1,
    windows: [0],
    dunning,
    notified,
  };
}

/** "renewal fails (day 0)": the renewal invoice is open, its payment failed, the subscription past_due. */
function renewalFails(s: Story): Step {
  return {
    name: "renewal fails (day 0)",
    events: () => {
      const at = s.period(1).periodStart;
      return [
        s.evt("invoice.finalized", s.inv(RENEWAL(s), "open", "subscription_cycle", 1, at), at),
        s.evt("invoice.payment_failed", s.inv(RENEWAL(s), "open", "subscription_cycle", 1, at), failedAt(s)),
        s.evt("customer.subscription.updated", s.sub("past_due", 1), failedAt(s) + 1),
      ];
    },
    expect: overdue({ stage: "overdue", stepDay: 0, adminBanner: false }, { payment_failed: 1 }),
  };
}

/**
 * Tries to spend a token as the customer; returns the refusal's code, or
 * "ok" (then the token was spent: only used where a refusal is expected).
 */
async function tryDebit(s: Story, key: string): Promise<string> {
  try {
    await s.asUser.mutation(api.tokens.consume, { feature: "quick_analysis", idempotencyKey: key });
    return "ok";
  } catch (error) {
    if (error instanceof ConvexError) return String((error.data as { code?: string }).code);
    throw error;
  }
}

/**
 * "day N": the cron's sweep on day `day` of the episode fires the step due
 * then (once); `debit` is the answer a token debit must get afterwards.
 */
function sweepOnDay(day: number, expectation: Expectation, debit?: "ACCOUNT_SUSPENDED" | "ACCOUNT_RESTRICTED") {
  return (s: Story): Step => ({
    name: `dunning day ${day}`,
    run: async () => {
      const now = failedAt(s) * 1000 + day * DAY_MS + 60_000;
      const swept = await billing(s.t).mutation(billingInternal.dunning.sweep, { now });
      // The cron runs hourly: a second sweep the same day fires nothing more.
      await billing(s.t).mutation(billingInternal.dunning.sweep, { now: now + 3_600_000 });
      const lines = [`dunning.sweep at day ${day} → ${JSON.stringify(swept)}`];
      if (debit) {
        const answer = await tryDebit(s, `dunning-day-${day}`);
        if (answer !== debit) throw new Error(`a token debit on day ${day} answered ${answer}, expected ${debit}`);
        lines.push(`tokens.consume → ${answer}`);
      }
      return lines;
    },
    expect: expectation,
  });
}

const step = (day: number) => {
  const config = BILLING_CONFIG.dunning.steps.find((s) => s.day === day);
  if (!config) throw new Error(`no dunning step on day ${day}`);
  return { stage: config.stage, stepDay: day, adminBanner: config.adminBanner };
};

const SUSPENDED_NOTICES = { payment_failed: 1, dunning_reminder: 3, dunning_suspended: 1 };

/** "next renewal fails too": the period-2 invoice fails; same episode, counted from the first, no new day-0 notice. */
function nextRenewalFails(s: Story): Step {
  return {
    name: "next renewal fails too",
    events: () => {
      const at = s.period(2).periodStart;
      return [
        s.evt("invoice.finalized", s.inv(NEXT_RENEWAL(s), "open", "subscription_cycle", 2, at), at),
        s.evt("invoice.payment_failed", s.inv(NEXT_RENEWAL(s), "open", "subscription_cycle", 2, at), at + 1),
        s.evt("customer.subscription.updated", s.sub("past_due", 2), at + 2),
      ];
    },
    expect: overdue(step(30), SUSPENDED_NOTICES, ["open", "open", "paid"]),
  };
}

/** "paid → restored": the customer pays both open invoices (day 46): Pro, its allowance and debits come back. */
function paidRestored(s: Story): Step {
  return {
    name: "both paid (day 46) → restored",
    events: () => {
      const at = failedAt(s) + 46 * 24 * 3600;
      return [
        s.evt("invoice.paid", s.inv(RENEWAL(s), "paid", "subscription_cycle", 1, s.period(1).periodStart), at),
        s.evt("invoice.paid", s.inv(NEXT_RENEWAL(s), "paid", "subscription_cycle", 2, s.period(2).periodStart), at + 1),
        s.evt("customer.subscription.updated", s.sub("active", 2), at + 1),
      ];
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // The current window's full allowance, once, and up to 75 of window 0's unused 150 rolled over (Pro's policy).
      tokens: { allowance: PRO, used: 0, remaining: PRO + PRO_ROLLOVER },
      invoices: ["paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 2],
      notified: { payment_failed: 1, dunning_reminder: 3, dunning_suspended: 1, dunning_restricted: 1 },
    },
  };
}

/** "debits work again": a token debit succeeds after the payment. */
function debitsWorkAgain(s: Story): Step {
  return {
    name: "debits work again",
    run: async () => {
      const answer = await tryDebit(s, "dunning-restored");
      if (answer !== "ok") throw new Error(`a token debit after the payment answered ${answer}`);
      return ["tokens.consume → ok"];
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      tokens: { allowance: PRO, used: 1, remaining: PRO + PRO_ROLLOVER - 1 },
      invoices: ["paid", "paid", "paid"],
      subscriptions: 1,
      windows: [0, 2],
      notified: { payment_failed: 1, dunning_reminder: 3, dunning_suspended: 1, dunning_restricted: 1 },
    },
  };
}

/** Dora: Pro, a failed renewal walking the whole timeline, then paid. */
export const DUNNING_STORY: ((s: Story) => Step)[] = [
  signIn,
  checkout,
  completionEvents,
  renewalFails,
  sweepOnDay(3, overdue(step(3), { payment_failed: 1, dunning_reminder: 1 })),
  sweepOnDay(7, overdue(step(7), { payment_failed: 1, dunning_reminder: 2 })),
  sweepOnDay(14, overdue(step(14), { payment_failed: 1, dunning_reminder: 3 })),
  sweepOnDay(30, overdue(step(30), SUSPENDED_NOTICES), "ACCOUNT_SUSPENDED"),
  nextRenewalFails,
  sweepOnDay(45, overdue(step(45), { ...SUSPENDED_NOTICES, dunning_restricted: 1 }, ["open", "open", "paid"]), "ACCOUNT_RESTRICTED"),
  paidRestored,
  debitsWorkAgain,
];
