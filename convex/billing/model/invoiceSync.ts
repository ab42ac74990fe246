/**
 * Mirrors Stripe invoices into `invoices` from `invoice.*` events, and
 * records what a paid subscription invoice paid for.
 *
 * - Status only moves forward: `draft < open < uncollectible < paid | void`
 *   (https://docs.stripe.com/invoicing/overview#invoice-statuses). A payload
 *   is mirrored when it moves the status forward, or has the same status and
 *   is not older (`eventCreated`, Stripe seconds); otherwise it is an
 *   earlier snapshot and changes nothing.
 * - Amounts are integer minor units as Stripe sends them, including a
 *   credit invoice's negative `total` and the customer balance it used or
 *   added (`starting_balance` / `ending_balance`); Stripe times (seconds)
 *   are stored as ms.
 * - The subscription id is `parent.subscription_details.subscription` in
 *   API 2026-10-28.endive, `subscription` in versions before 2025-03-31.
 * - A token-pack receipt (payment-mode Checkout with `invoice_creation`,
 *   `metadata.kind: "top_up"`) is marked `topUp`; its tokens come from the
 *   Checkout session, not from here.
 * - Tokens and tier: a paid subscription invoice (any billing reason) records
 *   its lines as paid coverage (`model/coverage.ts`), once per invoice id;
 *   then the allowance window and the tier are brought in line with it
 *   (`model/allowance.ts`, `model/access.ts`). A line whose price we have
 *   not seen yet makes the event wait for that price, which is fetched from
 *   Stripe (`stripePrices.learn`) — never for another event.
 * - Lines: each mirrored snapshot keeps the invoice's lines as Stripe embeds
 *   them (`lines.data`, the first page; at most `MAX_STORED_LINES`) as
 *   `{ description, quantity?, amount, usage? }`, amounts in minor units
 *   before discounts and tax (negative for credits and prorations). A line
 *   is `usage` when it bills the subscription's metered overage item: its
 *   price is the mirror's `overagePriceId` or its subscription item the
 *   mirror's `overageItemId`. A usage line buys no tier, so it is not
 *   coverage and never waits for its price.
 * - Discounts and tax (`invoiceAdjustments`): `subtotal` (Stripe's, before
 *   invoice-level discounts and exclusive tax; kept only when it differs from
 *   `total`), `discount` (sum of `total_discount_amounts`), `tax` (exclusive
 *   `total_taxes`, added on top) and `taxIncluded` (inclusive ones, already
 *   in the subtotal), minor units, each omitted when 0. They add up:
 *   `subtotal − discount + tax = total`.
 * - Pending updates: a `subscription_update` invoice the subscription
 *   mirror names as its pending update's (`pendingUpdateInvoiceId`) is
 *   marked `pendingUpdate` (sticky): a declined plan change, never overdue
 *   (docs/DUNNING.md). A renewal is never marked.
 * - Nothing is written when a snapshot changes nothing on the row.
 */
import type Stripe from "stripe";
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { accountForStripeCustomer, recomputeAccountTier } from "./access";
import { syncAllowance } from "./allowance";
import { afterInvoiceEvent, isPendingUpdateReason } from "./dunning";
import { grantTrialAllowance, isLaterTrial } from "./trials";
import { coverageLines, hasCoverage, recordCoverage, type CoverageLine } from "./coverage";
import { subscriptionRow } from "./currentSubscription";
import { applied, dependency, waitFor, type EventClock, type EventOutcome } from "./eventOutcome";
import { OVERAGE_METER, type Tier } from "./plans";
import { stripeActor } from "./audit";
import { planForPrice } from "./prices";
import { invoiceSubscriptionId, linePriceId, secondsToMs, stripeIdOf } from "./stripeShapes";
import { INVOICE_STATUSES, type InvoiceStatus } from "./validators";

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

/**
 * Upserts the invoice mirror; for a paid subscription invoice, records its
 * coverage and syncs the allowance and tier at `nowMs` (ms).
 *
 * Outcomes, decided before anything is written: `wait` for
 * `customer:<id>` while the customer has no account, for
 * `subscription:<id>` while a paid invoice's subscription is not mirrored
 * (it anchors the allowance windows), and for `price:<id>` while a line's
 * price is unknown; otherwise `applied`.
 */
export async function syncInvoice(
  ctx: MutationCtx,
  invoice: Stripe.Invoice,
  eventType: string,
  clock: EventClock,
  nowMs: number,
): Promise<EventOutcome> {
  const stripeCustomerId = stripeIdOf(invoice.customer);
  if (!stripeCustomerId) throw new Error(`invoice ${invoice.id} has no customer`);
  const existing = await ctx.db
    .query("invoices")
    .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", invoice.id))
    .unique();
  let accountId = existing?.accountId;
  if (!accountId) {
    const account = await accountForStripeCustomer(ctx, stripeCustomerId);
    if (!account) return waitFor(dependency.customer(stripeCustomerId), `customer ${stripeCustomerId} is not linked to an account yet`);
    accountId = account._id;
  }

  const incoming = toInvoiceStatus(invoice.status);
  const status = forwardInvoiceStatus(existing?.status, incoming);
  const subscriptionId = invoiceSubscriptionId(invoice);

  // A snapshot is taken when it moves the status forward, or carries the same
  // status and is not older. Otherwise it describes an earlier state of the
  // invoice (events of one payment share a second and arrive in any order),
  // and its amounts are as stale as its status.
  const accepted =
    !existing ||
    (status === incoming && status !== existing.status) ||
    (incoming === existing.status && clock.eventCreated >= existing.eventCreated);
  const needsCoverage =
    status === "paid" && incoming === "paid" && subscriptionId !== undefined && !(await hasCoverage(ctx, invoice.id));
  const embeddedLines = invoice.lines?.data ?? [];
  // The subscription mirror: what a paid invoice's coverage is anchored to,
  // and which lines are usage. Read only when one of them needs it.
  // An unpaid invoice is a declined plan change's when the mirror names it as
  // its pending update's (`pendingUpdateInvoiceId`): then it is no dunning
  // matter (`model/dunning.ts`). Sticky once known.
  const unpaid = status === "open" || status === "uncollectible";
  const mirror =
    subscriptionId !== undefined &&
    (needsCoverage || (accepted && embeddedLines.length > 0) || (unpaid && !existing?.pendingUpdate))
      ? await subscriptionRow(ctx, subscriptionId)
      : null;
  const pendingUpdate =
    existing?.pendingUpdate === true ||
    (mirror !== null && mirror.pendingUpdateInvoiceId === invoice.id && isPendingUpdateReason(invoice.billing_reason ?? undefined));

  // What a paid subscription invoice paid for, with each line's tier. Read
  // before anything is written, so a wait leaves no trace.
  let coverage: Array<CoverageLine & { tier: Tier }> | null = null;
  if (needsCoverage) {
    if (!mirror) {
      return waitFor(dependency.subscription(subscriptionId), `subscription ${subscriptionId} of invoice ${invoice.id} is not known yet`);
    }
    coverage = [];
    const lines = coverageLines(invoice, mirror.trialEnd);
    // A second trial (a stale trial Checkout completed after the account's
    // first trial) pays nothing, so its trial lines grant no tier: one free
    // trial per account (docs/TRIALS.md). Paid lines still count.
    const secondTrial = lines.some((line) => line.trial) && (await isLaterTrial(ctx, accountId, mirror));
    for (const line of lines) {
      if (line.trial && secondTrial) continue;
      const tier = await tierOfPrice(ctx, line.stripePriceId, mirror);
      if (tier === null) return waitFor(dependency.price(line.stripePriceId), `price ${line.stripePriceId} is not known yet`);
      coverage.push({ ...line, tier });
    }
  }

  // Dunning (`model/dunning.ts`): when Stripe first failed to collect it,
  // sticky and the earliest seen, whatever order the snapshots come in.
  const failedAt = firstFailureAt(existing, invoice, eventType, clock);
  if (!accepted && existing && (failedAt !== existing.paymentFailedAt || pendingUpdate !== (existing.pendingUpdate === true))) {
    await ctx.db.patch("invoices", existing._id, { paymentFailedAt: failedAt, ...(pendingUpdate ? { pendingUpdate } : {}) });
  }

  if (accepted) {
    const row: Omit<Doc<"invoices">, "_id" | "_creationTime"> = {
      stripeInvoiceId: invoice.id,
      accountId,
      stripeSubscriptionId: subscriptionId,
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
      total: invoice.total,
      ...invoiceAdjustments(invoice),
      // Kept only when the invoice moved the balance (all `accounts.invoices` shows of it).
      ...(movedBalance(invoice) ? { startingBalance: invoice.starting_balance, endingBalance: invoice.ending_balance } : {}),
      description: invoice.description ?? undefined,
      // A snapshot without a line list (none embedded) keeps the lines already stored.
      lines: invoice.lines ? storedLines(embeddedLines, mirror) : existing?.lines,
      topUp: invoice.metadata?.kind === "top_up" ? true : undefined,
      actionRequired:
        status !== "open" ? undefined : eventType === "invoice.payment_action_required" ? true : existing?.actionRequired,
      ...(invoice.due_date ? { dueAt: invoice.due_date * 1000 } : {}),
      ...(failedAt !== undefined ? { paymentFailedAt: failedAt } : {}),
      ...(pendingUpdate ? { pendingUpdate } : {}),
      createdAt: invoice.created * 1000,
      eventCreated: Math.max(clock.eventCreated, existing?.eventCreated ?? 0),
    };
    if (!existing) await ctx.db.insert("invoices", row);
    else if (!sameFields(existing, row)) await ctx.db.replace("invoices", existing._id, row);
  }

  if (coverage !== null) {
    const recorded = await recordCoverage(ctx, { accountId, stripeInvoiceId: invoice.id, lines: coverage });
    if (recorded > 0) {
      // A trial's $0 invoice starts the trial allowance, once (`model/trials.ts`).
      const trialLine = coverage.find((line) => line.trial && line.tier !== "free");
      if (trialLine && mirror) await grantTrialAllowance(ctx, accountId, mirror, trialLine.tier);
      await syncAllowance(ctx, accountId, nowMs, clock.eventId);
      await recomputeAccountTier(ctx, accountId, nowMs, stripeActor(clock.eventId));
    }
  }
  await afterInvoiceEvent(ctx, accountId, invoice.id, eventType, clock, nowMs);
  return applied();
}

/**
 * The first failed collection attempt of the invoice (ms): the earliest
 * `invoice.payment_failed` / `payment_action_required` event, or a snapshot
 * of an open invoice Stripe already attempted (`attempt_count` > 0), at its
 * event's `created`; kept from the row when earlier; undefined when none.
 */
function firstFailureAt(
  existing: Doc<"invoices"> | null,
  invoice: Stripe.Invoice,
  eventType: string,
  clock: EventClock,
): number | undefined {
  const failedNow =
    eventType === "invoice.payment_failed" ||
    eventType === "invoice.payment_action_required" ||
    (invoice.status === "open" && invoice.attempted && invoice.attempt_count > 0);
  const seen = failedNow ? clock.eventCreated * 1000 : undefined;
  const kept = existing?.paymentFailedAt;
  if (seen === undefined) return kept;
  return kept === undefined ? seen : Math.min(kept, seen);
}

/**
 * The tier a price sells: `free` for the subscription's metered overage
 * price; from the catalogue or the `stripePrices` cache (`free` for a known
 * price outside the catalogue), else from the subscription mirror when it is
 * on that very price; null when none knows it.
 */
async function tierOfPrice(ctx: MutationCtx, priceId: string, mirror: Doc<"subscriptions">): Promise<Tier | null> {
  // The metered overage price bills usage, not a plan: it covers no tier.
  if (mirror.overagePriceId === priceId) return "free";
  const plan = await planForPrice(ctx, { id: priceId });
  if (plan) return plan.tier;
  if (mirror.stripePriceId === priceId) return mirror.tier;
  return null;
}

/** Whether the invoice moved the customer's balance (Stripe sets both ends once finalized). */
function movedBalance(
  invoice: Stripe.Invoice,
): invoice is Stripe.Invoice & { starting_balance: number; ending_balance: number } {
  return (
    typeof invoice.starting_balance === "number" &&
    typeof invoice.ending_balance === "number" &&
    invoice.starting_balance !== invoice.ending_balance
  );
}

/** An invoice's discounts and tax as stored on `invoices` (minor units; each absent when 0). */
export type InvoiceAdjustments = Partial<Pick<Doc<"invoices">, "subtotal" | "discount" | "tax" | "taxIncluded">>;

/**
 * The discount and tax figures of `invoice` (integers in minor units of its
 * currency), each present only when non-zero:
 *
 * - `discount`: sum of `total_discount_amounts[].amount`;
 * - `tax`: sum of `total_taxes[].amount` with `tax_behavior: "exclusive"`
 *   (added to the subtotal); `taxIncluded`: the `inclusive` ones (Stripe
 *   counts them inside the subtotal);
 * - `subtotal`: Stripe's `subtotal` (before invoice-level discounts and
 *   exclusive tax), only when it differs from `total`.
 *
 * https://docs.stripe.com/api/invoices/object#invoice_object-total_taxes
 */
export function invoiceAdjustments(
  invoice: Pick<Stripe.Invoice, "subtotal" | "total" | "total_discount_amounts" | "total_taxes">,
): InvoiceAdjustments {
  const discount = (invoice.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
  let tax = 0;
  let taxIncluded = 0;
  for (const t of invoice.total_taxes ?? []) {
    if (t.tax_behavior === "inclusive") taxIncluded += t.amount;
    else tax += t.amount;
  }
  const adjustments: InvoiceAdjustments = {};
  if (typeof invoice.subtotal === "number" && invoice.subtotal !== invoice.total) adjustments.subtotal = invoice.subtotal;
  if (discount !== 0) adjustments.discount = discount;
  if (tax !== 0) adjustments.tax = tax;
  if (taxIncluded !== 0) adjustments.taxIncluded = taxIncluded;
  return adjustments;
}

/** Lines kept per invoice: the first ones Stripe embeds (its first page holds ten by default). */
export const MAX_STORED_LINES = 20;

/** A stored invoice line (`invoices.lines[n]`): amount in minor units of the invoice currency. */
export type StoredInvoiceLine = NonNullable<Doc<"invoices">["lines"]>[number];

/**
 * The lines to store for an invoice: `{ description, quantity?, amount,
 * usage? }` for each of the first `MAX_STORED_LINES` of `lines`, in
 * Stripe's order; undefined when there are none (nothing stored).
 *
 * - `description`: Stripe's, else "Overage tokens" for a usage line and
 *   "Invoice item" otherwise (Stripe leaves it null on some lines).
 * - `quantity`: only when Stripe gives a number.
 * - `amount`: Stripe's `amount`, minor units before discounts and tax.
 * - `usage: true` when `mirror` (the invoice's subscription) names the
 *   line's price as its `overagePriceId` or its subscription item as its
 *   `overageItemId`; absent otherwise.
 */
export function storedLines(
  lines: readonly Stripe.InvoiceLineItem[],
  mirror: Pick<Doc<"subscriptions">, "overagePriceId" | "overageItemId"> | null,
): StoredInvoiceLine[] | undefined {
  if (lines.length === 0) return undefined;
  return lines.slice(0, MAX_STORED_LINES).map((line) => {
    const usage = mirror !== null && isUsageLine(line, mirror);
    const stored: StoredInvoiceLine = {
      description: line.description ?? (usage ? OVERAGE_METER.displayName : "Invoice item"),
      amount: line.amount,
    };
    if (typeof line.quantity === "number") stored.quantity = line.quantity;
    if (usage) stored.usage = true;
    return stored;
  });
}

type LegacyLineItem = { subscription_item?: string | { id: string } | null };

/** Whether `line` bills the subscription's metered overage item (by price, else by subscription item). */
function isUsageLine(line: Stripe.InvoiceLineItem, mirror: Pick<Doc<"subscriptions">, "overagePriceId" | "overageItemId">): boolean {
  if (mirror.overagePriceId !== undefined && linePriceId(line) === mirror.overagePriceId) return true;
  if (mirror.overageItemId === undefined) return false;
  const item =
    stripeIdOf(line.parent?.subscription_item_details?.subscription_item) ??
    stripeIdOf((line as Stripe.InvoiceLineItem & LegacyLineItem).subscription_item);
  return item === mirror.overageItemId;
}

/**
 * Whether writing `row` over `existing` would change nothing: every field of
 * `row` equal (deeply, for `lines`), absent and undefined alike, and no other
 * field left on `existing` (a legacy one the replace would drop).
 */
function sameFields(existing: Doc<"invoices">, row: Omit<Doc<"invoices">, "_id" | "_creationTime">): boolean {
  const keys = new Set([...Object.keys(existing), ...Object.keys(row)]);
  keys.delete("_id");
  keys.delete("_creationTime");
  for (const key of keys) {
    if (!sameValue((existing as Record<string, unknown>)[key], (row as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** Deep equality for the plain values a document holds (objects and arrays of strings, numbers, booleans). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
