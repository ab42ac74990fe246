/**
 * Refunds and disputes of token packs: money that goes back to the
 * customer takes its tokens back ("nothing granted unpaid").
 *
 * - A refund (`charge.refunded`, cumulative `amount_refunded`) takes back
 *   the refunded share of the pack, rounded up: ⌈tokens × refunded ÷
 *   amount⌉. The grant remembers how many it has taken back
 *   (`clawedBack`), so the event is idempotent and out-of-order partial
 *   refunds converge on the largest refunded amount.
 * - What is taken comes first from the pack's unspent tokens (or its frozen
 *   ones during a dispute). Tokens already spent are taken from the rest of
 *   the balance in draw order; under the block overage policy the balance
 *   never goes below zero, so any part it cannot cover is recorded on the
 *   grant as `unrecovered` and in the ledger note, never silently dropped.
 * - A dispute opened (`charge.dispute.created`) freezes the pack's unspent
 *   tokens: they leave the spendable balance (`dispute_freeze`). Won
 *   (`charge.dispute.closed`, status `won`): they come back
 *   (`dispute_release`). Lost: the whole pack is taken back as for a full
 *   refund, frozen tokens first (`dispute_lost`).
 * - A dispute's final status is kept on the grant, so a late
 *   `charge.dispute.created` after its close changes nothing. Every
 *   delivery order of the same events ends with the same grant and balance.
 *
 * Amounts: tokens are integers, money in minor units.
 */
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { commit, countersOf, drawOrRefuse, ensureBalance, findEntry, type Entry } from "./ledger";
import type { Draw } from "./grants";

type Grant = Doc<"tokenGrants">;

/** The purchased grant a PaymentIntent paid for, or null. */
export async function grantForPayment(ctx: MutationCtx, stripePaymentIntentId: string): Promise<Grant | null> {
  return await ctx.db
    .query("tokenGrants")
    .withIndex("by_stripePaymentIntentId", (q) => q.eq("stripePaymentIntentId", stripePaymentIntentId))
    .first();
}

/** Tokens a refund of `refunded` out of `amount` (minor units) takes back from a `tokens` pack: the share, rounded up. */
export function refundedTokens(tokens: number, refunded: number, amount: number): number {
  if (!(amount > 0) || refunded <= 0) return 0;
  if (refunded >= amount) return tokens;
  return Math.min(tokens, Math.ceil((tokens * refunded) / amount));
}

const FINAL_DISPUTE_STATUSES = new Set(["won", "lost", "warning_closed", "prevented"]);

/**
 * Takes the grant's clawback up to `target` tokens in all. Returns the
 * ledger row written, or null when `target` is not above what was taken
 * already (a repeat or an older refund event).
 */
async function clawBackTo(
  ctx: MutationCtx,
  grant: Grant,
  target: number,
  row: { reason: "refund_clawback" | "dispute_lost"; sourceKey: string; label: string },
): Promise<{ taken: number; unrecovered: number } | null> {
  const already = grant.clawedBack ?? 0;
  const wanted = Math.min(target, grant.amount) - already;
  if (wanted <= 0) return null;
  if (await findEntry(ctx, grant.accountId, row.sourceKey)) return null;
  const current = await ensureBalance(ctx, grant.accountId);
  const frozen = grant.frozen ?? 0;
  const fromFrozen = grant.status === "frozen" ? Math.min(wanted, frozen) : 0;
  const fromPack = grant.status === "active" ? Math.min(wanted - fromFrozen, grant.remaining) : 0;
  const spent = wanted - fromFrozen - fromPack;
  const remaining = grant.remaining - fromPack;
  await ctx.db.patch("tokenGrants", grant._id, {
    remaining,
    status: grant.status === "active" && remaining === 0 ? "depleted" : grant.status,
    frozen: grant.status === "frozen" ? frozen - fromFrozen : grant.frozen,
    clawedBack: already + wanted,
  });
  // Spent tokens come out of the rest of the balance, as far as it goes.
  const balanceAfterPack = current.balance - fromPack;
  const fromBalance = Math.min(spent, balanceAfterPack);
  const unrecovered = spent - fromBalance;
  const afterPack = { ...current, balance: balanceAfterPack };
  const draw = fromBalance > 0 ? await drawOrRefuse(ctx, afterPack, fromBalance) : null;
  if (unrecovered > 0) await ctx.db.patch("tokenGrants", grant._id, { unrecovered: (grant.unrecovered ?? 0) + unrecovered });
  const counters = countersOf(current);
  const drawnFrom: Draw[] = [...(fromPack > 0 ? [{ grantId: grant._id, amount: fromPack }] : []), ...(draw?.draws ?? [])];
  const parts = [`${row.label}: ${wanted} tokens taken back`];
  if (fromFrozen > 0) parts.push(`${fromFrozen} frozen`);
  if (fromPack > 0) parts.push(`${fromPack} unspent`);
  if (fromBalance > 0) parts.push(`${fromBalance} already spent, from the balance`);
  if (unrecovered > 0) parts.push(`${unrecovered} already spent and not recoverable (balance empty)`);
  const entries: Entry[] = [
    ...(draw?.expiryRows ?? []),
    { amount: -(fromPack + fromBalance), reason: row.reason, sourceKey: row.sourceKey, grantId: grant._id, drawnFrom, note: parts.join("; ") },
  ];
  await commit(
    ctx,
    current,
    {
      ...counters,
      purchased: counters.purchased - fromPack - (draw?.fromOthers ?? 0) - (draw?.expiredTotal ?? 0),
      allowance: counters.allowance - (draw?.fromAllowance ?? 0),
    },
    entries,
  );
  return { taken: wanted - unrecovered, unrecovered };
}

/**
 * Applies a charge's cumulative refund to the pack it paid for (ledger key
 * `refund:<charge id>:<amount_refunded>`). `amountRefunded` and `amount` in
 * minor units. Returns false when it changed nothing.
 */
export async function applyRefund(
  ctx: MutationCtx,
  grant: Grant,
  args: { chargeId: string; amount: number; amountRefunded: number },
): Promise<boolean> {
  const target = refundedTokens(grant.amount, args.amountRefunded, args.amount);
  const result = await clawBackTo(ctx, grant, target, {
    reason: "refund_clawback",
    sourceKey: `refund:${args.chargeId}:${args.amountRefunded}`,
    label: `Refund of ${args.amountRefunded} of ${args.amount}`,
  });
  return result !== null;
}

/**
 * Applies a dispute's status to the pack its payment bought: open statuses
 * freeze the unspent tokens, `won` releases them, `lost` takes the whole
 * pack back. Other final outcomes (`warning_closed`, `prevented`) release
 * like `won`. Returns false when it changed nothing.
 */
export async function applyDispute(
  ctx: MutationCtx,
  grant: Grant,
  dispute: { id: string; status: string },
): Promise<boolean> {
  const final = FINAL_DISPUTE_STATUSES.has(dispute.status);
  // A dispute already closed on this grant stays closed, whatever arrives late.
  if (grant.disputeId === dispute.id && grant.disputeStatus && FINAL_DISPUTE_STATUSES.has(grant.disputeStatus)) return false;
  if (!final) return await freeze(ctx, grant, dispute.id, dispute.status);
  if (dispute.status === "lost") {
    await ctx.db.patch("tokenGrants", grant._id, { disputeId: dispute.id, disputeStatus: "lost" });
    const fresh = (await ctx.db.get("tokenGrants", grant._id))!;
    await clawBackTo(ctx, fresh, fresh.amount, {
      reason: "dispute_lost",
      sourceKey: `dispute:${dispute.id}:lost`,
      label: "Dispute lost",
    });
    // The pack is gone, whichever state the dispute found it in.
    await ctx.db.patch("tokenGrants", grant._id, { status: "expired", frozen: 0, remaining: 0, lapsesAt: undefined });
    return true;
  }
  return await unfreeze(ctx, grant, dispute.id, dispute.status);
}

async function freeze(ctx: MutationCtx, grant: Grant, disputeId: string, status: string): Promise<boolean> {
  if (grant.status === "frozen") {
    if (grant.disputeStatus !== status) await ctx.db.patch("tokenGrants", grant._id, { disputeId, disputeStatus: status });
    return false;
  }
  const current = await ensureBalance(ctx, grant.accountId);
  const amount = grant.status === "active" ? grant.remaining : 0;
  await ctx.db.patch("tokenGrants", grant._id, { status: "frozen", frozen: amount, remaining: 0, disputeId, disputeStatus: status });
  const counters = countersOf(current);
  await commit(ctx, current, { ...counters, purchased: counters.purchased - amount }, [
    {
      amount: -amount,
      reason: "dispute_freeze",
      sourceKey: `dispute:${disputeId}:freeze`,
      grantId: grant._id,
      note: `Payment disputed: ${amount} unspent tokens frozen until it is resolved`,
    },
  ]);
  return true;
}

async function unfreeze(ctx: MutationCtx, grant: Grant, disputeId: string, status: string): Promise<boolean> {
  if (grant.status !== "frozen") {
    await ctx.db.patch("tokenGrants", grant._id, { disputeId, disputeStatus: status });
    return false;
  }
  const current = await ensureBalance(ctx, grant.accountId);
  const amount = grant.frozen ?? 0;
  const lapsed = grant.lapsesAt !== undefined && grant.lapsesAt <= Date.now();
  const back = lapsed ? 0 : amount;
  await ctx.db.patch("tokenGrants", grant._id, {
    status: lapsed ? "expired" : back > 0 ? "active" : "depleted",
    remaining: back,
    frozen: 0,
    lapsesAt: lapsed ? undefined : grant.lapsesAt,
    disputeId,
    disputeStatus: status,
  });
  const counters = countersOf(current);
  await commit(ctx, current, { ...counters, purchased: counters.purchased + back }, [
    {
      amount: back,
      reason: "dispute_release",
      sourceKey: `dispute:${disputeId}:release`,
      grantId: grant._id,
      note: lapsed ? `Dispute ${status}: ${amount} frozen tokens had expired meanwhile` : `Dispute ${status}: ${amount} tokens back`,
    },
  ]);
  return true;
}
