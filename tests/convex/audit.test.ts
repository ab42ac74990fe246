/**
 * The audit log records every change to money, access or credits once, with
 * who made it: a Stripe event moving the tier, a paid top-up, a refund taking
 * tokens back. Routine usage stays in the ledger alone, and redeliveries or
 * either delivery order write no second entry.
 */
import { beforeEach, describe, expect, test } from "vitest";
import type Stripe from "stripe";
import type { Doc, Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { TOKEN_PACKS } from "../../convex/billing/model/plans";
import { billing, billingApi, runInBilling } from "../lib/billingComponent";
import { DAY, T0, charge, checkoutSession, event, invoice, price, subscription } from "./fixtures/stripe";
import { createAccount, deliverAll, type TestConvex, useWebhookSuite } from "./fixtures/webhookHarness";
import { permutations } from "./billingFixtures";
import { makeTest } from "./setup";

const pack = TOKEN_PACKS[0]!;
const proMonthly = price({ id: "price_pro_m", lookupKey: "pro_monthly", unitAmount: 2900 });
const CUSTOMER = "cus_audit";
const SUB = "sub_audit";

function paidUpgrade(): Stripe.Event[] {
  const created = event(
    "customer.subscription.created",
    subscription({ id: SUB, customer: CUSTOMER, status: "active", price: proMonthly, periodStart: T0 }),
    { id: "evt_sub_created", created: T0 },
  );
  const paid = invoice({
    id: "in_audit",
    customer: CUSTOMER,
    subscription: SUB,
    status: "paid",
    billingReason: "subscription_create",
    price: proMonthly,
    amountDue: 2900,
    linePeriodStart: T0,
    linePeriodEnd: T0 + 30 * DAY,
  });
  return [created, event("invoice.paid", paid, { id: "evt_invoice_paid", created: T0 + 2 })];
}

function topUp(accountId: string): Stripe.Event {
  const session = checkoutSession({
    id: "cs_audit_pack",
    mode: "payment",
    customer: CUSTOMER,
    clientReferenceId: accountId,
    metadata: { kind: "top_up", packId: pack.id },
    paymentStatus: "paid",
    amountTotal: pack.displayAmount,
  });
  return event("checkout.session.completed", { ...session, payment_intent: "pi_audit" }, { id: "evt_top_up", created: T0 + 10 });
}

describe("audit log", () => {
  let t: TestConvex;
  let accountId: Id<"billingAccounts">;
  useWebhookSuite();
  beforeEach(async () => {
    t = makeTest();
    accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
  });

  async function entries(): Promise<Doc<"auditLog">[]> {
    return await runInBilling(t, async (ctx) =>
      await ctx.db.query("auditLog").withIndex("by_accountId", (q) => q.eq("accountId", accountId)).collect(),
    );
  }

  test("a paid upgrade records the tier change once, attributed to the Stripe event, in either delivery order", async () => {
    for (const order of permutations(paidUpgrade())) {
      t = makeTest();
      accountId = await createAccount(t, { stripeCustomerId: CUSTOMER });
      await deliverAll(t, ...order, ...order);
      const tierChanges = (await entries()).filter((e) => e.action === "access.tier");
      expect(tierChanges).toHaveLength(1);
      expect(tierChanges[0]).toMatchObject({ actorKind: "stripe" });
      expect(["evt_sub_created", "evt_invoice_paid"]).toContain(tierChanges[0]!.actor);
      expect(JSON.parse(tierChanges[0]!.before!)).toMatchObject({ tier: "free" });
      expect(JSON.parse(tierChanges[0]!.after!)).toMatchObject({ tier: "pro" });
      const grants = (await entries()).filter((e) => e.action === "tokens.period_grant");
      expect(grants).toHaveLength(1);
    }
  });

  test("a paid top-up and its refund are each recorded once with the balance before and after; usage is not", async () => {
    const purchase = topUp(accountId);
    await deliverAll(t, purchase, purchase);
    await runInBilling(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: "use-1", cost: 5, feature: "chat" }));
    const refund = event(
      "charge.refunded",
      charge({ id: "ch_audit", paymentIntent: "pi_audit", amount: pack.displayAmount, amountRefunded: pack.displayAmount, metadata: { kind: "top_up", packId: pack.id } }),
      { id: "evt_refund", created: T0 + 100 },
    );
    await deliverAll(t, refund, refund);

    const rows = await entries();
    expect(rows.map((r) => r.action)).toEqual(["tokens.top_up", "tokens.refund_clawback"]);
    const [bought, refunded] = rows;
    expect(bought).toMatchObject({ actorKind: "stripe", actor: "cs_audit_pack" });
    expect(JSON.parse(bought!.before!)).toEqual({ balance: 0 });
    expect(JSON.parse(bought!.after!)).toMatchObject({ balance: pack.tokens, amount: pack.tokens });
    expect(refunded).toMatchObject({ actorKind: "stripe", actor: "ch_audit" });
    expect(JSON.parse(refunded!.after!)).toMatchObject({ balance: 0, amount: -(pack.tokens - 5) });
  });

  test("the console's lists page newest first, per account and globally", async () => {
    await runInBilling(t, async (ctx) => {
      for (let i = 0; i < 5; i++) {
        await ctx.db.insert("auditLog", { accountId, actorKind: "staff", actor: "user_staff", action: `test.${i}`, reason: "r" });
      }
      await ctx.db.insert("auditLog", { actorKind: "cron", actor: "cleanup", action: "test.global" });
    });
    const first = await billing(t).query(billingApi.audit.listForAccount, { accountId, paginationOpts: { numItems: 3, cursor: null } });
    expect(first.page.map((r) => r.action)).toEqual(["test.4", "test.3", "test.2"]);
    const second = await billing(t).query(billingApi.audit.listForAccount, {
      accountId,
      paginationOpts: { numItems: 3, cursor: first.continueCursor },
    });
    expect(second.page.map((r) => r.action)).toEqual(["test.1", "test.0"]);
    expect(second.isDone).toBe(true);
    const all = await billing(t).query(billingApi.audit.listAll, { paginationOpts: { numItems: 2, cursor: null } });
    expect(all.page.map((r) => r.action)).toEqual(["test.global", "test.4"]);
  });
});
