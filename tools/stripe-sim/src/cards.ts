/**
 * Test cards, honouring Stripe's numbers (https://docs.stripe.com/testing):
 *
 * | number              | behaviour                                            |
 * |---------------------|------------------------------------------------------|
 * | 4242 4242 4242 4242 | succeeds                                             |
 * | 5555 5555 5555 4444 | succeeds (Mastercard)                                |
 * | 4000 0000 0000 0002 | declined (`card_declined` / `generic_decline`)       |
 * | 4000 0000 0000 9995 | declined (`insufficient_funds`)                      |
 * | 4000 0000 0000 0069 | declined (`expired_card`)                            |
 * | 4000 0000 0000 0341 | attaches and pays at Checkout; later charges decline |
 * | 4000 0027 6000 3184 | every charge needs 3-D Secure                        |
 *
 * Stripe's magic payment-method ids (`pm_card_visa`, …) map to the same cards.
 */
import { createHash } from "node:crypto";
import type { CardInput } from "./builders.ts";

export type CardBehaviour = "succeed" | "decline" | "fail_after_attach" | "require_3ds";

type CardSpec = {
  brand: string;
  behaviour: CardBehaviour;
  declineCode?: string;
  errorCode?: string;
  message?: string;
};

const CARDS: Record<string, CardSpec> = {
  "4242424242424242": { brand: "visa", behaviour: "succeed" },
  "5555555555554444": { brand: "mastercard", behaviour: "succeed" },
  "4000000000000002": {
    brand: "visa",
    behaviour: "decline",
    errorCode: "card_declined",
    declineCode: "generic_decline",
    message: "Your card was declined.",
  },
  "4000000000009995": {
    brand: "visa",
    behaviour: "decline",
    errorCode: "card_declined",
    declineCode: "insufficient_funds",
    message: "Your card has insufficient funds.",
  },
  "4000000000000069": {
    brand: "visa",
    behaviour: "decline",
    errorCode: "expired_card",
    declineCode: "expired_card",
    message: "Your card has expired.",
  },
  "4000000000000341": { brand: "visa", behaviour: "fail_after_attach" },
  "4000002760003184": { brand: "visa", behaviour: "require_3ds" },
};

/** Stripe's test PaymentMethod ids. */
export const MAGIC_PAYMENT_METHODS: Record<string, string> = {
  pm_card_visa: "4242424242424242",
  pm_card_mastercard: "5555555555554444",
  pm_card_chargeDeclined: "4000000000000002",
  pm_card_chargeDeclinedInsufficientFunds: "4000000000009995",
  pm_card_chargeDeclinedExpiredCard: "4000000000000069",
  pm_card_chargeCustomerFail: "4000000000000341",
  pm_card_threeDSecure2Required: "4000002760003184",
  pm_card_authenticationRequired: "4000002760003184",
};

/** Strips spaces and dashes from a typed card number. */
export function normaliseCardNumber(input: string): string {
  return input.replace(/[\s-]/g, "");
}

export function cardSpec(number: string): CardSpec | null {
  return CARDS[normaliseCardNumber(number)] ?? null;
}

export function cardDetails(number: string): CardInput {
  const n = normaliseCardNumber(number);
  const now = new Date();
  return {
    brand: cardSpec(n)?.brand ?? "visa",
    last4: n.slice(-4),
    expMonth: 12,
    expYear: now.getUTCFullYear() + 3,
    fingerprint: createHash("sha256").update(n).digest("hex").slice(0, 16),
  };
}

/**
 * Whether charging this card now succeeds.
 * `onSession` is true at Checkout (the moment 0341 attaches), false for
 * renewals and every later charge.
 */
export type ChargeResult =
  | { ok: true }
  | { ok: false; kind: "declined"; code: string; declineCode: string; message: string }
  | { ok: false; kind: "requires_action" };

export function chargeCard(number: string, opts: { atCheckout: boolean; authenticated: boolean }): ChargeResult {
  const spec = cardSpec(number);
  if (!spec) {
    return {
      ok: false,
      kind: "declined",
      code: "incorrect_number",
      declineCode: "incorrect_number",
      message: "Your card number is incorrect. Use a Stripe test card such as 4242 4242 4242 4242.",
    };
  }
  switch (spec.behaviour) {
    case "succeed":
      return { ok: true };
    case "decline":
      return {
        ok: false,
        kind: "declined",
        code: spec.errorCode ?? "card_declined",
        declineCode: spec.declineCode ?? "generic_decline",
        message: spec.message ?? "Your card was declined.",
      };
    case "fail_after_attach":
      return opts.atCheckout
        ? { ok: true }
        : {
            ok: false,
            kind: "declined",
            code: "card_declined",
            declineCode: "generic_decline",
            message: "Your card was declined.",
          };
    case "require_3ds":
      return opts.authenticated ? { ok: true } : { ok: false, kind: "requires_action" };
  }
}
