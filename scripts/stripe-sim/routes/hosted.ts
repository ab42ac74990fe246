/**
 * Hosted pages on loopback: Checkout (`/checkout/:id`, a session's `url`),
 * the 3-D Secure challenge (`/3ds/:id`), the Billing Portal (`/portal/:id`)
 * and hosted invoices (`/invoice/:id`). Plain forms with stable ids and
 * `data-testid`s (listed in docs/STRIPE_SIMULATOR.md) so browsers and
 * Playwright can drive them.
 */
import type Stripe from "stripe";
import {
  changePrice,
  completeCheckout,
  createCard,
  getCustomer,
  idOf,
  payInvoiceWithCard,
  periodOf,
  productName,
  scheduleCancel,
  setDefaultPaymentMethod,
  unscheduleCancel,
} from "../billing.ts";
import { cardSpec, normaliseCardNumber, type ChargeResult } from "../cards.ts";
import type { SimContext } from "../context.ts";
import { str } from "../form.ts";
import { day, esc, money, page } from "../html.ts";
import { newId } from "../ids.ts";
import { html, redirect, type Router, type SimRequest } from "../router.ts";

const AUTH_FAILED = "We are unable to authenticate your payment method. Please choose a different payment method and try again.";

function priceLabel(ctx: SimContext, price: Stripe.Price): string {
  const per = price.recurring
    ? ` per ${price.recurring.interval_count > 1 ? `${price.recurring.interval_count} ${price.recurring.interval}s` : price.recurring.interval}`
    : "";
  return `${money(price.unit_amount ?? 0, price.currency)}${per}`;
}

function notFound(what: string) {
  return html(404, page("Not found", `<h1 data-testid="not-found">${esc(what)} not found</h1>`));
}

export function registerHostedRoutes(router: Router, ctx: SimContext): void {
  const state = () => ctx.store.state;

  // ---- Checkout ----------------------------------------------------------
  const checkoutPage = (
    session: Stripe.Checkout.Session,
    opts: { error?: string; email?: string; name?: string; status?: number } = {},
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
<td>${price ? esc(priceLabel(ctx, price)) : ""}</td></tr>`;
      })
      .join("");
    const submit = session.mode === "subscription" ? (trial ? "Start trial" : "Subscribe") : "Pay";
    const body = `
<h1 data-testid="checkout-title">${session.mode === "subscription" ? "Subscribe" : "Pay"}</h1>
<table>${rows}</table>
<p class="row"><strong>Total due today</strong><strong data-testid="checkout-total">${esc(money(session.amount_total ?? 0, session.currency ?? "usd"))}</strong></p>
${trial ? `<p class="muted" data-testid="checkout-trial">${trial}-day free trial</p>` : ""}
${opts.error ? `<div class="error" id="checkout-error" role="alert" data-testid="checkout-error">${esc(opts.error)}</div>` : ""}
<form id="checkout-form" data-testid="checkout-form" method="post" action="/checkout/${esc(session.id)}/pay">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" data-testid="checkout-email" value="${esc(email)}">
<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" data-testid="card-number" required>
<div class="row"><div style="flex:1"><label for="cardExpiry">Expiration (MM / YY)</label>
<input id="cardExpiry" name="cardExpiry" placeholder="12 / 34" autocomplete="cc-exp" data-testid="card-expiry"></div>
<div style="flex:1"><label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" placeholder="123" autocomplete="cc-csc" data-testid="card-cvc"></div></div>
<label for="cardholderName">Cardholder name</label>
<input id="cardholderName" name="cardholderName" autocomplete="cc-name" data-testid="cardholder-name" value="${esc(opts.name ?? customer?.name ?? "")}">
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

  router.on("POST", "/checkout/:id/pay", (req) => {
    const session = state().checkoutSessions[req.params.id ?? ""];
    if (!session) return notFound("Checkout Session");
    const email = str(req.body.email)?.trim() || null;
    const name = str(req.body.cardholderName)?.trim() || null;
    const cardNumber = normaliseCardNumber(str(req.body.cardNumber) ?? "");
    const outcome = completeCheckout(ctx, session, { cardNumber, email, name, authenticated: false });
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
    if (auth.kind === "checkout") {
      const session = state().checkoutSessions[auth.targetId];
      if (!session) return notFound("Checkout Session");
      if (!approved) return redirect(`/checkout/${session.id}?error=authentication_failed`);
      const outcome = completeCheckout(ctx, session, { cardNumber: auth.cardNumber, email: auth.email, name: auth.name, authenticated: true });
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
  const payFromPage = (invoice: Stripe.Invoice, cardNumber: string | null, returnPath: string) => {
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

  // ---- Billing portal ------------------------------------------------------
  const portalSession = (req: SimRequest) => state().portalSessions[req.params.id ?? ""];
  const liveSubs = (customerId: string) =>
    Object.values(state().subscriptions).filter(
      (s) => s.customer === customerId && s.status !== "canceled" && s.status !== "incomplete_expired",
    );
  const subFor = (customerId: string, req: SimRequest) => {
    const wanted = str(req.body.subscription);
    return liveSubs(customerId).find((s) => !wanted || s.id === wanted);
  };

  router.on("GET", "/portal/:id", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const customer = getCustomer(ctx, session.customer);
    const { msg, error } = messageFor(req);
    const pmId = idOf(customer.invoice_settings.default_payment_method);
    const pm = pmId ? state().paymentMethods[pmId] : undefined;
    const subs = liveSubs(customer.id);
    const base = `/portal/${esc(session.id)}`;
    const subsHtml = subs
      .map((sub) => {
        const item = sub.items.data[0];
        const price = item?.price;
        const { end } = periodOf(sub);
        const scheduled = sub.cancel_at_period_end || sub.cancel_at !== null;
        const others = Object.values(state().prices).filter(
          (p) => p.active && p.recurring && p.currency === sub.currency && p.id !== price?.id,
        );
        const switches = others
          .map(
            (p) => `<form method="post" action="${base}/switch" class="inline">
<input type="hidden" name="subscription" value="${esc(sub.id)}"><input type="hidden" name="price" value="${esc(p.id)}">
<button type="submit" class="secondary" data-testid="portal-switch-${esc(p.lookup_key ?? p.id)}" data-price-id="${esc(p.id)}">Switch to ${esc(productName(ctx, p))} · ${esc(priceLabel(ctx, p))}</button></form>`,
          )
          .join(" ");
        const hidden = `<input type="hidden" name="subscription" value="${esc(sub.id)}">`;
        return `<section data-testid="portal-subscription" data-subscription-id="${esc(sub.id)}">
<div class="row"><strong data-testid="portal-plan-name">${price ? esc(productName(ctx, price)) : ""}</strong>
<span data-testid="portal-plan-price">${price ? esc(priceLabel(ctx, price)) : ""}</span></div>
<p class="muted">Status: <span data-testid="portal-subscription-status">${esc(sub.status)}</span></p>
${
  scheduled
    ? `<p data-testid="portal-cancel-notice">Your plan will be canceled on ${esc(day(sub.cancel_at ?? end))}.</p>
<form method="post" action="${base}/resume">${hidden}<button type="submit" data-testid="portal-resume">Renew plan</button></form>`
    : `<p class="muted" data-testid="portal-renewal">Renews on ${esc(day(end))}.</p>
<form method="post" action="${base}/cancel">${hidden}<button type="submit" class="danger" data-testid="portal-cancel">Cancel plan</button></form>`
}
<h2>Change plan</h2><div data-testid="portal-plans">${switches || '<p class="muted">No other plans.</p>'}</div>
</section>`;
      })
      .join("");
    const invoices = Object.values(state().invoices)
      .filter((i) => i.customer === customer.id && i.status !== "draft")
      .sort((a, b) => b.created - a.created)
      .map(
        (i) => `<tr data-testid="portal-invoice" data-invoice-id="${esc(i.id)}">
<td>${esc(day(i.created))}</td><td>${esc(i.number)}</td><td>${esc(money(i.total, i.currency))}</td>
<td data-testid="portal-invoice-status">${esc(i.status)}</td>
<td>${
          i.status === "open"
            ? `<form method="post" action="${base}/pay" class="inline"><input type="hidden" name="invoice" value="${esc(i.id)}">
<button type="submit" data-testid="portal-pay-invoice" data-invoice-id="${esc(i.id)}">Pay ${esc(money(i.amount_remaining, i.currency))}</button></form>`
            : `<a href="${esc(i.hosted_invoice_url)}" data-testid="portal-view-invoice">View</a>`
        }</td></tr>`,
      )
      .join("");
    const body = `
<h1 data-testid="portal-title">Billing</h1>
<p class="muted" data-testid="portal-customer-email">${esc(customer.email ?? customer.id)}</p>
${msg ? `<div class="message" data-testid="portal-message">${esc(msg)}</div>` : ""}
${error ? `<div class="error" role="alert" data-testid="portal-error">${esc(error)}</div>` : ""}
<h2>Current plan</h2>
${subsHtml || '<p data-testid="portal-no-subscription">No active subscription.</p>'}
<h2>Payment method</h2>
<p data-testid="portal-current-card">${pm?.card ? `${esc(pm.card.brand)} •••• ${esc(pm.card.last4)}` : "No card on file"}</p>
<form id="portal-card-form" method="post" action="${base}/card">
<label for="portalCardNumber">New card number</label>
<input id="portalCardNumber" name="cardNumber" inputmode="numeric" data-testid="portal-card-number" placeholder="4242 4242 4242 4242" required>
<button type="submit" data-testid="portal-update-card">Update card</button></form>
<h2>Invoice history</h2>
<table data-testid="portal-invoices">${invoices}</table>
${session.return_url ? `<p><a id="portal-return" data-testid="portal-return" href="${esc(session.return_url)}">← Return</a></p>` : ""}`;
    return html(200, page("Billing portal", body));
  });

  const back = (sessionId: string, q: string) => redirect(`/portal/${sessionId}?${q}`);

  router.on("POST", "/portal/:id/cancel", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const sub = subFor(session.customer, req);
    if (!sub) return back(session.id, "error=No%20subscription");
    scheduleCancel(ctx, sub, ctx.config.portalCancelStyle);
    return back(session.id, "msg=canceled");
  });
  router.on("POST", "/portal/:id/resume", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const sub = subFor(session.customer, req);
    if (!sub) return back(session.id, "error=No%20subscription");
    unscheduleCancel(ctx, sub);
    return back(session.id, "msg=renewed");
  });
  router.on("POST", "/portal/:id/switch", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const sub = subFor(session.customer, req);
    const price = str(req.body.price);
    if (!sub || !price) return back(session.id, "error=Choose%20a%20plan");
    changePrice(ctx, sub, price, "always_invoice");
    const invoiceId = idOf(sub.latest_invoice);
    const latest = invoiceId ? state().invoices[invoiceId] : undefined;
    if (latest?.status === "open") return back(session.id, `error=${encodeURIComponent("Your plan changed but the payment failed. Pay the open invoice below.")}`);
    return back(session.id, "msg=plan_updated");
  });
  router.on("POST", "/portal/:id/card", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const number = normaliseCardNumber(str(req.body.cardNumber) ?? "");
    const spec = cardSpec(number);
    // Attaching a card runs a SetupIntent: hard declines fail here.
    if (!spec) return back(session.id, `error=${encodeURIComponent("Your card number is incorrect.")}`);
    if (spec.behaviour === "decline") return back(session.id, `error=${encodeURIComponent(spec.message ?? "Your card was declined.")}`);
    const pm = createCard(ctx, number, session.customer);
    setDefaultPaymentMethod(ctx, session.customer, pm.id);
    return back(session.id, "msg=card_updated");
  });
  router.on("POST", "/portal/:id/pay", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const invoice = state().invoices[str(req.body.invoice) ?? ""];
    if (!invoice || invoice.customer !== session.customer) return back(session.id, "error=Invoice%20not%20found");
    return payFromPage(invoice, null, `/portal/${session.id}`);
  });
}
