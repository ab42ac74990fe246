/**
 * `invoices.createPreview`: the invoice a subscription change would produce,
 * computed with the same `planChange` that `subscriptions.update` applies,
 * so the amounts agree. Without item changes it is the next renewal invoice
 * (following a schedule's next phase and pending proration lines). With
 * `trial_end=now`, the invoice that ends a trial now (endTrial.ts). Writes
 * nothing and emits no event.
 */
import type Stripe from "stripe";
import { getCustomer, getSubscription, invoiceDiscounts, meteredUsageLine, periodOf, priceInvoice, subCustomer } from "./billing.ts";
import { buildInvoice, isMetered } from "./builders.ts";
import { boundary, nextBoundary, recurringOf } from "./calendar.ts";
import type { SimContext } from "./context.ts";
import { invalid } from "./errors.ts";
import { snapshot } from "./events.ts";
import { randomToken } from "./ids.ts";
import { planTrialEnd } from "./endTrial.ts";
import { fullLine } from "./lines.ts";
import { planChange, type ItemChange, type ProrationBehavior } from "./planChange.ts";
import { phaseStartingAt } from "./schedules.ts";

export type PreviewInput = {
  customer: string | null;
  subscription: string | null;
  items: ItemChange[];
  prorationBehavior: ProrationBehavior;
  prorationDate?: number;
  resetAnchor?: boolean;
  /** `subscription_details[trial_end]`: only `now` (a trialing subscription ending its trial; see endTrial.ts). */
  trialEnd?: "now" | number;
};

function previewDocument(
  ctx: SimContext,
  customer: Stripe.Customer,
  sub: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: Stripe.InvoiceLineItem[],
  period: { start: number; end: number },
  created: number,
): Stripe.Invoice {
  const id = `upcoming_in_${randomToken(24)}`;
  for (const line of lines) line.invoice = id;
  const invoice = buildInvoice({
    id,
    customer,
    subscription: sub,
    created,
    currency: sub.currency,
    billingReason: reason,
    lines,
    periodStart: period.start,
    periodEnd: period.end,
    startingBalance: customer.balance,
    baseUrl: ctx.baseUrl,
    number: null,
  });
  invoice.hosted_invoice_url = null;
  invoice.invoice_pdf = null;
  // The discounts and tax the real invoice would get (a `once` discount is not used up by a preview).
  priceInvoice(ctx, invoice, customer, { discounts: invoiceDiscounts(ctx, customer, sub, created), automaticTax: sub.automatic_tax.enabled });
  const delta = invoice.total < 0 ? invoice.total : invoice.total - invoice.amount_due;
  invoice.ending_balance = customer.balance + delta;
  if (reason === "subscription_cycle") invoice.next_payment_attempt = created;
  return invoice;
}

/** The item as it renews at `end`: the schedule's next phase price if one starts then. */
function renewedItem(ctx: SimContext, sub: Stripe.Subscription, item: Stripe.SubscriptionItem, end: number): Stripe.SubscriptionItem {
  const renewed = snapshot(item);
  const phase = phaseStartingAt(ctx, sub, end);
  const phaseItem = phase?.items[0];
  const phasePrice = phaseItem ? ctx.store.state.prices[typeof phaseItem.price === "string" ? phaseItem.price : phaseItem.price.id] : undefined;
  const intervalChanged =
    phasePrice !== undefined &&
    (recurringOf(phasePrice).interval !== recurringOf(item.price).interval ||
      recurringOf(phasePrice).interval_count !== recurringOf(item.price).interval_count);
  if (phasePrice && item === sub.items.data[0]) {
    renewed.price = snapshot(phasePrice);
    renewed.quantity = phaseItem?.quantity ?? renewed.quantity;
  }
  const recurring = recurringOf(renewed.price);
  renewed.current_period_start = end;
  renewed.current_period_end =
    sub.status === "trialing" || intervalChanged ? boundary(end, recurring, 1) : nextBoundary(sub.billing_cycle_anchor, recurring, end);
  return renewed;
}

export function previewInvoice(ctx: SimContext, input: PreviewInput): Stripe.Invoice {
  if (!input.subscription) {
    throw invalid("The simulator previews the invoices of an existing subscription: pass `subscription`.", "subscription");
  }
  const sub = getSubscription(ctx, input.subscription, "subscription");
  if (input.customer && input.customer !== subCustomer(sub)) {
    throw invalid(`The subscription ${sub.id} does not belong to the customer ${input.customer}.`, "customer");
  }
  const customer = getCustomer(ctx, subCustomer(sub));
  if (input.trialEnd !== undefined) {
    if (input.trialEnd !== "now") throw invalid("The simulator previews `subscription_details[trial_end]=now` only.", "subscription_details[trial_end]");
    if (input.items.length > 0) throw invalid("The simulator does not combine `trial_end` with item changes.", "subscription_details[items]");
    const ending = planTrialEnd(ctx, sub, "subscription_details[trial_end]");
    return previewDocument(ctx, customer, sub, "subscription_update", ending.lines, { start: ending.at, end: ending.at }, ending.at);
  }
  const change = input.items[0];
  const plan = change
    ? planChange(ctx, sub, change, { prorationBehavior: input.prorationBehavior, prorationDate: input.prorationDate, resetAnchor: input.resetAnchor })
    : null;
  if (plan?.invoiceNow) {
    return previewDocument(ctx, customer, sub, "subscription_update", plan.lines, { start: plan.at, end: plan.at }, plan.at);
  }
  // The next renewal: the (changed) items for the next period, plus waiting prorations.
  const { start, end } = periodOf(sub);
  const items = sub.items.data.map((item) => (plan && item.id === plan.item.id ? plan.next : item));
  // Licensed items for the next period, then metered items' usage so far in this one.
  const lines = [
    ...items.filter((item) => !isMetered(item.price)).map((item) => fullLine(ctx, sub, renewedItem(ctx, sub, item, end))),
    ...items
      .filter((item) => isMetered(item.price))
      .map((item) => meteredUsageLine(ctx, sub, item, { start: item.current_period_start, end: item.current_period_end }, sub.status === "trialing")),
  ];
  const pending = snapshot(ctx.store.state.subscriptionInternal[sub.id]?.pendingLines ?? []);
  if (plan && input.prorationBehavior === "create_prorations") pending.push(...plan.lines);
  return previewDocument(ctx, customer, sub, "subscription_cycle", [...lines, ...pending], { start, end }, end);
}
