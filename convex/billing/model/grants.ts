/**
 * Token grants: every credit an account holds is a row in `tokenGrants`
 * with a category, the amount granted, what remains, an optional expiry and
 * a priority. The ledger helpers (`model/ledger.ts`) are the only callers;
 * they write the matching ledger rows and balance counters in the same
 * transaction.
 *
 * ## Draw order
 *
 * A debit draws on the account's `active` grants in this fixed order, which
 * is the order of the index
 * `by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass`:
 * 1. lower `priority` first (every grant gets `DEFAULT_GRANT_PRIORITY`
 *    unless an operator sets another);
 * 2. soonest expiry first; a grant that never expires comes last;
 * 3. free tokens (promotional, admin) before paid ones (plan allowance,
 *    purchased, rollover);
 * 4. oldest first (`_creationTime`, the index's implicit last key).
 *
 * With default priorities this means: expiring promotions, then the plan
 * allowance (it expires at its period end), then admin grants, then
 * purchased packs.
 *
 * Only `active` grants are read: depleted and expired grants leave the
 * index range, so a debit costs the same however many old grants pile up.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { fail } from "./errors";
import type { GrantCategory } from "./validators";

type AccountId = Id<"billingAccounts">;
export type GrantId = Id<"tokenGrants">;
export type Grant = Doc<"tokenGrants">;
/** One part of a debit: the grant drawn on and how many tokens. */
export type Draw = { grantId: GrantId; amount: number };

/** Priority of every grant unless an operator gives another; lower is drawn first. */
export const DEFAULT_GRANT_PRIORITY = 100;
/** `drawExpiresAt` of a grant that never expires: after every real expiry. */
export const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;
/**
 * Most active grants one debit may read. An account reaching it has that
 * many live grants of tiny amounts; the debit fails with `INVALID_ARGUMENT`
 * rather than exceed a transaction's read limits
 * (https://docs.convex.dev/production/state/limits).
 */
export const MAX_GRANTS_PER_DRAW = 500;
/** Active grants a debit reads first; a second read happens only when these do not cover it. */
const FIRST_DRAW_PAGE = 8;

/** Free tokens are drawn before paid ones at equal priority and expiry. */
export function drawClassOf(category: GrantCategory): 0 | 1 {
  return category === "promotional" || category === "admin" ? 0 : 1;
}

/** The active grants of an account, in draw order (at most `limit`). */
export async function activeGrants(ctx: QueryCtx, accountId: AccountId, limit: number): Promise<Grant[]> {
  return await ctx.db
    .query("tokenGrants")
    .withIndex("by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass", (q) =>
      q.eq("accountId", accountId).eq("status", "active"),
    )
    .take(limit);
}

/**
 * Creates a grant of `amount` tokens (a positive integer, checked by the
 * caller). `expiresAt` ms; absent = never. A plan allowance expires with its
 * period (`lapses: false`): the next period's grant replaces it rather than
 * the expiry sweep.
 */
export async function createGrant(
  ctx: MutationCtx,
  accountId: AccountId,
  args: {
    category: GrantCategory;
    amount: number;
    sourceKey: string;
    now: number;
    expiresAt?: number;
    priority?: number;
    note?: string;
    stripePaymentIntentId?: string;
  },
): Promise<GrantId> {
  const lapses = args.category !== "plan_allowance" && args.expiresAt !== undefined;
  return await ctx.db.insert("tokenGrants", {
    accountId,
    category: args.category,
    amount: args.amount,
    remaining: args.amount,
    status: args.amount > 0 ? "active" : "depleted",
    startsAt: args.now,
    expiresAt: args.expiresAt,
    lapsesAt: lapses ? args.expiresAt : undefined,
    priority: args.priority ?? DEFAULT_GRANT_PRIORITY,
    drawExpiresAt: args.expiresAt ?? NEVER_EXPIRES,
    drawClass: drawClassOf(args.category),
    sourceKey: args.sourceKey,
    note: args.note,
    stripePaymentIntentId: args.stripePaymentIntentId,
  });
}

/** Whether the expiry sweep should already have expired `grant` at `now`. */
export function hasLapsed(grant: Grant, now: number): boolean {
  return grant.lapsesAt !== undefined && grant.lapsesAt <= now;
}

/** Tokens taken from grants, split by whether they came from a plan allowance. */
export type DrawResult = {
  draws: Draw[];
  fromAllowance: number;
  fromOthers: number;
  /** Grants found past their expiry on the way, now expired, with what they still held. */
  expired: { grant: Grant; amount: number }[];
};

/**
 * Takes `amount` tokens from the account's active grants in draw order,
 * skipping grants `eligible` refuses. Grants found past their expiry are
 * expired on the way (returned in `expired`, so the caller records them)
 * rather than drawn on. Takes less than `amount` when the grants run out:
 * the caller checks the balance first.
 */
export async function drawFromGrants(
  ctx: MutationCtx,
  accountId: AccountId,
  amount: number,
  now: number,
  eligible: (grant: Grant) => boolean = () => true,
): Promise<DrawResult> {
  const result: DrawResult = { draws: [], fromAllowance: 0, fromOthers: 0, expired: [] };
  let left = amount;
  const seen = new Set<GrantId>();
  // Read a small first page (enough for nearly every debit), then, only if
  // it was full and more is needed, everything up to the cap. Each page is
  // read whole before any write, so the writes never move rows under a
  // running query; grants already handled are skipped on the second page.
  for (const limit of [FIRST_DRAW_PAGE, MAX_GRANTS_PER_DRAW + 1]) {
    const page = await activeGrants(ctx, accountId, limit);
    if (page.length > MAX_GRANTS_PER_DRAW) {
      fail("INVALID_ARGUMENT", `This account has over ${MAX_GRANTS_PER_DRAW} live grants; ask support to consolidate them.`);
    }
    for (const grant of page) {
      if (left === 0) break;
      if (seen.has(grant._id)) continue;
      seen.add(grant._id);
      if (hasLapsed(grant, now)) {
        result.expired.push({ grant, amount: await expireGrant(ctx, grant) });
        continue;
      }
      if (!eligible(grant)) continue;
      const take = Math.min(left, grant.remaining);
      const remaining = grant.remaining - take;
      await ctx.db.patch("tokenGrants", grant._id, { remaining, status: remaining === 0 ? "depleted" : "active" });
      result.draws.push({ grantId: grant._id, amount: take });
      if (grant.category === "plan_allowance") result.fromAllowance += take;
      else result.fromOthers += take;
      left -= take;
    }
    if (left === 0 || page.length < limit) break;
  }
  return result;
}

/** Tokens given back to grants: credited to live ones, forfeited where the grant has expired since. */
export type GiveBackResult = {
  credited: Draw[];
  toAllowance: number;
  toOthers: number;
  /** Tokens whose grant expired meanwhile: they would have expired unused, so they are not returned. */
  forfeited: number;
};

/**
 * Returns `amount` tokens to the grants a debit drew on (`draws`, in draw
 * order), last-drawn first, so what stays charged is what the debit drew
 * first. A grant that has expired (or lapsed) since does not take its share
 * back: that share is `forfeited`. A depleted grant becomes active again.
 */
export async function giveBack(ctx: MutationCtx, draws: Draw[], amount: number, now: number): Promise<GiveBackResult> {
  const result: GiveBackResult = { credited: [], toAllowance: 0, toOthers: 0, forfeited: 0 };
  let left = amount;
  for (const draw of [...draws].reverse()) {
    if (left === 0) break;
    const share = Math.min(left, draw.amount);
    left -= share;
    const grant = await ctx.db.get("tokenGrants", draw.grantId);
    if (!grant || grant.status === "expired" || hasLapsed(grant, now)) {
      result.forfeited += share;
      continue;
    }
    await ctx.db.patch("tokenGrants", grant._id, { remaining: grant.remaining + share, status: "active" });
    result.credited.push({ grantId: grant._id, amount: share });
    if (grant.category === "plan_allowance") result.toAllowance += share;
    else result.toOthers += share;
  }
  // More than was drawn cannot be given back; the caller never asks for it.
  result.forfeited += left;
  return result;
}

/** Marks `grant` expired and returns the tokens it still held (now gone). */
export async function expireGrant(ctx: MutationCtx, grant: Grant): Promise<number> {
  if (grant.status === "expired") return 0;
  await ctx.db.patch("tokenGrants", grant._id, { status: "expired", remaining: 0, lapsesAt: undefined });
  return grant.remaining;
}

/**
 * Changes a plan-allowance grant by `difference` tokens (a plan change
 * within the period), keeping `remaining` ≥ 0: what was already drawn from
 * it is never taken back.
 */
export async function adjustGrant(ctx: MutationCtx, grantId: GrantId, difference: number): Promise<void> {
  const grant = await ctx.db.get("tokenGrants", grantId);
  if (!grant) throw new Error(`grant ${grantId} vanished`);
  const remaining = grant.remaining + difference;
  if (remaining < 0) fail("INVALID_ARGUMENT", "An allowance cannot drop below what was already used of it.");
  await ctx.db.patch("tokenGrants", grantId, {
    amount: grant.amount + difference,
    remaining,
    status: grant.status === "expired" ? "expired" : remaining === 0 ? "depleted" : "active",
  });
}
