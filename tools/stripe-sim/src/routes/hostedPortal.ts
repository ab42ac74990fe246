/**
 * The hosted Billing Portal (`/portal/:sessionId`), following the session's
 * configuration as Stripe's Portal does:
 *
 * - plan switches only to the configured products' prices
 *   (`features.subscription_update`); a switch that lowers the item amount
 *   or shortens the interval, when that `schedule_at_period_end` condition is
 *   configured, waits for the period end through a Subscription Schedule;
 *   other switches apply now with the configured `proration_behavior`
 *   (payment behaviour `allow_incomplete`: a failed charge leaves the change
 *   applied and the invoice open);
 * - cancel follows `subscription_cancel.mode` and records the chosen reason
 *   in `cancellation_details.feedback`;
 * - card update and invoice history only when enabled.
 */
import type Stripe from "stripe";
import {
  cancelSubscriptionNow,
  createCard,
  getCustomer,
  idOf,
  periodOf,
  productName,
  scheduleCancel,
  setDefaultPaymentMethod,
  unscheduleCancel,
} from "../billing.ts";
import { defaultPortalFeatures } from "../builders.ts";
import { intervalDays, recurringOf } from "../calendar.ts";
import { cardSpec, normaliseCardNumber } from "../cards.ts";
import type { SimContext } from "../context.ts";
import { str } from "../form.ts";
import { day, esc, money, page } from "../html.ts";
import { changePrice, type ProrationBehavior } from "../planChange.ts";
import { html, redirect, type Router, type SimRequest, type SimResponse } from "../router.ts";
import { activeScheduleOf, releaseSchedule, scheduleChangeAtPeriodEnd, upcomingPhase } from "../schedules.ts";
import { notFound, priceLabel } from "./hosted.ts";

export type PortalPageHelpers = {
  payFromPage: (invoice: Stripe.Invoice, cardNumber: string | null, returnPath: string) => SimResponse;
  messageFor: (req: SimRequest) => { msg?: string; error?: string };
};

type Features = Stripe.BillingPortal.Configuration.Features;

/** Whether a switch from `item` to `price` waits for the period end under `features`. */
function waitsForPeriodEnd(features: Features, item: Stripe.SubscriptionItem, price: Stripe.Price): boolean {
  const conditions = features.subscription_update.schedule_at_period_end.conditions.map((c) => c.type);
  const quantity = item.quantity ?? 1;
  const decreasing = (price.unit_amount ?? 0) * quantity < (item.price.unit_amount ?? 0) * quantity;
  const shortening = intervalDays(recurringOf(price)) < intervalDays(recurringOf(item.price));
  return (decreasing && conditions.includes("decreasing_item_amount")) || (shortening && conditions.includes("shortening_interval"));
}

export function registerPortalPages(router: Router, ctx: SimContext, helpers: PortalPageHelpers): void {
  const state = () => ctx.store.state;
  const { payFromPage, messageFor } = helpers;
  const portalSession = (req: SimRequest) => state().portalSessions[req.params.id ?? ""];
  const featuresOf = (session: Stripe.BillingPortal.Session): Features =>
    state().portalConfigurations[idOf(session.configuration) ?? ""]?.features ?? defaultPortalFeatures();
  const liveSubs = (customerId: string) =>
    Object.values(state().subscriptions).filter(
      (s) => s.customer === customerId && s.status !== "canceled" && s.status !== "incomplete_expired",
    );
  const subFor = (customerId: string, req: SimRequest) => {
    const wanted = str(req.body.subscription);
    return liveSubs(customerId).find((s) => !wanted || s.id === wanted);
  };
  /** Prices the configuration lets this subscription switch to. */
  const switchablePrices = (features: Features, sub: Stripe.Subscription): Stripe.Price[] => {
    const update = features.subscription_update;
    if (!update.enabled) return [];
    const current = sub.items.data[0]?.price.id;
    return (update.products ?? [])
      .flatMap((p) => p.prices.map((id) => state().prices[id]))
      .filter((p): p is Stripe.Price => p !== undefined && p.active && p.recurring !== null && p.currency === sub.currency && p.id !== current);
  };

  const cancelForm = (features: Features, base: string, hidden: string): string => {
    const cancel = features.subscription_cancel;
    if (!cancel.enabled) return "";
    const reasons = cancel.cancellation_reason.enabled
      ? `<fieldset data-testid="portal-cancel-reasons"><legend>Why are you canceling?</legend>${cancel.cancellation_reason.options
          .map(
            (o) => `<label><input type="radio" name="reason" value="${esc(o)}" data-testid="portal-cancel-reason-${esc(o)}"> ${esc(o.replaceAll("_", " "))}</label>`,
          )
          .join("")}</fieldset>`
      : "";
    return `<form method="post" action="${base}/cancel">${hidden}${reasons}<button type="submit" class="danger" data-testid="portal-cancel">Cancel plan</button></form>`;
  };

  const subscriptionBlock = (features: Features, sub: Stripe.Subscription, base: string): string => {
    const item = sub.items.data[0];
    const price = item?.price;
    const { end } = periodOf(sub);
    const scheduled = sub.cancel_at_period_end || sub.cancel_at !== null;
    const hidden = `<input type="hidden" name="subscription" value="${esc(sub.id)}">`;
    const switches = switchablePrices(features, sub)
      .map(
        (p) => `<form method="post" action="${base}/switch" class="inline">${hidden}<input type="hidden" name="price" value="${esc(p.id)}">
<button type="submit" class="secondary" data-testid="portal-switch-${esc(p.lookup_key ?? p.id)}" data-price-id="${esc(p.id)}">Switch to ${esc(productName(ctx, p))} · ${esc(priceLabel(ctx, p))}</button></form>`,
      )
      .join(" ");
    const upcoming = upcomingPhase(ctx, sub);
    const upcomingPrice = upcoming ? state().prices[upcoming.price] : undefined;
    const scheduledChange = upcoming
      ? `<div data-testid="portal-scheduled-change" data-price-id="${esc(upcoming.price)}"><p>Your plan changes to ${esc(upcomingPrice ? `${productName(ctx, upcomingPrice)} · ${priceLabel(ctx, upcomingPrice)}` : upcoming.price)} on ${esc(day(upcoming.at))}.</p>
<form method="post" action="${base}/release">${hidden}<button type="submit" class="secondary" data-testid="portal-cancel-scheduled-change">Cancel scheduled change</button></form></div>`
      : "";
    return `<section data-testid="portal-subscription" data-subscription-id="${esc(sub.id)}">
<div class="row"><strong data-testid="portal-plan-name">${price ? esc(productName(ctx, price)) : ""}</strong>
<span data-testid="portal-plan-price">${price ? esc(priceLabel(ctx, price)) : ""}</span></div>
<p class="muted">Status: <span data-testid="portal-subscription-status">${esc(sub.status)}</span></p>
${
  scheduled
    ? `<p data-testid="portal-cancel-notice">Your plan will be canceled on ${esc(day(sub.cancel_at ?? end))}.</p>
<form method="post" action="${base}/resume">${hidden}<button type="submit" data-testid="portal-resume">Renew plan</button></form>`
    : `<p class="muted" data-testid="portal-renewal">Renews on ${esc(day(end))}.</p>${cancelForm(features, base, hidden)}`
}
${scheduledChange}
${features.subscription_update.enabled ? `<h2>Change plan</h2><div data-testid="portal-plans">${switches || '<p class="muted">No other plans.</p>'}</div>` : ""}
</section>`;
  };

  const invoiceHistory = (customer: Stripe.Customer, base: string): string => {
    const rows = Object.values(state().invoices)
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
    return `<h2>Invoice history</h2><table data-testid="portal-invoices">${rows}</table>`;
  };

  const cardSection = (customer: Stripe.Customer, base: string): string => {
    const pmId = idOf(customer.invoice_settings.default_payment_method);
    const pm = pmId ? state().paymentMethods[pmId] : undefined;
    return `<h2>Payment method</h2>
<p data-testid="portal-current-card">${pm?.card ? `${esc(pm.card.brand)} •••• ${esc(pm.card.last4)}` : "No card on file"}</p>
<form id="portal-card-form" method="post" action="${base}/card">
<label for="portalCardNumber">New card number</label>
<input id="portalCardNumber" name="cardNumber" inputmode="numeric" data-testid="portal-card-number" placeholder="4242 4242 4242 4242" required>
<button type="submit" data-testid="portal-update-card">Update card</button></form>`;
  };

  router.on("GET", "/portal/:id", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const customer = getCustomer(ctx, session.customer);
    const config = state().portalConfigurations[idOf(session.configuration) ?? ""];
    const features = featuresOf(session);
    const { msg, error } = messageFor(req);
    const base = `/portal/${esc(session.id)}`;
    const subsHtml = liveSubs(customer.id).map((sub) => subscriptionBlock(features, sub, base)).join("");
    const headline = config?.business_profile.headline;
    const body = `
<h1 data-testid="portal-title">Billing</h1>
${headline ? `<p data-testid="portal-headline">${esc(headline)}</p>` : ""}
<p class="muted" data-testid="portal-customer-email">${esc(customer.email ?? customer.id)}</p>
${msg ? `<div class="message" data-testid="portal-message">${esc(msg)}</div>` : ""}
${error ? `<div class="error" role="alert" data-testid="portal-error">${esc(error)}</div>` : ""}
<h2>Current plan</h2>
${subsHtml || '<p data-testid="portal-no-subscription">No active subscription.</p>'}
${features.payment_method_update.enabled ? cardSection(customer, base) : ""}
${features.invoice_history.enabled ? invoiceHistory(customer, base) : ""}
${session.return_url ? `<p><a id="portal-return" data-testid="portal-return" href="${esc(session.return_url)}">← Return</a></p>` : ""}`;
    return html(200, page("Billing portal", body));
  });

  const back = (sessionId: string, q: string) => redirect(`/portal/${sessionId}?${q}`);
  const errorBack = (sessionId: string, message: string) => back(sessionId, `error=${encodeURIComponent(message)}`);

  router.on("POST", "/portal/:id/cancel", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const cancel = featuresOf(session).subscription_cancel;
    if (!cancel.enabled) return errorBack(session.id, "Canceling is not available.");
    const sub = subFor(session.customer, req);
    if (!sub) return errorBack(session.id, "No subscription");
    const reason = str(req.body.reason);
    const feedback = reason && cancel.cancellation_reason.enabled && cancel.cancellation_reason.options.includes(reason) ? reason : undefined;
    const details = feedback ? { feedback: feedback } : {};
    if (cancel.mode === "immediately") {
      cancelSubscriptionNow(ctx, sub, "cancellation_requested", details);
      return back(session.id, "msg=canceled_now");
    }
    scheduleCancel(ctx, sub, ctx.config.portalCancelStyle, undefined, details);
    return back(session.id, "msg=canceled");
  });
  router.on("POST", "/portal/:id/resume", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const sub = subFor(session.customer, req);
    if (!sub) return errorBack(session.id, "No subscription");
    unscheduleCancel(ctx, sub);
    return back(session.id, "msg=renewed");
  });
  router.on("POST", "/portal/:id/switch", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const features = featuresOf(session);
    const sub = subFor(session.customer, req);
    const item = sub?.items.data[0];
    const price = sub ? switchablePrices(features, sub).find((p) => p.id === str(req.body.price)) : undefined;
    if (!sub || !item || !price) return errorBack(session.id, "Choose a plan");
    if (waitsForPeriodEnd(features, item, price)) {
      scheduleChangeAtPeriodEnd(ctx, sub, price.id, item.quantity ?? 1);
      return back(session.id, "msg=plan_scheduled");
    }
    // A change applied now replaces one that was waiting for the period end.
    const schedule = activeScheduleOf(ctx, sub);
    if (schedule) releaseSchedule(ctx, schedule);
    changePrice(ctx, sub, { itemId: item.id, price: price.id }, {
      prorationBehavior: features.subscription_update.proration_behavior as ProrationBehavior,
      paymentBehavior: "allow_incomplete",
    });
    const invoiceId = idOf(sub.latest_invoice);
    const latest = invoiceId ? state().invoices[invoiceId] : undefined;
    if (latest?.status === "open") return errorBack(session.id, "Your plan changed but the payment failed. Pay the open invoice below.");
    return back(session.id, "msg=plan_updated");
  });
  router.on("POST", "/portal/:id/release", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const sub = subFor(session.customer, req);
    const schedule = sub ? activeScheduleOf(ctx, sub) : null;
    if (!schedule) return errorBack(session.id, "No scheduled change");
    releaseSchedule(ctx, schedule);
    return back(session.id, "msg=change_canceled");
  });
  router.on("POST", "/portal/:id/card", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    if (!featuresOf(session).payment_method_update.enabled) return errorBack(session.id, "Updating the card is not available.");
    const number = normaliseCardNumber(str(req.body.cardNumber) ?? "");
    const spec = cardSpec(number);
    // Attaching a card runs a SetupIntent: hard declines fail here.
    if (!spec) return errorBack(session.id, "Your card number is incorrect.");
    if (spec.behaviour === "decline") return errorBack(session.id, spec.message ?? "Your card was declined.");
    const pm = createCard(ctx, number, session.customer);
    setDefaultPaymentMethod(ctx, session.customer, pm.id);
    return back(session.id, "msg=card_updated");
  });
  router.on("POST", "/portal/:id/pay", (req) => {
    const session = portalSession(req);
    if (!session) return notFound("Portal session");
    const invoice = state().invoices[str(req.body.invoice) ?? ""];
    if (!invoice || invoice.customer !== session.customer) return errorBack(session.id, "Invoice not found");
    return payFromPage(invoice, null, `/portal/${session.id}`);
  });
}
