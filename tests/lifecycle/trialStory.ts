/**
 * The lifecycle's trial stories (docs/TRIALS.md), one customer each:
 *
 * - **Tia** starts Pro's 14-day trial with a card: the trial allowance (50)
 *   once, the `trial_will_end` reminder 3 days before the end, then the
 *   conversion (trialing → active and the first paid invoice) opens the
 *   first paid window at the trial end with Pro's 150, once.
 * - **Noel** starts Starter's card-less trial (20 tokens): at the end
 *   without a card Stripe cancels it (`missing_payment_method: cancel`):
 *   Free, nothing paid granted; a second trial is refused
 *   (`TRIAL_ALREADY_USED`).
 *
 * Stripe times are seconds; Convex times are milliseconds.
 */
import type Stripe from "stripe";
import { ConvexError } from "convex/values";
import { PLANS } from "../../convex/billing/model/plans";
import { checkoutSession, DAY, invoice } from "../convex/fixtures/stripe";
import { IDENTITY, signIn, startCheckout, type Customer, type Expectation, type Step, type Story } from "./story";

const TRIAL_DAYS = 14;
const FREE = PLANS.free.tokensPerPeriod;

export const TIA: Customer = {
  identity: { ...IDENTITY, subject: "user_lifecycle_tia", name: "Tia Trial", email: "tia@example.com" },
  subId: "sub_lifecycle_trial_card",
  paidFromDay: TRIAL_DAYS,
};
export const NOEL: Customer = {
  identity: { ...IDENTITY, subject: "user_lifecycle_noel", name: "Noel Nocard", email: "noel@example.com" },
  subId: "sub_lifecycle_trial_nocard",
  paidFromDay: TRIAL_DAYS,
};

/** The trial's times: it starts with the story and ends where the paid periods begin. */
function trialTimes(s: Story): { start: number; end: number } {
  return { start: s.base, end: s.period(0).periodStart };
}

/** The story's plan price (Tia: Pro, Noel: Starter). */
function planPrice(s: Story): Stripe.Price {
  return s.customer === NOEL ? s.prices.starterMonthly : s.prices.proMonthly;
}

/** The subscription during the trial, with a card on file or none. */
function trialing(s: Story, card: boolean): Stripe.Subscription {
  const { start, end } = trialTimes(s);
  const built = s.sub("trialing", 0, { price: planPrice(s), periodStart: start, periodEnd: end, trialStart: start, trialEnd: end });
  return { ...built, default_payment_method: card ? "pm_card_visa" : null };
}

/** Stripe's first invoice of a trial: paid, $0, the plan line over the trial. */
function trialInvoice(s: Story): Stripe.Invoice {
  const { start, end } = trialTimes(s);
  const plan = planPrice(s);
  return invoice({
    id: `in_${s.subId}_trial`,
    customer: s.facts.customerId,
    subscription: s.subId,
    status: "paid",
    billingReason: "subscription_create",
    price: plan,
    lines: [{ price: plan, amount: 0, start, end }],
    created: start,
  });
}

const trialExpect = (tier: "pro" | "starter", extra: Partial<Expectation> = {}): Expectation => ({
  tier,
  status: "trialing",
  cancelScheduled: false,
  grace: false,
  tokens: { allowance: PLANS[tier].trial!.tokens, purchased: 0, used: 0, remaining: PLANS[tier].trial!.tokens },
  invoices: ["paid"],
  subscriptions: 1,
  windows: [],
  trialGrants: 1,
  ...extra,
});

/** "trial checkout": Checkout asks Stripe for the plan's trial (and no card for a card-less one). */
function trialCheckout(tier: "pro" | "starter") {
  return (s: Story): Step => ({
    name: `${tier} trial checkout`,
    run: async () => {
      const { form } = await startCheckout(s, { tier, interval: "month", trial: true });
      const days = form["subscription_data[trial_period_days]"];
      const noCard = form.payment_method_collection;
      const behaviour = form["subscription_data[trial_settings][end_behavior][missing_payment_method]"];
      const trial = PLANS[tier].trial!;
      if (days !== String(trial.days)) throw new Error(`trial_period_days is ${days}, expected ${trial.days}`);
      if (behaviour !== trial.missingPaymentMethod) throw new Error(`missing_payment_method is ${behaviour}, expected ${trial.missingPaymentMethod}`);
      if ((noCard === "if_required") === trial.cardRequired) throw new Error(`payment_method_collection is ${noCard} for cardRequired=${trial.cardRequired}`);
      return [`createCheckoutSession(trial) → ${s.facts.sessionId}: ${days} days, card ${noCard === "if_required" ? "not asked" : "required"}, end without card: ${behaviour}`];
    },
    expect: {
      tier: "free",
      status: "none",
      cancelScheduled: false,
      grace: false,
      tokens: { allowance: FREE, used: 0, remaining: FREE },
      invoices: [],
      subscriptions: 0,
      windows: [],
    },
  });
}

/** "trial starts": Checkout completes, the subscription is trialing, the $0 invoice is paid. */
function trialStarts(tier: "pro" | "starter", card: boolean) {
  return (s: Story): Step => ({
    name: `${tier} trial starts${card ? "" : " (no card)"}`,
    events: () => {
      const { start } = trialTimes(s);
      return [
        s.evt(
          "checkout.session.completed",
          checkoutSession({
            id: s.facts.sessionId,
            mode: "subscription",
            customer: s.facts.customerId,
            subscription: s.subId,
            clientReferenceId: s.facts.accountId,
            metadata: { accountId: s.facts.accountId ?? "" },
          }),
          start + 2,
        ),
        s.evt("customer.subscription.created", trialing(s, card), start + 1),
        s.evt("invoice.paid", trialInvoice(s), start + 1),
      ];
    },
    // The trial allowance replaces the free month's; the plan's tier during the trial; no paid window.
    expect: trialExpect(tier),
  });
}

/** "trial_will_end": 3 days before the end, one reminder (`trial_ending`). */
function trialWillEnd(tier: "pro" | "starter", card: boolean) {
  return (s: Story): Step => ({
    name: "trial_will_end (3 days left)",
    events: () => [s.evt("customer.subscription.trial_will_end", trialing(s, card), trialTimes(s).end - 3 * DAY)],
    expect: trialExpect(tier, { notified: { trial_ending: 1 } }),
  });
}

/** "trial converts": trialing → active and the first paid invoice, at the trial end. */
function trialConverts(s: Story): Step {
  return {
    name: "trial converts (first invoice paid)",
    events: () => {
      const at = s.period(0).periodStart;
      // Stripe keeps `trial_start` / `trial_end` on the subscription after the trial.
      const { start, end } = trialTimes(s);
      const active = s.sub("active", 0, { trialStart: start, trialEnd: end });
      return [
        s.evt("customer.subscription.updated", { ...active, default_payment_method: "pm_card_visa" }, at),
        s.evt("invoice.paid", s.inv(`in_${s.subId}_first`, "paid", "subscription_cycle", 0, at), at + 1),
      ];
    },
    expect: {
      tier: "pro",
      status: "active",
      cancelScheduled: false,
      grace: false,
      // Pro's paid 150, once; the trial's 50 do not roll over.
      tokens: { allowance: PLANS.pro.tokensPerPeriod, used: 0, remaining: PLANS.pro.tokensPerPeriod },
      invoices: ["paid", "paid"],
      subscriptions: 1,
      windows: [0],
      trialGrants: 1,
      notified: { trial_ending: 1 },
    },
  };
}

/** "trial ends without a card": Starter's end behaviour cancels the subscription. */
function trialEndsWithoutCard(s: Story): Step {
  return {
    name: "trial ends without a card → canceled",
    events: () => {
      const { start, end } = trialTimes(s);
      const canceled = s.sub("canceled", 0, {
        price: s.prices.starterMonthly,
        periodStart: start,
        periodEnd: end,
        trialStart: start,
        trialEnd: end,
        canceledAt: end,
        endedAt: end,
      });
      return [s.evt("customer.subscription.deleted", { ...canceled, default_payment_method: null }, end)];
    },
    expect: {
      tier: "free",
      status: "canceled",
      cancelScheduled: false,
      grace: false,
      // Nothing paid: no paid window, no paid invoice; the trial's allowance was the only grant.
      invoices: ["paid"],
      subscriptions: 1,
      windows: [],
      trialGrants: 1,
      notified: { trial_ending: 1 },
    },
  };
}

/** "second trial refused": Checkout with `trial: true` again throws TRIAL_ALREADY_USED, for either plan. */
function secondTrialRefused(s: Story): Step {
  return {
    name: "second trial refused",
    run: async () => {
      const lines: string[] = [];
      for (const tier of ["starter", "pro"] as const) {
        try {
          await startCheckout(s, { tier, interval: "month", trial: true });
        } catch (error) {
          const code = error instanceof ConvexError ? (error.data as { code?: string }).code : undefined;
          if (code !== "TRIAL_ALREADY_USED") throw error;
          lines.push(`createCheckoutSession(${tier}, trial) → ${code}`);
          continue;
        }
        throw new Error(`a second ${tier} trial was not refused`);
      }
      return lines;
    },
    expect: {
      tier: "free",
      status: "canceled",
      cancelScheduled: false,
      grace: false,
      invoices: ["paid"],
      subscriptions: 1,
      windows: [],
      trialGrants: 1,
      notified: { trial_ending: 1 },
    },
  };
}

/** Tia: a Pro trial with a card that converts. */
export const TRIAL_CONVERTS_STORY: ((s: Story) => Step)[] = [
  signIn,
  trialCheckout("pro"),
  trialStarts("pro", true),
  trialWillEnd("pro", true),
  trialConverts,
];

/** Noel: a card-less Starter trial that ends, then a second trial refused. */
export const TRIAL_ENDS_STORY: ((s: Story) => Step)[] = [
  signIn,
  trialCheckout("starter"),
  trialStarts("starter", false),
  trialWillEnd("starter", false),
  trialEndsWithoutCard,
  secondTrialRefused,
];
