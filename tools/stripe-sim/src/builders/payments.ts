/** PaymentIntents, and their charges, refunds and disputes. */
import type Stripe from "stripe";
import { newId, randomToken } from "../ids.ts";

export type PaymentIntentInput = {
  created: number;
  amount: number;
  currency: string;
  customer: string | null;
  paymentMethod: string | null;
  metadata: Record<string, string>;
  status: Stripe.PaymentIntent.Status;
  description: string | null;
  receiptEmail?: string | null;
  statementDescriptorSuffix?: string | null;
  setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage | null;
  /** Explicit `allowed_payment_method_types`; without them the PaymentIntent has `automatic_payment_methods`. */
  paymentMethodTypes?: string[] | null;
  automaticPaymentMethods?: Stripe.PaymentIntent.AutomaticPaymentMethods | null;
};

export function buildPaymentIntent(input: PaymentIntentInput): Stripe.PaymentIntent {
  const id = newId("pi");
  const allowed = input.paymentMethodTypes ?? null;
  return {
    id,
    object: "payment_intent",
    allowed_payment_method_types: allowed,
    amount: input.amount,
    amount_capturable: 0,
    amount_received: input.status === "succeeded" ? input.amount : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: input.automaticPaymentMethods ?? null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: `${id}_secret_${newId("s").slice(2)}`,
    confirmation_method: "automatic",
    created: input.created,
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    // Set by the engine when it creates the Charge (payments.ts `createCharge`).
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: input.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: null,
    // Cards are what the simulator can charge.
    payment_method_types: !allowed || allowed.includes("card") ? ["card"] : allowed,
    payment_record: null,
    processing: null,
    receipt_email: input.receiptEmail ?? null,
    review: null,
    setup_future_usage: input.setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: input.statementDescriptorSuffix ?? null,
    status: input.status,
    transfer_group: null,
  };
}

/** Why an issuer refused a charge (`charge.failure_code`, `outcome.reason`). */
export type ChargeFailure = { code: string; declineCode: string; message: string };

/**
 * The card charge of a PaymentIntent (`pi.latest_charge`): succeeded
 * (captured in full, nothing refunded or disputed yet) or, with `failure`,
 * declined by the issuer (`status: failed`, nothing captured). `card` is the
 * paying payment method's card (brand, last4, expiry) when there is one.
 */
export function buildCharge(input: {
  created: number;
  paymentIntent: Stripe.PaymentIntent;
  paymentMethod: Stripe.PaymentMethod | null;
  failure?: ChargeFailure | null;
}): Stripe.Charge {
  const pi = input.paymentIntent;
  const pm = input.paymentMethod;
  const card = pm?.card ?? null;
  const failure = input.failure ?? null;
  return {
    id: newId("ch"),
    object: "charge",
    amount: pi.amount,
    amount_captured: failure ? 0 : pi.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: pm?.billing_details ?? { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: null,
    captured: !failure,
    created: input.created,
    currency: pi.currency,
    customer: typeof pi.customer === "string" ? pi.customer : (pi.customer?.id ?? null),
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: failure?.code ?? null,
    failure_message: failure?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: null,
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: failure ? "declined_by_network" : "approved_by_network",
      reason: failure?.declineCode ?? null,
      risk_level: "normal",
      risk_score: 20,
      seller_message: failure ? "The bank did not return any further details with this decline." : "Payment complete.",
      type: failure ? "issuer_declined" : "authorized",
    },
    paid: !failure,
    payment_intent: pi.id,
    payment_method: pm?.id ?? null,
    payment_method_details: card
      ? {
          type: "card",
          card: {
            amount_authorized: failure ? null : pi.amount,
            authorization_code: null,
            brand: card.brand,
            checks: card.checks,
            country: card.country,
            electronic_commerce_indicator: null,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            fingerprint: card.fingerprint ?? null,
            funding: card.funding,
            installments: null,
            last4: card.last4,
            mandate: null,
            network: card.brand,
            network_transaction_id: randomToken(15),
            regulated_status: card.regulated_status ?? null,
            three_d_secure: null,
            transaction_link_id: null,
            wallet: null,
          },
        }
      : null,
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: pi.statement_descriptor_suffix,
    status: failure ? "failed" : "succeeded",
    transfer_data: null,
    transfer_group: null,
  };
}

/** A card refund of `amount` of `charge`, settled at once (`status: succeeded`). */
export function buildRefund(input: {
  created: number;
  charge: Stripe.Charge;
  amount: number;
  reason: Stripe.Refund.Reason | null;
  metadata: Record<string, string>;
}): Stripe.Refund {
  const charge = input.charge;
  return {
    id: newId("re"),
    object: "refund",
    amount: input.amount,
    balance_transaction: null,
    charge: charge.id,
    created: input.created,
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: { type: "card", card: { reference_status: "pending", reference_type: "acquirer_reference_number", type: "refund" } },
    metadata: input.metadata,
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason: input.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
}

const EMPTY_EVIDENCE: Stripe.Dispute.Evidence = {
  access_activity_log: null,
  billing_address: null,
  cancellation_policy: null,
  cancellation_policy_disclosure: null,
  cancellation_rebuttal: null,
  customer_communication: null,
  customer_email_address: null,
  customer_name: null,
  customer_purchase_ip: null,
  customer_signature: null,
  duplicate_charge_documentation: null,
  duplicate_charge_explanation: null,
  duplicate_charge_id: null,
  enhanced_evidence: {},
  product_description: null,
  receipt: null,
  refund_policy: null,
  refund_policy_disclosure: null,
  refund_refusal_explanation: null,
  service_date: null,
  service_documentation: null,
  shipping_address: null,
  shipping_carrier: null,
  shipping_date: null,
  shipping_documentation: null,
  shipping_tracking_number: null,
  uncategorized_file: null,
  uncategorized_text: null,
};

/** Days a merchant has to respond to a new dispute (`evidence_details.due_by`). */
const EVIDENCE_DAYS = 7;

/** A chargeback of `charge` for `amount`, waiting for the merchant's response (`needs_response`). */
export function buildDispute(input: {
  created: number;
  charge: Stripe.Charge;
  amount: number;
  reason: string;
}): Stripe.Dispute {
  const charge = input.charge;
  const card = charge.payment_method_details?.card ?? null;
  return {
    id: newId("dp"),
    object: "dispute",
    amount: input.amount,
    balance_transactions: [],
    charge: charge.id,
    created: input.created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: { ...EMPTY_EVIDENCE },
    evidence_details: {
      due_by: input.created + EVIDENCE_DAYS * 86_400,
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: "not_submitted",
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: charge.payment_intent,
    ...(card?.brand
      ? { payment_method_details: { type: "card" as const, card: { brand: card.brand, case_type: "chargeback" as const, network: card.network ?? card.brand, network_reason_code: null } } }
      : {}),
    reason: input.reason,
    status: "needs_response",
  };
}
