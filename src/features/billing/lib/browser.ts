/**
 * Browser side effects behind one object so tests can observe them
 * (jsdom's `window.location.assign` cannot be spied on).
 */
export const browser = {
  /** Leaves the app for an external URL (Stripe Checkout / Portal). */
  redirect(url: string): void {
    window.location.assign(url);
  },
};

const PREVIOUS_TIER_KEY = "billing.checkout.previousTier";
const TOP_UP_KEY = "billing.checkout.topUp";

export type PendingTopUp = { packId: string; tokens: number; purchasedBefore: number | null };

/**
 * Remembers, across the Stripe redirect, what /billing/success waits for: a
 * plan higher than `previousTier`, or the token pack `topUp`. Null clears it
 * once the success page has seen it land.
 */
export function rememberCheckout(checkout: { previousTier: string | null; topUp: PendingTopUp | null } | null): void {
  try {
    if (checkout?.previousTier) sessionStorage.setItem(PREVIOUS_TIER_KEY, checkout.previousTier);
    else sessionStorage.removeItem(PREVIOUS_TIER_KEY);
    if (checkout?.topUp) sessionStorage.setItem(TOP_UP_KEY, JSON.stringify(checkout.topUp));
    else sessionStorage.removeItem(TOP_UP_KEY);
  } catch {
    // Storage can be unavailable (private mode): the success page then accepts any
    // paid tier, and a top-up is treated as a plan checkout that times out to /billing.
  }
}

export function tierBeforeCheckout(): string | null {
  try {
    return sessionStorage.getItem(PREVIOUS_TIER_KEY);
  } catch {
    return null;
  }
}

export function pendingTopUp(): PendingTopUp | null {
  try {
    const raw = sessionStorage.getItem(TOP_UP_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<PendingTopUp>;
    if (typeof value.packId !== "string" || typeof value.tokens !== "number") return null;
    return { packId: value.packId, tokens: value.tokens, purchasedBefore: typeof value.purchasedBefore === "number" ? value.purchasedBefore : null };
  } catch {
    return null;
  }
}
