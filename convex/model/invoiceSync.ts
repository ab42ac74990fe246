/**
 * Mirrors Stripe invoices into `invoices` from `invoice.*` events, and starts
 * a paid period's token allowance from `invoice.paid`.
 *
 * - Status only moves forward: `draft < open < uncollectible < paid | void`
 *   (https://docs.stripe.com/invoicing/overview#invoice-statuses). A payload
 *   is mirrored when it moves the status forward, or has the same status and
 *   is not older (`eventCreated`, Stripe seconds); otherwise it is an
 *   earlier snapshot and changes nothing.
 * - Amounts are integer minor units as Stripe sends them; Stripe times
 *   (seconds) are stored as ms.
 * - The subscription id is `parent.subscription_details.subscription` in
 *   API 2026-10-28.endive, `subscription` in versions before 2025-03-31.
 * - Tokens: `invoice.paid` with `billing_reason` `subscription_create` or
 *   `subscription_cycle` starts a period once per invoice id (sourceKey and
 *   periodKey `invoice:<id>`). A `subscription_update` invoice starts one
 *   only when it bills a full new period (a non-proration subscription line):
 *   a change of billing interval, or `billing_cycle_anchor: "now"`, resets
 *   the cycle and invoices the new period at once
 *   (https://docs.stripe.com/billing/subscriptions/billing-cycle). A
 *   mid-cycle change invoices proration lines only and grants no period; its
 *   allowance difference comes from `subscriptionSync`'s plan-change rule.
 */
import type Stripe from "stripe";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer } from "./access";
import { startPeriod } from "./ledger";
import { PLANS, type Tier } from "./plans";
import { planForPrice } from "./prices";
import { secondsToMs, stripeIdOf, type EventClock } from "./subscriptionSync";
import { INVOICE_STATUSES, type InvoiceStatus } from "./validators";
import { RetryableEventError } from "./webhookQueue";

const INVOICE_STATUS_RANK: Record<InvoiceStatus, number> = {
  draft: 0,
  open: 1,
  uncollectible: 2,
  paid: 3,
  void: 3,
};

/**
 * The status to keep when `incoming` arrives on top of `current`: only a
 * strictly higher rank moves it (so `paid` and `void`, both final, never
 * replace each other).
 */
export function forwardInvoiceStatus(current: InvoiceStatus | undefined, incoming: InvoiceStatus): InvoiceStatus {
  if (current === undefined) return incoming;
  return INVOICE_STATUS_RANK[incoming] > INVOICE_STATUS_RANK[current] ? incoming : current;
}

function toInvoiceStatus(status: string | null): InvoiceStatus {
  if (status === null) return "draft";
  if ((INVOICE_STATUSES as readonly string[]).includes(status)) return status as InvoiceStatus;
  throw new Error(`unknown invoice status "${status}"`);
}

/** Shapes of API versions before 2025-03-31 (basil). */
type LegacyInvoice = { subscription?: string | { id: string } | null };
type LegacyLine = {
  price?: { id: string; lookup_key?: string | null } | null;
  type?: string;
  proration?: boolean;
};

export function invoiceSubscriptionId(invoice: Stripe.Invoice): string | undefined {
  const fromParent = stripeIdOf(invoice.parent?.subscription_details?.subscription);
  return fromParent ?? stripeIdOf((invoice as Stripe.Invoice & LegacyInvoice).subscription);
}

const PERIOD_REASONS: readonly string[] = ["subscription_create", "subscription_cycle"];

export type InvoiceSyncResult = {
  accountId: Id<"billingAccounts">;
  status: InvoiceStatus;
  granted: boolean;
};

/**
 * Upserts the invoice mirror, then for `invoice.paid` of a new period starts
 * that period's allowance. Throws `RetryableEventError` when the customer has
 * no account yet, or when the period's tier cannot be known yet.
 */
export async function syncInvoice(
  ctx: MutationCtx,
  invoice: Stripe.Invoice,
  eventType: string,
  clock: EventClock,
): Promise<InvoiceSyncResult> {
  const stripeCustomerId = stripeIdOf(invoice.customer);
  if (!stripeCustomerId) throw new Error(`invoice ${invoice.id} has no customer`);
  const existing = await ctx.db
    .query("invoices")
    .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", invoice.id))
    .unique();
  let accountId = existing?.accountId;
  if (!accountId) {
    const account = await accountForStripeCustomer(ctx, stripeCustomerId);
    if (!account) throw new RetryableEventError(`customer ${stripeCustomerId} is not linked to an account yet`);
    accountId = account._id;
  }

  const incoming = toInvoiceStatus(invoice.status);
  const status = forwardInvoiceStatus(existing?.status, incoming);
  // A snapshot is taken when it moves the status forward, or carries the same
  // status and is not older. Otherwise it describes an earlier state of the
  // invoice (events of one payment share a second and arrive in any order),
  // and its amounts are as stale as its status.
  const accepted =
    !existing ||
    (status === incoming && status !== existing.status) ||
    (incoming === existing.status && clock.eventCreated >= existing.eventCreated);
  if (accepted) {
    const row: Omit<Doc<"invoices">, "_id" | "_creationTime"> = {
      stripeInvoiceId: invoice.id,
      stripeCustomerId,
      accountId,
      stripeSubscriptionId: invoiceSubscriptionId(invoice),
      number: invoice.number ?? undefined,
      status,
      billingReason: invoice.billing_reason ?? undefined,
      amountDue: invoice.amount_due,
      amountPaid: invoice.amount_paid,
      amountRemaining: invoice.amount_remaining,
      currency: invoice.currency,
      periodStart: secondsToMs(invoice.period_start),
      periodEnd: secondsToMs(invoice.period_end),
      hostedInvoiceUrl: invoice.hosted_invoice_url ?? undefined,
      invoicePdf: invoice.invoice_pdf ?? undefined,
      createdAt: invoice.created * 1000,
      eventCreated: Math.max(clock.eventCreated, existing?.eventCreated ?? 0),
    };
    if (existing) await ctx.db.replace("invoices", existing._id, row);
    else await ctx.db.insert("invoices", row);
  }

  let granted = false;
  if (eventType === "invoice.paid") {
    const reason = invoice.billing_reason ?? "";
    const line = PERIOD_REASONS.includes(reason)
      ? subscriptionLine(invoice)
      : reason === "subscription_update"
        ? fullPeriodLine(invoice)
        : undefined;
    if (PERIOD_REASONS.includes(reason) && !line) {
      console.warn(`invoice ${invoice.id} has no lines; no allowance started`);
    } else if (line) {
      granted = await startPaidPeriod(ctx, accountId, invoice, line);
    }
  }
  return { accountId, status, granted };
}

/**
 * The line billing a subscription item's full period (not a proration), in
 * either API shape, or undefined when every line is a proration.
 */
function fullPeriodLine(invoice: Stripe.Invoice): Stripe.InvoiceLineItem | undefined {
  return (invoice.lines?.data ?? []).find((line) => {
    if (line.parent?.type === "subscription_item_details") {
      return line.parent.subscription_item_details?.proration === false;
    }
    const legacy = line as Stripe.InvoiceLineItem & LegacyLine;
    return legacy.type === "subscription" && legacy.proration === false;
  });
}

/** The invoice line of the subscription's own item (not a proration), else the best guess. */
function subscriptionLine(invoice: Stripe.Invoice): Stripe.InvoiceLineItem | undefined {
  const lines = invoice.lines?.data ?? [];
  return (
    fullPeriodLine(invoice) ??
    lines.find((line) => line.pricing?.price_details !== undefined) ??
    lines[0]
  );
}

/** The tier the line's price sells, from the catalogue, `stripePrices` or the subscription mirror. */
async function tierForLine(
  ctx: MutationCtx,
  invoice: Stripe.Invoice,
  line: Stripe.InvoiceLineItem,
): Promise<Tier | null> {
  const detailsPrice = line.pricing?.price_details?.price;
  const legacyPrice = (line as Stripe.InvoiceLineItem & LegacyLine).price ?? undefined;
  const price =
    typeof detailsPrice === "object" ? detailsPrice : detailsPrice ? { id: detailsPrice } : (legacyPrice ?? null);
  if (price) {
    const plan = await planForPrice(ctx, price);
    if (plan) return plan.tier;
  }
  const subscriptionId = stripeIdOf(line.parent?.subscription_item_details?.subscription) ?? invoiceSubscriptionId(invoice);
  if (!subscriptionId) return null;
  const mirror = await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", subscriptionId))
    .unique();
  if (!mirror) return null;
  // The mirror says which price it is on now; only trust it for this line
  // when it is the same price (or the line names none).
  if (price && mirror.stripePriceId && mirror.stripePriceId !== price.id) return null;
  return mirror.tier;
}

/**
 * Starts the allowance period `line` bills (Stripe seconds → ms), at the
 * line's tier, once per invoice id. Throws `RetryableEventError` while the
 * tier cannot be known.
 */
async function startPaidPeriod(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  invoice: Stripe.Invoice,
  line: Stripe.InvoiceLineItem,
): Promise<boolean> {
  const tier = await tierForLine(ctx, invoice, line);
  if (tier === null) {
    throw new RetryableEventError(`tier of invoice ${invoice.id} is not known yet (price and subscription unknown)`);
  }
  if (tier === "free") {
    console.warn(`invoice ${invoice.id} is for a price outside the catalogue; no allowance started`);
    return false;
  }
  // `startPeriod` itself refuses a period older than the current one (a late
  // invoice.paid of an earlier cycle).
  const periodStart = line.period.start * 1000;
  const periodEnd = line.period.end * 1000;
  const key = `invoice:${invoice.id}`;
  const { applied } = await startPeriod(ctx, accountId, {
    sourceKey: key,
    tokens: PLANS[tier].tokensPerPeriod,
    periodKey: key,
    periodStart,
    periodEnd,
  });
  return applied;
}
