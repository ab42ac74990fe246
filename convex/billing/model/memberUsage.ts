/**
 * Per-member usage and caps in organisation accounts (issue 10 §3).
 *
 * Members of an organisation spend its tokens. Every debit made for a member
 * (the app passes the caller's `memberKey`, `user:<users id>`, never a client
 * argument) is counted, in the debit's own transaction, in one
 * pre-aggregated row per (account, allowance period, member) in
 * `tokenUsageByMember`:
 *
 * - `consume`: `used` += cost (overage included);
 * - `reserve`: `held` += the reservation;
 * - `settle`: the reservation leaves `held` (in the period it was counted
 *   in) and what was charged joins `used` (in the current period); a settle
 *   for less than reserved therefore "returns" the rest;
 * - `release` (and the hold cron's expiry): the reservation leaves `held`.
 *
 * An optional cap per member (`memberTokenCaps`) bounds `used + held` per
 * period. The check reads the member's row and cap in the same mutation as
 * the debit, which also reads and writes the account's balance row, so two
 * racing debits conflict and Convex reruns one of them
 * (https://docs.convex.dev/database/advanced/occ): they cannot both pass.
 * A new period starts a new row, so caps apply per period.
 *
 * Every read is one index look-up; the listing reads at most
 * `MAX_MEMBERS_LISTED` rows per period and caps. Tokens are integers; times
 * Convex ms.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { fail } from "./errors";

type AccountId = Id<"billingAccounts">;

/** Longest member key accepted (`user:<users id>`). */
export const MAX_MEMBER_KEY_LENGTH = 200;
/** Most members (usage rows, and caps) the listing reads per period. */
export const MAX_MEMBERS_LISTED = 200;
/** Largest cap accepted (tokens). */
export const MAX_MEMBER_CAP = 1_000_000_000;
/** The period key of a balance row without a period yet. */
export const NO_PERIOD = "none";

/** An allowance period as per-member rows name it. */
export type MemberPeriod = { periodKey: string; periodStart: number };

/** The balance row's current period (`none`, 0 before any). */
export function memberPeriodOf(balance: Pick<Doc<"tokenBalances">, "periodKey" | "periodStart">): MemberPeriod {
  return { periodKey: balance.periodKey ?? NO_PERIOD, periodStart: balance.periodStart ?? 0 };
}

/** Throws `INVALID_ARGUMENT` unless `memberKey` is 1–200 characters. */
export function requireMemberKey(memberKey: string): void {
  if (memberKey.length === 0 || memberKey.length > MAX_MEMBER_KEY_LENGTH) {
    fail("INVALID_ARGUMENT", `memberKey must be 1 to ${MAX_MEMBER_KEY_LENGTH} characters.`);
  }
}

async function usageRow(
  ctx: QueryCtx,
  accountId: AccountId,
  periodKey: string,
  memberKey: string,
): Promise<Doc<"tokenUsageByMember"> | null> {
  return await ctx.db
    .query("tokenUsageByMember")
    .withIndex("by_accountId_and_periodKey_and_memberKey", (q) =>
      q.eq("accountId", accountId).eq("periodKey", periodKey).eq("memberKey", memberKey),
    )
    .unique();
}

/** The member's cap row on the account, or null (no cap). */
export async function capRow(ctx: QueryCtx, accountId: AccountId, memberKey: string): Promise<Doc<"memberTokenCaps"> | null> {
  return await ctx.db
    .query("memberTokenCaps")
    .withIndex("by_accountId_and_memberKey", (q) => q.eq("accountId", accountId).eq("memberKey", memberKey))
    .unique();
}

/** A member's standing in one period: their row (if any) and cap (null = none). */
export type MemberState = {
  accountId: AccountId;
  period: MemberPeriod;
  memberKey: string;
  row: Doc<"tokenUsageByMember"> | null;
  cap: number | null;
};

/** Reads the member's row for `period` and their cap: two index look-ups. */
export async function loadMember(
  ctx: QueryCtx,
  accountId: AccountId,
  period: MemberPeriod,
  memberKey: string,
): Promise<MemberState> {
  const row = await usageRow(ctx, accountId, period.periodKey, memberKey);
  const cap = await capRow(ctx, accountId, memberKey);
  return { accountId, period, memberKey, row, cap: cap?.capTokens ?? null };
}

/** Tokens the member may still use or reserve this period: cap − used − held (never negative); `Infinity` without a cap. */
export function roomOf(state: MemberState): number {
  if (state.cap === null) return Infinity;
  return Math.max(0, state.cap - (state.row?.used ?? 0) - (state.row?.held ?? 0));
}

/**
 * Throws `MEMBER_CAP_REACHED` (`required`, `available` = room left, `cap`)
 * when `tokens` more would take the member past their cap this period.
 */
export function requireMemberRoom(state: MemberState, tokens: number): void {
  if (state.cap === null || tokens <= 0) return;
  const room = roomOf(state);
  if (tokens <= room) return;
  fail(
    "MEMBER_CAP_REACHED",
    `Your organisation limits you to ${state.cap} tokens this period; you have ${room} left and this needs ${tokens}. Ask an admin to raise your limit.`,
    { required: tokens, available: room, cap: state.cap },
  );
}

/**
 * Adds `delta` (signed `used` / `held` tokens) to the member's row of the
 * state's period, creating it on first use. Counters never go below zero.
 */
export async function applyMemberDelta(
  ctx: MutationCtx,
  state: Pick<MemberState, "accountId" | "period" | "memberKey" | "row">,
  delta: { used?: number; held?: number },
): Promise<void> {
  const used = delta.used ?? 0;
  const held = delta.held ?? 0;
  if (used === 0 && held === 0) return;
  if (state.row) {
    await ctx.db.patch("tokenUsageByMember", state.row._id, {
      used: Math.max(0, state.row.used + used),
      held: Math.max(0, state.row.held + held),
    });
    return;
  }
  await ctx.db.insert("tokenUsageByMember", {
    accountId: state.accountId,
    periodKey: state.period.periodKey,
    periodStart: state.period.periodStart,
    memberKey: state.memberKey,
    used: Math.max(0, used),
    held: Math.max(0, held),
  });
}

/**
 * Counts a debit of `tokens` for `memberKey` in the balance's current
 * period, refusing it (`MEMBER_CAP_REACHED`) past the member's cap:
 * `kind: "used"` for a consume, `"held"` for a reservation. Call it in the
 * debit's mutation, before anything is written.
 */
export async function chargeMember(
  ctx: MutationCtx,
  balance: Pick<Doc<"tokenBalances">, "accountId" | "periodKey" | "periodStart">,
  memberKey: string,
  tokens: number,
  kind: "used" | "held",
): Promise<MemberPeriod> {
  requireMemberKey(memberKey);
  const period = memberPeriodOf(balance);
  const state = await loadMember(ctx, balance.accountId, period, memberKey);
  requireMemberRoom(state, tokens);
  await applyMemberDelta(ctx, state, { [kind]: tokens });
  return period;
}

/**
 * A hold of `memberKey` closes: its reservation (`reserved` tokens, counted
 * in `heldPeriodKey`) leaves `held`, and `charged` tokens join `used` in the
 * current `period`.
 */
export async function closeMemberHold(
  ctx: MutationCtx,
  accountId: AccountId,
  args: { memberKey: string; heldPeriodKey: string | undefined; reserved: number; charged: number; period: MemberPeriod },
): Promise<void> {
  const heldPeriodKey = args.heldPeriodKey ?? args.period.periodKey;
  if (heldPeriodKey === args.period.periodKey) {
    const row = await usageRow(ctx, accountId, heldPeriodKey, args.memberKey);
    await applyMemberDelta(ctx, { accountId, period: args.period, memberKey: args.memberKey, row }, { used: args.charged, held: -args.reserved });
    return;
  }
  const heldRow = await usageRow(ctx, accountId, heldPeriodKey, args.memberKey);
  if (heldRow && args.reserved > 0) {
    await ctx.db.patch("tokenUsageByMember", heldRow._id, { held: Math.max(0, heldRow.held - args.reserved) });
  }
  const row = await usageRow(ctx, accountId, args.period.periodKey, args.memberKey);
  await applyMemberDelta(ctx, { accountId, period: args.period, memberKey: args.memberKey, row }, { used: args.charged });
}

// ---------------------------------------------------------------------------
// Caps
// ---------------------------------------------------------------------------

/**
 * Sets (`capTokens` an integer 0–1,000,000,000) or clears (`null`) the
 * member's cap on the account. Returns the cap before and after (null =
 * none); writes nothing when unchanged. Throws `INVALID_ARGUMENT`.
 * The caller audits the change in the same mutation.
 */
export async function setCap(
  ctx: MutationCtx,
  accountId: AccountId,
  args: { memberKey: string; capTokens: number | null; setBy: string },
): Promise<{ before: number | null; after: number | null }> {
  requireMemberKey(args.memberKey);
  if (args.capTokens !== null && (!Number.isSafeInteger(args.capTokens) || args.capTokens < 0 || args.capTokens > MAX_MEMBER_CAP)) {
    fail("INVALID_ARGUMENT", `A cap must be a whole number of tokens from 0 to ${MAX_MEMBER_CAP}.`);
  }
  const existing = await capRow(ctx, accountId, args.memberKey);
  const before = existing?.capTokens ?? null;
  if (before === args.capTokens) return { before, after: before };
  if (args.capTokens === null) {
    await ctx.db.delete("memberTokenCaps", existing!._id);
  } else if (existing) {
    await ctx.db.patch("memberTokenCaps", existing._id, { capTokens: args.capTokens, setBy: args.setBy, setAt: Date.now() });
  } else {
    await ctx.db.insert("memberTokenCaps", {
      accountId,
      memberKey: args.memberKey,
      capTokens: args.capTokens,
      setBy: args.setBy,
      setAt: Date.now(),
    });
  }
  return { before, after: args.capTokens };
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

export const vMemberUsageRow = v.object({
  memberKey: v.string(),
  /** Tokens charged this period. */
  used: v.number(),
  /** Tokens reserved by open holds counted in this period. */
  held: v.number(),
  /** The member's cap per period, or null (none). The cap applies to every period; shown on both. */
  cap: v.union(v.number(), v.null()),
});
export type MemberUsageRow = Infer<typeof vMemberUsageRow>;

export const vMemberPeriodUsage = v.object({
  periodKey: v.string(),
  /** ms; 0 before any period. */
  periodStart: v.number(),
  /** ms; null when unknown (the previous period, or before any period). */
  periodEnd: v.union(v.number(), v.null()),
  /** Members with usage in the period or a cap, most used first. */
  members: v.array(vMemberUsageRow),
  /** True when more than `MAX_MEMBERS_LISTED` rows exist (only the first were read). */
  truncated: v.boolean(),
});
export type MemberPeriodUsage = Infer<typeof vMemberPeriodUsage>;

export const vMemberUsageView = v.object({
  current: vMemberPeriodUsage,
  previous: v.union(v.null(), vMemberPeriodUsage),
});
export type MemberUsageView = Infer<typeof vMemberUsageView>;

async function periodRows(ctx: QueryCtx, accountId: AccountId, periodKey: string) {
  const rows = await ctx.db
    .query("tokenUsageByMember")
    .withIndex("by_accountId_and_periodKey_and_memberKey", (q) => q.eq("accountId", accountId).eq("periodKey", periodKey))
    .take(MAX_MEMBERS_LISTED + 1);
  return { rows: rows.slice(0, MAX_MEMBERS_LISTED), truncated: rows.length > MAX_MEMBERS_LISTED };
}

function byUsage(a: MemberUsageRow, b: MemberUsageRow): number {
  return b.used + b.held - (a.used + a.held) || a.memberKey.localeCompare(b.memberKey);
}

/**
 * Usage per member of the account's current period and the one before, read
 * only from the pre-aggregated rows: at most `MAX_MEMBERS_LISTED` + 1 rows a
 * period, one look-up for the previous period's key, and at most
 * `MAX_MEMBERS_LISTED` caps. Members with a cap and no usage are listed at 0.
 */
export async function memberUsageOf(
  ctx: QueryCtx,
  accountId: AccountId,
  balance: Pick<Doc<"tokenBalances">, "periodKey" | "periodStart" | "periodEnd"> | null,
): Promise<MemberUsageView> {
  const period = balance ? memberPeriodOf(balance) : { periodKey: NO_PERIOD, periodStart: 0 };
  const caps = await ctx.db
    .query("memberTokenCaps")
    .withIndex("by_accountId_and_memberKey", (q) => q.eq("accountId", accountId))
    .take(MAX_MEMBERS_LISTED);
  const capOf = new Map(caps.map((c) => [c.memberKey, c.capTokens]));
  const view = (rows: Doc<"tokenUsageByMember">[], withCaps: boolean): MemberUsageRow[] => {
    const members = rows.map((r) => ({ memberKey: r.memberKey, used: r.used, held: r.held, cap: capOf.get(r.memberKey) ?? null }));
    if (withCaps) {
      const seen = new Set(rows.map((r) => r.memberKey));
      for (const c of caps) if (!seen.has(c.memberKey)) members.push({ memberKey: c.memberKey, used: 0, held: 0, cap: c.capTokens });
    }
    return members.sort(byUsage);
  };
  const current = await periodRows(ctx, accountId, period.periodKey);
  const previousRow = await ctx.db
    .query("tokenUsageByMember")
    .withIndex("by_accountId_and_periodStart", (q) => q.eq("accountId", accountId).lt("periodStart", period.periodStart))
    .order("desc")
    .first();
  let previous: MemberPeriodUsage | null = null;
  if (previousRow) {
    const rows = await periodRows(ctx, previousRow.accountId, previousRow.periodKey);
    previous = {
      periodKey: previousRow.periodKey,
      periodStart: previousRow.periodStart,
      periodEnd: period.periodStart || null,
      members: view(rows.rows, false),
      truncated: rows.truncated,
    };
  }
  return {
    current: {
      periodKey: period.periodKey,
      periodStart: period.periodStart,
      periodEnd: balance?.periodEnd ?? null,
      members: view(current.rows, true),
      truncated: current.truncated,
    },
    previous,
  };
}

/** One member's usage this period and cap (what a member may see of their own). */
export async function ownUsageOf(
  ctx: QueryCtx,
  accountId: AccountId,
  balance: Pick<Doc<"tokenBalances">, "periodKey" | "periodStart" | "periodEnd"> | null,
  memberKey: string,
): Promise<MemberUsageRow & { periodKey: string; periodEnd: number | null }> {
  const period = balance ? memberPeriodOf(balance) : { periodKey: NO_PERIOD, periodStart: 0 };
  const state = await loadMember(ctx, accountId, period, memberKey);
  return {
    memberKey,
    used: state.row?.used ?? 0,
    held: state.row?.held ?? 0,
    cap: state.cap,
    periodKey: period.periodKey,
    periodEnd: balance?.periodEnd ?? null,
  };
}

export const vOwnMemberUsage = v.object({
  ...vMemberUsageRow.fields,
  periodKey: v.string(),
  periodEnd: v.union(v.number(), v.null()),
});
