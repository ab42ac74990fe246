/**
 * Checkout: session creation, expiry and completion from the hosted page
 * (subscription mode: a subscription with its paid first invoice; payment
 * mode: a succeeded PaymentIntent and its Charge, plus a paid invoice with
 * `invoice_creation.enabled`), and paying invoices from hosted pages.
 */
import type Stripe from "stripe";
import { buildCheckoutLineItem, buildCheckoutSession, buildInvoice, buildInvoiceItemLine, buildPaymentIntent, isMetered } from "./builders.ts";
import {
  attemptInvoicePayment,
  createCard,
  createCustomer,
  createSubscription,
  finalizeInvoice,
  getCustomer,
  getPrice,
  idOf,
  productName,
  redeem,
  requireSameInterval,
  resolveDiscountRefs,
  getCoupon,
  priceInvoice,
  type DiscountRef,
} from "./billing.ts";
import { buildTaxId } from "./builders.ts";
import { checkoutAddress, collectsAddress, refreshCheckoutTotals } from "./checkoutTotals.ts";
import { requireCustomerCurrency, requireUnitAmountIn } from "./currency.ts";
import { chargeCard, normaliseCardNumber, type ChargeResult } from "./cards.ts";
import type { SimContext } from "./context.ts";
import { invalid, paramMissing } from "./errors.ts";
import { emit, snapshot } from "./events.ts";
import { newId, randomToken } from "./ids.ts";
import { succeed } from "./paymentIntents.ts";
import type { TrialMissingPaymentMethod } from "./store.ts";


export type NewCheckoutSession = {
  mode: Stripe.Checkout.Session.Mode;
  /** `quantity` is refused on a metered price, and defaults to 1 on a licensed one. */
  lineItems: { price: string; quantity?: number }[];
  customer: string | null;
  customerEmail: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  successUrl: string | null;
  cancelUrl: string | null;
  allowPromotionCodes: boolean | null;
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
  trialPeriodDays: number | null;
  /** `subscription_data[trial_settings][end_behavior][missing_payment_method]`. */
  trialMissingPaymentMethod?: TrialMissingPaymentMethod | null;
  /** `payment_method_collection` (default `always`). */
  paymentMethodCollection?: "always" | "if_required" | null;
  paymentIntentMetadata: Record<string, string>;
  /** Payment mode: `invoice_creation[enabled]=true` with its `invoice_data`. */
  invoiceCreation?: { description: string | null; metadata: Record<string, string> } | null;
  /** Payment mode: `payment_intent_data.setup_future_usage` — the card is saved to the customer. */
  setupFutureUsage?: "on_session" | "off_session" | null;
  /** `saved_payment_method_options`: with `payment_method_save: "enabled"` the page offers to save the card. */
  savedPaymentMethodOptions?: Stripe.Checkout.Session.SavedPaymentMethodOptions | null;
  /** `discounts[0][coupon|promotion_code]`: applied from the start (not with `allow_promotion_codes`). */
  discounts?: DiscountRef[];
  /** `automatic_tax[enabled]`. */
  automaticTax?: boolean;
  billingAddressCollection?: "auto" | "required" | null;
  /** `tax_id_collection[enabled]`: the page offers a VAT id field. */
  taxIdCollection?: boolean;
  /** `customer_update[address]=auto`. */
  customerUpdateAddress?: boolean;
  /** Lower-case ISO code; each price needs an amount in it (its own currency or `currency_options`). */
  currency?: string | null;
};

const NEEDS_ADDRESS =
  "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address to the Customer or set either `customer_update[address]` to 'auto' or `customer_update[shipping]` to 'auto' to save the address entered in Checkout to the Customer.";

export function createCheckoutSession(ctx: SimContext, input: NewCheckoutSession): Stripe.Checkout.Session {
  if (input.mode !== "subscription" && input.mode !== "payment") {
    throw invalid(`The simulator supports Checkout modes 'subscription' and 'payment', not '${input.mode}'.`, "mode");
  }
  if (!input.successUrl) throw paramMissing("success_url");
  if (input.lineItems.length === 0) throw paramMissing("line_items");
  if (input.customer) getCustomer(ctx, input.customer);
  const prices = input.lineItems.map((li, i) => getPrice(ctx, li.price, `line_items[${i}][price]`));
  prices.forEach((p, i) => {
    if (!p.active) throw invalid(`The price specified is inactive. This field only accepts active prices.`, `line_items[${i}][price]`);
    if (input.mode === "subscription" && !p.recurring) {
      throw invalid("You must provide at least one recurring price in `subscription` mode when using prices.", `line_items[${i}][price]`);
    }
    if (isMetered(p) && input.lineItems[i]?.quantity !== undefined) {
      throw invalid(`Quantity should not be specified where usage_type is \`metered\`. Remove quantity from \`line_items[${i}]\`.`, `line_items[${i}][quantity]`);
    }
    if (input.mode === "payment" && p.recurring) {
      throw invalid("You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.", `line_items[${i}][price]`);
    }
  });
  if (input.mode === "subscription") requireSameInterval(prices, "line_items");
  const currency = input.currency?.toLowerCase() ?? prices[0]?.currency ?? "usd";
  const units = prices.map((p, i) => requireUnitAmountIn(p, currency, input.currency ? "currency" : `line_items[${i}][price]`));
  const customer = input.customer ? getCustomer(ctx, input.customer) : null;
  if (customer && (input.mode === "subscription" || input.invoiceCreation)) requireCustomerCurrency(customer, currency);
  if (input.allowPromotionCodes && (input.discounts ?? []).length > 0) {
    throw invalid("You may only specify one of these parameters: allow_promotion_codes, discounts.", "discounts");
  }
  if (input.automaticTax && customer && !customer.address?.country && !input.customerUpdateAddress) throw invalid(NEEDS_ADDRESS, "automatic_tax[enabled]");
  const id = `cs_test_${randomToken(58)}`;
  const lineItems = input.lineItems.map((li, i) => {
    const price = snapshot(prices[i] as Stripe.Price);
    return buildCheckoutLineItem(price, isMetered(price) ? null : (li.quantity ?? 1), productName(ctx, price), units[i] ?? 0, currency);
  });
  const trial = input.mode === "subscription" && input.trialPeriodDays ? input.trialPeriodDays : null;
  const amountTotal = trial ? 0 : lineItems.reduce((s, li) => s + li.amount_total, 0);
  const picked = resolveDiscountRefs(ctx, input.discounts ?? [], { customer: input.customer, currency, subtotal: amountTotal, now: ctx.store.now(input.customer) });
  const session = buildCheckoutSession({
    id,
    created: ctx.store.now(input.customer),
    mode: input.mode,
    customer: input.customer,
    customerEmail: input.customerEmail,
    clientReferenceId: input.clientReferenceId,
    metadata: input.metadata,
    successUrl: input.successUrl,
    cancelUrl: input.cancelUrl,
    currency,
    amountTotal,
    allowPromotionCodes: input.allowPromotionCodes,
    url: `${ctx.baseUrl}/checkout/${id}`,
  });
  ctx.store.state.checkoutSessions[id] = session;
  ctx.store.state.checkoutLineItems[id] = lineItems;
  ctx.store.state.checkoutExtras[id] = {
    subscriptionMetadata: input.subscriptionMetadata,
    subscriptionDescription: input.subscriptionDescription,
    trialPeriodDays: trial,
    trialMissingPaymentMethod: input.trialMissingPaymentMethod ?? undefined,
    paymentMethodCollection: input.paymentMethodCollection ?? "always",
    paymentIntentMetadata: input.paymentIntentMetadata,
    invoiceCreation: input.mode === "payment" ? (input.invoiceCreation ?? null) : null,
    setupFutureUsage: input.mode === "payment" ? (input.setupFutureUsage ?? null) : null,
    automaticTax: input.automaticTax ?? false,
    customerUpdateAddress: input.customerUpdateAddress ?? false,
  };
  session.discounts = picked.map((d) => ({ coupon: d.coupon.id, promotion_code: d.promotionCode?.id ?? null }));
  if (input.automaticTax) session.automatic_tax = { enabled: true, liability: { type: "self" }, provider: "stripe", status: "requires_location_inputs" };
  session.billing_address_collection = input.billingAddressCollection ?? null;
  session.payment_method_collection = input.paymentMethodCollection ?? "always";
  if (input.taxIdCollection) session.tax_id_collection = { enabled: true, required: "never" };
  refreshCheckoutTotals(ctx, session);
  if (input.savedPaymentMethodOptions) session.saved_payment_method_options = input.savedPaymentMethodOptions;
  if (input.mode === "payment") {
    session.invoice_creation = {
      enabled: Boolean(input.invoiceCreation),
      invoice_data: {
        account_tax_ids: null,
        custom_fields: null,
        description: input.invoiceCreation?.description ?? null,
        footer: null,
        issuer: null,
        metadata: input.invoiceCreation?.metadata ?? {},
        rendering_options: null,
      },
    };
  }
  return session;
}

export function expireCheckoutSession(ctx: SimContext, session: Stripe.Checkout.Session): Stripe.Checkout.Session {
  if (session.status !== "open") {
    throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired.`, "session");
  }
  session.status = "expired";
  session.url = null;
  emit(ctx, "checkout.session.expired", session, { customer: idOf(session.customer as string | { id: string } | null) });
  return session;
}

export type CheckoutOutcome =
  | { kind: "redirect"; url: string }
  | { kind: "error"; message: string; code: string }
  | { kind: "requires_action" };

/**
 * Pays a Checkout Session with a test card (the hosted page's submit).
 * Declines leave the session open. Success creates the customer (if the
 * session had none), creates the subscription (paid first invoice; the card
 * attached and its `default_payment_method`) or a succeeded PaymentIntent,
 * completes the session and emits `checkout.session.completed` last. In
 * payment mode the card is saved to the customer only as Stripe does: with
 * `payment_intent_data.setup_future_usage`, or when the customer ticks "save"
 * (`saved_payment_method_options.payment_method_save: enabled`).
 */
export function completeCheckout(
  ctx: SimContext,
  session: Stripe.Checkout.Session,
  input: { cardNumber: string; email: string | null; name: string | null; authenticated: boolean; saveCard?: boolean },
): CheckoutOutcome {
  if (session.status !== "open") return { kind: "error", code: "session_inactive", message: "This Checkout Session is no longer active." };
  // `payment_method_collection: if_required` with nothing due today (a trial): no card is asked for or kept.
  const cardless = checkoutNeedsNoCard(ctx, session);
  const number = cardless ? "" : normaliseCardNumber(input.cardNumber);
  if (!cardless && !/^\d{12,19}$/.test(number)) return { kind: "error", code: "incorrect_number", message: "Your card number is incomplete." };
  const extras = ctx.store.state.checkoutExtras[session.id];
  if ((collectsAddress(ctx, session) || session.automatic_tax.enabled) && !checkoutAddress(ctx, session)?.country) {
    return { kind: "error", code: "billing_address_required", message: ADDRESS_REQUIRED };
  }
  const dueNow = checkoutDueToday(ctx, session) > 0;
  if (dueNow) {
    const check = chargeCard(number, { atCheckout: true, authenticated: input.authenticated });
    if (!check.ok) {
      if (check.kind === "requires_action") return { kind: "requires_action" };
      return { kind: "error", code: check.code, message: check.message };
    }
  } else if (!cardless) {
    // A trial still validates the card (Stripe runs a SetupIntent): hard declines fail.
    const check = chargeCard(number, { atCheckout: true, authenticated: true });
    if (!check.ok && check.kind === "declined") return { kind: "error", code: check.code, message: check.message };
  }

  let customerId = idOf(session.customer);
  const createdHere = !customerId;
  const email = input.email ?? session.customer_email ?? null;
  if (!customerId) {
    customerId = createCustomer(ctx, { email, name: input.name }).id;
    session.customer = customerId;
  }
  const customer = getCustomer(ctx, customerId);
  const optedIn = session.saved_payment_method_options?.payment_method_save === "enabled" && input.saveCard === true;
  const save = session.mode === "subscription" || Boolean(extras?.setupFutureUsage) || optedIn;
  const pm = cardless ? null : createCard(ctx, number, save ? customerId : null, { email: email ?? customer.email, name: input.name });
  if (pm && session.mode === "payment" && save) pm.allow_redisplay = optedIn ? "always" : "limited";
  const lineItems = ctx.store.state.checkoutLineItems[session.id] ?? [];
  const typed = session.customer_details;
  saveCollectedDetails(ctx, session, customer, { created: createdHere });
  const picked = (session.discounts ?? []).map((d) => ({
    coupon: getCoupon(ctx, idOf(d.coupon as string | { id: string } | null) ?? ""),
    promotionCode: ctx.store.state.promotionCodes[idOf(d.promotion_code as string | { id: string } | null) ?? ""] ?? null,
  }));
  session.customer_details = {
    address: typed?.address ?? customer.address ?? null,
    business_name: null,
    email: email ?? customer.email,
    individual_name: null,
    name: input.name ?? customer.name ?? null,
    phone: null,
    tax_exempt: "none",
    tax_ids: typed?.tax_ids ?? [],
  };

  if (session.mode === "subscription") {
    const { subscription, invoice } = createSubscription(ctx, {
      customer: customerId,
      items: lineItems.map((li) => ({ price: li.price?.id ?? "", quantity: li.quantity ?? undefined })),
      metadata: extras?.subscriptionMetadata ?? {},
      description: extras?.subscriptionDescription ?? null,
      trialDays: extras?.trialPeriodDays ?? null,
      trialMissingPaymentMethod: extras?.trialMissingPaymentMethod ?? null,
      paymentMethod: pm?.id ?? null,
      atCheckout: true,
      authenticated: true,
      discounts: picked,
      checkoutSession: session.id,
      automaticTax: extras?.automaticTax ?? false,
      currency: session.currency ?? undefined,
    });
    session.subscription = subscription.id;
    session.invoice = invoice.id;
    session.payment_status = (session.amount_total ?? 0) > 0 ? "paid" : "no_payment_required";
  } else {
    if (!pm) throw new Error("a payment-mode Checkout always takes a card");
    const pi = buildPaymentIntent({
      created: ctx.store.now(customerId),
      amount: session.amount_total ?? 0,
      currency: session.currency ?? "usd",
      customer: customerId,
      paymentMethod: pm.id,
      metadata: extras?.paymentIntentMetadata ?? {},
      status: "requires_confirmation",
      description: lineItems.map((li) => li.description).join(", "),
      setupFutureUsage: extras?.setupFutureUsage ?? null,
    });
    ctx.store.state.paymentIntents[pi.id] = pi;
    // As an API PaymentIntent: payment_intent.created, charge.succeeded, payment_intent.succeeded.
    emit(ctx, "payment_intent.created", pi, { customer: customerId });
    succeed(ctx, pi, pm);
    session.payment_intent = pi.id;
    session.payment_status = "paid";
    const discounts = picked.map((p) => redeem(ctx, p, { customer: customerId, checkoutSession: session.id }, ctx.store.now(customerId)));
    if (extras?.invoiceCreation) {
      session.invoice = createPaymentInvoice(ctx, session, lineItems, { pmId: pm.id, piId: pi.id }, extras.invoiceCreation, discounts).id;
    }
  }
  session.status = "complete";
  session.url = null;
  emit(ctx, "checkout.session.completed", session, { customer: customerId });
  const success = (session.success_url ?? "").replaceAll("{CHECKOUT_SESSION_ID}", session.id);
  return { kind: "redirect", url: success };
}

const ADDRESS_REQUIRED = "Enter your billing address: country and postal code.";

/**
 * Saves what the page collected: the address goes to a customer created by
 * this Checkout, to one without an address, or with `customer_update[address]=auto`;
 * a typed tax id becomes one of the customer's tax ids.
 */
function saveCollectedDetails(ctx: SimContext, session: Stripe.Checkout.Session, customer: Stripe.Customer, opts: { created: boolean }): void {
  const typed = session.customer_details;
  const extras = ctx.store.state.checkoutExtras[session.id];
  if (typed?.address?.country && (opts.created || !customer.address?.country || extras?.customerUpdateAddress)) customer.address = typed.address;
  for (const t of typed?.tax_ids ?? []) {
    const known = Object.values(ctx.store.state.taxIds).some((x) => x.customer === customer.id && x.value === t.value);
    if (known || !t.value) continue;
    const taxId = buildTaxId({ created: ctx.store.now(customer.id), customer: customer.id, type: t.type, value: t.value, country: typed?.address?.country ?? null });
    ctx.store.state.taxIds[taxId.id] = taxId;
  }
}

/**
 * Whether the hosted page asks for no card: `payment_method_collection:
 * if_required` on a subscription session with nothing due today (a free
 * trial), as Stripe's Checkout does.
 */
export function checkoutNeedsNoCard(ctx: SimContext, session: Stripe.Checkout.Session): boolean {
  return (
    session.mode === "subscription" &&
    ctx.store.state.checkoutExtras[session.id]?.paymentMethodCollection === "if_required" &&
    checkoutDueToday(ctx, session) === 0
  );
}

/**
 * What the customer pays at Checkout: the total less the credit balance of
 * an existing customer (subscription mode; Stripe applies the balance to the
 * first invoice).
 */
export function checkoutDueToday(ctx: SimContext, session: Stripe.Checkout.Session): number {
  const total = session.amount_total ?? 0;
  const customerId = idOf(session.customer);
  const balance = customerId && session.mode === "subscription" ? (ctx.store.state.customers[customerId]?.balance ?? 0) : 0;
  return total <= 0 ? 0 : Math.max(total + balance, 0);
}

/**
 * `invoice_creation` in payment mode: a one-off invoice (`billing_reason:
 * manual`, no parent) for the session's line items, paid by the session's
 * PaymentIntent (its `invoice_payment` links that one; no second charge).
 * Events: `invoice.created`, `invoice.finalized`, `invoice.paid`, `invoice.payment_succeeded`.
 */
function createPaymentInvoice(
  ctx: SimContext,
  session: Stripe.Checkout.Session,
  lineItems: Stripe.LineItem[],
  paid: { pmId: string; piId: string },
  data: { description: string | null; metadata: Record<string, string> },
  discounts: Stripe.Discount[],
): Stripe.Invoice {
  const customer = getCustomer(ctx, idOf(session.customer) ?? "");
  const now = ctx.store.now(customer.id);
  const id = newId("in");
  const lines = lineItems.flatMap((li) =>
    li.price
      ? [buildInvoiceItemLine({ invoice: id, price: li.price, quantity: li.quantity ?? 1, description: li.description ?? "", period: now, unitAmount: li.amount_subtotal / (li.quantity || 1), currency: li.currency })]
      : [],
  );
  const invoice = buildInvoice({
    id,
    customer,
    subscription: null,
    created: now,
    currency: session.currency ?? "usd",
    billingReason: "manual",
    lines,
    periodStart: now,
    periodEnd: now,
    // Payment-mode Checkout charges the full amount; the balance is not touched.
    startingBalance: 0,
    baseUrl: ctx.baseUrl,
    number: null,
  });
  invoice.description = data.description;
  invoice.metadata = data.metadata;
  for (const d of discounts) d.invoice = id;
  const applied = discounts.flatMap((discount) => {
    const coupon = ctx.store.state.coupons[idOf(discount.source.coupon) ?? ""];
    return coupon ? [{ discount, coupon }] : [];
  });
  priceInvoice(ctx, invoice, customer, { discounts: applied, automaticTax: ctx.store.state.checkoutExtras[session.id]?.automaticTax ?? false });
  if (!customer.currency) customer.currency = invoice.currency;
  ctx.store.state.invoices[id] = invoice;
  emit(ctx, "invoice.created", invoice, { customer: customer.id });
  finalizeInvoice(ctx, invoice);
  attemptInvoicePayment(ctx, invoice, { paymentMethod: paid.pmId, atCheckout: true, authenticated: true, paymentIntent: paid.piId });
  return invoice;
}

/** Customer-facing portal and invoice pages pay with a newly typed card or the default one. */
export function payInvoiceWithCard(
  ctx: SimContext,
  invoice: Stripe.Invoice,
  input: { cardNumber: string | null; authenticated: boolean },
): ChargeResult {
  const customerId = idOf(invoice.customer) ?? "";
  let pmId: string | null = null;
  if (input.cardNumber) {
    const number = normaliseCardNumber(input.cardNumber);
    const existing = Object.entries(ctx.store.state.cardNumbers).find(
      ([id, n]) => n === number && idOf(ctx.store.state.paymentMethods[id]?.customer as string | null) === customerId,
    );
    pmId = existing ? existing[0] : createCard(ctx, number, customerId).id;
  }
  return attemptInvoicePayment(ctx, invoice, { paymentMethod: pmId, authenticated: input.authenticated });
}
