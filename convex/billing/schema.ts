import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import {
  vAutoRechargeStatus,
  vComplexity,
  vDraw,
  vDunningStage,
  vGrantCategory,
  vGrantStatus,
  vHoldStatus,
  vInterval,
  vInvoiceLine,
  vInvoiceStatus,
  vLedgerReason,
  vPlanRef,
  vSubscriptionStatus,
  vTier,
  vWebhookEventStatus,
} from "./model/validators";

/**
 * The billing component's tables. The app's own tables (users) are in
 * `convex/schema.ts`.
 *
 * Units: Convex times are milliseconds since the epoch (fields ending in `At`,
 * `Start`, `End`); Stripe's own `created` times are kept in seconds and say so
 * (`stripeCreated`, `eventCreated`). Money is integer minor units. Tokens are
 * integers.
 */
export default defineSchema({
  // What owns a Stripe customer, a plan and a token balance, named by the
  // app's `ownerKey`. Written by `accounts.ensure` (creation, profile), the
  // Stripe event handlers (customer link, tier) and the dunning cron (grace
  // expiry). Read by every billing function.
  billingAccounts: defineTable({
    kind: v.union(v.literal("personal"), v.literal("organization")),
    /**
     * The app's name for the owner, unique: this app uses `user:<users id>`
     * for a personal account (`org:<Clerk org id>` reserved for
     * organisations). Opaque to the component.
     */
    ownerKey: v.string(),
    /** Stripe customer id (`cus_…`), set once Checkout creates or links it. */
    stripeCustomerId: v.optional(v.string()),
    /** True after `customer.deleted`. */
    stripeCustomerDeleted: v.optional(v.boolean()),
    /** The subscription that currently decides the tier (`sub_…`). */
    stripeSubscriptionId: v.optional(v.string()),
    /** The tier the account has access to now (after the access policy). */
    tier: vTier,
    /** Staff override: when set, the account has this tier whatever Stripe says. */
    tierOverride: v.optional(vTier),
    /**
     * When the staff override lapses (ms), set with it by the console's comp
     * (`console.compTier`); a scheduled `console.lapseComp` clears both at
     * that time, and readers ignore an override past it meanwhile.
     */
    tierOverrideUntil: v.optional(v.number()),
    /**
     * While an override is set: the tier the account would have without it
     * (what Stripe and payments grant), kept by `settleAccount` so a reader
     * past `tierOverrideUntil` falls back to it before the lapse runs.
     */
    tierWithoutOverride: v.optional(vTier),
    /**
     * The plan the subscription and payments grant (`min(paid cap, the
     * subscription's tier)`), before any dunning suspension or staff
     * override; absent = `free`. Written by `settleAccount`, which compares
     * it to tell a plan change (`plan_changed` notification,
     * `model/planNotices.ts`) from a suspension or an override.
     */
    planTier: v.optional(vTier),
    /** When a `past_due` subscription stops granting its tier (ms). */
    graceEndsAt: v.optional(v.number()),
    /**
     * Dunning (`model/dunning.ts`, docs/DUNNING.md): the due date (ms) of the
     * account's oldest unpaid subscription invoice that Stripe failed to
     * collect (its `due_date`, else its first failed attempt). Absent when
     * nothing is overdue. Overdue days = floor((now − overdueSince) / day).
     * Written by the invoice handlers and the dunning cron; read by the
     * banner, the console and the access policy.
     */
    overdueSince: v.optional(v.number()),
    /**
     * Where the account is on the dunning timeline: `overdue` (reminders
     * only), `suspended` (paid features off, tokens frozen), `restricted`
     * (members reach only billing). Absent when nothing is overdue.
     */
    dunningStage: v.optional(vDunningStage),
    /** The last timeline step fired in this episode (a `BILLING_CONFIG.dunning.steps` id). */
    dunningStep: v.optional(v.string()),
    /** The episode: the Stripe invoice id (`in_…`) that was oldest unpaid when it began. */
    dunningEpisode: v.optional(v.string()),
    /** When the next timeline step is due (ms); absent when none is left. The cron reads `by_dunningNextAt`. */
    dunningNextAt: v.optional(v.number()),
    /**
     * The Stripe customer's `balance` in minor units of `balanceCurrency`,
     * Stripe's sign: negative is credit the customer holds (e.g. from a
     * proration), applied to their next invoices. From `customer.*` events.
     */
    customerBalance: v.optional(v.number()),
    balanceCurrency: v.optional(v.string()),
    /**
     * The currency Stripe bills this customer in (lower case, e.g. `eur`):
     * the Stripe customer's `currency`, which Stripe fixes once the customer
     * is billed, from `customer.*` events. Absent until Stripe reports one;
     * `model/currency.ts` also reads it off the account's invoices.
     */
    currency: v.optional(v.string()),
    /**
     * True while overage can be billed: the current subscription is `active`
     * and carries the metered overage item (`subscriptions.overageItemId`),
     * and no staff override decides the tier. Set by `settleAccount`; read
     * by every debit, which allows overage only then. Absent = false.
     */
    overageBillable: v.optional(v.literal(true)),
    /**
     * When the account's first trial started (ms; the subscription's
     * `trial_start`): one trial per account and per Stripe customer
     * (`model/trials.ts`). Set by the subscription handler the first time a
     * subscription with a trial is seen, or by Checkout when Stripe's history
     * of the customer shows one; read by Checkout and the pricing page.
     */
    trialUsedAt: v.optional(v.number()),
    email: v.optional(v.string()),
    name: v.optional(v.string()),
  })
    .index("by_ownerKey", ["ownerKey"])
    .index("by_stripeCustomerId", ["stripeCustomerId"])
    .index("by_tier", ["tier"])
    // The operator console's search (`model/console.ts`): exact email, name prefix.
    .index("by_email", ["email"])
    .index("by_name", ["name"])
    .index("by_overdueSince", ["overdueSince"])
    .index("by_dunningNextAt", ["dunningNextAt"]),

  // Mirror of Stripe subscriptions. Written only by the Stripe event handlers.
  // Read by `accounts.subscription` and the access policy.
  subscriptions: defineTable({
    stripeSubscriptionId: v.string(),
    stripeCustomerId: v.string(),
    accountId: v.id("billingAccounts"),
    status: vSubscriptionStatus,
    stripePriceId: v.optional(v.string()),
    /** The plan item (`si_…`), which in-app plan changes update. */
    stripeSubscriptionItemId: v.optional(v.string()),
    /** Legacy, no longer written: the price's lookup key is in `stripePrices`. */
    lookupKey: v.optional(v.string()),
    /**
     * The metered overage item (`si_…`) and its price (`price_…`): the
     * subscription item whose price is `OVERAGE_METER.price` (by lookup key)
     * or any `usage_type: "metered"` price. Present only while the
     * subscription carries one; overage is allowed only then
     * (`docs/CREDITS.md`, "Overage billed through Stripe").
     */
    overageItemId: v.optional(v.string()),
    overagePriceId: v.optional(v.string()),
    /** Tier of the price's lookup key; `free` if the price is not in the catalogue. */
    tier: vTier,
    interval: v.optional(vInterval),
    quantity: v.number(),
    currentPeriodStart: v.optional(v.number()),
    currentPeriodEnd: v.optional(v.number()),
    cancelAtPeriodEnd: v.boolean(),
    cancelAt: v.optional(v.number()),
    canceledAt: v.optional(v.number()),
    endedAt: v.optional(v.number()),
    trialStart: v.optional(v.number()),
    trialEnd: v.optional(v.number()),
    /** Stripe's `start_date` (ms): never moves, so it anchors the allowance windows. */
    startDate: v.optional(v.number()),
    /** Stripe `created` (seconds) of the event last applied; orders updates. */
    eventCreated: v.number(),
    /**
     * The status the last applied event moved from (its
     * `data.previous_attributes.status`), if it changed the status. Orders
     * events stamped with the same second.
     */
    statusBefore: v.optional(vSubscriptionStatus),
    /** When the subscription first became `past_due` in this spell (ms). */
    pastDueSince: v.optional(v.number()),
    /**
     * A change Stripe holds until its invoice is paid (`pending_update`, from
     * `payment_behavior: "pending_if_incomplete"`); the plan above is still
     * the old one. `expiresAt` ms.
     */
    pendingUpdate: v.optional(v.object({ ...vPlanRef.fields, expiresAt: v.number() })),
    /**
     * The invoice of that pending change (`latest_invoice` while
     * `pending_update` is set, any kind of change: plan, seats, trial end).
     * Written by `syncSubscription`; read by `syncInvoice` to mark the
     * invoice `pendingUpdate` (not a dunning matter, docs/DUNNING.md).
     */
    pendingUpdateInvoiceId: v.optional(v.string()),
    /** The Subscription Schedule attached to it (`sub_sched_…`), if any. */
    scheduleId: v.optional(v.string()),
    /** The plan the schedule switches to, and when (ms): a downgrade at period end. */
    scheduledChange: v.optional(v.object({ ...vPlanRef.fields, effectiveAt: v.number() })),
    /** Stripe `created` (seconds) of the schedule event last applied; orders schedule updates. */
    scheduleEventCreated: v.optional(v.number()),
    /** The test clock the customer lives on (`clock_…`), test mode only. */
    testClockId: v.optional(v.string()),
    /**
     * Whether Stripe can charge it without the customer: the subscription's
     * `default_payment_method` or `default_source` is set. Absent on rows
     * mirrored before it was kept. Read by the "Add a card" prompt of a trial.
     */
    hasPaymentMethod: v.optional(v.boolean()),
  })
    .index("by_stripeSubscriptionId", ["stripeSubscriptionId"])
    .index("by_accountId", ["accountId"])
    // The operator console's status filter.
    .index("by_status", ["status"])
    .index("by_testClockId", ["testClockId"]),

  // Mirror of Stripe invoices. Written only by the Stripe event handlers.
  // Read by `accounts.invoices`.
  invoices: defineTable({
    stripeInvoiceId: v.string(),
    /** Legacy, no longer written: the customer is the account's (`accountId`). */
    stripeCustomerId: v.optional(v.string()),
    accountId: v.id("billingAccounts"),
    stripeSubscriptionId: v.optional(v.string()),
    number: v.optional(v.string()),
    status: vInvoiceStatus,
    billingReason: v.optional(v.string()),
    /** Minor units of `currency`. */
    amountDue: v.number(),
    amountPaid: v.number(),
    amountRemaining: v.number(),
    currency: v.string(),
    periodStart: v.optional(v.number()),
    periodEnd: v.optional(v.number()),
    hostedInvoiceUrl: v.optional(v.string()),
    invoicePdf: v.optional(v.string()),
    /** Sum of the lines after discounts and tax; negative for a credit invoice. */
    total: v.optional(v.number()),
    /**
     * Stripe's `subtotal`: before invoice-level discounts and exclusive tax.
     * Stored only when it differs from `total` (a discount or tax applied);
     * absent means equal to `total`.
     */
    subtotal: v.optional(v.number()),
    /** Sum of `total_discount_amounts[].amount` (≥ 0); absent when 0. */
    discount: v.optional(v.number()),
    /**
     * Sum of the exclusive `total_taxes[].amount` (added on top of the
     * subtotal, ≥ 0); absent when 0. So `subtotal − discount + tax = total`.
     */
    tax: v.optional(v.number()),
    /** Sum of the inclusive `total_taxes[].amount` (already inside the subtotal); absent when 0. */
    taxIncluded: v.optional(v.number()),
    /**
     * Customer balance before and after this invoice (Stripe's sign: negative
     * = credit). Stored only when the invoice moved it; absent means no credit
     * was applied or added.
     */
    startingBalance: v.optional(v.number()),
    endingBalance: v.optional(v.number()),
    /** What the invoice is for, e.g. "100 tokens" for a top-up receipt. */
    description: v.optional(v.string()),
    /**
     * The invoice's lines as Stripe lists them (first page, up to 20):
     * description, quantity (absent when Stripe gives none), amount in minor
     * units of `currency` before discounts and tax, and `usage: true` for a
     * metered (usage) line. Absent on rows mirrored before lines were kept.
     */
    lines: v.optional(v.array(vInvoiceLine)),
    /** A token-pack receipt (Checkout `invoice_creation`, `metadata.kind: "top_up"`). */
    topUp: v.optional(v.boolean()),
    /** Set by `invoice.payment_action_required` (3-D Secure); cleared once paid. */
    actionRequired: v.optional(v.boolean()),
    /** Stripe's `due_date` in ms (`send_invoice` invoices); absent for `charge_automatically`. */
    dueAt: v.optional(v.number()),
    /**
     * When Stripe first failed to collect this invoice (ms, the earliest
     * `invoice.payment_failed` / `payment_action_required` event's
     * `created`). Sticky: a later snapshot never clears it. Read by dunning.
     */
    paymentFailedAt: v.optional(v.number()),
    /**
     * The invoice of a subscription's pending update (a plan change, seat
     * increase or trial end made with `pending_if_incomplete`): unpaid, it
     * leaves the plan as it was and is never overdue (no dunning,
     * docs/DUNNING.md). Sticky. Written by `syncInvoice` (from the
     * subscription mirror's `pendingUpdateInvoiceId`) and
     * `markPendingUpdateInvoice` (`customer.subscription.*` events); read by
     * dunning.
     */
    pendingUpdate: v.optional(v.boolean()),
    /** Stripe's `created` converted to ms. */
    createdAt: v.number(),
    eventCreated: v.number(),
  })
    .index("by_stripeInvoiceId", ["stripeInvoiceId"])
    .index("by_accountId_and_createdAt", ["accountId", "createdAt"])
    .index("by_accountId_and_status", ["accountId", "status"]),

  // One row per account: the O(1) token balance and this period's counters.
  // Written only through the ledger helpers in `model/ledger.ts`. Read by
  // `tokens.balance` / `check` and every debit.
  tokenBalances: defineTable({
    accountId: v.id("billingAccounts"),
    /** Allowance granted for the current period (its plan-allowance grant, after plan changes and corrections). */
    allowance: v.number(),
    /**
     * Tokens from grants other than the plan allowance (purchased, promotional,
     * admin, rollover): what was left of them when the period started, plus
     * those granted since, less what expired or was removed since.
     */
    purchased: v.number(),
    /** Tokens consumed this period, from any grant (settled holds count what they charged). */
    used: v.number(),
    /** Tokens reserved by open holds; absent on rows written before holds (0). */
    held: v.optional(v.number()),
    /**
     * Tokens used this period beyond the balance under an overage policy
     * (billed as overage, never repaid from later grants); reset when a
     * period starts. Absent = 0.
     */
    overage: v.optional(v.number()),
    /** Overage tokens reserved by open holds. Absent = 0. */
    overageHeld: v.optional(v.number()),
    /**
     * Spendable tokens: allowance + purchased − used − held. Equals the sum
     * of the account's ledger and the sum of its active grants' `remaining`.
     */
    balance: v.number(),
    /** The current period's plan-allowance grant. */
    allowanceGrantId: v.optional(v.id("tokenGrants")),
    /**
     * 1 once the account's tokens live in `tokenGrants`; absent on rows
     * written before grants, which `ensureBalance` converts on first write.
     */
    grantsVersion: v.optional(v.literal(1)),
    /**
     * The window the allowance belongs to: `free:2026-11` (free and override
     * accounts, UTC months) or `window:<start ms>` (subscribers, monthly
     * windows on `windowAnchor`).
     */
    periodKey: v.optional(v.string()),
    periodStart: v.optional(v.number()),
    periodEnd: v.optional(v.number()),
    /**
     * A subscriber's allowance windows are monthly from this instant (ms): its
     * day of month and time of day (clamped to short months). Set by the
     * first paid window; kept across plan and interval changes.
     */
    windowAnchor: v.optional(v.number()),
    /** Tier whose allowance the current window carries. */
    windowTier: v.optional(vTier),
    /** Paid seats the current window's allowance is for (`seatAllowance`); absent = 1. */
    windowSeats: v.optional(v.number()),
    /**
     * Auto-recharge is on and fires when a debit leaves the balance below
     * this many tokens (a copy of `autoRechargeSettings.thresholdTokens`, so
     * a debit reads nothing more unless it crosses). Absent when off.
     */
    autoRechargeBelow: v.optional(v.number()),
    /**
     * The overage reporter is already scheduled to run by then (ms): a debit
     * that records overage schedules it only when this is absent or past,
     * so a burst of debits schedules one run. Written in the debit's own
     * balance patch (`model/metering.ts`).
     */
    meterReportAt: v.optional(v.number()),
  })
    .index("by_accountId", ["accountId"])
    .index("by_periodEnd", ["periodEnd"]),

  // Overage to report to Stripe's Billing Meter, one row per ledger row that
  // recorded overage (a consume or a settled hold), inserted in that debit's
  // transaction by `model/metering.ts`. The meter event's `identifier` is the
  // ledger row id, so Stripe bills it once however often it is sent. Sent and
  // marked by the reporter (`metering.report`, scheduled by the debit and by
  // a cron); read by it (pending and due) and by reconciliation.
  meterReports: defineTable({
    accountId: v.id("billingAccounts"),
    /** The ledger row: the meter event `identifier`. */
    ledgerId: v.id("tokenLedger"),
    /** Overage tokens: the meter event `payload.value`. */
    tokens: v.number(),
    /** When the tokens were used (ms): the meter event `timestamp` (in seconds). */
    usedAt: v.number(),
    /**
     * `pending` until Stripe accepts it (or says it already has that
     * identifier): `sent`. `unbillable` once Stripe can no longer take it
     * (older than the meter's 35-day window, or the account has no
     * customer); reconciliation reports those to staff.
     */
    status: v.union(v.literal("pending"), v.literal("sent"), v.literal("unbillable")),
    /** Pending: not before this time (ms); backs off after failures. */
    nextAttemptAt: v.number(),
    attempts: v.optional(v.number()),
    lastError: v.optional(v.string()),
    /** When Stripe accepted it (ms). */
    sentAt: v.optional(v.number()),
  })
    .index("by_status_and_nextAttemptAt", ["status", "nextAttemptAt"])
    .index("by_accountId_and_usedAt", ["accountId", "usedAt"]),

  // One row per account and allowance period that ended with overage: what
  // the ledger recorded, checked against Stripe's meter event summary for the
  // same time range once the invoice is due. Inserted by `ledger.startPeriod`
  // when a period with overage closes; reconciled by the
  // `metering.reconcile` cron; read by staff (`metering.reconciliation`).
  meterPeriods: defineTable({
    accountId: v.id("billingAccounts"),
    periodKey: v.string(),
    /** The period's time range (ms), as the meter events' timestamps fall. */
    periodStart: v.number(),
    periodEnd: v.number(),
    /**
     * Overage tokens the ledger recorded: the balance's counter when the
     * period closed, then, once reconciled, the reports used in its range.
     */
    tokens: v.number(),
    /**
     * `open` until reconciled: `matched` when Stripe's summary equals
     * `tokens`, `mismatch` otherwise (`stripeTokens` says what Stripe has).
     */
    status: v.union(v.literal("open"), v.literal("matched"), v.literal("mismatch")),
    /** Reconcile at or after this time (ms): the period end plus Stripe's invoice grace. */
    reconcileAfter: v.number(),
    stripeTokens: v.optional(v.number()),
    /** Of `tokens`, those Stripe could no longer take (`meterReports` `unbillable`). */
    unbillableTokens: v.optional(v.number()),
    reconciledAt: v.optional(v.number()),
    attempts: v.optional(v.number()),
    lastError: v.optional(v.string()),
  })
    .index("by_status_and_reconcileAfter", ["status", "reconcileAfter"])
    .index("by_accountId_and_periodKey", ["accountId", "periodKey"]),

  // An account's auto-recharge choice: buy `packId` off-session with the
  // saved card when a debit leaves the balance below `thresholdTokens`, at
  // most `monthlyCap` (minor units) a UTC month. Written by
  // `autoRecharge.configure` (the customer) and `model/autoRecharge.ts`
  // (attempts starting and finishing). Read by those and `autoRecharge.get`.
  autoRechargeSettings: defineTable({
    accountId: v.id("billingAccounts"),
    enabled: v.boolean(),
    thresholdTokens: v.number(),
    packId: v.string(),
    /** Most charged per UTC month, minor units of `currency`. */
    monthlyCap: v.number(),
    currency: v.string(),
    /** The UTC month `monthSpent` counts (`YYYY-MM`). */
    monthKey: v.string(),
    /** Charged or being charged in `monthKey`, minor units (succeeded and in-flight attempts). */
    monthSpent: v.number(),
    /** Failed attempts since the last success; at `BILLING_CONFIG.autoRecharge.maxConsecutiveFailures` it turns itself off. */
    consecutiveFailures: v.number(),
    /** Set when it turned itself off. */
    disabledReason: v.optional(v.literal("failures")),
    /** The attempt still being charged; no other starts meanwhile. */
    inFlightAttemptId: v.optional(v.id("autoRechargeAttempts")),
  }).index("by_accountId", ["accountId"]),

  // One off-session purchase per trigger. Inserted in the transaction of the
  // debit that crossed the threshold; finished by `autoRecharge.recordResult`
  // (the charging action) or the `payment_intent.succeeded` webhook; stale
  // pending ones are driven again by the `autoRecharge.redriveStale` cron.
  // Read by `autoRecharge.get` and operators.
  autoRechargeAttempts: defineTable({
    accountId: v.id("billingAccounts"),
    /** The ledger key of the debit that triggered it. */
    triggerKey: v.string(),
    packId: v.string(),
    tokens: v.number(),
    /** Minor units of `currency`: the pack's price (Stripe's, once charged). */
    amount: v.number(),
    currency: v.string(),
    status: vAutoRechargeStatus,
    /** Charging runs started (the action and the cron's re-drives). */
    tries: v.number(),
    stripePaymentIntentId: v.optional(v.string()),
    /** Stripe's error code (`card_declined`, `authentication_required`) or ours (`no_payment_method`). */
    failureCode: v.optional(v.string()),
    /** What the customer reads. */
    failureMessage: v.optional(v.string()),
    /** 3-D Secure: where the customer completes the purchase on-session (a Checkout Session for the pack). */
    actionUrl: v.optional(v.string()),
    /** When it finished (ms). */
    settledAt: v.optional(v.number()),
  })
    .index("by_accountId", ["accountId"])
    .index("by_status", ["status"]),

  // One row per subscription that started a free trial: who started it
  // (`personKey`, the app's stable id of the person, from the subscription's
  // `metadata.trial_started_by`) and on which account. Written by the
  // subscription handler (`model/trials.ts` `recordTrialUse`, idempotent per
  // subscription); read by trial Checkout (one trial per person), the pricing
  // page's `trialUsed` and the webhook's "is this a later trial" rule.
  trialUses: defineTable({
    stripeSubscriptionId: v.string(),
    accountId: v.id("billingAccounts"),
    /** Absent when the subscription carries no `trial_started_by` (trials started before it was stamped). */
    personKey: v.optional(v.string()),
    /** The subscription's `trial_start`, ms. */
    trialStart: v.number(),
  })
    .index("by_stripeSubscriptionId", ["stripeSubscriptionId"])
    .index("by_personKey_and_trialStart", ["personKey", "trialStart"])
    .index("by_accountId_and_trialStart", ["accountId", "trialStart"]),

  // What has been paid for, from paid invoices: one row per invoice line of a
  // catalogue price. A charge (sign +1) covers its line's period; a proration
  // credit (sign −1) takes that price's coverage back from the change onwards.
  // Written only by the `invoice.paid` handler (once per invoice); read by the
  // access policy (the tier can't exceed what was paid) and the allowance
  // windows (`model/allowance.ts`).
  paidCoverage: defineTable({
    accountId: v.id("billingAccounts"),
    stripeInvoiceId: v.string(),
    /** Legacy, no longer written: the invoice (`stripeInvoiceId`) names its subscription. */
    stripeSubscriptionId: v.optional(v.string()),
    stripePriceId: v.string(),
    tier: vTier,
    /** +1 for a charge, −1 for a credit (unused time given back). */
    sign: v.union(v.literal(1), v.literal(-1)),
    /** The line's quantity (seats of a per-seat plan); absent = 1. */
    quantity: v.optional(v.number()),
    /** The line's period, ms. */
    start: v.number(),
    end: v.number(),
    /**
     * A trial line (amount 0 on a catalogue price): it grants the plan's
     * tier during the trial and the trial allowance (`model/trials.ts`),
     * never the paid allowance, and no grace after it ends.
     */
    trial: v.optional(v.literal(true)),
  })
    .index("by_accountId_and_end", ["accountId", "end"])
    .index("by_stripeInvoiceId", ["stripeInvoiceId"]),

  // Test clocks' frozen time (test mode), from `test_helpers.test_clock.*`
  // events; a subscription on a clock lives at that time. Written by the
  // event handler; read when rolling allowance windows.
  stripeTestClocks: defineTable({
    clockId: v.string(),
    /** ms */
    frozenTime: v.number(),
  }).index("by_clockId", ["clockId"]),

  // Every credit as a grant: where tokens came from, what is left of them and
  // when they expire. Written only by `model/grants.ts` (through the ledger
  // helpers). Read by every debit, in the fixed draw order of the index
  // below (only `active` grants, so expired and spent grants never slow a
  // debit), by the expiry sweep (`by_lapsesAt`) and by the usage views.
  tokenGrants: defineTable({
    accountId: v.id("billingAccounts"),
    category: vGrantCategory,
    /** Tokens granted (a plan allowance moves with plan changes). */
    amount: v.number(),
    /** Tokens not yet drawn; 0 once depleted or expired. */
    remaining: v.number(),
    status: vGrantStatus,
    /** When it was granted (ms). */
    startsAt: v.number(),
    /** When it expires (ms); absent = never. A plan allowance's is its period end. */
    expiresAt: v.optional(v.number()),
    /**
     * When the expiry sweep expires it (ms): `expiresAt` for every category
     * but the plan allowance, which the next period's grant replaces instead
     * (`ledger.startPeriod`). Cleared once expired, so the sweep's index
     * holds only grants still to expire.
     */
    lapsesAt: v.optional(v.number()),
    /** Draw order, first key: lower is drawn first (`DEFAULT_GRANT_PRIORITY`). */
    priority: v.number(),
    /** Draw order, second key: `expiresAt`, or `NEVER_EXPIRES` when it never does. */
    drawExpiresAt: v.number(),
    /** Draw order, third key: 0 for free tokens (promotional, admin), 1 for paid ones. */
    drawClass: v.union(v.literal(0), v.literal(1)),
    /** The ledger key of the movement that created it. */
    sourceKey: v.string(),
    note: v.optional(v.string()),
    /** A purchased pack: the PaymentIntent that paid for it (`pi_…`), so refunds and disputes find it. */
    stripePaymentIntentId: v.optional(v.string()),
    /** Tokens refunds and lost disputes have taken back so far (from the pack, or from the balance when spent). */
    clawedBack: v.optional(v.number()),
    /** Spent tokens a refund could not take back (the balance was empty; block overage policy). */
    unrecovered: v.optional(v.number()),
    /** While `status` is `frozen`: the unspent tokens held back by the dispute. */
    frozen: v.optional(v.number()),
    /** The latest dispute on its payment (`dp_…`) and Stripe's status for it. */
    disputeId: v.optional(v.string()),
    disputeStatus: v.optional(v.string()),
  })
    .index("by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass", [
      "accountId",
      "status",
      "priority",
      "drawExpiresAt",
      "drawClass",
    ])
    .index("by_lapsesAt", ["lapsesAt"])
    .index("by_stripePaymentIntentId", ["stripePaymentIntentId"]),

  // Tokens reserved for a job: `tokens.reserve` opens one, `settle`,
  // `release` and the hold cron close it. Written only by `model/holds.ts`.
  // Read by those and `tokens.holds`.
  tokenHolds: defineTable({
    accountId: v.id("billingAccounts"),
    /** The ledger key of the reserve (`hold:<idempotencyKey>`), unique per account. */
    sourceKey: v.string(),
    feature: v.string(),
    complexity: v.optional(vComplexity),
    /** Tokens reserved. */
    amount: v.number(),
    /** The part of `amount` reserved as overage (beyond the balance, within the plan's cap). Absent = 0. */
    overage: v.optional(v.number()),
    /** The grants the reserve drew on, in draw order; returns go back to them. */
    drawnFrom: v.array(vDraw),
    status: vHoldStatus,
    /** When the hold cron releases it if still open (ms). */
    expiresAt: v.number(),
    /** Settled: tokens charged (may exceed `amount`, see `holds.settle`). */
    charged: v.optional(v.number()),
    /** Settled: of `charged`, tokens recorded as overage. */
    chargedOverage: v.optional(v.number()),
    /** Settled: tokens the job used that neither the balance nor the overage room could cover (not charged). */
    shortfall: v.optional(v.number()),
    /** When it was settled, released or expired (ms). */
    closedAt: v.optional(v.number()),
    /** The organisation member who reserved it (`user:<id>`), whose per-member usage it counts in (`model/memberUsage.ts`). */
    memberKey: v.optional(v.string()),
    /** The allowance period (`tokenBalances.periodKey`) whose per-member `held` the reservation was counted in. */
    memberPeriodKey: v.optional(v.string()),
  })
    .index("by_accountId_and_sourceKey", ["accountId", "sourceKey"])
    .index("by_status_and_expiresAt", ["status", "expiresAt"])
    // The operator console's open holds of an account.
    .index("by_accountId_and_status", ["accountId", "status"]),

  // Tokens each organisation member used and holds reserved, per account and
  // allowance period: what the "Usage by member" table reads instead of the
  // ledger. Written by `model/memberUsage.ts` in the same transaction as each
  // consume, reserve, settle and release that names a member (`model/ledger.ts`,
  // `model/holds.ts`); read by `memberUsage.list` / `memberUsage.mine` and by
  // the per-member cap check on every member debit.
  tokenUsageByMember: defineTable({
    accountId: v.id("billingAccounts"),
    /** The balance row's `periodKey` (`none` before any period). */
    periodKey: v.string(),
    /** That period's start (ms; 0 before any period): orders periods to find the previous one. */
    periodStart: v.number(),
    /** `user:<users id>` of the member (the app's owner key of their personal account). */
    memberKey: v.string(),
    /** Tokens charged to the member this period (consumes and settled holds, overage included). */
    used: v.number(),
    /** Tokens the member's open holds reserved in this period. */
    held: v.number(),
  })
    .index("by_accountId_and_periodKey_and_memberKey", ["accountId", "periodKey", "memberKey"])
    .index("by_accountId_and_periodStart", ["accountId", "periodStart"]),

  // Per-member token caps within an organisation's balance: at most
  // `capTokens` used plus reserved per allowance period. Written by
  // `memberUsage.setCap` (an org admin, audited); read by every member debit
  // (`model/memberUsage.ts`) and the usage-by-member table.
  memberTokenCaps: defineTable({
    accountId: v.id("billingAccounts"),
    /** `user:<users id>` of the member. */
    memberKey: v.string(),
    /** Most tokens the member may use and reserve per period (integer ≥ 0). */
    capTokens: v.number(),
    /** Who set it (the admin's `user:<id>`) and when (ms). */
    setBy: v.string(),
    setAt: v.number(),
  }).index("by_accountId_and_memberKey", ["accountId", "memberKey"]),

  // Tokens consumed per account, UTC day and feature: what the usage chart
  // reads instead of the ledger. Written by `model/usage.ts` in the same
  // transaction as each consume and settled hold; read by `tokens.usage`.
  tokenUsageDaily: defineTable({
    accountId: v.id("billingAccounts"),
    /** UTC day, `YYYY-MM-DD`. */
    day: v.string(),
    feature: v.string(),
    /** Tokens charged that day for the feature. */
    tokens: v.number(),
    /** Runs charged (consumes and settled holds). */
    runs: v.number(),
  }).index("by_accountId_and_day_and_feature", ["accountId", "day", "feature"]),

  // Token alerts fired: one row per account, allowance period and alert
  // (`BILLING_CONFIG.tokenAlerts`), so each fires once per period. Written
  // by `model/alerts.ts` in the debit's transaction; read by `tokens.alerts`
  // (the app's in-app alert, and the hook the notification centre and
  // emails build on); `readAt` set by `tokens.markAlertsRead`.
  tokenAlerts: defineTable({
    accountId: v.id("billingAccounts"),
    /** The balance row's `periodKey` when it fired (`none` before any period). */
    periodKey: v.string(),
    /** `BILLING_CONFIG.tokenAlerts[].id`, e.g. `allowance_80`. */
    alertId: v.string(),
    /** What the customer reads, e.g. "You've used 80% of this month's 150 tokens." */
    message: v.string(),
    /** Spendable tokens right after the debit that fired it. */
    balance: v.number(),
    /** A link the customer must follow (auto-recharge needing 3-D Secure). */
    actionUrl: v.optional(v.string()),
    readAt: v.optional(v.number()),
  })
    .index("by_accountId_and_periodKey_and_alertId", ["accountId", "periodKey", "alertId"])
    .index("by_accountId_and_readAt", ["accountId", "readAt"]),

  // Accounts the daily audit (`tokens.auditBalances`) found inconsistent:
  // one row per account per run. Written only by that cron; read by
  // operators (`tokens.drift`).
  tokenDrift: defineTable({
    accountId: v.id("billingAccounts"),
    /** When the audit ran (ms). */
    detectedAt: v.number(),
    problems: v.array(v.string()),
  }).index("by_detectedAt", ["detectedAt"]),

  // Every token movement. Appended only by `model/ledger.ts`. Read by
  // `tokens.history` and the invariant check.
  tokenLedger: defineTable({
    accountId: v.id("billingAccounts"),
    /** Signed integer: grants positive, debits negative. */
    amount: v.number(),
    reason: vLedgerReason,
    /** Idempotency key: invoice id, period key or the client's key. Unique per account. */
    sourceKey: v.string(),
    balanceAfter: v.number(),
    feature: v.optional(v.string()),
    complexity: v.optional(vComplexity),
    note: v.optional(v.string()),
    /** A grant's row: the grant it created (or expired). */
    grantId: v.optional(v.id("tokenGrants")),
    /** A debit's row: the grants it drew on, in draw order (a return: the grants credited). */
    drawnFrom: v.optional(v.array(vDraw)),
    /**
     * Tokens of this debit used beyond the balance under the plan's overage
     * policy: not in `amount` (the balance never goes below zero), billed as
     * overage; the row's id is the metering key.
     */
    overage: v.optional(v.number()),
    /** A usage row (consume, hold, settle, release) of an organisation: the member (`user:<id>`) it counts for. */
    memberKey: v.optional(v.string()),
  })
    // History is read newest-first by `_creationTime`; idempotency looks up by key.
    // eslint-disable-next-line @convex-dev/no-duplicate-indexes
    .index("by_accountId", ["accountId"])
    .index("by_accountId_and_sourceKey", ["accountId", "sourceKey"]),

  // One row per verified Stripe event, by id: what happened to it. Inserted
  // by `webhooks.receive` (recorded and applied in one transaction), by
  // `webhooks.recordForRetry` when applying threw, and by reconciliation;
  // patched by the retry path (`webhooks.process`), wake-ups, the sweep and
  // operators. Small on purpose: the raw payload lives in `webhookPayloads`,
  // so status changes never rewrite it, and operator lists, the sweep and
  // reconciliation read only these rows. Read by id on every delivery (the
  // redelivery check). A row settled on receipt is the smallest: id, type,
  // status, `eventCreated` (and `lastError` / `livemode` when set), its
  // `_creationTime` the receipt time; operator lists fill the rest in
  // (`toEventSummary`).
  webhookEvents: defineTable({
    /** Stripe event id (`evt_…`), unique. */
    eventId: v.string(),
    type: v.string(),
    /** Stored only when true (a live-mode event); absent means test mode. */
    livemode: v.optional(v.boolean()),
    /** Stripe `created`, seconds. */
    eventCreated: v.number(),
    /**
     * Legacy: rows recorded before payloads moved to `webhookPayloads` carry
     * their raw JSON and API version here. Read as a fallback by the retry
     * path; never written.
     */
    payload: v.optional(v.string()),
    apiVersion: v.optional(v.string()),
    /**
     * Stripe customer the event concerns, when it has one. Kept only on rows
     * that may still run or wait (the customer's wake-ups read it); an event
     * applied or ignored on receipt stores none.
     */
    stripeCustomerId: v.optional(v.string()),
    status: vWebhookEventStatus,
    /**
     * Runs that applied, ignored, refused or threw; a wait counts none.
     * Absent on a row settled on receipt: 1 there (applied or ignored by its
     * handler), or 0 when it was ignored unapplied (`lastError` says why).
     * `attemptsOf` in `model/webhookQueue.ts` reads it.
     */
    attempts: v.optional(v.number()),
    /** When the retry path runs it next (ms): a retry, a lost pending run, or a waiting event's hourly recheck. */
    nextAttemptAt: v.optional(v.number()),
    lastError: v.optional(v.string()),
    /** Set only while `waiting`: what it waits for, e.g. `customer:cus_…`, `subscription:sub_…`, `price:price_…`. */
    waitingFor: v.optional(v.string()),
    /** When it was received (ms); absent on a row settled on receipt, where it is `_creationTime`. */
    receivedAt: v.optional(v.number()),
    /** When it was applied or ignored (ms); absent on a row settled on receipt, where it is its receipt time. */
    processedAt: v.optional(v.number()),
  })
    .index("by_eventId", ["eventId"])
    .index("by_status_and_nextAttemptAt", ["status", "nextAttemptAt"])
    .index("by_stripeCustomerId_and_status", ["stripeCustomerId", "status"])
    .index("by_waitingFor", ["waitingFor"]),

  // The raw, verified JSON of events that were not applied at once (waiting,
  // retrying, dead, or queued by reconciliation): what the retry path applies
  // and an operator inspects. Events applied or ignored on receipt store none.
  // `settledAt` is set when the event is finally applied or ignored; the
  // daily compaction (`webhooks.compactPayloads`) deletes payloads settled
  // more than `BILLING_CONFIG.webhookPayloadRetentionDays` ago, leaving the
  // `webhookEvents` row (id, type, status, times).
  webhookPayloads: defineTable({
    eventId: v.string(),
    payload: v.string(),
    /** The API version Stripe rendered the payload in (the endpoint's pinned one, or the account's default when listed). */
    apiVersion: v.optional(v.string()),
    /** When its event was applied or ignored (ms); unset while it may still run. */
    settledAt: v.optional(v.number()),
  })
    .index("by_eventId", ["eventId"])
    .index("by_settledAt", ["settledAt"]),

  // Append-only record of every change to money, access or credits: who
  // (actor), which account, what (action), before and after, why, when
  // (`_creationTime`). Inserted only by `appendAudit` (model/audit.ts), from
  // plan changes, grants and debits by staff, overrides, dunning steps,
  // refunds and console actions; never patched or deleted. Read by the
  // operator console, per account and globally, newest first.
  auditLog: defineTable({
    accountId: v.optional(v.id("billingAccounts")),
    /** `user` (the account's own admin), `staff`, `stripe` (an event), `cron`, `system`. */
    actorKind: v.union(
      v.literal("user"),
      v.literal("staff"),
      v.literal("stripe"),
      v.literal("cron"),
      v.literal("system"),
    ),
    /** Who exactly: an ownerKey or user id, a staff id, a Stripe event id (`evt_…`), a cron name. */
    actor: v.string(),
    /** Dotted name of the change, e.g. `tokens.grant`, `tier.override`, `dunning.suspended`. */
    action: v.string(),
    /** JSON of the state before / after the change (small: the fields that changed). */
    before: v.optional(v.string()),
    after: v.optional(v.string()),
    /** Required for staff actions; optional otherwise. */
    reason: v.optional(v.string()),
  })
    .index("by_accountId", ["accountId"])
    .index("by_action", ["action"]),

  // In-app notifications, one per (account, dedupeKey): a replayed event or a
  // rerun cron never notifies twice. Inserted only by `notify`
  // (model/notifications.ts); `readAt` patched by the reader. Read live by
  // the bell and the notification centre; email sends hang off the same row.
  notifications: defineTable({
    accountId: v.id("billingAccounts"),
    /** What happened, e.g. `payment_failed`, `action_required`, `dunning_reminder`, `trial_ending`. */
    kind: v.string(),
    /** Unique per account: kind plus the invoice, period or step it is about. */
    dedupeKey: v.string(),
    title: v.string(),
    body: v.string(),
    /** Where to act: a hosted invoice URL or an in-app path. */
    link: v.optional(v.string()),
    /** Critical billing mail always goes; the rest follows preferences. */
    critical: v.boolean(),
    readAt: v.optional(v.number()),
    /**
     * The email's fate, set by `notifications.queueEmail` (scheduled by
     * `notify` on insert): `queued` (handed to the Resend component, `emailId`
     * its id), `muted` (the billing contact turned this kind off),
     * `no_recipient` (the account has no billing email), `disabled` (no
     * `RESEND_API_KEY`). Absent until the scheduled send ran.
     */
    emailStatus: v.optional(v.union(v.literal("queued"), v.literal("muted"), v.literal("no_recipient"), v.literal("disabled"))),
    /** The Resend component's email id (its `emails` table). */
    emailId: v.optional(v.string()),
  })
    .index("by_accountId_and_dedupeKey", ["accountId", "dedupeKey"])
    .index("by_accountId_and_readAt", ["accountId", "readAt"])
    // The operator console and the bell: an account's notifications newest first (by `_creationTime`).
    // eslint-disable-next-line @convex-dev/no-duplicate-indexes
    .index("by_accountId", ["accountId"]),

  // Per-user email preferences on an account: which non-critical kinds not to
  // email (critical billing mail always goes). Written by
  // `notifications.setPreferences` (the app's wrapper passes the caller's
  // user key and email); read by the bell's settings and by
  // `notifications.queueEmail`, which applies the row of the billing contact
  // (the user whose `email` is the account's billing email).
  notificationPreferences: defineTable({
    accountId: v.id("billingAccounts"),
    /** The app's name for the user (`user:<users id>`). */
    userKey: v.string(),
    /** The user's email when they saved (lower case), to find the billing contact's row. */
    email: v.optional(v.string()),
    /** Kinds not to email, e.g. `plan_changed`; critical notifications ignore it. */
    mutedKinds: v.array(v.string()),
  })
    .index("by_accountId_and_userKey", ["accountId", "userKey"])
    .index("by_accountId_and_email", ["accountId", "email"]),

  // One row per reconciliation run (`reconcile.reconcileEvents`): what it
  // found. Inserted only by `reconcile.recordRun` at the end of a run; read
  // by the operator console's queue health (the newest row).
  reconcileRuns: defineTable({
    /** `ok`, or `error` (then `error` says what failed). */
    result: v.union(v.literal("ok"), v.literal("error")),
    error: v.optional(v.string()),
    enqueued: v.number(),
    ignored: v.number(),
    alreadyKnown: v.number(),
    revived: v.number(),
  }),

  // One row per dunning step fired: (account, episode, step) is unique, so a
  // step fires once per overdue episode whatever reruns. Inserted only by
  // `model/dunning.ts` (the cron, `dunning.runForAccount`, the invoice
  // handlers for day 0); read by the same and by the console.
  dunningSteps: defineTable({
    accountId: v.id("billingAccounts"),
    /** `billingAccounts.dunningEpisode` when the step fired (an `in_…` id). */
    episode: v.string(),
    /** A `BILLING_CONFIG.dunning.steps` id, e.g. `day_30_suspended`. */
    step: v.string(),
    /** Overdue days when it fired. */
    overdueDays: v.number(),
    /** A reminder overtaken by a later step due at the same time: recorded, not sent. */
    skipped: v.optional(v.literal(true)),
  }).index("by_accountId_and_episode_and_step", ["accountId", "episode", "step"]),

  // Stripe prices seen by the checkout action (lookup key → price id), so
  // handlers can map a price id back to a tier. Written by the internal
  // mutations `accounts.upsertPrice` and `stripePrices.record`; read by the
  // event handlers.
  stripePrices: defineTable({
    stripePriceId: v.string(),
    lookupKey: v.string(),
    tier: vTier,
    interval: vInterval,
    unitAmount: v.optional(v.number()),
    currency: v.string(),
  })
    .index("by_stripePriceId", ["stripePriceId"])
    .index("by_lookupKey", ["lookupKey"]),
});
