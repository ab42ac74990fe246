/**
 * Free trials (docs/TRIALS.md).
 *
 * - **Config.** A plan's `trial` (`model/plans.ts`): length in days, the
 *   trial allowance (tokens, may be smaller than the paid one), whether a
 *   card is required, and what Stripe does at the end without one
 *   (`trial_settings.end_behavior.missing_payment_method`).
 * - **One per person, per account and per Stripe customer.** Each trial
 *   subscription is recorded in `trialUses` (with the person who started it,
 *   `metadata.trial_started_by`) and `billingAccounts.trialUsedAt` the first
 *   time it is mirrored (`recordTrialUse`); Checkout refuses a second trial
 *   of the person or the account, and reads the customer's subscription
 *   history at Stripe (`billingActions`), with `TRIAL_ALREADY_USED`. A trial
 *   that slips past (a stale session, two organisations at once) counts only
 *   if it is the earliest of its account and its person (`isLaterTrial`),
 *   in every delivery order (`revokeLaterTrial`).
 * - **Allowance follows the money.** Stripe's first invoice of a trial is a
 *   paid $0 invoice whose plan line has amount 0 over the trial. Its coverage
 *   rows are marked `trial` (`coverage.isTrialLine`): they grant the plan's tier during
 *   the trial, and the trial allowance once (`grantTrialAllowance`, ledger
 *   key `trial:<sub id>`), never the paid allowance. The first paid invoice
 *   opens the first paid window (`model/allowance.ts`), anchored at the trial
 *   end, once; trial coverage never opens or extends a paid window, and gives
 *   no grace after the trial.
 * - **Reminder.** `customer.subscription.trial_will_end` (3 days before the
 *   end) notifies once per subscription (`notifyTrialEnding`).
 *
 * Times: Convex ms (Stripe seconds × 1000).
 */
import type Stripe from "stripe";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { recomputeAccountTier } from "./access";
import { appendAudit, type AuditActor } from "./audit";
import { COVERAGE_READ_LIMIT } from "./coverage";
import { getBalance, startPeriod } from "./ledger";
import { notify } from "./notifications";
import { freePeriod } from "./periods";
import { PLANS, type Tier } from "./plans";
import { secondsToMs } from "./stripeShapes";

/** Ledger source key and balance period key of a subscription's trial allowance. */
export function trialKey(stripeSubscriptionId: string): string {
  return `trial:${stripeSubscriptionId}`;
}

/** Whether a balance's period is a trial (not a paid window or a free month). */
export function isTrialKey(periodKey: string | undefined): boolean {
  return periodKey?.startsWith("trial:") ?? false;
}

/** The subscription metadata key naming the person who started a trial (`trialUses.personKey`). */
export const TRIAL_STARTED_BY = "trial_started_by";

/** Longest person key kept: the app's ids are far shorter. */
const MAX_PERSON_KEY_LENGTH = 200;

/** Bound on the trials read per person or account (a person has one; stale sessions add a few). */
const TRIAL_READ_LIMIT = 20;

/** The person a trial subscription names (`metadata.trial_started_by`), or undefined. */
export function trialPersonKey(subscription: Pick<Stripe.Subscription, "metadata">): string | undefined {
  const key = subscription.metadata?.[TRIAL_STARTED_BY];
  return typeof key === "string" && key.length > 0 && key.length <= MAX_PERSON_KEY_LENGTH ? key : undefined;
}

type TrialRef = Pick<Doc<"trialUses">, "stripeSubscriptionId" | "trialStart">;

/** The order trials count in: earlier `trialStart` first, ties by subscription id, so every delivery order agrees. */
function startsBefore(a: TrialRef, b: TrialRef): boolean {
  return a.trialStart < b.trialStart || (a.trialStart === b.trialStart && a.stripeSubscriptionId < b.stripeSubscriptionId);
}

/** Whether the person (`personKey`, the app's stable id) started a trial on any account. */
export async function personHadTrial(ctx: QueryCtx, personKey: string): Promise<boolean> {
  const row = await ctx.db
    .query("trialUses")
    .withIndex("by_personKey_and_trialStart", (q) => q.eq("personKey", personKey))
    .first();
  return row !== null;
}

/**
 * Records a mirrored subscription's trial, idempotently:
 *
 * - a `trialUses` row per subscription (account, `trialStart` ms, and the
 *   person from `metadata.trial_started_by`);
 * - the account's `trialUsedAt`, the earliest trial start seen (later trials
 *   never move it);
 * - and, when this trial started before trials already recorded on the same
 *   account or by the same person, takes those later trials' tier and
 *   remaining trial allowance back (`revokeLaterTrial`), so that whichever
 *   order the trials' events arrive in, only the earliest counts.
 *
 * `account` is settled by the caller afterwards (the subscription handler);
 * other accounts whose later trial is taken back are settled here.
 * Writes nothing for a subscription without a trial.
 */
export async function recordTrialUse(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  subscription: Pick<Stripe.Subscription, "id" | "trial_start" | "metadata">,
  nowMs: number,
  actor: AuditActor,
): Promise<void> {
  const start = secondsToMs(subscription.trial_start);
  if (start === undefined) return;
  const personKey = trialPersonKey(subscription);
  const existing = await ctx.db
    .query("trialUses")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", subscription.id))
    .unique();
  if (!existing) {
    await ctx.db.insert("trialUses", { stripeSubscriptionId: subscription.id, accountId: account._id, personKey, trialStart: start });
  } else if (personKey !== undefined && existing.personKey === undefined) {
    await ctx.db.patch("trialUses", existing._id, { personKey });
  }
  if (account.trialUsedAt === undefined || start < account.trialUsedAt) {
    await ctx.db.patch("billingAccounts", account._id, { trialUsedAt: start });
  }
  const me: TrialRef = { stripeSubscriptionId: subscription.id, trialStart: start };
  const later = new Map<string, Doc<"trialUses">>();
  const sameAccount = await ctx.db
    .query("trialUses")
    .withIndex("by_accountId_and_trialStart", (q) => q.eq("accountId", account._id).gte("trialStart", start))
    .take(TRIAL_READ_LIMIT);
  const samePerson =
    personKey === undefined
      ? []
      : await ctx.db
          .query("trialUses")
          .withIndex("by_personKey_and_trialStart", (q) => q.eq("personKey", personKey).gte("trialStart", start))
          .take(TRIAL_READ_LIMIT);
  for (const row of [...sameAccount, ...samePerson]) {
    if (startsBefore(me, row)) later.set(row.stripeSubscriptionId, row);
  }
  for (const row of later.values()) {
    await revokeLaterTrial(ctx, row, nowMs, actor, { settle: row.accountId !== account._id });
  }
}

/**
 * Whether the mirrored subscription's trial is a later one: another trial
 * on the same account, or started by the same person on any account,
 * started before it (`trialUses`; ties by subscription id), or the account
 * already had one before it (`trialUsedAt`, also set from Stripe's history
 * of the customer). A later trial (a stale Checkout session completed after
 * the first trial, or a person's second organisation) gets neither the
 * trial allowance nor the plan's tier: one free trial per account and per
 * person.
 */
export async function isLaterTrial(
  ctx: QueryCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "stripeSubscriptionId" | "trialStart">,
): Promise<boolean> {
  if (mirror.trialStart === undefined) return false;
  const account = await ctx.db.get("billingAccounts", accountId);
  if (account?.trialUsedAt !== undefined && mirror.trialStart > account.trialUsedAt) return true;
  const me: TrialRef = { stripeSubscriptionId: mirror.stripeSubscriptionId, trialStart: mirror.trialStart };
  const own = await ctx.db
    .query("trialUses")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", mirror.stripeSubscriptionId))
    .unique();
  const earlierOn = (rows: Doc<"trialUses">[]) => rows.some((row) => startsBefore(row, me));
  const onAccount = await ctx.db
    .query("trialUses")
    .withIndex("by_accountId_and_trialStart", (q) => q.eq("accountId", accountId).lte("trialStart", me.trialStart))
    .take(TRIAL_READ_LIMIT);
  if (earlierOn(onAccount)) return true;
  const personKey = own?.personKey;
  if (personKey === undefined) return false;
  const byPerson = await ctx.db
    .query("trialUses")
    .withIndex("by_personKey_and_trialStart", (q) => q.eq("personKey", personKey).lte("trialStart", me.trialStart))
    .take(TRIAL_READ_LIMIT);
  return earlierOn(byPerson);
}

/**
 * Takes a later trial's benefits back once an earlier trial of the same
 * account or person is recorded after it:
 *
 * - its trial coverage rows (`paidCoverage`, `trial: true`, of the
 *   subscription's invoices) are deleted, so it gives no tier; a redelivered
 *   trial invoice records none again (`isLaterTrial`);
 * - when its trial allowance is the account's current period, what remains
 *   of it expires through the ledger (`startPeriod`, key
 *   `trial:<sub id>:revoked`), replaced by the free plan's allowance for the
 *   month: tokens already spent stay spent;
 * - an audit entry `trial.revoked`.
 *
 * Idempotent: a second call finds no coverage and a used ledger key.
 */
async function revokeLaterTrial(
  ctx: MutationCtx,
  row: Doc<"trialUses">,
  nowMs: number,
  actor: AuditActor,
  options: { settle: boolean },
): Promise<void> {
  const key = trialKey(row.stripeSubscriptionId);
  const coverage = await ctx.db
    .query("paidCoverage")
    .withIndex("by_accountId_and_end", (q) => q.eq("accountId", row.accountId).gt("end", row.trialStart))
    .take(COVERAGE_READ_LIMIT);
  const subscriptionOfInvoice = new Map<string, string | undefined>();
  let removed = 0;
  for (const line of coverage) {
    if (!line.trial) continue;
    if (!subscriptionOfInvoice.has(line.stripeInvoiceId)) {
      const invoice = await ctx.db
        .query("invoices")
        .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", line.stripeInvoiceId))
        .unique();
      subscriptionOfInvoice.set(line.stripeInvoiceId, invoice?.stripeSubscriptionId);
    }
    if (subscriptionOfInvoice.get(line.stripeInvoiceId) !== row.stripeSubscriptionId) continue;
    await ctx.db.delete("paidCoverage", line._id);
    removed++;
  }
  const balance = await getBalance(ctx, row.accountId);
  let allowance = { applied: false };
  if (balance?.periodKey === key) {
    allowance = await startPeriod(ctx, row.accountId, {
      sourceKey: `${key}:revoked`,
      tokens: PLANS.free.tokensPerPeriod,
      ...freePeriod(nowMs),
    });
  }
  if (removed === 0 && !allowance.applied) return;
  console.warn(`billing: ${key} on account ${row.accountId} is a later trial; its tier and trial allowance were taken back`);
  await appendAudit(ctx, {
    accountId: row.accountId,
    ...actor,
    action: "trial.revoked",
    before: { trialCoverageLines: removed, periodKey: key },
    after: { periodKey: allowance.applied ? freePeriod(nowMs).periodKey : balance?.periodKey },
    reason: "An earlier free trial of the same account or person was recorded: one free trial per person and per account.",
  });
  if (options.settle) await recomputeAccountTier(ctx, row.accountId, nowMs, actor);
}

/**
 * Grants the trial allowance of the mirrored subscription's plan once
 * (ledger key `trial:<sub id>`), as the balance's period
 * `[trialStart, trialEnd)`: it replaces a free month's allowance and is
 * replaced by the first paid window. Nothing for a plan without a trial
 * allowance, a trial already over when its invoice arrives late (a paid
 * window started since: the ledger's stale-period rule), or a trial that
 * that is a later one (`isLaterTrial`: one per account and per person).
 */
export async function grantTrialAllowance(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "stripeSubscriptionId" | "trialStart" | "trialEnd">,
  tier: Tier,
): Promise<{ applied: boolean }> {
  const trial = PLANS[tier].trial;
  if (!trial || mirror.trialStart === undefined || mirror.trialEnd === undefined || !(mirror.trialEnd > mirror.trialStart)) {
    return { applied: false };
  }
  const key = trialKey(mirror.stripeSubscriptionId);
  // One trial per account and per person: a later trial (a stale Checkout
  // session, a person's second organisation) gets no second allowance.
  if (await isLaterTrial(ctx, accountId, mirror)) {
    console.warn(`billing: ${key} is a second trial for account ${accountId}; no trial allowance`);
    return { applied: false };
  }
  return await startPeriod(ctx, accountId, {
    sourceKey: key,
    tokens: trial.tokens,
    periodKey: key,
    periodStart: mirror.trialStart,
    periodEnd: mirror.trialEnd,
  });
}

/**
 * `customer.subscription.trial_will_end`: one `trial_ending` notification
 * per subscription (dedupe key `trial_ending:<sub id>`), saying when the
 * trial ends and whether a card is on file. Not critical: the customer may
 * turn these emails off.
 */
export async function notifyTrialEnding(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  mirror: Pick<Doc<"subscriptions">, "stripeSubscriptionId" | "tier" | "trialEnd" | "hasPaymentMethod">,
): Promise<{ created: boolean }> {
  const plan = PLANS[mirror.tier].name;
  const ends = mirror.trialEnd === undefined ? "soon" : `on ${formatDay(mirror.trialEnd)}`;
  const body = mirror.hasPaymentMethod
    ? `Your ${plan} trial ends ${ends}. Your card on file will then be charged and ${plan} continues.`
    : `Your ${plan} trial ends ${ends}. Add a card before then to keep ${plan}.`;
  const { created } = await notify(ctx, {
    accountId,
    kind: "trial_ending",
    dedupeKey: `trial_ending:${mirror.stripeSubscriptionId}`,
    title: `Your ${plan} trial ends ${ends}`,
    body,
    link: "/billing",
    critical: false,
  });
  return { created };
}

/** "12 Dec 2026" (UTC). */
function formatDay(ms: number): string {
  return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }).format(ms);
}
