/**
 * Hosted pages on loopback: Checkout (`/checkout/:id`, a session's `url`),
 * the 3-D Secure challenge (`/3ds/:id`), the Billing Portal (`/portal/:id`)
 * and hosted invoices (`/invoice/:id`). Plain forms with stable ids and
 * `data-testid`s (listed in docs/STRIPE_SIMULATOR.md) so browsers and
 * Playwright can drive them.
 */
import type Stripe from "stripe";
import { idOf } from "../billing.ts";
import { normaliseCardNumber, type ChargeResult } from "../cards.ts";
import { checkoutDueToday, checkoutNeedsNoCard, completeCheckout, payInvoiceWithCard } from "../checkout.ts";
import { completeAuthentication } from "../paymentIntents.ts";
import type { SimContext } from "../context.ts";
import { str, type FormObject } from "../form.ts";
import { day, esc, money, page } from "../html.ts";
import { newId } from "../ids.ts";
import { html, redirect, type Router, type SimRequest, type SimResponse } from "../router.ts";
import { registerPortalPages } from "./hostedPortal.ts";
import { addressSection, applyTypedFields, breakdownRows, promotionSection } from "./hostedCheckoutParts.ts";
import { removePromotionCode } from "../checkoutTotals.ts";
import { unitAmountIn } from "../currency.ts";

const AUTH_FAILED = "We are unable to authenticate your payment method. Please choose a different payment method and try again.";

/** "$29.00 per month" in `currency` (the session's; a `currency_options` amount when it differs from the price's). */
export function priceLabel(ctx: SimContext, price: Stripe.Price, currency = price.currency): string {
  const per = price.recurring
    ? ` per ${price.recurring.interval_count > 1 ? `${price.recurring.interval_count} ${price.recurring.interval}s` : price.recurring.interval}`
    : "";
  // A metered price bills usage in arrears: per unit, nothing due today.
  const usage = price.recurring?.usage_type === "metered" ? " per unit, billed by usage" : "";
  return `${money(unitAmountIn(price, currency) ?? 0, currency)}${usage}${per}`;
}

export function notFound(what: string) {
  return html(404, page("Not found", `<h1 data-testid="not-found">${esc(what)} not found</h1>`));
}

/**
 * After the challenge of a PaymentIntent: back to its `return_url` with the
 * query Stripe adds (`payment_intent`, `payment_intent_client_secret`,
 * `redirect_status`), or a page saying how it ended when there is none.
 */
function paymentIntentAuthResult(pi: Stripe.PaymentIntent, returnUrl: string): SimResponse {
  const ok = pi.status === "succeeded";
  if (returnUrl) {
    const url = new URL(returnUrl);
    url.searchParams.set("payment_intent", pi.id);
    url.searchParams.set("payment_intent_client_secret", pi.client_secret ?? "");
    url.searchParams.set("redirect_status", ok ? "succeeded" : "failed");
    return redirect(url.toString());
  }
  const text = ok ? "Authentication complete: the payment succeeded." : AUTH_FAILED;
  return html(200, page("3D Secure", `<h1 data-testid="3ds-result" data-status="${esc(pi.status)}">${esc(text)}</h1>`));
}

export function registerHostedRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;

  // ---- Checkout ----------------------------------------------------------
  const checkoutPage = (
    session: Stripe.Checkout.Session,
    opts: { error?: string; email?: string; name?: string; status?: number; codeError?: string; typedCode?: string; card?: FormObject } = {},
  ) => {
    const items = state().checkoutLineItems[session.id] ?? [];
    if (session.status !== "open") {
      const done =
        session.status === "complete" && session.success_url
          ? `<p><a data-testid="checkout-success-link" href="${esc(session.success_url.replaceAll("{CHECKOUT_SESSION_ID}", session.id))}">Continue</a></p>`
          : "";
      return html(
        410,
        page("Checkout", `<h1 data-testid="checkout-inactive">This Checkout Session is no longer active (${esc(session.status)}).</h1>${done}`),
      );
    }
    const customer = session.customer ? state().customers[idOf(session.customer) ?? ""] : undefined;
    const email = opts.email ?? session.customer_email ?? customer?.email ?? "";
    const trial = state().checkoutExtras[session.id]?.trialPeriodDays ?? null;
    const rows = items
      .map((li) => {
        const price = li.price;
        return `<tr data-testid="checkout-line-item" data-price-id="${esc(price?.id)}" data-lookup-key="${esc(price?.lookup_key ?? "")}">
<td>${esc(li.description)}${li.quantity && li.quantity > 1 ? ` × ${li.quantity}` : ""}</td>
<td>${price ? esc(priceLabel(ctx, price, session.currency ?? price.currency)) : ""}</td></tr>`;
      })
      .join("");
    // An existing customer's credit balance pays first, as on the first invoice.
    const dueToday = checkoutDueToday(ctx, session);
    const credit = (session.amount_total ?? 0) - dueToday;
    const submit = session.mode === "subscription" ? (trial ? "Start trial" : "Subscribe") : "Pay";
    const offerSave = session.mode === "payment" && session.saved_payment_method_options?.payment_method_save === "enabled";
    // `payment_method_collection: if_required` and nothing due (a trial): Checkout asks for no card.
    const cardless = checkoutNeedsNoCard(ctx, session);
    const body = `
<h1 data-testid="checkout-title">${session.mode === "subscription" ? "Subscribe" : "Pay"}</h1>
<table>${rows}</table>
${breakdownRows(ctx, session)}
${credit > 0 ? `<p class="row"><span>Applied balance</span><span data-testid="checkout-credit">−${esc(money(credit, session.currency ?? "usd"))}</span></p>` : ""}
<p class="row"><strong>Total due today</strong><strong data-testid="checkout-total">${esc(money(dueToday, session.currency ?? "usd"))}</strong></p>
${trial ? `<p class="muted" data-testid="checkout-trial">${trial}-day free trial</p>` : ""}
${opts.error ? `<div class="error" id="checkout-error" role="alert" data-testid="checkout-error">${esc(opts.error)}</div>` : ""}
<form id="checkout-form" data-testid="checkout-form" method="post" action="/checkout/${esc(session.id)}/pay">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" data-testid="checkout-email" value="${esc(email)}">
${promotionSection(ctx, session, { typed: opts.typedCode, error: opts.codeError })}
${addressSection(ctx, session)}
${cardless ? `<p class="muted" data-testid="checkout-no-card">No card needed to start your trial.</p>` : `<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" data-testid="card-number" value="${esc(str(opts.card?.cardNumber) ?? "")}" required>
<div class="row"><div style="flex:1"><label for="cardExpiry">Expiration (MM / YY)</label>
<input id="cardExpiry" name="cardExpiry" placeholder="12 / 34" autocomplete="cc-exp" data-testid="card-expiry" value="${esc(str(opts.card?.cardExpiry) ?? "")}"></div>
<div style="flex:1"><label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" placeholder="123" autocomplete="cc-csc" data-testid="card-cvc" value="${esc(str(opts.card?.cardCvc) ?? "")}"></div></div>
<label for="cardholderName">Cardholder name</label>
<input id="cardholderName" name="cardholderName" autocomplete="cc-name" data-testid="cardholder-name" value="${esc(opts.name ?? customer?.name ?? "")}">`}
${
  offerSave
    ? `<label class="row"><input id="saveCard" name="saveCard" type="checkbox" value="on" data-testid="checkout-save-card"> Save my payment details for future purchases</label>`
    : ""
}
<button id="submit" type="submit" data-testid="checkout-submit">${submit}</button>
</form>
${session.cancel_url ? `<p><a id="cancel-link" data-testid="checkout-cancel" href="${esc(session.cancel_url)}">← Cancel and go back</a></p>` : ""}
<p class="muted">Test cards: 4242 4242 4242 4242 succeeds · 4000 0000 0000 0002 declines · 4000 0000 0000 0341 fails later charges · 4000 0027 6000 3184 needs 3-D Secure.</p>`;
    return html(opts.status ?? 200, page("Checkout", body));
  };

  router.on("GET", "/checkout/:id", (req) => {
    const session = state().checkoutSessions[req.params.id ?? ""];
    if (!session) return notFound("Checkout Session");
    const error = str(req.query.error) === "authentication_failed" ? AUTH_FAILED : undefined;
    return checkoutPage(session, { error });
  });

  /** The page again after "Apply" / "Update total", with what was typed kept. */
  const reshow = (session: Stripe.Checkout.Session, req: SimRequest, codeError: string | null, status = 200) =>
    checkoutPage(session, {
      email: str(req.body.email) ?? "",
      name: str(req.body.cardholderName) ?? "",
      codeError: codeError ?? undefined,
      typedCode: codeError ? (str(req.body.promotionCode) ?? "") : undefined,
      card: req.body,
      status,
    });

  router.on("POST", "/checkout/:id/apply", (req) => {
    const session = state().checkoutSessions[req.params.id ?? ""];
    if (!session) return notFound("Checkout Session");
    if (session.status !== "open") return checkoutPage(session);
    return reshow(session, req, applyTypedFields(ctx, session, req.body));
  });

  router.on("POST", "/checkout/:id/remove-code", (req) => {
    const session = state().checkoutSessions[req.params.id ?? ""];
    if (!session) return notFound("Checkout Session");
    if (session.status === "open") removePromotionCode(ctx, session);
    return reshow(session, req, null);
  });

  router.on("POST", "/checkout/:id/pay", (req) => {
    const session = state().checkoutSessions[req.params.id ?? ""];
    if (!session) return notFound("Checkout Session");
    if (session.status === "open") {
      const codeError = applyTypedFields(ctx, session, req.body);
      if (codeError) return reshow(session, req, codeError, 400);
    }
    const email = str(req.body.email)?.trim() || null;
    const name = str(req.body.cardholderName)?.trim() || null;
    const cardNumber = normaliseCardNumber(str(req.body.cardNumber) ?? "");
    const saveCard = str(req.body.saveCard) === "on";
    const outcome = completeCheckout(ctx, session, { cardNumber, email, name, authenticated: false, saveCard });
    if (outcome.kind === "redirect") return redirect(outcome.url);
    if (outcome.kind === "requires_action") {
      const id = newId("3ds");
      state().pendingAuths[id] = {
        id,
        kind: "checkout",
        targetId: session.id,
        cardNumber,
        email,
        name,
        returnPath: `/checkout/${session.id}`,
        saveCard,
      };
      return redirect(`/3ds/${id}`);
    }
    return checkoutPage(session, { error: outcome.message, email: email ?? "", name: name ?? "", status: 402 });
  });

  // ---- 3-D Secure ----------------------------------------------------------
  router.on("GET", "/3ds/:id", (req) => {
    const auth = state().pendingAuths[req.params.id ?? ""];
    if (!auth) return notFound("Authentication");
    const body = `
<h1 data-testid="3ds-title">3D Secure 2 test page</h1>
<p>Authenticate the payment with the card ending ${esc(auth.cardNumber.slice(-4))}.</p>
<form method="post" action="/3ds/${esc(auth.id)}" class="inline">
<input type="hidden" name="action" value="approve">
<button id="approve" type="submit" data-testid="3ds-approve">Complete authentication</button></form>
<form method="post" action="/3ds/${esc(auth.id)}" class="inline">
<input type="hidden" name="action" value="deny">
<button id="deny" type="submit" class="danger" data-testid="3ds-deny">Fail authentication</button></form>`;
    return html(200, page("3D Secure", body));
  });

  router.on("POST", "/3ds/:id", (req) => {
    const auth = state().pendingAuths[req.params.id ?? ""];
    if (!auth) return notFound("Authentication");
    delete state().pendingAuths[auth.id];
    const approved = str(req.body.action) === "approve";
    if (auth.kind === "payment_intent") {
      const pi = state().paymentIntents[auth.targetId];
      if (!pi) return notFound("PaymentIntent");
      return paymentIntentAuthResult(completeAuthentication(ctx, pi, approved), auth.returnPath);
    }
    if (auth.kind === "checkout") {
      const session = state().checkoutSessions[auth.targetId];
      if (!session) return notFound("Checkout Session");
      if (!approved) return redirect(`/checkout/${session.id}?error=authentication_failed`);
      const outcome = completeCheckout(ctx, session, {
        cardNumber: auth.cardNumber,
        email: auth.email,
        name: auth.name,
        authenticated: true,
        saveCard: auth.saveCard ?? false,
      });
      if (outcome.kind === "redirect") return redirect(outcome.url);
      return checkoutPage(session, { error: outcome.kind === "error" ? outcome.message : AUTH_FAILED, status: 402 });
    }
    const invoice = state().invoices[auth.targetId];
    if (!invoice) return notFound("Invoice");
    const back = (params: string) => redirect(`${auth.returnPath}${auth.returnPath.includes("?") ? "&" : "?"}${params}`);
    if (!approved) return back("error=authentication_failed");
    const result = invoice.status === "open" ? payInvoiceWithCard(ctx, invoice, { cardNumber: auth.cardNumber, authenticated: true }) : { ok: true as const };
    return back(result.ok ? "msg=invoice_paid" : `error=${encodeURIComponent(failureText(result))}`);
  });

  const failureText = (r: ChargeResult): string => (r.ok ? "" : r.kind === "requires_action" ? AUTH_FAILED : r.message);

  /** Pays an invoice from a hosted page; returns a redirect (3DS or back with a message). */
  const payFromPage = (invoice: Stripe.Invoice, cardNumber: string | null, returnPath: string): SimResponse => {
    const sep = returnPath.includes("?") ? "&" : "?";
    if (invoice.status !== "open") return redirect(`${returnPath}${sep}error=${encodeURIComponent(`Invoice is ${invoice.status ?? "draft"}.`)}`);
    const result = payInvoiceWithCard(ctx, invoice, { cardNumber, authenticated: false });
    if (result.ok) return redirect(`${returnPath}${sep}msg=invoice_paid`);
    if (result.kind === "requires_action") {
      const customerId = idOf(invoice.customer) ?? "";
      const sub = invoice.parent?.subscription_details?.subscription;
      const subDefault = sub ? state().subscriptions[idOf(sub) ?? ""]?.default_payment_method : null;
      const pm =
        idOf(subDefault) ?? idOf(state().customers[customerId]?.invoice_settings.default_payment_method);
      const number = cardNumber ?? (pm ? (state().cardNumbers[pm] ?? "") : "");
      const id = newId("3ds");
      state().pendingAuths[id] = { id, kind: "invoice", targetId: invoice.id, cardNumber: number, email: null, name: null, returnPath };
      return redirect(`/3ds/${id}`);
    }
    return redirect(`${returnPath}${sep}error=${encodeURIComponent(result.message)}`);
  };

  const messageFor = (req: SimRequest): { msg?: string; error?: string } => {
    const msgKey = str(req.query.msg);
    const msgs: Record<string, string> = {
      invoice_paid: "Payment successful. Thank you!",
      plan_updated: "Your plan has been updated.",
      canceled: "Your plan has been canceled. You keep access until the end of the period.",
      renewed: "Your plan will renew.",
      card_updated: "Your payment method has been updated.",
      plan_scheduled: "Your plan will change at the end of the current period.",
      change_canceled: "Your scheduled plan change has been canceled.",
      canceled_now: "Your plan has been canceled.",
    };
    const errorParam = str(req.query.error);
    return {
      msg: msgKey ? (msgs[msgKey] ?? msgKey) : undefined,
      error: errorParam === "authentication_failed" ? AUTH_FAILED : errorParam,
    };
  };

  // ---- Hosted invoice ------------------------------------------------------
  router.on("GET", "/invoice/:id", (req) => {
    const invoice = state().invoices[req.params.id ?? ""];
    if (!invoice) return notFound("Invoice");
    const { msg, error } = messageFor(req);
    const lines = invoice.lines.data
      .map((l) => `<tr data-testid="invoice-line"><td>${esc(l.description)}</td><td>${esc(money(l.amount, l.currency))}</td></tr>`)
      .join("");
    const open = invoice.status === "open";
    const body = `
<h1>Invoice <span data-testid="invoice-number">${esc(invoice.number ?? invoice.id)}</span></h1>
<p class="row"><span>Status</span><strong data-testid="invoice-status">${esc(invoice.status)}</strong></p>
<p class="row"><span>Amount due</span><strong data-testid="invoice-amount-due">${esc(money(invoice.amount_remaining, invoice.currency))}</strong></p>
<table>${lines}</table>
${msg ? `<div class="message" data-testid="invoice-message">${esc(msg)}</div>` : ""}
${error ? `<div class="error" role="alert" data-testid="invoice-error">${esc(error)}</div>` : ""}
${
  open
    ? `<form id="invoice-pay-form" method="post" action="/invoice/${esc(invoice.id)}/pay">
<label for="invoiceCardNumber">Card number (leave blank to use the card on file)</label>
<input id="invoiceCardNumber" name="cardNumber" inputmode="numeric" data-testid="invoice-card-number" placeholder="4242 4242 4242 4242">
<button id="invoice-pay" type="submit" data-testid="invoice-pay">Pay ${esc(money(invoice.amount_remaining, invoice.currency))}</button></form>`
    : invoice.status === "paid"
      ? `<p class="message" data-testid="invoice-paid">Invoice paid on ${esc(day(invoice.status_transitions.paid_at))}.</p>`
      : ""
}`;
    return html(200, page(`Invoice ${invoice.number ?? invoice.id}`, body));
  });

  router.on("POST", "/invoice/:id/pay", (req) => {
    const invoice = state().invoices[req.params.id ?? ""];
    if (!invoice) return notFound("Invoice");
    const card = normaliseCardNumber(str(req.body.cardNumber) ?? "");
    return payFromPage(invoice, card || null, `/invoice/${invoice.id}`);
  });

  router.on("GET", "/invoice/:id/pdf", (req) => {
    const invoice = state().invoices[req.params.id ?? ""];
    if (!invoice) return notFound("Invoice");
    const lines = invoice.lines.data.map((l) => `<tr><td>${esc(l.description)}</td><td>${esc(money(l.amount, l.currency))}</td></tr>`).join("");
    return html(
      200,
      page(
        `Receipt ${invoice.number ?? invoice.id}`,
        `<h1>Invoice ${esc(invoice.number)}</h1><p>Status: ${esc(invoice.status)}</p><table>${lines}</table><p>Total ${esc(money(invoice.total, invoice.currency))}</p>`,
      ),
    );
  });

  registerPortalPages(router, ctx, { payFromPage, messageFor });
}
