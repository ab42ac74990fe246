/**
 * Database side of `accounts.ts`: an account as the Stripe
 * actions need it, the `accounts.subscription` / `accounts.invoices` views, the
 * customer link and the dunning sweep. The price cache is `model/prices.ts`.
 *
 * Units: Convex times in ms; money in integer minor units of `currency`.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { accountForStripeCustomer } from "./access";
import { currentSubscriptionOf } from "./currentSubscription";
import { dunningView, vDunningView } from "./dunningPolicy";
import { accountByOwnerKey } from "./accounts";
import { fail } from "./errors";
import { dependency } from "./eventOutcome";
import { wakeWaitingEvents } from "./webhookQueue";
import { vInterval, vInvoiceLine, vInvoiceStatus, vSubscriptionStatus, vTier, type SubscriptionStatus } from "./validators";

// ---------------------------------------------------------------------------
// The caller's account, for actions
// ---------------------------------------------------------------------------

/**
 * Subscription statuses under which Stripe still bills, or expects payment
 * for, an existing subscription. A second Checkout subscription on top would
 * double-charge, so plan changes and payment fixes go through the Portal.
 * `incomplete` is left out on purpose: it is a first payment that failed or
 * awaits 3-D Secure and expires by itself after 23 h, and blocking a retry
 * through Checkout for that long would strand the customer.
 */
const BLOCKING_SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ["active", "trialing", "past_due", "unpaid"];

/** Most subscriptions an account can have had that we look at (bounded read). */
const SUBSCRIPTION_SCAN_LIMIT = 25;

export const vCallerAccount = v.object({
  accountId: v.id("billingAccounts"),
  tier: vTier,
  /** The live Stripe customer (`cus_…`), or null when none or deleted. */
  stripeCustomerId: v.union(v.string(), v.null()),
  /** A customer that was deleted in Stripe; a new one gets a distinct idempotency key. */
  deletedCustomerId: v.union(v.string(), v.null()),
  email: v.union(v.string(), v.null()),
  name: v.union(v.string(), v.null()),
  /** The account has a subscription Stripe still bills (see `BLOCKING_SUBSCRIPTION_STATUSES`). */
  hasBillableSubscription: v.boolean(),
  /** When the account's one trial started (ms), or null when it has not had one (`model/trials.ts`). */
  trialUsedAt: v.union(v.number(), v.null()),
});
export type CallerAccount = Infer<typeof vCallerAccount>;

/**
 * The account owned by `ownerKey` in the shape the Stripe actions use, or
 * null when there is none yet (`accounts.ensure` has not run).
 */
export async function accountForActions(ctx: QueryCtx, ownerKey: string): Promise<CallerAccount | null> {
  const account = await accountByOwnerKey(ctx, ownerKey);
  if (!account) return null;
  const subscriptions = await ctx.db
    .query("subscriptions")
    .withIndex("by_accountId", (q) => q.eq("accountId", account._id))
    .order("desc")
    .take(SUBSCRIPTION_SCAN_LIMIT);
  const live = account.stripeCustomerDeleted ? null : (account.stripeCustomerId ?? null);
  return {
    accountId: account._id,
    tier: account.tier,
    stripeCustomerId: live,
    deletedCustomerId: account.stripeCustomerDeleted ? (account.stripeCustomerId ?? null) : null,
    email: account.email ?? null,
    name: account.name ?? null,
    hasBillableSubscription: subscriptions.some((s) => BLOCKING_SUBSCRIPTION_STATUSES.includes(s.status)),
    trialUsedAt: account.trialUsedAt ?? null,
  };
}

// ---------------------------------------------------------------------------
// accounts.subscription
// ---------------------------------------------------------------------------

export const vSubscriptionView = v.object({
  tier: vTier,
  status: v.union(vSubscriptionStatus, v.literal("none")),
  interval: v.union(vInterval, v.null()),
  currentPeriodEnd: v.union(v.number(), v.null()),
  cancelAtPeriodEnd: v.boolean(),
  cancelAt: v.union(v.number(), v.null()),
  cancelScheduled: v.boolean(),
  trialEnd: v.union(v.number(), v.null()),
  /** The account already had its one free trial: the pricing page offers none (`model/trials.ts`). */
  trialUsed: v.boolean(),
  /**
   * Whether Stripe can charge the subscription without the customer (its
   * default payment method is set): false shows "Add a card" on a trial.
   * Null without a subscription, or a mirror from before this was kept.
   */
  hasPaymentMethod: v.union(v.boolean(), v.null()),
  graceEndsAt: v.union(v.number(), v.null()),
  /**
   * The dunning timeline of an overdue account (docs/DUNNING.md): overdue
   * since (ms), stage, the last step's day, suspension and restriction dates;
   * null when nothing is overdue. Optional for views built before it existed.
   */
  dunning: v.optional(v.union(vDunningView, v.null())),
  hasCustomer: v.boolean(),
  /** The subscription's own plan (what Stripe bills), which `tier` may trail while unpaid; null without one. */
  planTier: v.union(vTier, v.null()),
  /** When an ended subscription ended (ms), for "Your Starter plan ended on …". */
  endedAt: v.union(v.number(), v.null()),
  /** An upgrade Stripe holds until its invoice is paid (`pending_if_incomplete`). */
  pendingUpdate: v.union(v.object({ tier: vTier, interval: vInterval, expiresAt: v.number() }), v.null()),
  /** A change scheduled for the period end ("Switches to Starter on 12 Jan"). */
  scheduledChange: v.union(v.object({ tier: vTier, interval: vInterval, effectiveAt: v.number() }), v.null()),
  /** Credit the customer holds at Stripe (minor units, ≥ 0), applied to their next invoices. */
  creditBalance: v.number(),
  /** Currency of `creditBalance`, or null when there is none. */
  creditCurrency: v.union(v.string(), v.null()),
  /**
   * A payment the customer must act on, for the banner on every page:
   * `past_due` (a renewal failed), `action_required` (3-D Secure to confirm),
   * `unpaid` / `incomplete`. `hostedInvoiceUrl` is the invoice to pay.
   */
  attention: v.union(
    v.object({
      kind: v.union(v.literal("past_due"), v.literal("action_required"), v.literal("unpaid"), v.literal("incomplete")),
      hostedInvoiceUrl: v.union(v.string(), v.null()),
      amountDue: v.union(v.number(), v.null()),
      currency: v.union(v.string(), v.null()),
    }),
    v.null(),
  ),
});
export type SubscriptionView = Infer<typeof vSubscriptionView>;

/**
 * The `accounts.subscription` view of an account. `cancelScheduled` is true for
 * `cancel_at_period_end`, or a `cancel_at` inside the current period (flexible
 * billing sets `cancel_at` and leaves the boolean false); it is false once the
 * subscription has ended, since nothing is scheduled any more.
 */
export async function subscriptionView(ctx: QueryCtx, account: Doc<"billingAccounts">): Promise<SubscriptionView> {
  const sub = await currentSubscriptionOf(ctx, account);
  const hasCustomer = account.stripeCustomerId !== undefined && account.stripeCustomerDeleted !== true;
  const credit = Math.max(0, -(account.customerBalance ?? 0));
  const base = {
    tier: account.tier,
    graceEndsAt: account.graceEndsAt ?? null,
    dunning: dunningView(account),
    trialUsed: account.trialUsedAt !== undefined,
    hasCustomer,
    creditBalance: credit,
    creditCurrency: credit > 0 ? (account.balanceCurrency ?? null) : null,
  };
  if (!sub) {
    return {
      ...base,
      status: "none",
      interval: null,
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      cancelScheduled: false,
      trialEnd: null,
      hasPaymentMethod: null,
      planTier: null,
      endedAt: null,
      pendingUpdate: null,
      scheduledChange: null,
      attention: null,
    };
  }
  const ended = sub.status === "canceled" || sub.status === "incomplete_expired";
  const cancelAtInPeriod =
    sub.cancelAt !== undefined && (sub.currentPeriodEnd === undefined || sub.cancelAt <= sub.currentPeriodEnd);
  return {
    ...base,
    status: sub.status,
    interval: sub.interval ?? null,
    currentPeriodEnd: sub.currentPeriodEnd ?? null,
    cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
    cancelAt: sub.cancelAt ?? null,
    cancelScheduled: !ended && (sub.cancelAtPeriodEnd || cancelAtInPeriod),
    trialEnd: sub.trialEnd ?? null,
    hasPaymentMethod: sub.hasPaymentMethod ?? null,
    planTier: sub.tier,
    endedAt: ended ? (sub.endedAt ?? sub.canceledAt ?? null) : null,
    pendingUpdate: !ended && sub.pendingUpdate ? sub.pendingUpdate : null,
    scheduledChange: !ended && sub.scheduledChange ? sub.scheduledChange : null,
    attention: ended ? null : await attentionOf(ctx, account._id, sub.status),
  };
}

/** Invoices read to find the one the customer must pay (newest first). */
const ATTENTION_INVOICE_SCAN = 6;

/**
 * What the customer must act on: an open invoice awaiting 3-D Secure wins
 * (`action_required`), else the subscription's own trouble status. The
 * hosted invoice URL is the newest open invoice's.
 */
async function attentionOf(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  status: SubscriptionStatus,
): Promise<SubscriptionView["attention"]> {
  const recent = await ctx.db
    .query("invoices")
    .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", accountId))
    .order("desc")
    .take(ATTENTION_INVOICE_SCAN);
  const open = recent.find((invoice) => invoice.status === "open");
  const kind =
    open?.actionRequired === true
      ? "action_required"
      : status === "past_due" || status === "unpaid" || status === "incomplete"
        ? status
        : null;
  if (kind === null) return null;
  return {
    kind,
    hostedInvoiceUrl: open?.hostedInvoiceUrl ?? null,
    amountDue: open ? open.amountRemaining : null,
    currency: open ? open.currency : null,
  };
}

// ---------------------------------------------------------------------------
// accounts.invoices
// ---------------------------------------------------------------------------

export const INVOICE_LIMIT_DEFAULT = 6;
export const INVOICE_LIMIT_MAX = 24;

export const vInvoiceView = v.object({
  /** Stripe invoice id (`in_…`). */
  id: v.string(),
  number: v.union(v.string(), v.null()),
  status: vInvoiceStatus,
  billingReason: v.union(v.string(), v.null()),
  amountDue: v.number(),
  amountPaid: v.number(),
  amountRemaining: v.number(),
  currency: v.string(),
  createdAt: v.number(),
  periodStart: v.union(v.number(), v.null()),
  periodEnd: v.union(v.number(), v.null()),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  invoicePdf: v.union(v.string(), v.null()),
  /** Total after discounts and tax; negative for a credit invoice (minor units). */
  total: v.number(),
  /**
   * Discounts and tax (minor units, integers), each present only when the
   * invoice has it: `subtotal` before invoice-level discounts and exclusive
   * tax (absent: equal to `total`), `discount` (≥ 0), `tax` (exclusive, added
   * on top, ≥ 0), `taxIncluded` (inclusive, already in the subtotal).
   * `(subtotal ?? total) − (discount ?? 0) + (tax ?? 0) = total`.
   */
  subtotal: v.optional(v.number()),
  discount: v.optional(v.number()),
  tax: v.optional(v.number()),
  taxIncluded: v.optional(v.number()),
  /** Customer credit used to pay this invoice (minor units, ≥ 0). */
  creditApplied: v.number(),
  /** Credit this invoice added to the customer's balance, e.g. a downgrade's proration (minor units, ≥ 0). */
  creditAdded: v.number(),
  /** What it was for when it is not a plan period, e.g. "100 tokens". */
  description: v.union(v.string(), v.null()),
  /** `subscription` for plan invoices, `top_up` for token-pack receipts, `other` otherwise. */
  kind: v.union(v.literal("subscription"), v.literal("top_up"), v.literal("other")),
  /**
   * The invoice's lines in Stripe's order (the first 20): `amount` in minor
   * units of `currency` before discounts and tax (negative for a credit),
   * `quantity` when Stripe gives one, `usage: true` for metered overage.
   * Absent when none are stored (invoices mirrored before lines were kept).
   */
  lines: v.optional(v.array(vInvoiceLine)),
});
export type InvoiceView = Infer<typeof vInvoiceView>;

/** Clamps a client-supplied limit to 1…`INVOICE_LIMIT_MAX` (default `INVOICE_LIMIT_DEFAULT`). */
export function clampInvoiceLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return INVOICE_LIMIT_DEFAULT;
  return Math.min(INVOICE_LIMIT_MAX, Math.max(1, Math.floor(limit)));
}

/** The account's invoices, newest first, at most `limit` (already clamped). */
export async function invoiceViews(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  limit: number,
): Promise<InvoiceView[]> {
  const rows = await ctx.db
    .query("invoices")
    .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", accountId))
    .order("desc")
    .take(limit);
  return rows.map((row) => ({
    id: row.stripeInvoiceId,
    number: row.number ?? null,
    status: row.status,
    billingReason: row.billingReason ?? null,
    amountDue: row.amountDue,
    amountPaid: row.amountPaid,
    amountRemaining: row.amountRemaining,
    currency: row.currency,
    createdAt: row.createdAt,
    periodStart: row.periodStart ?? null,
    periodEnd: row.periodEnd ?? null,
    hostedInvoiceUrl: row.hostedInvoiceUrl ?? null,
    invoicePdf: row.invoicePdf ?? null,
    total: row.total ?? row.amountDue,
    ...adjustmentsView(row),
    ...balanceMovement(row),
    description: row.description ?? null,
    kind: row.topUp ? "top_up" : row.stripeSubscriptionId !== undefined ? "subscription" : "other",
    lines: row.lines,
  }));
}

/** The row's stored discount and tax figures, only those it has (see `vInvoiceView`). */
function adjustmentsView(row: Doc<"invoices">): Pick<InvoiceView, "subtotal" | "discount" | "tax" | "taxIncluded"> {
  const view: Pick<InvoiceView, "subtotal" | "discount" | "tax" | "taxIncluded"> = {};
  if (row.subtotal !== undefined) view.subtotal = row.subtotal;
  if (row.discount !== undefined) view.discount = row.discount;
  if (row.tax !== undefined) view.tax = row.tax;
  if (row.taxIncluded !== undefined) view.taxIncluded = row.taxIncluded;
  return view;
}

/** Customer credit an invoice used or added, from its starting and ending balance (Stripe's sign). */
function balanceMovement(row: Doc<"invoices">): { creditApplied: number; creditAdded: number } {
  if (row.startingBalance === undefined || row.endingBalance === undefined) return { creditApplied: 0, creditAdded: 0 };
  const change = row.endingBalance - row.startingBalance;
  return { creditApplied: Math.max(0, change), creditAdded: Math.max(0, -change) };
}

// ---------------------------------------------------------------------------
// Customer link
// ---------------------------------------------------------------------------

/**
 * Records `stripeCustomerId` on the account, unless the account already has a
 * different live customer, in which case that one wins and is returned (two
 * concurrent first checkouts then both use the same customer). Wakes webhook
 * events that were waiting for this customer to be linked.
 *
 * @throws `NOT_FOUND` when the account does not exist; `FORBIDDEN` when the
 *   customer is already linked to another account.
 * @returns the customer id the account uses from now on.
 */
export async function linkCustomer(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  stripeCustomerId: string,
): Promise<string> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) fail("NOT_FOUND", "Billing account not found.");
  if (account.stripeCustomerId && !account.stripeCustomerDeleted && account.stripeCustomerId !== stripeCustomerId) {
    return account.stripeCustomerId;
  }
  const owner = await accountForStripeCustomer(ctx, stripeCustomerId);
  if (owner && owner._id !== accountId) {
    fail("FORBIDDEN", "That Stripe customer belongs to another account.");
  }
  if (account.stripeCustomerId !== stripeCustomerId || account.stripeCustomerDeleted) {
    // A new customer has not been billed in any currency yet (`model/currency.ts`).
    const currency = account.stripeCustomerId !== stripeCustomerId ? { currency: undefined } : {};
    await ctx.db.patch("billingAccounts", accountId, { stripeCustomerId, stripeCustomerDeleted: undefined, ...currency });
  }
  await wakeWaitingEvents(ctx, [dependency.customer(stripeCustomerId)], Date.now());
  return stripeCustomerId;
}
