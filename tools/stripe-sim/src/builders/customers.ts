/** Customers, their payment methods (cards) and balance transactions. */
import type Stripe from "stripe";
import { newId } from "../ids.ts";

export type CustomerInput = {
  id?: string;
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  testClock: string | null;
  invoicePrefix: string;
};

export function buildCustomer(input: CustomerInput): Stripe.Customer {
  return {
    id: input.id ?? newId("cus"),
    object: "customer",
    address: null,
    balance: 0,
    created: input.created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: input.description,
    discount: null,
    email: input.email,
    invoice_prefix: input.invoicePrefix,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: input.metadata,
    name: input.name,
    next_invoice_sequence: 1,
    phone: input.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: input.testClock,
  };
}

export type CardInput = {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  fingerprint: string;
};

export function buildPaymentMethod(input: {
  created: number;
  customer: string | null;
  card: CardInput;
  email: string | null;
  name: string | null;
}): Stripe.PaymentMethod {
  return {
    id: newId("pm"),
    object: "payment_method",
    billing_details: { address: null, email: input.email, name: input.name, phone: null, tax_id: null },
    card: {
      brand: input.card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: input.card.brand,
      exp_month: input.card.expMonth,
      exp_year: input.card.expYear,
      fingerprint: input.card.fingerprint,
      funding: "credit",
      generated_from: null,
      last4: input.card.last4,
      networks: { available: [input.card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: input.created,
    customer: input.customer,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
}

export function buildBalanceTransaction(input: {
  created: number;
  customer: string;
  amount: number;
  endingBalance: number;
  currency: string;
  type: Stripe.CustomerBalanceTransaction.Type;
  invoice: string | null;
  description: string | null;
  metadata: Record<string, string>;
}): Stripe.CustomerBalanceTransaction {
  return {
    id: newId("cbtxn"),
    object: "customer_balance_transaction",
    amount: input.amount,
    checkout_session: null,
    created: input.created,
    credit_note: null,
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    ending_balance: input.endingBalance,
    invoice: input.invoice,
    livemode: false,
    metadata: input.metadata,
    type: input.type,
  };
}
