/**
 * Refunds and disputes of token packs (`charge.refunded`,
 * `charge.dispute.created`, `charge.dispute.closed`): money paid back takes
 * its tokens back, spent ones from the balance, and every delivery order of
 * the same events ends in the same state.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type Stripe from "stripe";
import type { Id } from "../../convex/billing/_generated/dataModel";
import * as ledger from "../../convex/billing/model/ledger";
import { TOKEN_PACKS } from "../../convex/billing/model/plans";
import { billing, billingApi, runInBilling } from "../lib/billingComponent";
import { charge, checkoutSession, dispute, event, T0 } from "./fixtures/stripe";
import {
  balance,
  createAccount,
  deliverAll,
  eventRow,
  restoreEnvironment,
  useWebhookEnvironment,
  type TestConvex,
} from "./fixtures/webhookHarness";
import { permutations } from "./billingFixtures";
import { makeTest } from "./setup";

const pack = TOKEN_PACKS[0]!;
const PI = "pi_pack_1";
const PRICE = pack.displayAmount;

describe("refunds and disputes of token packs", () => {
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

  function purchase(id = "evt_purchase") {
    const session = checkoutSession({
      id: "cs_pack",
      mode: "payment",
      customer: "cus_buyer",
      clientReferenceId: accountId,
      metadata: { kind: "top_up", packId: pack.id },
      paymentStatus: "paid",
      amountTotal: PRICE,
    });
    return event("checkout.session.completed", { ...session, payment_intent: PI }, { id, created: T0 });
  }

  function refunded(amountRefunded: number, id: string, seconds = 100) {
    const object = charge({ id: "ch_pack", paymentIntent: PI, amount: PRICE, amountRefunded, metadata: { kind: "top_up", packId: pack.id } });
    return event("charge.refunded", object, { id, created: T0 + seconds });
  }

  function disputeEvent(type: "charge.dispute.created" | "charge.dispute.closed", status: Stripe.Dispute.Status, id: string) {
    return event(type, dispute({ id: "dp_1", paymentIntent: PI, amount: PRICE, status }), {
      id,
      created: T0 + (type === "charge.dispute.created" ? 200 : 300),
    });
  }

  async function spend(cost: number, key: string) {
    await runInBilling(t, async (ctx) => await ledger.consume(ctx, accountId, { sourceKey: key, cost, feature: "chat" }));
  }

  async function state() {
    const audit = await billing(t).query(billingApi.tokens.checkInvariant, { accountId });
    expect(audit.problems).toEqual([]);
    const row = await balance(t, accountId);
    const grant = await runInBilling(t, async (ctx) =>
      await ctx.db.query("tokenGrants").withIndex("by_stripePaymentIntentId", (q) => q.eq("stripePaymentIntentId", PI)).first(),
    );
    return {
      balance: row?.balance ?? 0,
      grant: grant && {
        status: grant.status,
        remaining: grant.remaining,
        frozen: grant.frozen ?? 0,
        clawedBack: grant.clawedBack ?? 0,
        unrecovered: grant.unrecovered ?? 0,
      },
    };
  }

  test("a full refund of an unspent pack takes all its tokens back, once", async () => {
    await deliverAll(t, purchase());
    expect((await state()).balance).toBe(pack.tokens);
    const refund = refunded(PRICE, "evt_refund");
    await deliverAll(t, refund, refund);
    const notices = await runInBilling(t, async (ctx) =>
      await ctx.db.query("notifications").withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", accountId)).collect(),
    );
    const refunds = notices.filter((n) => n.kind === "refund_received");
    expect(refunds.map((n) => [n.dedupeKey, n.title])).toEqual([[`refund_received:ch_pack:${PRICE}`, `Refund of $${(PRICE / 100).toFixed(2)}`]]);
    expect(await state()).toEqual({
      balance: 0,
      grant: { status: "depleted", remaining: 0, frozen: 0, clawedBack: pack.tokens, unrecovered: 0 },
    });
  });

  test("partial refunds take the refunded share, rounded up, and converge whatever order they arrive in", async () => {
    const third = Math.floor(PRICE / 3);
    const expectedFirst = Math.ceil((pack.tokens * third) / PRICE);
    for (const order of [
      ["first", "second"],
      ["second", "first"],
    ]) {
      t = makeTest();
      accountId = await createAccount(t);
      const events = { first: refunded(third, "evt_r1", 100), second: refunded(2 * third, "evt_r2", 200) };
      await deliverAll(t, purchase(), ...order.map((k) => events[k as "first" | "second"]));
      const expectedTotal = Math.ceil((pack.tokens * 2 * third) / PRICE);
      expect({ order, ...(await state()) }).toEqual({
        order,
        balance: pack.tokens - expectedTotal,
        grant: { status: "active", remaining: pack.tokens - expectedTotal, frozen: 0, clawedBack: expectedTotal, unrecovered: 0 },
      });
      expect(expectedFirst).toBeLessThan(expectedTotal);
    }
  });

  test("spent tokens of a refunded pack come out of the balance, and what the balance cannot cover is recorded", async () => {
    await deliverAll(t, purchase());
    await runInBilling(t, async (ctx) => await ledger.grant(ctx, accountId, { sourceKey: "admin:gift", amount: 7, reason: "admin_grant" }));
    // The gift (free tokens) is drawn first: spend it all plus 13 of the pack.
    await spend(20, "use");
    await deliverAll(t, refunded(PRICE, "evt_refund"));
    // The pack's unspent tokens are taken back; the 13 spent cannot be (balance empty).
    expect(await state()).toEqual({
      balance: 0,
      grant: { status: "depleted", remaining: 0, frozen: 0, clawedBack: pack.tokens, unrecovered: 13 },
    });
    const rows = await runInBilling(t, async (ctx) => await ctx.db.query("tokenLedger").collect());
    expect(rows.at(-1)).toMatchObject({ reason: "refund_clawback", amount: -(pack.tokens - 13) });
    expect(rows.at(-1)!.note).toMatch(/13 already spent and not recoverable/);
  });

  test("with other tokens left, the spent part of a refunded pack is taken from them", async () => {
    await deliverAll(t, purchase());
    await spend(30, "use");
    await runInBilling(t, async (ctx) => await ledger.grant(ctx, accountId, { sourceKey: "admin:gift", amount: 50, reason: "admin_grant" }));
    await deliverAll(t, refunded(PRICE, "evt_refund"));
    expect(await state()).toEqual({
      balance: 50 - 30,
      grant: { status: "depleted", remaining: 0, frozen: 0, clawedBack: pack.tokens, unrecovered: 0 },
    });
  });

  test("a refund delivered before the purchase waits for it, then applies", async () => {
    await deliverAll(t, refunded(PRICE, "evt_refund_early"));
    expect((await eventRow(t, "evt_refund_early"))?.status).toBe("waiting");
    await deliverAll(t, purchase());
    expect((await eventRow(t, "evt_refund_early"))?.status).toBe("succeeded");
    expect(await state()).toMatchObject({ balance: 0, grant: { clawedBack: pack.tokens } });
  });

  test("a refund of a charge that bought no pack (a subscription invoice) is ignored", async () => {
    const other = event("charge.refunded", charge({ paymentIntent: "pi_invoice", amount: 2900, amountRefunded: 2900 }), { id: "evt_other" });
    await deliverAll(t, other);
    expect((await eventRow(t, "evt_other"))?.status).toBe("ignored");
  });

  test("a dispute freezes the unspent tokens; won, they come back", async () => {
    await deliverAll(t, purchase());
    await spend(10, "use");
    await deliverAll(t, disputeEvent("charge.dispute.created", "needs_response", "evt_dc"));
    expect(await state()).toEqual({
      balance: 0,
      grant: { status: "frozen", remaining: 0, frozen: pack.tokens - 10, clawedBack: 0, unrecovered: 0 },
    });
    await deliverAll(t, disputeEvent("charge.dispute.closed", "won", "evt_dw"));
    expect(await state()).toEqual({
      balance: pack.tokens - 10,
      grant: { status: "active", remaining: pack.tokens - 10, frozen: 0, clawedBack: 0, unrecovered: 0 },
    });
  });

  test("a lost dispute removes the pack; what was spent of it comes out of the balance", async () => {
    await runInBilling(t, async (ctx) => await ledger.grant(ctx, accountId, { sourceKey: "admin:gift", amount: 20, reason: "admin_grant" }));
    await deliverAll(t, purchase());
    await spend(25, "use"); // 20 of the gift (free tokens first), then 5 of the pack
    await deliverAll(t, disputeEvent("charge.dispute.created", "needs_response", "evt_dc"));
    await deliverAll(t, disputeEvent("charge.dispute.closed", "lost", "evt_dl"));
    // The unspent 95 were frozen and are removed; the 5 spent cannot be taken (nothing else left).
    expect(await state()).toEqual({
      balance: 0,
      grant: { status: "expired", remaining: 0, frozen: 0, clawedBack: pack.tokens, unrecovered: 5 },
    });
  });

  // The same three Stripe events in every delivery order: a dispute that
  // arrives before its purchase waits for it, so all six orders end alike.
  for (const order of permutations(["purchase", "created", "lost"])) {
    test(`purchase, dispute opened and lost end the same in any order: ${order.join(" → ")}`, async () => {
      await runInBilling(t, async (ctx) => await ledger.grant(ctx, accountId, { sourceKey: "admin:gift", amount: 20, reason: "admin_grant" }));
      const events: Record<string, Stripe.Event> = {
        purchase: purchase(),
        created: disputeEvent("charge.dispute.created", "needs_response", "evt_dc"),
        lost: disputeEvent("charge.dispute.closed", "lost", "evt_dl"),
      };
      for (const key of order) await deliverAll(t, events[key]!);
      expect(await state()).toEqual({
        balance: 20,
        grant: { status: "expired", remaining: 0, frozen: 0, clawedBack: pack.tokens, unrecovered: 0 },
      });
      for (const id of ["evt_dc", "evt_dl"]) expect((await eventRow(t, id))?.status).toBe("succeeded");
    });
  }

  // A dispute opened and won, and a partial refund, in every order.
  for (const order of permutations(["created", "refund", "won"])) {
    test(`a partial refund during a won dispute ends the same in any order: ${order.join(" → ")}`, async () => {
      await deliverAll(t, purchase());
      const events: Record<string, Stripe.Event> = {
        created: disputeEvent("charge.dispute.created", "needs_response", "evt_dc"),
        refund: refunded(Math.floor(PRICE / 2), "evt_half"),
        won: disputeEvent("charge.dispute.closed", "won", "evt_dw"),
      };
      for (const key of order) await deliverAll(t, events[key]!);
      const half = Math.ceil((pack.tokens * Math.floor(PRICE / 2)) / PRICE);
      expect(await state()).toEqual({
        balance: pack.tokens - half,
        grant: { status: "active", remaining: pack.tokens - half, frozen: 0, clawedBack: half, unrecovered: 0 },
      });
    });
  }
});
