/**
 * The operator console's model (docs/OPERATOR_CONSOLE.md): the account rows
 * and detail staff read, and the actions they take, each with a required
 * reason and an audit entry written in the same transaction
 * (`appendAudit`, actor kind `staff`).
 *
 * Every read is indexed and bounded: the list reads one page of accounts
 * (plus, per row, its balance, its newest invoice and its subscription),
 * the detail reads at most `DETAIL_LIMITS` rows of each kind, and queue
 * health at most `QUEUE_COUNT_CAP` + 1 rows per status.
 *
 * Units: Convex times in ms; money in integer minor units; tokens integers.
 */
import type { PaginationResult } from "convex/server";
import { v, type Infer } from "convex/values";
import { paginator } from "convex-helpers/server/pagination";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import schema from "../schema";
import { settleAccount } from "./access";
import { appendAudit } from "./audit";
import { fail } from "./errors";
import { getBalance } from "./ledger";
import type { Tier } from "./plans";
import { vSubscriptionStatus, vTier, vWebhookEventStatus, WEBHOOK_EVENT_STATUSES, type WebhookEventStatus } from "./validators";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Largest page `listAccounts` and `ledger` return. */
export const MAX_CONSOLE_PAGE = 100;
/** Longest reason accepted. */
export const MAX_REASON_LENGTH = 500;
/** The caps of each list in `accountDetail`. */
export const DETAIL_LIMITS = { invoices: 20, grants: 50, holds: 50, events: 50, notifications: 20, subscriptions: 10 } as const;
/** Rows read per status by `queueHealth`; a status with more shows this cap and is listed in `cappedStatuses`. */
export const QUEUE_COUNT_CAP = 1_000;
/** Dead events listed by `queueHealth`. */
export const QUEUE_DEAD_LISTED = 20;
/** Most event ids one `replayDeadEvents` call takes, and most dead events it re-queues. */
export const MAX_REPLAY = 100;

export function clampPage(numItems: number): number {
  return Math.min(Math.max(1, Math.floor(numItems)), MAX_CONSOLE_PAGE);
}

/** The trimmed reason; `INVALID_ARGUMENT` when blank or over `MAX_REASON_LENGTH`. */
export function requireReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0) fail("INVALID_ARGUMENT", "A reason is required.");
  if (trimmed.length > MAX_REASON_LENGTH) fail("INVALID_ARGUMENT", `The reason must be at most ${MAX_REASON_LENGTH} characters.`);
  return trimmed;
}

/** The account; `NOT_FOUND` when there is none. */
export async function requireAccount(ctx: QueryCtx, accountId: Id<"billingAccounts">): Promise<Doc<"billingAccounts">> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) fail("NOT_FOUND", "No such billing account.");
  return account;
}

// ---------------------------------------------------------------------------
// Account rows
// ---------------------------------------------------------------------------

export const vLastInvoice = v.object({
  /** Minor units of `currency`. */
  amountDue: v.number(),
  currency: v.string(),
  status: v.string(),
  /** ms */
  created: v.number(),
});

// Ids are plain strings in these shapes: the app returns them as they are,
// and the app's validators cannot name the component's tables.
export const vAccountRow = v.object({
  accountId: v.string(),
  ownerKey: v.string(),
  kind: v.union(v.literal("personal"), v.literal("organization")),
  name: v.union(v.string(), v.null()),
  email: v.union(v.string(), v.null()),
  tier: vTier,
  tierOverride: v.union(vTier, v.null()),
  /** When the comp lapses (ms); null: no override, or one without an end. */
  tierOverrideUntil: v.union(v.number(), v.null()),
  /** The current subscription's status, or null without one. */
  subscriptionStatus: v.union(v.string(), v.null()),
  /** Spendable tokens. */
  balance: v.number(),
  /** Whole days since `overdueSince`, or null when nothing is overdue. */
  overdueDays: v.union(v.number(), v.null()),
  lastInvoice: v.union(vLastInvoice, v.null()),
  stripeCustomerId: v.union(v.string(), v.null()),
});
export type AccountRow = Infer<typeof vAccountRow>;

async function currentSubscription(ctx: QueryCtx, account: Doc<"billingAccounts">): Promise<Doc<"subscriptions"> | null> {
  const id = account.stripeSubscriptionId;
  if (!id) return null;
  return await ctx.db
    .query("subscriptions")
    .withIndex("by_stripeSubscriptionId", (q) => q.eq("stripeSubscriptionId", id))
    .unique();
}

/** Overdue days at `nowMs`, from the dunning field `overdueSince` (ms). */
export function overdueDaysOf(account: Pick<Doc<"billingAccounts">, "overdueSince">, nowMs: number): number | null {
  if (account.overdueSince === undefined) return null;
  return Math.max(0, Math.floor((nowMs - account.overdueSince) / DAY_MS));
}

/** One row: the account plus three indexed reads (subscription, balance, newest invoice). */
export async function toAccountRow(ctx: QueryCtx, account: Doc<"billingAccounts">, nowMs: number): Promise<AccountRow> {
  const subscription = await currentSubscription(ctx, account);
  const balance = await getBalance(ctx, account._id);
  const invoice = await ctx.db
    .query("invoices")
    .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", account._id))
    .order("desc")
    .first();
  return {
    accountId: account._id,
    ownerKey: account.ownerKey,
    kind: account.kind,
    name: account.name ?? null,
    email: account.email ?? null,
    tier: account.tier,
    tierOverride: account.tierOverride ?? null,
    tierOverrideUntil: account.tierOverride !== undefined ? (account.tierOverrideUntil ?? null) : null,
    subscriptionStatus: subscription?.status ?? null,
    balance: balance?.balance ?? 0,
    overdueDays: overdueDaysOf(account, nowMs),
    lastInvoice: invoice
      ? { amountDue: invoice.amountDue, currency: invoice.currency, status: invoice.status, created: invoice.createdAt }
      : null,
    stripeCustomerId: account.stripeCustomerId ?? null,
  };
}

export type AccountFilters = {
  search?: string;
  tier?: Tier;
  status?: string;
  overdue?: boolean;
};

type Page<T> = PaginationResult<T>;
type PaginationOpts = { numItems: number; cursor: string | null; endCursor?: string | null };

/** The smallest string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix + "\uffff";
}

function matches(account: Doc<"billingAccounts">, filters: AccountFilters, nowMs: number): boolean {
  if (filters.tier !== undefined && account.tier !== filters.tier) return false;
  if (filters.overdue === true && overdueDaysOf(account, nowMs) === null) return false;
  if (filters.overdue === false && overdueDaysOf(account, nowMs) !== null) return false;
  return true;
}

/**
 * One page of accounts for the console. The page is read from ONE index
 * range, whatever the number of accounts:
 *
 * - `search` (trimmed, non-empty): `cus_…` → `by_stripeCustomerId` (exact);
 *   containing `@` → `by_email` (exact, as typed and lower-cased); else a
 *   name prefix (case-sensitive) on `by_name`;
 * - else `status` → subscriptions `by_status` (the account is listed when
 *   that subscription is its current one);
 * - else `overdue: true` → `by_overdueSince` (oldest overdue first);
 * - else `tier` → `by_tier`;
 * - else every account, newest first.
 *
 * The filters not used for the range are applied to the rows of that page,
 * so a page may hold fewer than `numItems` rows while `isDone` is false.
 */
export async function listAccountRows(
  ctx: QueryCtx,
  filters: AccountFilters,
  paginationOpts: PaginationOpts,
  nowMs: number,
): Promise<Page<AccountRow>> {
  const opts = { ...paginationOpts, numItems: clampPage(paginationOpts.numItems) };
  const search = filters.search?.trim() ?? "";
  let accounts: Page<Doc<"billingAccounts">>;
  let statusChecked = false;
  const db = paginator(ctx.db, schema);
  if (search.length > 0) {
    if (search.startsWith("cus_")) {
      accounts = await db
        .query("billingAccounts")
        .withIndex("by_stripeCustomerId", (q) => q.eq("stripeCustomerId", search))
        .paginate(opts);
    } else if (search.includes("@")) {
      const rows = await ctx.db
        .query("billingAccounts")
        .withIndex("by_email", (q) => q.eq("email", search))
        .take(opts.numItems);
      const lower = search.toLowerCase();
      if (lower !== search && rows.length < opts.numItems) {
        rows.push(
          ...(await ctx.db
            .query("billingAccounts")
            .withIndex("by_email", (q) => q.eq("email", lower))
            .take(opts.numItems - rows.length)),
        );
      }
      accounts = { page: rows, isDone: true, continueCursor: "" };
    } else {
      accounts = await db
        .query("billingAccounts")
        .withIndex("by_name", (q) => q.gte("name", search).lt("name", prefixEnd(search)))
        .paginate(opts);
    }
  } else if (filters.status !== undefined) {
    const status = filters.status;
    const subscriptions = await db
      .query("subscriptions")
      .withIndex("by_status", (q) => q.eq("status", status as Doc<"subscriptions">["status"]))
      .order("desc")
      .paginate(opts);
    const page: Doc<"billingAccounts">[] = [];
    for (const subscription of subscriptions.page) {
      const account = await ctx.db.get("billingAccounts", subscription.accountId);
      if (account && account.stripeSubscriptionId === subscription.stripeSubscriptionId) page.push(account);
    }
    accounts = { ...subscriptions, page };
    statusChecked = true;
  } else if (filters.overdue === true) {
    accounts = await db
      .query("billingAccounts")
      .withIndex("by_overdueSince", (q) => q.gte("overdueSince", 0))
      .paginate(opts);
  } else if (filters.tier !== undefined) {
    const tier = filters.tier;
    accounts = await db
      .query("billingAccounts")
      .withIndex("by_tier", (q) => q.eq("tier", tier))
      .order("desc")
      .paginate(opts);
  } else {
    accounts = await db.query("billingAccounts").order("desc").paginate(opts);
  }
  const rows: AccountRow[] = [];
  for (const account of accounts.page) {
    if (!matches(account, filters, nowMs)) continue;
    const row = await toAccountRow(ctx, account, nowMs);
    if (!statusChecked && filters.status !== undefined && row.subscriptionStatus !== filters.status) continue;
    rows.push(row);
  }
  return { ...accounts, page: rows };
}

// ---------------------------------------------------------------------------
// Account detail
// ---------------------------------------------------------------------------

export const vConsoleSubscription = v.object({
  stripeSubscriptionId: v.string(),
  status: vSubscriptionStatus,
  tier: vTier,
  interval: v.union(v.string(), v.null()),
  quantity: v.number(),
  /** ms */
  currentPeriodStart: v.union(v.number(), v.null()),
  currentPeriodEnd: v.union(v.number(), v.null()),
  cancelAtPeriodEnd: v.boolean(),
  cancelAt: v.union(v.number(), v.null()),
  trialEnd: v.union(v.number(), v.null()),
  pastDueSince: v.union(v.number(), v.null()),
  stripePriceId: v.union(v.string(), v.null()),
  scheduleId: v.union(v.string(), v.null()),
});

export const vConsoleScheduledChange = v.object({
  tier: vTier,
  interval: v.union(v.string(), v.null()),
  /** ms */
  effectiveAt: v.number(),
  /** A change Stripe holds until its invoice is paid (`pending_update`), rather than a schedule. */
  pendingPayment: v.boolean(),
});

export const vConsoleInvoice = v.object({
  stripeInvoiceId: v.string(),
  number: v.union(v.string(), v.null()),
  status: v.string(),
  billingReason: v.union(v.string(), v.null()),
  /** Minor units of `currency`. */
  amountDue: v.number(),
  amountPaid: v.number(),
  amountRemaining: v.number(),
  currency: v.string(),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  /** ms */
  created: v.number(),
});

export const vConsoleGrant = v.object({
  grantId: v.string(),
  category: v.string(),
  status: v.string(),
  amount: v.number(),
  remaining: v.number(),
  /** ms */
  startsAt: v.number(),
  expiresAt: v.union(v.number(), v.null()),
  note: v.union(v.string(), v.null()),
  sourceKey: v.string(),
});

export const vConsoleHold = v.object({
  holdId: v.string(),
  feature: v.string(),
  amount: v.number(),
  /** ms */
  expiresAt: v.number(),
  createdAt: v.number(),
});

export const vConsoleEvent = v.object({
  eventId: v.string(),
  type: v.string(),
  status: vWebhookEventStatus,
  lastError: v.union(v.string(), v.null()),
  /** ms */
  receivedAt: v.number(),
  attempts: v.number(),
  waitingFor: v.union(v.string(), v.null()),
});

export const vConsoleNotification = v.object({
  kind: v.string(),
  title: v.string(),
  _creationTime: v.number(),
  readAt: v.union(v.number(), v.null()),
});

export const vAccountDetail = v.object({
  account: vAccountRow,
  subscription: v.union(vConsoleSubscription, v.null()),
  scheduledChange: v.union(vConsoleScheduledChange, v.null()),
  invoices: v.array(vConsoleInvoice),
  grants: v.array(vConsoleGrant),
  holds: v.array(vConsoleHold),
  events: v.array(vConsoleEvent),
  notifications: v.array(vConsoleNotification),
});
export type AccountDetail = Infer<typeof vAccountDetail>;

function eventOf(row: Doc<"webhookEvents">): Infer<typeof vConsoleEvent> {
  return {
    eventId: row.eventId,
    type: row.type,
    status: row.status,
    lastError: row.lastError ?? null,
    receivedAt: row.receivedAt ?? row._creationTime,
    attempts: row.attempts ?? (row.lastError !== undefined && row.status === "ignored" ? 0 : 1),
    waitingFor: row.waitingFor ?? null,
  };
}

/**
 * Everything the console shows about one account, each list bounded
 * (`DETAIL_LIMITS`), newest first: active and recent grants, open holds,
 * the customer's queued Stripe events (`webhookEvents.by_stripeCustomerId_and_status`:
 * the events that went through the queue: waiting, retrying, dead,
 * replayed, reconciled; an event applied on receipt keeps no customer id,
 * see docs/OPERATOR_CONSOLE.md) and the notifications sent. Null when the
 * account does not exist.
 */
export async function accountDetail(ctx: QueryCtx, accountId: Id<"billingAccounts">, nowMs: number): Promise<AccountDetail | null> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) return null;
  const row = await toAccountRow(ctx, account, nowMs);
  const sub = await currentSubscription(ctx, account);
  const subscription = sub
    ? {
        stripeSubscriptionId: sub.stripeSubscriptionId,
        status: sub.status,
        tier: sub.tier,
        interval: sub.interval ?? null,
        quantity: sub.quantity,
        currentPeriodStart: sub.currentPeriodStart ?? null,
        currentPeriodEnd: sub.currentPeriodEnd ?? null,
        cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
        cancelAt: sub.cancelAt ?? null,
        trialEnd: sub.trialEnd ?? null,
        pastDueSince: sub.pastDueSince ?? null,
        stripePriceId: sub.stripePriceId ?? null,
        scheduleId: sub.scheduleId ?? null,
      }
    : null;
  const scheduledChange = sub?.scheduledChange
    ? {
        tier: sub.scheduledChange.tier,
        interval: sub.scheduledChange.interval ?? null,
        effectiveAt: sub.scheduledChange.effectiveAt,
        pendingPayment: false,
      }
    : sub?.pendingUpdate
      ? {
          tier: sub.pendingUpdate.tier,
          interval: sub.pendingUpdate.interval ?? null,
          effectiveAt: sub.pendingUpdate.expiresAt,
          pendingPayment: true,
        }
      : null;
  const invoices = (
    await ctx.db
      .query("invoices")
      .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", accountId))
      .order("desc")
      .take(DETAIL_LIMITS.invoices)
  ).map((invoice) => ({
    stripeInvoiceId: invoice.stripeInvoiceId,
    number: invoice.number ?? null,
    status: invoice.status,
    billingReason: invoice.billingReason ?? null,
    amountDue: invoice.amountDue,
    amountPaid: invoice.amountPaid,
    amountRemaining: invoice.amountRemaining,
    currency: invoice.currency,
    hostedInvoiceUrl: invoice.hostedInvoiceUrl ?? null,
    created: invoice.createdAt,
  }));
  // Active grants first (in draw order), then the others, at most `DETAIL_LIMITS.grants` in all.
  const grantIndex = "by_accountId_and_status_and_priority_and_drawExpiresAt_and_drawClass" as const;
  const activeGrants = await ctx.db
    .query("tokenGrants")
    .withIndex(grantIndex, (q) => q.eq("accountId", accountId).eq("status", "active"))
    .take(DETAIL_LIMITS.grants);
  const otherGrants =
    activeGrants.length < DETAIL_LIMITS.grants
      ? (
          await ctx.db
            .query("tokenGrants")
            .withIndex(grantIndex, (q) => q.eq("accountId", accountId).gt("status", "active"))
            .take(DETAIL_LIMITS.grants - activeGrants.length)
        )
      : [];
  const grants = [...activeGrants, ...otherGrants].map((grant) => ({
    grantId: grant._id,
    category: grant.category,
    status: grant.status,
    amount: grant.amount,
    remaining: grant.remaining,
    startsAt: grant.startsAt,
    expiresAt: grant.expiresAt ?? null,
    note: grant.note ?? null,
    sourceKey: grant.sourceKey,
  }));
  const holds = (
    await ctx.db
      .query("tokenHolds")
      .withIndex("by_accountId_and_status", (q) => q.eq("accountId", accountId).eq("status", "open"))
      .order("desc")
      .take(DETAIL_LIMITS.holds)
  ).map((hold) => ({
    holdId: hold._id,
    feature: hold.feature,
    amount: hold.amount,
    expiresAt: hold.expiresAt,
    createdAt: hold._creationTime,
  }));
  const customerId = account.stripeCustomerId;
  const events = customerId
    ? (
        await ctx.db
          .query("webhookEvents")
          .withIndex("by_stripeCustomerId_and_status", (q) => q.eq("stripeCustomerId", customerId))
          .order("desc")
          .take(DETAIL_LIMITS.events)
      )
        .map(eventOf)
        .sort((a, b) => b.receivedAt - a.receivedAt)
    : [];
  const notifications = (
    await ctx.db
      .query("notifications")
      .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
      .order("desc")
      .take(DETAIL_LIMITS.notifications)
  ).map((n) => ({ kind: n.kind, title: n.title, _creationTime: n._creationTime, readAt: n.readAt ?? null }));
  return { account: row, subscription, scheduledChange, invoices, grants, holds, events, notifications };
}

// ---------------------------------------------------------------------------
// Queue health
// ---------------------------------------------------------------------------

export const vQueueHealth = v.object({
  /** Events per status, each counted up to `QUEUE_COUNT_CAP` (see `cappedStatuses`). */
  counts: v.record(v.string(), v.number()),
  /** Statuses with more than `QUEUE_COUNT_CAP` events: their count shows the cap. */
  cappedStatuses: v.array(v.string()),
  /** Age (ms) of the pending or retrying event received longest ago among those due first, or null when none. */
  oldestPendingAgeMs: v.union(v.number(), v.null()),
  dead: v.array(v.object({ eventId: v.string(), type: v.string(), lastError: v.union(v.string(), v.null()), receivedAt: v.number() })),
  lastReconciliation: v.union(
    v.object({
      /** ms */
      ranAt: v.number(),
      /** `ok`, or `error` with `error` set. */
      result: v.string(),
      error: v.union(v.string(), v.null()),
      enqueued: v.number(),
      alreadyKnown: v.number(),
      revived: v.number(),
    }),
    v.null(),
  ),
});
export type QueueHealth = Infer<typeof vQueueHealth>;

export async function queueHealth(ctx: QueryCtx, nowMs: number): Promise<QueueHealth> {
  const counts: Record<string, number> = {};
  const cappedStatuses: string[] = [];
  for (const status of WEBHOOK_EVENT_STATUSES) {
    const rows = await ctx.db
      .query("webhookEvents")
      .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
      .take(QUEUE_COUNT_CAP + 1);
    counts[status] = Math.min(rows.length, QUEUE_COUNT_CAP);
    if (rows.length > QUEUE_COUNT_CAP) cappedStatuses.push(status);
  }
  let oldest: number | null = null;
  for (const status of ["pending", "failed_retrying"] as WebhookEventStatus[]) {
    const first = await ctx.db
      .query("webhookEvents")
      .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", status))
      .first();
    if (first) {
      const received = first.receivedAt ?? first._creationTime;
      oldest = oldest === null ? received : Math.min(oldest, received);
    }
  }
  const dead = (
    await ctx.db
      .query("webhookEvents")
      .withIndex("by_status_and_nextAttemptAt", (q) => q.eq("status", "dead"))
      .order("desc")
      .take(QUEUE_DEAD_LISTED)
  ).map((row) => ({
    eventId: row.eventId,
    type: row.type,
    lastError: row.lastError ?? null,
    receivedAt: row.receivedAt ?? row._creationTime,
  }));
  const run = await ctx.db.query("reconcileRuns").order("desc").first();
  return {
    counts,
    cappedStatuses,
    oldestPendingAgeMs: oldest === null ? null : Math.max(0, nowMs - oldest),
    dead,
    lastReconciliation: run
      ? {
          ranAt: run._creationTime,
          result: run.result,
          error: run.error ?? null,
          enqueued: run.enqueued,
          alreadyKnown: run.alreadyKnown,
          revived: run.revived,
        }
      : null,
  };
}

// ---------------------------------------------------------------------------
// Comps
// ---------------------------------------------------------------------------

export type StaffActor = { actor: string; reason: string };

/**
 * Comps `tier` until `expiresAt` (ms, in the future): sets `tierOverride` and
 * `tierOverrideUntil`, settles the account at once (`settleAccount`), and
 * schedules `console.lapseComp` at `expiresAt`. Audit `tier.override`.
 * Throws `NOT_FOUND`, `INVALID_ARGUMENT` (blank reason, past expiry).
 */
export async function compTier(
  ctx: MutationCtx,
  args: { accountId: Id<"billingAccounts">; tier: Tier; expiresAt: number } & StaffActor,
  nowMs: number,
  scheduleLapse: (at: number) => Promise<void>,
): Promise<{ tier: Tier }> {
  const reason = requireReason(args.reason);
  if (!Number.isSafeInteger(args.expiresAt) || args.expiresAt <= nowMs) {
    fail("INVALID_ARGUMENT", "The comp must end in the future (expiresAt in ms).");
  }
  const account = await requireAccount(ctx, args.accountId);
  const before = { tier: account.tier, tierOverride: account.tierOverride ?? null, tierOverrideUntil: account.tierOverrideUntil ?? null };
  const { tier } = await settleAccount(ctx, account, nowMs, {
    changes: { tierOverride: args.tier, tierOverrideUntil: args.expiresAt },
    actor: { actorKind: "staff", actor: args.actor },
  });
  await scheduleLapse(args.expiresAt);
  await appendAudit(ctx, {
    accountId: account._id,
    actorKind: "staff",
    actor: args.actor,
    action: "tier.override",
    before,
    after: { tier, tierOverride: args.tier, tierOverrideUntil: args.expiresAt },
    reason,
  });
  return { tier };
}

/**
 * Removes the account's override and settles it at once. `kind`: `staff`
 * (console, audit `tier.override_cleared` by the staff member) or `lapse`
 * (the scheduled lapse, audit `tier.override_lapsed` by the cron actor).
 * Returns whether an override was removed.
 */
export async function clearComp(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  nowMs: number,
  who: { actorKind: "staff" | "cron"; actor: string; reason: string; action: string },
): Promise<{ cleared: boolean; tier: Tier }> {
  if (account.tierOverride === undefined) return { cleared: false, tier: account.tier };
  const before = { tier: account.tier, tierOverride: account.tierOverride, tierOverrideUntil: account.tierOverrideUntil ?? null };
  const { tier } = await settleAccount(ctx, account, nowMs, {
    changes: { tierOverride: undefined, tierOverrideUntil: undefined },
    actor: { actorKind: who.actorKind, actor: who.actor },
  });
  await appendAudit(ctx, {
    accountId: account._id,
    actorKind: who.actorKind,
    actor: who.actor,
    action: who.action,
    before,
    after: { tier, tierOverride: null, tierOverrideUntil: null },
    reason: who.reason,
  });
  return { cleared: true, tier };
}
