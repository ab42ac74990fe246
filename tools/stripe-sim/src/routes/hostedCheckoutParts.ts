/**
 * The hosted Checkout page's promotion code, billing address / tax id and
 * amount breakdown sections (no scripts: "Apply" and "Update total" post the
 * whole form to `/checkout/:id/apply` with `formaction`, and the page comes
 * back with the typed fields kept).
 */
import type Stripe from "stripe";
import { idOf } from "../billing.ts";
import { applyPromotionCode, checkoutAddress, checkoutTaxRule, collectsAddress, setCheckoutAddress } from "../checkoutTotals.ts";
import type { SimContext } from "../context.ts";
import { str, type FormObject } from "../form.ts";
import { esc, money } from "../html.ts";

/** Countries offered by the page's select (tax rates: docs/STRIPE_SIMULATOR.md "Tax"). */
export const CHECKOUT_COUNTRIES: readonly [string, string][] = [
  ["US", "United States"],
  ["GB", "United Kingdom"],
  ["IE", "Ireland"],
  ["DE", "Germany"],
  ["FR", "France"],
  ["NL", "Netherlands"],
  ["ES", "Spain"],
  ["IT", "Italy"],
  ["CA", "Canada"],
  ["AU", "Australia"],
  ["JP", "Japan"],
];

/** The promotion code applied to the session, as the customer typed it (`null` when none). */
function appliedCode(ctx: SimContext, session: Stripe.Checkout.Session): string | null {
  const id = idOf(session.discounts?.[0]?.promotion_code);
  return id ? (ctx.store.state.promotionCodes[id]?.code ?? null) : null;
}

/**
 * Applies what the form carries before showing the page again or paying:
 * the address (when the page collects one) and a typed promotion code.
 * Returns "This code is invalid." for a code that cannot be applied (nothing changes).
 */
export function applyTypedFields(ctx: SimContext, session: Stripe.Checkout.Session, body: FormObject): string | null {
  if (collectsAddress(ctx, session) && str(body.billingCountry)) {
    setCheckoutAddress(ctx, session, {
      country: str(body.billingCountry) ?? null,
      postalCode: str(body.billingPostalCode)?.trim() || null,
      taxId: session.tax_id_collection?.enabled ? (str(body.taxId)?.trim() || null) : null,
    });
  }
  const typed = str(body.promotionCode)?.trim() ?? "";
  if (!session.allow_promotion_codes || !typed) return null;
  if (appliedCode(ctx, session)?.toUpperCase() === typed.toUpperCase()) return null;
  return applyPromotionCode(ctx, session, typed);
}

export function promotionSection(ctx: SimContext, session: Stripe.Checkout.Session, opts: { typed?: string; error?: string }): string {
  if (!session.allow_promotion_codes) return "";
  const applied = appliedCode(ctx, session);
  if (applied) {
    return `<p class="row"><span>Promotion code <strong data-testid="checkout-promotion-code-applied">${esc(applied)}</strong></span>
<button type="submit" class="secondary" formaction="/checkout/${esc(session.id)}/remove-code" formnovalidate data-testid="checkout-promotion-code-remove">Remove</button></p>`;
  }
  return `<label for="promotionCode">Promotion code</label>
<div class="row"><input id="promotionCode" name="promotionCode" autocomplete="off" data-testid="checkout-promotion-code" value="${esc(opts.typed ?? "")}">
<button type="submit" class="secondary" formaction="/checkout/${esc(session.id)}/apply" formnovalidate data-testid="checkout-promotion-code-apply">Apply</button></div>
${opts.error ? `<div class="error" role="alert" data-testid="checkout-promotion-code-error">${esc(opts.error)}</div>` : ""}`;
}

export function addressSection(ctx: SimContext, session: Stripe.Checkout.Session): string {
  if (!collectsAddress(ctx, session)) return "";
  const address = checkoutAddress(ctx, session);
  const options = CHECKOUT_COUNTRIES.map(
    ([code, name]) => `<option value="${code}"${address?.country === code ? " selected" : ""}>${esc(name)}</option>`,
  ).join("");
  const taxId = session.tax_id_collection?.enabled
    ? `<label for="taxId">VAT or tax ID (optional)</label>
<input id="taxId" name="taxId" autocomplete="off" placeholder="DE123456789" data-testid="checkout-tax-id" value="${esc(session.customer_details?.tax_ids?.[0]?.value ?? "")}">`
    : "";
  return `<h2>Billing address</h2>
<label for="billingCountry">Country</label>
<select id="billingCountry" name="billingCountry" data-testid="checkout-country"><option value="">Select…</option>${options}</select>
<label for="billingPostalCode">Postal code</label>
<input id="billingPostalCode" name="billingPostalCode" autocomplete="postal-code" data-testid="checkout-postal-code" value="${esc(address?.postal_code ?? "")}">
${taxId}
<button type="submit" class="secondary" formaction="/checkout/${esc(session.id)}/apply" formnovalidate data-testid="checkout-address-apply">Update total</button>`;
}

/** Subtotal, discount and tax rows above "Total due today" (only those that apply). */
export function breakdownRows(ctx: SimContext, session: Stripe.Checkout.Session): string {
  const currency = session.currency ?? "usd";
  const discount = session.total_details?.amount_discount ?? 0;
  const tax = session.total_details?.amount_tax ?? 0;
  const rule = checkoutTaxRule(ctx, session);
  const rows: string[] = [];
  if (discount > 0 || rule) {
    rows.push(`<p class="row"><span>Subtotal</span><span data-testid="checkout-subtotal">${esc(money(session.amount_subtotal ?? 0, currency))}</span></p>`);
  }
  if (discount > 0) rows.push(`<p class="row"><span>Discount</span><span data-testid="checkout-discount">−${esc(money(discount, currency))}</span></p>`);
  if (rule) {
    const label = rule.reason === "reverse_charge" ? "Tax (reverse charge)" : `Tax (${rule.country} ${rule.percent}%)`;
    rows.push(`<p class="row"><span data-testid="checkout-tax-label">${esc(label)}</span><span data-testid="checkout-tax" data-rate="${rule.percent}">${esc(money(tax, currency))}</span></p>`);
  } else if (session.automatic_tax.enabled) {
    rows.push(`<p class="muted" data-testid="checkout-tax-pending">Tax is calculated once you enter your billing address.</p>`);
  }
  return rows.join("\n");
}
