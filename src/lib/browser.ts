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

/** Remembers the tier before a plan checkout redirect, for /billing/success to compare against. */
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

const TOP_UP_KEY = "billing.checkout.topUp";

export type PendingTopUp = { packId: string; tokens: number; purchasedBefore: number | null };

/** Remembers a token-pack checkout so /billing/success can wait for the tokens instead of a plan. */
export function rememberTopUpCheckout(topUp: PendingTopUp | null): void {
  try {
    if (topUp) sessionStorage.setItem(TOP_UP_KEY, JSON.stringify(topUp));
    else sessionStorage.removeItem(TOP_UP_KEY);
  } catch {
    // Without storage the success page treats it as a plan checkout and times out to /billing.
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
