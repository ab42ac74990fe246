/**
 * In-app plan changes on the caller's subscription (Stripe side of
 * `planChanges.previewPlanChange`, `planChanges.changePlan`,
 * `planChanges.cancelScheduledChange`, `planChanges.cancelSubscription`,
 * `planChanges.resumeSubscription`).
 *
 * Units: money in integer minor units of `currency`; times in Convex ms
 * (Stripe's seconds are converted at the edge).
 *
 * Trust: the client names only a tier and an interval. The account comes
 * from the verified identity, the subscription from the database
 * (`accounts.planChangeState`), and is then re-read from Stripe, which must
 * agree that it belongs to the account's customer; prices are resolved by
 * lookup key. Refusals are decided from the database first (no Stripe call),
 * then again from Stripe's fresh copy, since webhooks can lag.
 *
 * Rules:
 * - Refused: no live subscription → `NO_SUBSCRIPTION`; `past_due`, `unpaid`,
 *   `incomplete`, `paused` → `PAYMENT_REQUIRED` (with the open invoice's
 *   `hostedInvoiceUrl`); the same tier and interval → `NOT_A_CHANGE`; a change
 *   held by Stripe for payment (`pending_update`) → `CHANGE_PENDING`; a
 *   cancellation scheduled → `CHANGE_PENDING` ("resume first": changing the
 *   plan of a subscription that is about to end would bill a plan nobody keeps).
 * - Upgrade (applies now, prorated, paid first): a higher tier on the same or
 *   a longer interval; the same tier on a longer interval (month → year); a
 *   higher tier on a shorter interval (Pro yearly → Elite monthly) only when
 *   the new price costs more per month. Stripe then restarts the billing
 *   cycle and credits the unused part of the old period to the customer's
 *   balance, which pays the next invoices. Everything else is a downgrade.
 * - Downgrade (waits for the period end): a lower tier, or the same tier on a
 *   shorter interval, through a Subscription Schedule whose second phase
 *   starts at the current period end (`proration_behavior: "none"`), so the
 *   customer keeps what they paid for until then.
 * - Proration date: preview and change both prorate as of the start of the
 *   current UTC minute (not before the period start). A preview and a change
 *   within the same minute bill exactly the previewed amounts; a change a few
 *   minutes later differs by those minutes' proration (well under a cent a
 *   minute for these prices). The same minute also makes the change's
 *   parameters equal for its idempotency key.
 *
 * Idempotency keys (https://docs.stripe.com/api/idempotent_requests):
 * - upgrade: `plan-change:<accountId>:<subId>:<lookupKey>:<minute>`;
 * - schedule create: `schedule-create:<accountId>:<subId>:<minute>` (if that
 *   replays a schedule already released, `…:after:<oldScheduleId>`);
 * - schedule update: `plan-schedule:<scheduleId>:<price scheduled now or none>:<lookupKey>:<minute>`;
 * - schedule release: `schedule-release:<scheduleId>` (once per schedule);
 * - cancel / resume: `cancel:` / `resume:<accountId>:<subId>:<ms>:<random>`,
 *   one per call. Setting `cancel_at_period_end` is idempotent in itself, and
 *   a time-bucketed key would replay a stale answer after cancel → resume →
 *   cancel within the bucket; the key still covers the SDK's own retries.
 */
import { v, type Infer } from "convex/values";
import Stripe from "stripe";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx, QueryCtx } from "../_generated/server";
import { currentSubscriptionOf } from "./currentSubscription";
import { requireAccount, resolvePrice, timeBucket, type ResolvedPrice } from "./billingActions";
import type { CallerAccount } from "./billingModel";
import { fail } from "./errors";
import { OVERAGE_METER, PLANS, planForLookupKey, tierRank, type Interval, type PaidTier, type Tier } from "./plans";
import { getStripe, stripeRead, stripeWrite } from "./stripeClient";
import { linePriceId } from "./stripeShapes";
import type { CancellationFeedback, SubscriptionStatus } from "./validators";
import { vInterval, vSubscriptionStatus, vTier } from "./validators";

export const vPlanChangePreview = v.object({
  /** `upgrade` applies now (prorated, paid first); `downgrade` waits for the period end. */
  kind: v.union(v.literal("upgrade"), v.literal("downgrade")),
  tier: vTier,
  interval: vInterval,
  currency: v.string(),
  /** Charged now (after credit), minor units; 0 for a downgrade. */
  dueNow: v.number(),
  /** Customer credit balance used towards `dueNow`, minor units (≥ 0). */
  creditApplied: v.number(),
  /** Credit for the unused time on the current plan included in `dueNow`, minor units (≥ 0). */
  prorationCredit: v.number(),
  /**
   * The new plan's lines on this invoice, minor units (≥ 0): the rest of
   * this period on it (a proration line), or a whole new period when the
   * interval changes; either runs to `nextInvoiceAt`. 0 for a downgrade.
   */
  newPlanCharge: v.number(),
  /**
   * Every other line on the invoice, minor units (may be < 0): metered usage
   * billed at the change, pending invoice items. So
   * `dueNow = newPlanCharge − prorationCredit + otherCharges − discount + tax − creditApplied`.
   */
  otherCharges: v.number(),
  /** The next regular invoice's amount, minor units, and when it comes (ms). */
  nextInvoiceAmount: v.number(),
  nextInvoiceAt: v.number(),
  /** When the new plan starts (ms): now for an upgrade, the period end for a downgrade. */
  effectiveAt: v.number(),
  /** Tokens the change adds to this window's allowance once paid (0 for a downgrade). */
  tokensNow: v.number(),
  /** The new plan's monthly allowance. */
  allowanceAfter: v.number(),
  /**
   * Present only when the upgrade invoice carries a discount or tax (never
   * for a downgrade, which bills nothing now); minor units from Stripe's
   * preview: `subtotal` before invoice-level discounts and exclusive tax,
   * `discount` (the subscription's coupons, ≥ 0), `tax` (exclusive, ≥ 0) and
   * `total` = subtotal − discount + tax, before customer credit
   * (`creditApplied`).
   */
  adjustments: v.optional(v.object({ subtotal: v.number(), discount: v.number(), tax: v.number(), total: v.number() })),
});
export type PlanChangePreview = Infer<typeof vPlanChangePreview>;

export const vPlanChangeResult = v.object({
  /**
   * `applied`: paid, the plan flips when Stripe's events arrive;
   * `scheduled`: takes effect at `effectiveAt`;
   * `requires_action`: 3-D Secure — confirm at `hostedInvoiceUrl`, nothing changes until then;
   * `payment_failed`: the card was declined, nothing changed.
   */
  status: v.union(v.literal("applied"), v.literal("scheduled"), v.literal("requires_action"), v.literal("payment_failed")),
  effectiveAt: v.union(v.number(), v.null()),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  /** A sentence for the customer. */
  message: v.string(),
});
export type PlanChangeResult = Infer<typeof vPlanChangeResult>;

type PlanArgs = { tier: PaidTier; interval: Interval };
/** The account an action acts on, resolved by the app from its verified caller. */
type OwnerArgs = { ownerKey: string };

/** Longest `cancellation_details.comment` we send (Stripe allows 5,000; a form needs far less). */
export const MAX_CANCEL_COMMENT = 500;

const CHANGE_BUCKET_MS = 60_000;

/** Statuses under which the customer must pay before changing plans. */
const PAYMENT_REQUIRED_STATUSES: readonly SubscriptionStatus[] = ["past_due", "unpaid", "incomplete", "paused"];
/** Statuses of a subscription that has ended: nothing to change. */
const ENDED_STATUSES: readonly SubscriptionStatus[] = ["canceled", "incomplete_expired"];
/** Invoices read to find the open one the customer must pay (newest first). */
const OPEN_INVOICE_SCAN = 6;

// ---------------------------------------------------------------------------
// Database side: the caller's subscription (internal query `accounts.planChangeState`)
// ---------------------------------------------------------------------------

export const vPlanChangeSubscription = v.object({
  stripeSubscriptionId: v.string(),
  stripeCustomerId: v.string(),
  stripeSubscriptionItemId: v.union(v.string(), v.null()),
  status: vSubscriptionStatus,
  tier: vTier,
  interval: v.union(vInterval, v.null()),
  /** ms */
  currentPeriodEnd: v.union(v.number(), v.null()),
  /** `cancel_at_period_end`, or a `cancel_at` inside the current period. */
  cancelScheduled: v.boolean(),
  /** ms: when a scheduled cancellation ends it. */
  cancelAt: v.union(v.number(), v.null()),
  pendingUpdate: v.union(v.object({ tier: vTier, interval: vInterval, expiresAt: v.number() }), v.null()),
  scheduleId: v.union(v.string(), v.null()),
  /** ms: the trial's end while trialing (or when it ended), else null. */
  trialEnd: v.union(v.number(), v.null()),
  /** Whether Stripe has a card to charge (the subscription's `default_payment_method`). */
  hasPaymentMethod: v.boolean(),
});
export type PlanChangeSubscription = Infer<typeof vPlanChangeSubscription>;

export const vPlanChangeState = v.object({
  /** The subscription that decides the tier (else the newest), or null when none is live. */
  subscription: v.union(vPlanChangeSubscription, v.null()),
  /** The newest open invoice's hosted page, for `PAYMENT_REQUIRED`. */
  openInvoiceUrl: v.union(v.string(), v.null()),
  /** Stripe's customer balance (negative = credit the customer holds), minor units; 0 when unknown. */
  customerBalance: v.number(),
});
export type PlanChangeState = Infer<typeof vPlanChangeState>;

/** What the plan-change actions need from the database about an account. */
export async function planChangeState(ctx: QueryCtx, accountId: Id<"billingAccounts">): Promise<PlanChangeState> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) return { subscription: null, openInvoiceUrl: null, customerBalance: 0 };
  const row = await currentSubscriptionOf(ctx, account);
  const recent = await ctx.db
    .query("invoices")
    .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", accountId))
    .order("desc")
    .take(OPEN_INVOICE_SCAN);
  const open = recent.find((invoice) => invoice.status === "open" && invoice.hostedInvoiceUrl !== undefined);
  const live = row && !ENDED_STATUSES.includes(row.status) ? row : null;
  return {
    subscription: live
      ? {
          stripeSubscriptionId: live.stripeSubscriptionId,
          stripeCustomerId: live.stripeCustomerId,
          stripeSubscriptionItemId: live.stripeSubscriptionItemId ?? null,
          status: live.status,
          tier: live.tier,
          interval: live.interval ?? null,
          currentPeriodEnd: live.currentPeriodEnd ?? null,
          cancelScheduled:
            live.cancelAtPeriodEnd ||
            (live.cancelAt !== undefined && (live.currentPeriodEnd === undefined || live.cancelAt <= live.currentPeriodEnd)),
          cancelAt: live.cancelAt ?? (live.cancelAtPeriodEnd ? (live.currentPeriodEnd ?? null) : null),
          pendingUpdate: live.pendingUpdate ?? null,
          scheduleId: live.scheduleId ?? null,
          trialEnd: live.trialEnd ?? null,
          hasPaymentMethod: live.hasPaymentMethod === true,
        }
      : null,
    openInvoiceUrl: open?.hostedInvoiceUrl ?? null,
    customerBalance: account.customerBalance ?? 0,
  };
}

// ---------------------------------------------------------------------------
// Shared steps
// ---------------------------------------------------------------------------

export type Loaded = {
  account: CallerAccount;
  customer: string;
  state: PlanChangeState;
  mirror: PlanChangeSubscription;
};

/** The caller, their customer and their live subscription from the database. */
export async function loadCaller(ctx: ActionCtx, ownerKey: string): Promise<Loaded> {
  const account = await requireAccount(ctx, ownerKey);
  const state: PlanChangeState = await ctx.runQuery(internal.accounts.planChangeState, { accountId: account.accountId });
  const mirror = state.subscription;
  const customer = account.stripeCustomerId;
  if (!mirror || !customer || mirror.stripeCustomerId !== customer) {
    fail("NO_SUBSCRIPTION", "You have no subscription to change. Choose a plan to subscribe.");
  }
  return { account, customer, state, mirror };
}

/** What the refusals look at, from the database or from Stripe. */
type Facts = {
  status: SubscriptionStatus;
  plan: { tier: Tier; interval: Interval | null };
  pendingUpdate: boolean;
  cancelScheduled: boolean;
  cancelAt: number | null;
};

export function planLabel(tier: Tier, interval: Interval | null): string {
  const name = PLANS[tier].name;
  return interval ? `${name} (${interval === "year" ? "yearly" : "monthly"})` : name;
}

export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Throws the refusal that applies to changing to `target`, if any. */
function refuseChange(facts: Facts, target: PlanArgs, openInvoiceUrl: string | null): void {
  const url = openInvoiceUrl ? { hostedInvoiceUrl: openInvoiceUrl } : {};
  if (PAYMENT_REQUIRED_STATUSES.includes(facts.status)) {
    fail("PAYMENT_REQUIRED", "Pay the open invoice first, then change your plan.", url);
  }
  if (facts.plan.tier === target.tier && facts.plan.interval === target.interval) {
    fail("NOT_A_CHANGE", `You are already on ${planLabel(target.tier, target.interval)}.`);
  }
  if (facts.status === "trialing") {
    // A trial bills nothing, so a change would be previewed as a charge that
    // never comes, and a card-required plan could be reached without a card
    // (docs/TRIALS.md, "Plan changes during a trial").
    fail("TRIAL_ACTIVE", `Your free trial of ${planLabel(facts.plan.tier, facts.plan.interval)} can't switch plans. Change plans once the trial has ended.`);
  }
  if (facts.pendingUpdate) {
    fail("CHANGE_PENDING", "A plan change is waiting for its payment. Pay that invoice, or wait for it to expire, first.", url);
  }
  if (facts.cancelScheduled) {
    const when = facts.cancelAt !== null ? ` on ${day(facts.cancelAt)}` : "";
    fail("CHANGE_PENDING", `Your subscription is set to end${when}. Resume it first, then change plans.`);
  }
}

function mirrorFacts(mirror: PlanChangeSubscription): Facts {
  return {
    status: mirror.status,
    plan: { tier: mirror.tier, interval: mirror.interval },
    pendingUpdate: mirror.pendingUpdate !== null,
    cancelScheduled: mirror.cancelScheduled,
    cancelAt: mirror.cancelAt,
  };
}

/** Stripe's fresh copy of the caller's subscription and its plan item. */
export type Live = {
  subscription: Stripe.Subscription;
  item: Stripe.SubscriptionItem;
  price: Stripe.Price;
  quantity: number;
  /** Stripe seconds. */
  periodStart: number;
  periodEnd: number;
  scheduleId: string | null;
  facts: Facts;
};

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? value : value.id;
}

/** Reads the subscription from Stripe and checks it belongs to `customer`. */
export async function liveSubscription(stripe: Stripe, loaded: Loaded): Promise<Live> {
  const { mirror, customer } = loaded;
  const subscription = await stripeRead("subscriptions.retrieve", () =>
    stripe.subscriptions.retrieve(mirror.stripeSubscriptionId),
  );
  if (idOf(subscription.customer) !== customer) {
    fail("FORBIDDEN", "That subscription belongs to another customer.");
  }
  const items = subscription.items.data;
  const item = items.find((i) => i.id === mirror.stripeSubscriptionItemId) ?? items[0];
  if (!item) fail("STRIPE_ERROR", "Your subscription has no plan on Stripe. Contact support.");
  // Periods live on the item in current API versions, on the subscription in older ones.
  const legacy = subscription as unknown as { current_period_start?: number; current_period_end?: number };
  const periodStart = item.current_period_start ?? legacy.current_period_start ?? 0;
  const periodEnd =
    item.current_period_end ?? legacy.current_period_end ?? Math.floor((mirror.currentPeriodEnd ?? 0) / 1000);
  const recurring = item.price.recurring?.interval;
  const plan = planForLookupKey(item.price.lookup_key) ?? {
    tier: mirror.tier,
    interval: recurring === "year" ? "year" : recurring === "month" ? "month" : mirror.interval,
  };
  const cancelAt = subscription.cancel_at ?? (subscription.cancel_at_period_end ? periodEnd : null);
  return {
    subscription,
    item,
    price: item.price,
    quantity: item.quantity ?? 1,
    periodStart,
    periodEnd,
    scheduleId: idOf(subscription.schedule),
    facts: {
      status: subscription.status as SubscriptionStatus,
      plan,
      pendingUpdate: subscription.pending_update !== null && subscription.pending_update !== undefined,
      cancelScheduled:
        !ENDED_STATUSES.includes(subscription.status as SubscriptionStatus) &&
        (subscription.cancel_at_period_end || (subscription.cancel_at !== null && subscription.cancel_at <= periodEnd)),
      cancelAt: cancelAt !== null ? cancelAt * 1000 : null,
    },
  };
}

function intervalMonths(interval: string | null | undefined): number {
  return interval === "year" ? 12 : 1;
}

/**
 * `upgrade` or `downgrade` (see the rules at the top). Amounts compare per
 * month as integers (`a / ma > b / mb` ⇔ `a · mb > b · ma`).
 */
export function classifyChange(
  current: { tier: Tier; interval: Interval | null; unitAmount: number | null },
  target: { tier: Tier; interval: Interval; unitAmount: number | null },
): "upgrade" | "downgrade" {
  const rankDiff = tierRank(target.tier) - tierRank(current.tier);
  const currentMonths = intervalMonths(current.interval);
  const targetMonths = intervalMonths(target.interval);
  if (rankDiff < 0) return "downgrade";
  if (rankDiff === 0) return targetMonths > currentMonths ? "upgrade" : "downgrade";
  if (targetMonths >= currentMonths) return "upgrade";
  // A higher tier on a shorter interval: an upgrade only if it costs more per month.
  if (current.unitAmount === null || target.unitAmount === null) return "downgrade";
  return target.unitAmount * currentMonths > current.unitAmount * targetMonths ? "upgrade" : "downgrade";
}

/** Proration instant (Stripe seconds): the minute's start, not before the period start. */
function prorationDate(bucket: number, periodStart: number): number {
  return Math.max(Math.floor((bucket * CHANGE_BUCKET_MS) / 1000), periodStart);
}

type Prepared = Loaded & {
  stripe: Stripe;
  live: Live;
  target: PlanArgs;
  lookupKey: string;
  newPrice: ResolvedPrice;
  kind: "upgrade" | "downgrade";
  bucket: number;
};

/** Everything a preview or a change needs, with every refusal checked. */
async function prepare(ctx: ActionCtx, target: PlanArgs & OwnerArgs): Promise<Prepared> {
  const loaded = await loadCaller(ctx, target.ownerKey);
  refuseChange(mirrorFacts(loaded.mirror), target, loaded.state.openInvoiceUrl);
  const prices = PLANS[target.tier].prices;
  if (!prices) fail("PRICE_NOT_FOUND", `The ${PLANS[target.tier].name} plan has no prices.`);
  const lookupKey = prices[target.interval].lookupKey;
  const stripe = getStripe();
  const live = await liveSubscription(stripe, loaded);
  refuseChange(live.facts, target, loaded.state.openInvoiceUrl);
  const newPrice = await resolvePrice(stripe, lookupKey, { recurring: target.interval });
  const kind = classifyChange(
    { ...live.facts.plan, unitAmount: live.price.unit_amount ?? null },
    { ...target, unitAmount: newPrice.unitAmount },
  );
  return { ...loaded, stripe, live, target, lookupKey, newPrice, kind, bucket: timeBucket(CHANGE_BUCKET_MS) };
}

// ---------------------------------------------------------------------------
// Preview
// ---------------------------------------------------------------------------

/** Reads a line's proration flag in current and older API shapes. */
function isProrationLine(line: Stripe.InvoiceLineItem): boolean {
  const parent = line.parent as
    | { subscription_item_details?: { proration?: boolean } | null; invoice_item_details?: { proration?: boolean } | null }
    | null
    | undefined;
  const legacy = (line as unknown as { proration?: boolean }).proration;
  return parent?.subscription_item_details?.proration ?? parent?.invoice_item_details?.proration ?? legacy ?? false;
}

/** See `planChanges.previewPlanChange`. */
export async function previewPlanChange(ctx: ActionCtx, args: PlanArgs & OwnerArgs): Promise<PlanChangePreview> {
  const p = await prepare(ctx, args);
  const { live, newPrice, target } = p;
  const newAmount = (newPrice.unitAmount ?? 0) * live.quantity;
  const common = {
    tier: target.tier,
    interval: target.interval,
    currency: newPrice.currency,
    allowanceAfter: PLANS[target.tier].tokensPerPeriod,
  };
  if (p.kind === "downgrade") {
    const effectiveAt = live.periodEnd * 1000;
    return {
      ...common,
      kind: "downgrade",
      dueNow: 0,
      creditApplied: 0,
      prorationCredit: 0,
      newPlanCharge: 0,
      otherCharges: 0,
      nextInvoiceAmount: Math.max(0, newAmount + Math.min(0, p.state.customerBalance)),
      nextInvoiceAt: effectiveAt,
      effectiveAt,
      tokensNow: 0,
    };
  }
  const preview = await stripeRead("invoices.createPreview", () =>
    p.stripe.invoices.createPreview({
      customer: p.customer,
      subscription: live.subscription.id,
      subscription_details: {
        items: [{ id: live.item.id, price: newPrice.id }, ...meteredItemChange(live, p.target.interval)],
        proration_behavior: "always_invoice",
        proration_date: prorationDate(p.bucket, live.periodStart),
      },
    }),
  );
  const lines = preview.lines?.data ?? [];
  const prorationCredit = lines
    .filter((line) => isProrationLine(line) && line.amount < 0)
    .reduce((sum, line) => sum - line.amount, 0);
  const newPlanCharge = lines
    .filter((line) => line.amount > 0 && linePriceId(line) === newPrice.id)
    .reduce((sum, line) => sum + line.amount, 0);
  const otherCharges = lines.reduce((sum, line) => sum + line.amount, 0) - newPlanCharge + prorationCredit;
  const starting = preview.starting_balance ?? 0;
  const total = preview.total ?? preview.amount_due;
  // A preview is not finalized, so `ending_balance` is usually null: then the
  // balance after it is what is left of the credit (or the new credit from a
  // negative total); a debit balance is paid with the invoice.
  const ending = preview.ending_balance ?? Math.min(0, starting + total);
  const creditApplied = Math.max(0, ending - starting);
  const leftover = Math.min(0, ending);
  // A full new period on the invoice (the cycle restarts, e.g. month → year)
  // moves the next renewal to that period's end.
  const newPeriodLine = lines.find((line) => !isProrationLine(line) && line.amount > 0 && line.period?.end);
  const nextInvoiceAt = (newPeriodLine?.period.end ?? live.periodEnd) * 1000;
  return {
    ...common,
    kind: "upgrade",
    dueNow: preview.amount_due,
    creditApplied,
    prorationCredit,
    newPlanCharge,
    otherCharges,
    nextInvoiceAmount: Math.max(0, newAmount + leftover),
    nextInvoiceAt,
    effectiveAt: Date.now(),
    tokensNow: Math.max(0, PLANS[target.tier].tokensPerPeriod - PLANS[live.facts.plan.tier].tokensPerPeriod),
    ...previewAdjustments(preview, total),
  };
}

/**
 * `{ adjustments }` of a preview with a discount (sum of
 * `total_discount_amounts`) or exclusive tax (`total_taxes` with
 * `tax_behavior: "exclusive"`; inclusive tax is inside the subtotal), minor
 * units, `total` Stripe's; `{}` when it has neither.
 */
export function previewAdjustments(
  preview: Pick<Stripe.Invoice, "subtotal" | "total_discount_amounts" | "total_taxes">,
  total: number,
): Pick<PlanChangePreview, "adjustments"> {
  const discount = (preview.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
  const tax = (preview.total_taxes ?? []).filter((t) => t.tax_behavior !== "inclusive").reduce((sum, t) => sum + t.amount, 0);
  if (discount === 0 && tax === 0) return {};
  return { adjustments: { subtotal: preview.subtotal ?? total - tax + discount, discount, tax, total } };
}

// ---------------------------------------------------------------------------
// Change
// ---------------------------------------------------------------------------

/** See `planChanges.changePlan`. */
export async function changePlan(ctx: ActionCtx, args: PlanArgs & OwnerArgs): Promise<PlanChangeResult> {
  const p = await prepare(ctx, args);
  // Cache the price → plan mapping for the webhook handlers, as Checkout does.
  await ctx.runMutation(internal.accounts.upsertPrice, {
    stripePriceId: p.newPrice.id,
    lookupKey: p.lookupKey,
    tier: p.target.tier,
    interval: p.target.interval,
    unitAmount: p.newPrice.unitAmount ?? undefined,
    currency: p.newPrice.currency,
  });
  return p.kind === "upgrade" ? await upgrade(p) : await scheduleDowngrade(p);
}

type UpdateOutcome = { subscription: Stripe.Subscription } | { cardError: Stripe.errors.StripeCardError };

/**
 * The metered overage item's part in a change to `interval`: removed when
 * the plan leaves the meter price's interval (a classic subscription's
 * prices share one interval), kept otherwise. Overage is then blocked
 * (`account.overageBillable`); see docs/CREDITS.md.
 */
function meteredItemChange(live: Live, interval: Interval): Array<{ id: string; deleted: true }> {
  if (interval === OVERAGE_METER.price.interval) return [];
  return meteredItemsOf(live).map((item) => ({ id: item.id, deleted: true as const }));
}

/** The live subscription's metered items (the overage price), besides the plan item. */
function meteredItemsOf(live: Live): Stripe.SubscriptionItem[] {
  return live.subscription.items.data.filter((item) => item.id !== live.item.id && item.price.recurring?.usage_type === "metered");
}

async function upgrade(p: Prepared): Promise<PlanChangeResult> {
  const { stripe, live, target } = p;
  const subId = live.subscription.id;
  // An upgrade replaces a scheduled downgrade (Stripe would otherwise switch
  // to the schedule's next phase at the period end).
  if (live.scheduleId) await releaseSchedule(stripe, live.scheduleId, subId);
  const key = `plan-change:${p.account.accountId}:${subId}:${p.lookupKey}:${p.bucket}`;
  const outcome = await stripeWrite<UpdateOutcome>("subscriptions.update", key, async (options) => {
    try {
      const subscription = await stripe.subscriptions.update(
        subId,
        {
          items: [{ id: live.item.id, price: p.newPrice.id }, ...meteredItemChange(live, target.interval)],
          proration_behavior: "always_invoice",
          proration_date: prorationDate(p.bucket, live.periodStart),
          payment_behavior: "pending_if_incomplete",
          expand: ["latest_invoice"],
        },
        options,
      );
      return { subscription };
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) return { cardError: error };
      throw error;
    }
  });
  const label = planLabel(target.tier, target.interval);
  if ("cardError" in outcome) {
    const error = outcome.cardError;
    const url = await latestInvoiceUrl(stripe, subId);
    if (error.code === "invoice_payment_intent_requires_action") return requiresAction(label, url);
    return paymentFailed(label, url, error.decline_code ?? error.code);
  }
  const subscription = outcome.subscription;
  const invoice = typeof subscription.latest_invoice === "object" ? subscription.latest_invoice : null;
  if (subscription.pending_update) {
    const url = invoice?.hosted_invoice_url ?? null;
    const intent = invoice ? await paymentIntentOf(stripe, invoice) : null;
    if (intent && (intent.status === "requires_payment_method" || intent.status === "canceled")) {
      return paymentFailed(label, url, intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code);
    }
    return requiresAction(label, url);
  }
  return {
    status: "applied",
    effectiveAt: Date.now(),
    hostedInvoiceUrl: null,
    message: `You're now on ${label}. Your plan and tokens update in a moment.`,
  };
}

function requiresAction(label: string, url: string | null): PlanChangeResult {
  return {
    status: "requires_action",
    effectiveAt: null,
    hostedInvoiceUrl: url,
    message: `Your bank needs you to confirm the payment for ${label}. Nothing changes until you do.`,
  };
}

function paymentFailed(label: string, url: string | null, reason: string | null | undefined): PlanChangeResult {
  const why = reason === "insufficient_funds" ? " (insufficient funds)" : "";
  return {
    status: "payment_failed",
    effectiveAt: null,
    hostedInvoiceUrl: url,
    message: `Your card was declined${why}, so you stay on your current plan. Update your card, or pay the invoice with another one, to switch to ${label}.`,
  };
}

/** The PaymentIntent that paid (or tried to pay) `invoice`, best effort; null when Stripe does not say. */
export async function paymentIntentOf(stripe: Stripe, invoice: Stripe.Invoice): Promise<Stripe.PaymentIntent | null> {
  try {
    const legacy = (invoice as unknown as { payment_intent?: string | Stripe.PaymentIntent | null }).payment_intent;
    let ref: string | Stripe.PaymentIntent | null | undefined = legacy;
    if (!ref) {
      const payments = invoice.payments ?? (await stripe.invoicePayments.list({ invoice: invoice.id, limit: 3 }));
      ref = payments.data.find((p) => p.payment.payment_intent)?.payment.payment_intent;
    }
    if (!ref) return null;
    return typeof ref === "string" ? await stripe.paymentIntents.retrieve(ref) : ref;
  } catch (error) {
    console.warn("Could not read the plan change's payment", error);
    return null;
  }
}

/** The hosted page of the subscription's latest invoice, best effort. */
export async function latestInvoiceUrl(stripe: Stripe, subscriptionId: string): Promise<string | null> {
  try {
    const subscription = await stripe.subscriptions.retrieve(subscriptionId, { expand: ["latest_invoice"] });
    const invoice = subscription.latest_invoice;
    return typeof invoice === "object" && invoice ? (invoice.hosted_invoice_url ?? null) : null;
  } catch (error) {
    console.warn("Could not read the subscription's latest invoice", error);
    return null;
  }
}

function priceIdOf(price: string | { id: string } | null | undefined): string | null {
  return idOf(price ?? null);
}

async function scheduleDowngrade(p: Prepared): Promise<PlanChangeResult> {
  const { stripe, live, target } = p;
  const subId = live.subscription.id;
  let schedule: Stripe.SubscriptionSchedule;
  if (live.scheduleId) {
    schedule = await ownSchedule(stripe, live.scheduleId, subId);
  } else {
    const createKey = `schedule-create:${p.account.accountId}:${subId}:${p.bucket}`;
    schedule = await stripeWrite("subscriptionSchedules.create", createKey, (options) =>
      stripe.subscriptionSchedules.create({ from_subscription: subId }, options),
    );
    if (schedule.status === "released" || schedule.status === "canceled") {
      // The key replayed a schedule made and released earlier in this minute.
      schedule = await stripeWrite("subscriptionSchedules.create", `${createKey}:after:${schedule.id}`, (options) =>
        stripe.subscriptionSchedules.create({ from_subscription: subId }, options),
      );
    }
  }
  const nowSeconds = Math.floor(Date.now() / 1000);
  const phases = schedule.phases;
  const current =
    phases.find((phase) => phase.start_date <= nowSeconds && nowSeconds < phase.end_date) ?? phases[0] ?? null;
  const start = current?.start_date ?? live.periodStart;
  const end = current?.end_date ?? live.periodEnd;
  // Metered items (the overage price) take no quantity; they stay through
  // the current phase, and into the next when its plan bills overage on the
  // meter price's interval.
  const metered = new Set(meteredItemsOf(live).map((item) => item.price.id));
  const phaseItem = (price: string, quantity: number | null | undefined) =>
    metered.has(price) ? { price } : { price, quantity: quantity ?? 1 };
  const currentItems = current?.items.length
    ? current.items.map((item) => phaseItem(priceIdOf(item.price)!, item.quantity))
    : [{ price: live.price.id, quantity: live.quantity }, ...[...metered].map((price) => ({ price }))];
  const keepMetered = PLANS[target.tier].overage !== null && target.interval === OVERAGE_METER.price.interval;
  const nextItems = [{ price: p.newPrice.id, quantity: live.quantity }, ...(keepMetered ? [...metered].map((price) => ({ price })) : [])];
  const scheduledNow = phases.length > 1 ? (priceIdOf(phases[phases.length - 1]!.items[0]?.price) ?? "none") : "none";
  const updateKey = `plan-schedule:${schedule.id}:${scheduledNow}:${p.lookupKey}:${p.bucket}`;
  const updated = await stripeWrite("subscriptionSchedules.update", updateKey, (options) =>
    stripe.subscriptionSchedules.update(
      schedule.id,
      {
        end_behavior: "release",
        phases: [
          { items: currentItems, start_date: start, end_date: end },
          {
            items: nextItems,
            duration: { interval: target.interval, interval_count: 1 },
            proration_behavior: "none",
            metadata: { tier: target.tier, interval: target.interval, lookupKey: p.lookupKey },
          },
        ],
      },
      options,
    ),
  );
  const effectiveAt = (updated.phases[1]?.start_date ?? end) * 1000;
  return {
    status: "scheduled",
    effectiveAt,
    hostedInvoiceUrl: null,
    message: `You'll switch to ${planLabel(target.tier, target.interval)} on ${day(effectiveAt)}. Until then you keep your current plan.`,
  };
}

/** Retrieves a schedule and checks it is attached to `subscriptionId`. */
async function ownSchedule(stripe: Stripe, scheduleId: string, subscriptionId: string): Promise<Stripe.SubscriptionSchedule> {
  const schedule = await stripeRead("subscriptionSchedules.retrieve", () =>
    stripe.subscriptionSchedules.retrieve(scheduleId),
  );
  // A released schedule names its former subscription in `released_subscription`.
  const owner = idOf(schedule.subscription) ?? schedule.released_subscription;
  if (owner !== subscriptionId) {
    fail("FORBIDDEN", "That scheduled change belongs to another subscription.");
  }
  return schedule;
}

/** Releases a schedule of `subscriptionId` (the plan stays as it is now). False when it was not active any more. */
async function releaseSchedule(stripe: Stripe, scheduleId: string, subscriptionId: string): Promise<boolean> {
  const schedule = await ownSchedule(stripe, scheduleId, subscriptionId);
  if (schedule.status !== "active" && schedule.status !== "not_started") return false;
  await stripeWrite("subscriptionSchedules.release", `schedule-release:${scheduleId}`, (options) =>
    stripe.subscriptionSchedules.release(scheduleId, {}, options),
  );
  return true;
}

// ---------------------------------------------------------------------------
// Scheduled change, cancel, resume
// ---------------------------------------------------------------------------

/** See `planChanges.cancelScheduledChange`. */
export async function cancelScheduledChange(ctx: ActionCtx, args: OwnerArgs): Promise<{ canceled: boolean }> {
  const loaded = await loadCaller(ctx, args.ownerKey);
  const stripe = getStripe();
  const subId = loaded.mirror.stripeSubscriptionId;
  // The mirror's schedule, else Stripe's (the schedule's events may still be on their way).
  const scheduleId = loaded.mirror.scheduleId ?? (await liveSubscription(stripe, loaded)).scheduleId;
  if (!scheduleId) return { canceled: false };
  return { canceled: await releaseSchedule(stripe, scheduleId, subId) };
}

function oneOffKey(kind: string, accountId: string, subscriptionId: string): string {
  return `${kind}:${accountId}:${subscriptionId}:${Date.now()}:${crypto.randomUUID()}`;
}

/** See `planChanges.cancelSubscription`. */
export async function cancelSubscription(
  ctx: ActionCtx,
  args: OwnerArgs & { feedback?: CancellationFeedback; comment?: string },
): Promise<{ cancelAt: number }> {
  const comment = args.comment?.trim();
  if (comment !== undefined && comment.length > MAX_CANCEL_COMMENT) {
    fail("INVALID_ARGUMENT", `Keep the comment to ${MAX_CANCEL_COMMENT} characters or fewer.`);
  }
  const loaded = await loadCaller(ctx, args.ownerKey);
  const stripe = getStripe();
  const live = await liveSubscription(stripe, loaded);
  const subId = live.subscription.id;
  // Stripe refuses cancellation settings on a schedule-managed subscription;
  // a scheduled downgrade is moot once it ends anyway.
  if (live.scheduleId) await releaseSchedule(stripe, live.scheduleId, subId);
  const details: Stripe.SubscriptionUpdateParams.CancellationDetails = {};
  if (args.feedback) details.feedback = args.feedback;
  if (comment) details.comment = comment;
  const updated = await stripeWrite("subscriptions.update", oneOffKey("cancel", loaded.account.accountId, subId), (options) =>
    stripe.subscriptions.update(
      subId,
      {
        cancel_at_period_end: true,
        ...(Object.keys(details).length > 0 ? { cancellation_details: details } : {}),
      },
      options,
    ),
  );
  const item = updated.items?.data?.find((i) => i.id === live.item.id) ?? updated.items?.data?.[0];
  const cancelAt = updated.cancel_at ?? item?.current_period_end ?? live.periodEnd;
  return { cancelAt: cancelAt * 1000 };
}

/** See `planChanges.resumeSubscription`. */
export async function resumeSubscription(ctx: ActionCtx, args: OwnerArgs): Promise<{ resumed: boolean }> {
  const loaded = await loadCaller(ctx, args.ownerKey);
  const stripe = getStripe();
  const live = await liveSubscription(stripe, loaded);
  const { subscription } = live;
  if (!subscription.cancel_at_period_end && subscription.cancel_at === null) return { resumed: false };
  // Stripe takes one of the two: the boolean, or clearing `cancel_at` (flexible billing, Portal cancels).
  const params: Stripe.SubscriptionUpdateParams = subscription.cancel_at_period_end
    ? { cancel_at_period_end: false }
    : { cancel_at: "" };
  await stripeWrite("subscriptions.update", oneOffKey("resume", loaded.account.accountId, subscription.id), (options) =>
    stripe.subscriptions.update(subscription.id, params, options),
  );
  return { resumed: true };
}
