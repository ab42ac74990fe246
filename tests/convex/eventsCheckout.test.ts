/**
 * checkout.session.* and customer.* handlers: linking a customer to an
 * account, token top-ups, customer deletion.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { TOKEN_PACKS } from "../../convex/billing/model/plans";
import { checkoutSession, customer, event, invoice, price, subscription } from "./fixtures/stripe";
import {
  account,
  balance,
  createAccount,
  deliverAll,
  deliverOk,
  eventRow,
  ledgerRows,
  restoreEnvironment,
  runDueNow,
  useWebhookEnvironment,
  type TestConvex,
} from "./fixtures/webhookHarness";
import { runInBilling } from "../lib/billingComponent";
import { makeTest } from "./setup";

const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const pack = TOKEN_PACKS[0]!;

/** The paid first invoice of a Pro subscription: what makes its tier count. */
function paidFirstInvoice(subscriptionId: string, customerId: string) {
  return event(
    "invoice.paid",
    invoice({
      id: `in_${subscriptionId}`,
      customer: customerId,
      subscription: subscriptionId,
      status: "paid",
      billingReason: "subscription_create",
      price: proMonthly,
    }),
    { created: Math.floor(Date.now() / 1000) + 20 },
  );
}

describe("checkout and customer events", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  beforeEach(async () => {
    useWebhookEnvironment();
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    t = makeTest();
    accountId = await createAccount(t);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    restoreEnvironment();
  });

  async function send(...events: Stripe.Event[]) {
    await deliverAll(t, ...events);
  }

  function topUp(fields: Partial<Parameters<typeof checkoutSession>[0]> = {}) {
    return checkoutSession({
      id: "cs_test_topup",
      mode: "payment",
      customer: "cus_buyer",
      clientReferenceId: accountId,
      metadata: { kind: "top_up", packId: pack.id },
      paymentStatus: "paid",
      amountTotal: pack.displayAmount,
      ...fields,
    });
  }

  test("subscription checkout links the customer and subscription via client_reference_id", async () => {
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_new", subscription: "sub_new", clientReferenceId: accountId }),
    );
    await send(e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded" });
    expect(await account(t, accountId)).toMatchObject({
      stripeCustomerId: "cus_new",
      stripeSubscriptionId: "sub_new",
      tier: "free",
    });
    await send(
      event(
        "customer.subscription.created",
        subscription({ id: "sub_new", customer: "cus_new", status: "active", price: proMonthly }),
      ),
    );
    expect((await account(t, accountId)).tier).toBe("free");
    await send(paidFirstInvoice("sub_new", "cus_new"));
    expect((await account(t, accountId)).tier).toBe("pro");
  });

  test("a new checkout after a canceled subscription points the account at the new one", async () => {
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_back" }));
    await send(
      event(
        "customer.subscription.deleted",
        subscription({ id: "sub_old", customer: "cus_back", status: "canceled", price: proMonthly }),
      ),
    );
    expect(await account(t, accountId)).toMatchObject({ stripeSubscriptionId: "sub_old", tier: "free" });
    await send(
      event(
        "checkout.session.completed",
        checkoutSession({ mode: "subscription", customer: "cus_back", subscription: "sub_again", clientReferenceId: accountId }),
      ),
    );
    expect((await account(t, accountId)).stripeSubscriptionId).toBe("sub_again");
    await send(
      event(
        "customer.subscription.created",
        subscription({ id: "sub_again", customer: "cus_back", status: "active", price: proMonthly }),
        { created: Math.floor(Date.now() / 1000) + 10 },
      ),
      paidFirstInvoice("sub_again", "cus_back"),
    );
    expect(await account(t, accountId)).toMatchObject({ stripeSubscriptionId: "sub_again", tier: "pro" });
  });

  test("metadata.accountId is used when client_reference_id is absent", async () => {
    await send(
      event(
        "checkout.session.completed",
        checkoutSession({ mode: "subscription", customer: "cus_meta", subscription: "sub_meta", metadata: { accountId } }),
      ),
    );
    expect((await account(t, accountId)).stripeCustomerId).toBe("cus_meta");
  });

  test("a reference that is not a billing account id is never applied: dead at once for an operator, not dropped", async () => {
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_bad", subscription: "sub_bad", clientReferenceId: "not-an-id" }),
    );
    await deliverOk(t, e);
    await runDueNow(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "dead", attempts: 1 });
    expect((await eventRow(t, e.id))?.lastError).toMatch(/unknown account "not-an-id"/);
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
  });

  test("a customer already linked to another account is not stolen", async () => {
    const other = await createAccount(t, { stripeCustomerId: "cus_taken" });
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_taken", subscription: "sub_x", clientReferenceId: accountId }),
    );
    await deliverOk(t, e);
    await runDueNow(t);
    expect((await eventRow(t, e.id))?.status).toBe("dead");
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
    expect((await account(t, other)).stripeCustomerId).toBe("cus_taken");
  });

  test("a session naming an account that already has another live customer does not move that account", async () => {
    // Our Checkout always reuses the account's live customer, so a session with
    // a different, unlinked customer was made elsewhere (a Payment Link or a
    // pricing table lets the buyer set client_reference_id). Moving the account
    // would orphan its real customer's invoices and open the wrong portal.
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_victim" }));
    const e = event(
      "checkout.session.completed",
      checkoutSession({ mode: "subscription", customer: "cus_stranger", subscription: "sub_s", clientReferenceId: accountId }),
    );
    await deliverOk(t, e);
    await runDueNow(t);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "dead" });
    expect((await eventRow(t, e.id))?.lastError).toMatch(/already has customer cus_victim/);
    expect(await account(t, accountId)).toMatchObject({ stripeCustomerId: "cus_victim" });
    expect((await account(t, accountId)).stripeSubscriptionId).toBeUndefined();
  });

  test("a top-up whose client_reference_id and metadata.accountId disagree grants nothing", async () => {
    const other = await createAccount(t);
    const e = event("checkout.session.completed", topUp({ metadata: { kind: "top_up", packId: pack.id, accountId: other } }));
    await deliverOk(t, e);
    await runDueNow(t);
    expect((await eventRow(t, e.id))?.lastError).toMatch(/disagree/);
    expect(await ledgerRows(t, accountId)).toEqual(expect.not.arrayContaining([expect.objectContaining({ reason: "top_up" })]));
    expect(await ledgerRows(t, other)).toEqual(expect.not.arrayContaining([expect.objectContaining({ reason: "top_up" })]));
    expect((await account(t, accountId)).stripeCustomerId).toBeUndefined();
  });

  test("after customer.deleted, a checkout with the new customer relinks the account", async () => {
    await runInBilling(t, async (ctx) =>
      ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_old", stripeCustomerDeleted: true }),
    );
    await send(
      event(
        "checkout.session.completed",
        checkoutSession({ mode: "subscription", customer: "cus_fresh", subscription: "sub_f", clientReferenceId: accountId }),
      ),
    );
    expect(await account(t, accountId)).toMatchObject({ stripeCustomerId: "cus_fresh", stripeSubscriptionId: "sub_f" });
    expect((await account(t, accountId)).stripeCustomerDeleted).toBeUndefined();
  });

  test("a paid top-up grants the pack's tokens once, even when the event is redelivered under a new id", async () => {
    await send(event("checkout.session.completed", topUp()), event("checkout.session.completed", topUp()));
    expect(await balance(t, accountId)).toMatchObject({ purchased: pack.tokens, balance: pack.tokens });
    const topUps = (await ledgerRows(t, accountId)).filter((r) => r.reason === "top_up");
    expect(topUps).toHaveLength(1);
    expect(topUps[0]).toMatchObject({ amount: pack.tokens, sourceKey: "checkout:cs_test_topup" });
  });

  test("an unpaid top-up (delayed payment) grants nothing until async_payment_succeeded", async () => {
    await send(event("checkout.session.completed", topUp({ paymentStatus: "unpaid" })));
    expect((await ledgerRows(t, accountId)).filter((r) => r.reason === "top_up")).toHaveLength(0);
    await send(event("checkout.session.async_payment_succeeded", topUp({ paymentStatus: "paid" })));
    expect((await balance(t, accountId))?.purchased).toBe(pack.tokens);
  });

  test("customer.deleted marks the customer deleted and keeps the account's history", async () => {
    await runInBilling(t, async (ctx) =>
      ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_gone", stripeSubscriptionId: "sub_old" }),
    );
    const e = event("customer.deleted", customer("cus_gone"));
    await send(e);
    expect(await eventRow(t, e.id)).toMatchObject({ status: "succeeded" });
    expect(await account(t, accountId)).toMatchObject({
      stripeCustomerDeleted: true,
      stripeCustomerId: "cus_gone",
      tier: "free",
    });
  });

  test("customer.updated is acknowledged; for a customer we do not know it is ignored", async () => {
    await runInBilling(t, async (ctx) => ctx.db.patch("billingAccounts", accountId, { stripeCustomerId: "cus_known" }));
    const known = event("customer.updated", customer("cus_known", { email: "new@example.com" }));
    const unknown = event("customer.updated", customer("cus_stranger"));
    await send(known, unknown);
    expect(await eventRow(t, known.id)).toMatchObject({ status: "succeeded" });
    expect(await eventRow(t, unknown.id)).toMatchObject({ status: "ignored" });
  });
});
