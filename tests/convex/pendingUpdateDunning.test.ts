/**
 * A declined plan change is not a dunning case (docs/DUNNING.md, "Declined
 * plan changes are not dunning"). With `payment_behavior:
 * "pending_if_incomplete"` a declined (or 3-D Secure) upgrade leaves the
 * subscription unchanged, the change in `pending_update` and its invoice
 * `open` as `latest_invoice`; Stripe voids it when the update expires.
 * Regression: that open invoice opened a dunning episode (the account
 * `overdue`, the day-0 "Your payment failed … to keep your plan" bell notice
 * and email) although the plan was never at risk.
 *
 * Every delivery order of the invoice's events and the subscription event
 * naming it ends the same: no episode, no `overdueSince`, no dunning notice,
 * no email. A genuinely failed renewal still starts dunning.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { PAYMENT_FAILED_EMAIL_HOLD_MS } from "../../convex/billing/model/dunning";
import { T0, DAY, event, invoice, price, subscription } from "./fixtures/stripe";
import {
  account,
  createAccount,
  deliverAll,
  deliverOk,
  drain,
  invoiceRows,
  notificationsOfKinds,
  runDueNow,
  type TestConvex,
  useWebhookSuite,
} from "./fixtures/webhookHarness";
import { permutations } from "./billingFixtures";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const starter = price({ id: "price_starter_m", lookupKey: "starter_monthly", unitAmount: 900 });
const pro = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_pending";
const SUB = "sub_pending";
const CHANGE_AT = T0 + 5 * DAY;
const UPGRADE = "in_upgrade";
const DUNNING_KINDS = new Set(["payment_failed", "dunning_reminder", "dunning_suspended", "dunning_restricted"]);

const upgradeInvoice = (status: "draft" | "open" | "paid" | "void") =>
  invoice({
    id: UPGRADE,
    customer: CUSTOMER,
    subscription: SUB,
    status,
    billingReason: "subscription_update",
    price: pro,
    amountDue: 2000,
    created: CHANGE_AT,
    linePeriodStart: CHANGE_AT,
    linePeriodEnd: T0 + 30 * DAY,
    proration: true,
  });

/** The change Stripe holds: Pro, until its invoice is paid or ~23 h pass. */
function pendingUpdate(): Stripe.Subscription.PendingUpdate {
  return {
    billing_cycle_anchor: null,
    cancel_at_period_end: null,
    discount: null,
    discounts: null,
    expires_at: CHANGE_AT + 23 * 3600,
    metadata: null,
    subscription_items: [subscription({ id: SUB, customer: CUSTOMER, status: "active", price: pro }).items.data[0]!],
    trial_end: null,
    trial_from_plan: null,
  };
}

const created = () => event("invoice.created", upgradeInvoice("draft"), { created: CHANGE_AT });
const finalized = () => event("invoice.finalized", upgradeInvoice("open"), { created: CHANGE_AT });
const failed = () => event("invoice.payment_failed", upgradeInvoice("open"), { created: CHANGE_AT });
const actionRequired = () => event("invoice.payment_action_required", upgradeInvoice("open"), { created: CHANGE_AT });
const held = () =>
  event(
    "customer.subscription.updated",
    subscription({ id: SUB, customer: CUSTOMER, status: "active", price: starter, periodStart: T0, latestInvoice: UPGRADE, pendingUpdate: pendingUpdate() }),
    { created: CHANGE_AT },
  );
/** After the invoice is paid (the change applies) or voided (it expired): no pending update left. */
const settled = (onPrice: Stripe.Price, at: number) =>
  event("customer.subscription.updated", subscription({ id: SUB, customer: CUSTOMER, status: "active", price: onPrice, periodStart: T0, latestInvoice: UPGRADE }), {
    created: at,
  });

/** Delivers each event and runs what is due now, without moving the clock (the 30 s email hold stays pending). */
async function deliverQuickly(t: TestConvex, events: Stripe.Event[]): Promise<void> {
  for (const e of events) {
    await deliverOk(t, e);
    await runDueNow(t);
  }
}

type ResendCtx = { db: { query(table: string): { collect(): Promise<Array<{ subject?: string }>> } } };
type ComponentRunner = { runInComponent<T>(path: string, fn: (ctx: ResendCtx) => Promise<T>): Promise<T> };

/** Subjects of the emails handed to the Resend component. */
async function emailSubjects(t: TestConvex): Promise<Array<string | undefined>> {
  return await (t as unknown as ComponentRunner).runInComponent("billing/resend", async (ctx) =>
    (await ctx.db.query("emails").collect()).map((e) => e.subject),
  );
}

async function dunningSteps(t: TestConvex, accountId: Id<"billingAccounts">) {
  return await runInBilling(t, async (ctx) => (await ctx.db.query("dunningSteps").collect()).filter((r) => r.accountId === accountId));
}

/** A month after T0: the renewal's time (Stripe seconds). */
const RENEWAL_AT = T0 + 30 * DAY;

/** The month's renewal invoice (`subscription_cycle`), open: not a pending update's. */
function openRenewal(): Stripe.Invoice {
  return invoice({
    id: "in_renewal",
    customer: CUSTOMER,
    subscription: SUB,
    status: "open",
    billingReason: "subscription_cycle",
    price: starter,
    created: RENEWAL_AT,
    linePeriodStart: RENEWAL_AT,
    linePeriodEnd: RENEWAL_AT + 30 * DAY,
  });
}

describe("a declined plan change (pending update) is not dunning", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  beforeEach(async () => {
    // Emails are handed to the Resend component (what `emailSubjects` reads); its
    // sends to Resend's API are answered here, offline.
    const realFetch = globalThis.fetch;
    vi.stubGlobal("fetch", async (input: string | URL | Request, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith("https://api.resend.com")) return await realFetch(input, init);
      const sent: unknown = typeof init?.body === "string" ? JSON.parse(init.body) : [];
      const count = Array.isArray(sent) ? sent.length : 1;
      const data = Array.from({ length: count }, (_, i) => ({ id: `re_test_${i}` }));
      return new Response(JSON.stringify({ data }), { status: 200, headers: { "content-type": "application/json" } });
    });
    vi.stubEnv("RESEND_API_KEY", "re_test_key");
    vi.stubEnv("EMAIL_FROM", "Acme Billing <billing@acme.test>");
    vi.stubEnv("SITE_URL", "https://app.acme.test");
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER, email: "owner@example.com" });
    await deliverAll(
      t,
      event("customer.subscription.created", subscription({ id: SUB, customer: CUSTOMER, status: "active", price: starter, periodStart: T0 }), { created: T0 }),
      event(
        "invoice.paid",
        invoice({ id: "in_first", customer: CUSTOMER, subscription: SUB, status: "paid", billingReason: "subscription_create", price: starter, linePeriodStart: T0, linePeriodEnd: T0 + 30 * DAY }),
        { created: T0 + 1 },
      ),
    );
    vi.setSystemTime(CHANGE_AT * 1000);
  });

  async function expectNoDunning(): Promise<void> {
    expect(await account(t, accountId)).toMatchObject({ tier: "starter" });
    const row = await account(t, accountId);
    expect([row.dunningEpisode, row.dunningStage, row.dunningStep, row.overdueSince, row.dunningNextAt]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(await dunningSteps(t, accountId)).toEqual([]);
    expect((await notificationsOfKinds(t, accountId, DUNNING_KINDS)).map((n) => n.title)).toEqual([]);
    const [inv] = await invoiceRows(t, UPGRADE);
    expect(inv).toMatchObject({ status: "open", pendingUpdate: true, amountRemaining: 2000 });
  }

  const DECLINED = [created, finalized, failed, held] as const;
  test.each(permutations([0, 1, 2, 3]).map((order) => [order.join(",")]))(
    "declined: delivery order %s of created / finalized / payment_failed / subscription.updated(pending_update): no episode, no notice, no email",
    async (order) => {
      await deliverQuickly(t, order.split(",").map((i) => DECLINED[Number(i)]!()));
      // Replays change nothing; the email hold runs out with nothing left to send.
      await deliverQuickly(t, [failed(), held()]);
      vi.advanceTimersByTime(PAYMENT_FAILED_EMAIL_HOLD_MS + 1000);
      await drain(t);
      await expectNoDunning();
      expect(await emailSubjects(t)).not.toContain("Your payment failed");
    },
  );

  const SCA = [finalized, failed, actionRequired, held] as const;
  test.each(permutations([0, 1, 2, 3]).map((order) => [order.join(",")]))(
    "3-D Secure: delivery order %s of finalized / payment_failed / action_required / subscription.updated: only 'Confirm your payment', no episode",
    async (order) => {
      await deliverQuickly(t, order.split(",").map((i) => SCA[Number(i)]!()));
      vi.advanceTimersByTime(PAYMENT_FAILED_EMAIL_HOLD_MS + 1000);
      await drain(t);
      await expectNoDunning();
      const confirm = await notificationsOfKinds(t, accountId, new Set(["action_required"]));
      expect(confirm.map((n) => [n.title, n.body])).toEqual([
        [
          "Confirm your payment",
          "Your bank asks you to confirm the payment of $20.00 for the change you asked for. Open the invoice to confirm it; until then nothing changes, and your current plan is not at risk.",
        ],
      ]);
      expect(await emailSubjects(t)).not.toContain("Your payment failed");
    },
  );

  test("paid later: the change applies through the usual paths (Pro), still no dunning", async () => {
    await deliverQuickly(t, [finalized(), failed(), held()]);
    await deliverAll(t, event("invoice.paid", upgradeInvoice("paid"), { created: CHANGE_AT + 3600 }), settled(pro, CHANGE_AT + 3600));
    const row = await account(t, accountId);
    expect(row).toMatchObject({ tier: "pro" });
    expect(row.dunningEpisode).toBeUndefined();
    expect(await notificationsOfKinds(t, accountId, DUNNING_KINDS)).toEqual([]);
    expect((await invoiceRows(t, UPGRADE))[0]).toMatchObject({ status: "paid" });
  });

  test("expired: Stripe voids the invoice; nothing remains, the plan never moved", async () => {
    await deliverQuickly(t, [failed(), held()]);
    await deliverAll(t, event("invoice.voided", upgradeInvoice("void"), { created: CHANGE_AT + 23 * 3600 }), settled(starter, CHANGE_AT + 23 * 3600));
    const row = await account(t, accountId);
    expect(row).toMatchObject({ tier: "starter" });
    expect(row.overdueSince).toBeUndefined();
    expect(await notificationsOfKinds(t, accountId, DUNNING_KINDS)).toEqual([]);
    expect((await invoiceRows(t, UPGRADE))[0]).toMatchObject({ status: "void" });
  });

  test("a failed renewal (subscription_cycle, no pending update) still starts dunning with its day-0 notice", async () => {
    vi.setSystemTime(RENEWAL_AT * 1000);
    const renewal = openRenewal();
    await deliverAll(t, event("invoice.finalized", renewal, { created: RENEWAL_AT }), event("invoice.payment_failed", renewal, { created: RENEWAL_AT + 1 }));
    expect(await account(t, accountId)).toMatchObject({
      dunningEpisode: "in_renewal",
      dunningStep: "day_0_payment_failed",
      overdueSince: (RENEWAL_AT + 1) * 1000,
    });
    const notices = await notificationsOfKinds(t, accountId, DUNNING_KINDS);
    expect(notices.map((n) => [n.title, n.body])).toEqual([
      ["Your payment failed", "We couldn't collect $9.00. Update your card or pay the invoice to keep your plan; Stripe will also retry the card."],
    ]);
    expect((await invoiceRows(t, "in_renewal"))[0]?.pendingUpdate).toBeUndefined();
  });

  test.each([["renewal events first"], ["subscription event first"]])(
    "a renewal failing while an update is still pending (the renewal is latest_invoice) is dunning: %s",
    async (which) => {
      vi.setSystemTime(RENEWAL_AT * 1000);
      const renewal = openRenewal();
      const invoiceEvents = [event("invoice.finalized", renewal, { created: RENEWAL_AT }), event("invoice.payment_failed", renewal, { created: RENEWAL_AT + 1 })];
      const stillPending = event(
        "customer.subscription.updated",
        subscription({ id: SUB, customer: CUSTOMER, status: "past_due", price: starter, periodStart: RENEWAL_AT, latestInvoice: "in_renewal", pendingUpdate: pendingUpdate() }),
        { created: RENEWAL_AT + 2 },
      );
      await deliverQuickly(t, which === "renewal events first" ? [...invoiceEvents, stillPending] : [stillPending, ...invoiceEvents]);
      expect(await account(t, accountId)).toMatchObject({ dunningEpisode: "in_renewal", dunningStep: "day_0_payment_failed" });
      expect((await notificationsOfKinds(t, accountId, DUNNING_KINDS)).map((n) => n.title)).toEqual(["Your payment failed"]);
      expect((await invoiceRows(t, "in_renewal"))[0]?.pendingUpdate).toBeUndefined();
    },
  );

  test("a declined change while a renewal is overdue: the renewal's episode and notice stay, the change adds nothing", async () => {
    const RENEWAL_AT = T0 + 30 * DAY;
    const renewal = invoice({
      id: "in_renewal",
      customer: CUSTOMER,
      subscription: SUB,
      status: "open",
      billingReason: "subscription_cycle",
      price: starter,
      created: RENEWAL_AT,
      linePeriodStart: RENEWAL_AT,
      linePeriodEnd: RENEWAL_AT + 30 * DAY,
    });
    vi.setSystemTime(RENEWAL_AT * 1000);
    await deliverAll(t, event("invoice.payment_failed", renewal, { created: RENEWAL_AT }));
    // The later change's invoice: its failure first, then the subscription event naming it.
    const laterChange = (status: "open") =>
      invoice({ id: "in_change2", customer: CUSTOMER, subscription: SUB, status, billingReason: "subscription_update", price: pro, amountDue: 2000, created: RENEWAL_AT + 60 });
    await deliverAll(
      t,
      event("invoice.payment_failed", laterChange("open"), { created: RENEWAL_AT + 60 }),
      event(
        "customer.subscription.updated",
        subscription({ id: SUB, customer: CUSTOMER, status: "active", price: starter, periodStart: RENEWAL_AT, latestInvoice: "in_change2", pendingUpdate: pendingUpdate() }),
        { created: RENEWAL_AT + 60 },
      ),
    );
    expect(await account(t, accountId)).toMatchObject({ dunningEpisode: "in_renewal", overdueSince: RENEWAL_AT * 1000, dunningStep: "day_0_payment_failed" });
    expect((await notificationsOfKinds(t, accountId, DUNNING_KINDS)).map((n) => n.dedupeKey)).toEqual(["payment_failed:in_renewal:day_0_payment_failed"]);
  });
});
