/** Invoices and their lines (period and invoice-item lines). */
import type Stripe from "stripe";
import { newId } from "../ids.ts";
import { decimal, listOf } from "./common.ts";

/** One invoice line for a subscription item (or a proration of one). */
export function buildInvoiceLine(input: {
  invoice: string | null;
  subscription: string;
  subscriptionItem: string;
  price: Stripe.Price;
  quantity: number;
  amount: number;
  periodStart: number;
  periodEnd: number;
  description: string;
  proration: boolean;
  metadata?: Record<string, string>;
  /** The invoice's currency (a price's `currency_options` entry may bill in another than `price.currency`). */
  currency?: string;
}): Stripe.InvoiceLineItem {
  const product = typeof input.price.product === "string" ? input.price.product : input.price.product.id;
  return {
    id: newId("il"),
    object: "line_item",
    amount: input.amount,
    currency: input.currency ?? input.price.currency,
    description: input.description,
    discount_amounts: [],
    discountable: !input.proration,
    discounts: [],
    invoice: input.invoice,
    livemode: false,
    metadata: input.metadata ?? {},
    parent: {
      type: "subscription_item_details",
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: input.proration ? newId("ii") : null,
        proration: input.proration,
        proration_details: input.proration ? { credited_items: null } : null,
        subscription: input.subscription,
        subscription_item: input.subscriptionItem,
      },
    },
    period: { start: input.periodStart, end: input.periodEnd },
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: input.price.id, product },
      unit_amount_decimal: input.price.unit_amount_decimal,
    },
    quantity: input.quantity,
    quantity_decimal: decimal(input.quantity),
    subscription: input.subscription,
    subtotal: input.amount,
    taxes: [],
  };
}

export function buildInvoice(input: {
  id: string;
  customer: Stripe.Customer;
  subscription: Stripe.Subscription | null;
  created: number;
  currency: string;
  billingReason: Stripe.Invoice.BillingReason;
  lines: Stripe.InvoiceLineItem[];
  periodStart: number;
  periodEnd: number;
  startingBalance: number;
  baseUrl: string;
  number: string | null;
}): Stripe.Invoice {
  const total = input.lines.reduce((s, l) => s + l.amount, 0);
  // A credit balance (negative) pays part of the invoice before the card does;
  // a debt (positive) is added. A negative total is never due.
  const amountDue = total < 0 ? 0 : Math.max(total + input.startingBalance, 0);
  const sub = input.subscription;
  return {
    id: input.id,
    object: "invoice",
    account_country: "US",
    account_name: "Stripe Simulator",
    account_tax_ids: null,
    amount_due: amountDue,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: amountDue,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: input.billingReason,
    collection_method: "charge_automatically",
    created: input.created,
    currency: input.currency,
    custom_fields: null,
    customer: input.customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: input.customer.email,
    customer_name: input.customer.name ?? null,
    customer_phone: input.customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: `${input.baseUrl}/invoice/${input.id}`,
    invoice_pdf: `${input.baseUrl}/invoice/${input.id}/pdf`,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: listOf(input.lines, `/v1/invoices/${input.id}/lines`),
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: input.number,
    on_behalf_of: null,
    parent: sub
      ? {
          type: "subscription_details",
          quote_details: null,
          subscription_details: { metadata: sub.metadata, subscription: sub.id },
        }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: input.periodEnd,
    period_start: input.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: input.startingBalance,
    statement_descriptor: null,
    status: "draft",
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: input.customer.test_clock ?? null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
}

/** An invoice line for a one-off price (Checkout `invoice_creation`), parented by an invoice item. */
export function buildInvoiceItemLine(input: {
  invoice: string;
  price: Stripe.Price;
  quantity: number;
  description: string;
  period: number;
  /** Minor units of `currency` (the price's own or a `currency_options` entry). */
  unitAmount: number;
  currency: string;
}): Stripe.InvoiceLineItem {
  const product = typeof input.price.product === "string" ? input.price.product : input.price.product.id;
  const amount = input.unitAmount * input.quantity;
  return {
    id: newId("il"),
    object: "line_item",
    amount,
    currency: input.currency,
    description: input.description,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: input.invoice,
    livemode: false,
    metadata: {},
    parent: {
      type: "invoice_item_details",
      invoice_item_details: { invoice_item: newId("ii"), proration: false, proration_details: null, subscription: null },
      subscription_item_details: null,
    },
    period: { start: input.period, end: input.period },
    pretax_credit_amounts: [],
    pricing: {
      type: "price_details",
      price_details: { price: input.price.id, product },
      unit_amount_decimal: input.price.unit_amount_decimal,
    },
    quantity: input.quantity,
    quantity_decimal: decimal(input.quantity),
    subscription: null,
    subtotal: amount,
    taxes: [],
  };
}
