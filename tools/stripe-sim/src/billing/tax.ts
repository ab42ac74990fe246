/**
 * Deterministic test tax (automatic tax): a fixed rate per customer country,
 * exclusive of the price, rounded per line half away from zero to whole
 * minor units. The seller is in Ireland (IE): an EU business customer outside
 * IE with an `eu_vat` tax id is reverse charged (0%, `reverse_charge`).
 * The table is documented in docs/STRIPE_SIMULATOR.md ("Tax").
 */
import type Stripe from "stripe";
import type { SimContext } from "../context.ts";

/** Percent by ISO country code; `DEFAULT_TAX_PERCENT` elsewhere. */
export const TAX_PERCENT_BY_COUNTRY: Readonly<Record<string, number>> = {
  IE: 23,
  GB: 20,
  DE: 19,
  FR: 20,
  NL: 21,
  ES: 21,
  IT: 22,
  US: 0,
};
export const DEFAULT_TAX_PERCENT = 10;
export const SELLER_COUNTRY = "IE";
const EU = new Set(["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]);

/** The tax an invoice line gets: its rate (percent), why, and the simulator's tax rate id (`txr_sim_<country>[_rc]`). */
export type TaxRule = {
  country: string;
  percent: number;
  reason: Stripe.Invoice.TotalTax.TaxabilityReason;
  taxRate: string;
};

/** The rule for a customer in `country` holding `taxIds`. */
export function taxRuleFor(country: string, taxIds: Stripe.TaxId[]): TaxRule {
  const c = country.toUpperCase();
  if (c !== SELLER_COUNTRY && EU.has(c) && taxIds.some((t) => t.type === "eu_vat")) {
    return { country: c, percent: 0, reason: "reverse_charge", taxRate: `txr_sim_${c}_rc` };
  }
  const percent = TAX_PERCENT_BY_COUNTRY[c] ?? DEFAULT_TAX_PERCENT;
  return { country: c, percent, reason: percent === 0 ? "not_collecting" : "standard_rated", taxRate: `txr_sim_${c}` };
}

/** The customer's tax ids, oldest first. */
export function customerTaxIds(ctx: SimContext, customerId: string): Stripe.TaxId[] {
  return Object.values(ctx.store.state.taxIds)
    .filter((t) => t.customer === customerId)
    .sort((a, b) => a.created - b.created);
}

/** The rule for a customer from its address, or `null` without a country (tax cannot be computed). */
export function customerTaxRule(ctx: SimContext, customer: Stripe.Customer): TaxRule | null {
  const country = customer.address?.country;
  return country ? taxRuleFor(country, customerTaxIds(ctx, customer.id)) : null;
}

/** `percent` of `amount` (minor units), rounded half away from zero. */
export function taxOf(amount: number, percent: number): number {
  const exact = (Math.abs(amount) * percent) / 100;
  const rounded = Math.floor(exact + 0.5);
  return amount < 0 ? -rounded : rounded;
}

/** EU VAT ids start with the country code (GR uses EL); the simulator accepts `XX` + 2–13 letters/digits. */
export function looksLikeEuVat(value: string): boolean {
  return /^[A-Z]{2}[0-9A-Z]{2,13}$/.test(value.replace(/\s+/g, "").toUpperCase());
}
