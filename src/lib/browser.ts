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

/** Remembers the tier before a checkout redirect, for /billing/success to compare against. */
export function rememberTierBeforeCheckout(tier: string | null): void {
  try {
    if (tier) sessionStorage.setItem(PREVIOUS_TIER_KEY, tier);
    else sessionStorage.removeItem(PREVIOUS_TIER_KEY);
  } catch {
    // Storage can be unavailable (private mode); the success page then accepts any paid tier.
  }
}

export function tierBeforeCheckout(): string | null {
  try {
    return sessionStorage.getItem(PREVIOUS_TIER_KEY);
  } catch {
    return null;
  }
}
