/**
 * Seats on per-seat plans (`Plan.seats`, docs/SEATS.md): the subscription's
 * plan item quantity is the number of seats.
 *
 * - Checkout for an organisation on a per-seat plan buys `checkoutQuantity`
 *   seats; a personal account, or a flat plan, buys one.
 * - Increases apply now, prorated and paid first: `subscriptions.update`
 *   with the new quantity, `proration_behavior: "always_invoice"` and
 *   `payment_behavior: "pending_if_incomplete"` (as plan upgrades), so the
 *   seats and their allowance come only with a paid invoice.
 * - Decreases apply now with `proration_behavior: "none"`: no credit and no
 *   invoice; the window's allowance stays what was paid for it
 *   (`coverage.seatsAt`), and the next invoice bills the lower count. Never
 *   below the member count.
 * - Preview and change prorate as of the start of the current UTC minute
 *   (not before the period start), so a confirm within the minute bills
 *   exactly what was previewed.
 * - Idempotency key of a change: `seats:<subId>:<from>-><to>:<requestId>`,
 *   `requestId` from the client (one per dialog) or `members-<event ms>`
 *   for a member-count sync: a retried confirm never bills twice.
 *
 * Units: money in integer minor units of `currency`; times in Convex ms.
 * Errors (`ConvexError` `code`): `NOT_FOUND`, `NO_SUBSCRIPTION`,
 * `INVALID_ARGUMENT` (not a per-seat plan, out of range, fewer seats than
 * members, bad request id), `NOT_A_CHANGE`, `PAYMENT_REQUIRED`,
 * `CHANGE_PENDING`, `FORBIDDEN` (Stripe's subscription is not the
 * account's), `STRIPE_NOT_CONFIGURED`, `STRIPE_ERROR`.
 */
import { v, type Infer } from "convex/values";
import Stripe from "stripe";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { ActionCtx, MutationCtx, QueryCtx } from "../_generated/server";
import { requireAccount, timeBucket } from "./billingActions";
import { coverageAt, coverageRows, seatsAt } from "./coverage";
import { currentSubscriptionOf } from "./currentSubscription";
import { fail, isBillingError } from "./errors";
import { notify } from "./notifications";
import { PLANS, planForLookupKey, seatAllowance, seatConfig, type SeatConfig, type Tier } from "./plans";
import { getStripe, stripeRead, stripeWrite } from "./stripeClient";
import { vSubscriptionStatus, vTier, type SubscriptionStatus } from "./validators";

const BUCKET_MS = 60_000;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PAYMENT_REQUIRED_STATUSES: readonly SubscriptionStatus[] = ["past_due", "unpaid", "incomplete", "paused"];
const LIVE_STATUSES: readonly SubscriptionStatus[] = ["active", "trialing"];

export const vSeatMode = v.union(v.literal("chosen"), v.literal("members"));

/**
 * Checkout's quantity: 1 for a personal account or a flat plan; for an
 * organisation on a per-seat plan, `members` mode → the member count, and
 * `chosen` mode → `seats` (default: the member count), within the plan's
 * `min`…`max` and never below the member count.
 * @throws `INVALID_ARGUMENT` for seats out of range or below the members.
 */
export function checkoutQuantity(
  kind: "personal" | "organization",
  tier: Tier,
  args: { seats?: number; members?: number },
): number {
  const config = seatConfig(tier);
  if (kind !== "organization" || !config) {
    if (args.seats !== undefined && args.seats !== 1) fail("INVALID_ARGUMENT", `The ${PLANS[tier].name} plan is not sold per seat here.`);
    return 1;
  }
  const members = Math.max(1, Math.floor(args.members ?? 1));
  if (config.mode === "members") return clampSeats(config, members);
  const seats = args.seats ?? Math.max(config.min, members);
  requireSeats(config, seats, members);
  return seats;
}

function clampSeats(config: SeatConfig, seats: number): number {
  return Math.min(config.max, Math.max(config.min, seats));
}

/** @throws `INVALID_ARGUMENT` unless `seats` is an integer within the plan's range and at least `members`. */
function requireSeats(config: SeatConfig, seats: number, members: number): void {
  if (!Number.isInteger(seats) || seats < config.min || seats > config.max) {
    fail("INVALID_ARGUMENT", `Choose between ${config.min} and ${config.max} seats.`);
  }
  if (config.mode === "chosen" && seats < members) {
    fail("INVALID_ARGUMENT", `Your organisation has ${members} members: keep at least ${members} seats, or remove members first.`);
  }
}

// ---------------------------------------------------------------------------
// Database side
// ---------------------------------------------------------------------------

export const vSeatState = v.object({
  kind: v.union(v.literal("personal"), v.literal("organization")),
  subscription: v.union(
    v.object({
      stripeSubscriptionId: v.string(),
      stripeCustomerId: v.string(),
      status: vSubscriptionStatus,
      tier: vTier,
      /** Seats on the subscription (its plan item's quantity). */
      quantity: v.number(),
      /** ms */
      currentPeriodEnd: v.union(v.number(), v.null()),
      blocked: v.union(v.literal("cancel_scheduled"), v.literal("pending_update"), v.literal("schedule"), v.null()),
    }),
    v.null(),
  ),
  /** Seats paid for now (`coverage.seatsAt`), or null when nothing is paid. */
  paidSeats: v.union(v.number(), v.null()),
  /** The allowance of the current window (tokens). */
  allowance: v.number(),
  openInvoiceUrl: v.union(v.string(), v.null()),
});
export type SeatState = Infer<typeof vSeatState>;

/** What seat actions and the seats card need from the database. Bounded reads. */
export async function seatState(ctx: QueryCtx, accountId: Id<"billingAccounts">, nowMs: number): Promise<SeatState | null> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) return null;
  const row = await currentSubscriptionOf(ctx, account);
  const live = row && row.status !== "canceled" && row.status !== "incomplete_expired" ? row : null;
  const rows = await coverageRows(ctx, accountId, nowMs);
  const paidTier = coverageAt(rows, nowMs);
  const balance = await ctx.db
    .query("tokenBalances")
    .withIndex("by_accountId", (q) => q.eq("accountId", accountId))
    .unique();
  const open = (
    await ctx.db
      .query("invoices")
      .withIndex("by_accountId_and_createdAt", (q) => q.eq("accountId", accountId))
      .order("desc")
      .take(6)
  ).find((invoice) => invoice.status === "open" && invoice.hostedInvoiceUrl !== undefined);
  return {
    kind: account.kind,
    subscription: live
      ? {
          stripeSubscriptionId: live.stripeSubscriptionId,
          stripeCustomerId: live.stripeCustomerId,
          status: live.status,
          tier: live.tier,
          quantity: live.quantity,
          currentPeriodEnd: live.currentPeriodEnd ?? null,
          blocked:
            live.cancelAtPeriodEnd || live.cancelAt !== undefined
              ? "cancel_scheduled"
              : live.pendingUpdate
                ? "pending_update"
                : live.scheduleId
                  ? "schedule"
                  : null,
        }
      : null,
    paidSeats: paidTier === null ? null : seatsAt(rows, nowMs, paidTier),
    allowance: balance?.allowance ?? 0,
    openInvoiceUrl: open?.hostedInvoiceUrl ?? null,
  };
}

export const vSeatsView = v.object({
  /** The subscription's plan, or null without a live subscription. */
  tier: v.union(vTier, v.null()),
  /** Whether the account is billed per seat now (an organisation on a per-seat plan). */
  perSeat: v.boolean(),
  mode: v.union(vSeatMode, v.null()),
  min: v.number(),
  max: v.number(),
  /** Seats on the subscription (1 without one). */
  seats: v.number(),
  /** Seats paid for this period (≥ `seats` after an unprorated decrease); null when nothing is paid. */
  paidSeats: v.union(v.number(), v.null()),
  /** Members the app counted. */
  members: v.number(),
  /** `members > seats` on a `chosen` plan: the admin should add seats. */
  overCapacity: v.boolean(),
  /** Monthly allowance for `seats` seats, and the current window's allowance (tokens). */
  allowancePerPeriod: v.number(),
  windowAllowance: v.number(),
  /** Monthly allowance each further seat adds (tokens). */
  allowancePerExtraSeat: v.number(),
  /** Why seats cannot change now, or null. */
  blocked: v.union(v.string(), v.null()),
});
export type SeatsView = Infer<typeof vSeatsView>;

/** The seats card's data (see `vSeatsView`). */
export function toSeatsView(state: SeatState, members: number): SeatsView {
  const sub = state.subscription;
  const config = sub && state.kind === "organization" ? seatConfig(sub.tier) : null;
  const seats = sub?.quantity ?? 1;
  const count = Math.max(1, members);
  return {
    tier: sub?.tier ?? null,
    perSeat: config !== null,
    mode: config?.mode ?? null,
    min: config?.min ?? 1,
    max: config?.max ?? 1,
    seats,
    paidSeats: state.paidSeats,
    members: count,
    overCapacity: config?.mode === "chosen" && count > seats,
    allowancePerPeriod: sub ? seatAllowance(sub.tier, seats) : 0,
    windowAllowance: state.allowance,
    allowancePerExtraSeat: sub && config ? seatAllowance(sub.tier, seats + 1) - seatAllowance(sub.tier, seats) : 0,
    blocked: sub ? blockedReason(sub.status, sub.blocked) : "No subscription.",
  };
}

type SeatBlock = NonNullable<SeatState["subscription"]>["blocked"];

function blockedReason(status: SubscriptionStatus, blocked: SeatBlock): string | null {
  if (PAYMENT_REQUIRED_STATUSES.includes(status)) return "Pay the open invoice before changing seats.";
  if (!LIVE_STATUSES.includes(status)) return "No subscription.";
  if (blocked === "cancel_scheduled") return "Your subscription is set to cancel: resume it before changing seats.";
  if (blocked === "pending_update") return "A change is waiting for its payment.";
  if (blocked === "schedule") return "A plan change is scheduled: cancel it before changing seats.";
  return null;
}

/**
 * After the organisation's member count changed to `members`: on a
 * `chosen` plan with fewer seats than members, notifies the organisation
 * once per (subscription, member count) (`seats_exceeded`, linking to the
 * seats card); returns whether a `members` plan's seats need a sync
 * (`syncMemberSeats`). Nothing for a personal account, a flat plan or no
 * live subscription. Bounded reads; at most one insert.
 */
export async function afterMembersChanged(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  members: number,
  nowMs: number,
): Promise<{ sync: boolean; notified: boolean }> {
  const state = await seatState(ctx, accountId, nowMs);
  const sub = state?.subscription;
  const config = sub && state?.kind === "organization" ? seatConfig(sub.tier) : null;
  if (!sub || !config) return { sync: false, notified: false };
  const count = Math.max(1, Math.floor(members));
  if (config.mode === "members") return { sync: clampSeats(config, count) !== sub.quantity, notified: false };
  if (count <= sub.quantity) return { sync: false, notified: false };
  const { created } = await notify(ctx, {
    accountId,
    kind: "seats_exceeded",
    dedupeKey: `seats_exceeded:${sub.stripeSubscriptionId}:${count}`,
    title: `${count} members, ${sub.quantity} ${sub.quantity === 1 ? "seat" : "seats"}: add seats`,
    body: `Your organisation now has ${count} members but pays for ${sub.quantity} ${sub.quantity === 1 ? "seat" : "seats"} on ${PLANS[sub.tier].name}. An admin can add seats on the Billing page.`,
    link: "/billing#seats",
    critical: false,
  });
  return { sync: false, notified: created };
}

// ---------------------------------------------------------------------------
// Stripe side
// ---------------------------------------------------------------------------

export const vSeatPreview = v.object({
  kind: v.union(v.literal("increase"), v.literal("decrease")),
  from: v.number(),
  to: v.number(),
  currency: v.string(),
  /** Charged now (after customer credit), minor units; 0 for a decrease. */
  dueNow: v.number(),
  /** Credit for the unused time of the current seats inside `dueNow`, minor units (≥ 0). */
  prorationCredit: v.number(),
  /** The price of one seat per interval, minor units. */
  unitAmount: v.number(),
  /** The next regular invoice: amount (minor units, before tax and discounts) and when (ms). */
  nextInvoiceAmount: v.number(),
  nextInvoiceAt: v.number(),
  /** Monthly allowance before and after (tokens); the after-allowance arrives once paid. */
  allowanceBefore: v.number(),
  allowanceAfter: v.number(),
});
export type SeatPreview = Infer<typeof vSeatPreview>;

export const vSeatChangeResult = v.object({
  /** `applied` (paid, or a decrease), `unchanged`, `requires_action` (3-D Secure at `hostedInvoiceUrl`), `payment_failed`. */
  status: v.union(v.literal("applied"), v.literal("unchanged"), v.literal("requires_action"), v.literal("payment_failed")),
  seats: v.number(),
  hostedInvoiceUrl: v.union(v.string(), v.null()),
  message: v.string(),
});
export type SeatChangeResult = Infer<typeof vSeatChangeResult>;

type Prepared = {
  accountId: Id<"billingAccounts">;
  stripe: Stripe;
  subscription: Stripe.Subscription;
  item: Stripe.SubscriptionItem;
  tier: Tier;
  config: SeatConfig;
  from: number;
  to: number;
  periodStart: number;
  periodEnd: number;
  prorationDate: number;
  currency: string;
  unitAmount: number;
};

/** Everything a preview or change needs, with every refusal checked (database first, then Stripe's copy). */
async function prepare(ctx: ActionCtx, args: { ownerKey: string; seats: number; members: number }): Promise<Prepared> {
  const account = await requireAccount(ctx, args.ownerKey);
  const state: SeatState | null = await ctx.runQuery(internal.seats.state, { accountId: account.accountId });
  const sub = state?.subscription;
  if (!state || !sub || !account.stripeCustomerId || sub.stripeCustomerId !== account.stripeCustomerId) {
    fail("NO_SUBSCRIPTION", "There is no subscription to add seats to. Choose a plan first.");
  }
  const config = state.kind === "organization" ? seatConfig(sub.tier) : null;
  if (!config) fail("INVALID_ARGUMENT", "This plan is not billed per seat.");
  const reason = blockedReason(sub.status, sub.blocked);
  if (reason) fail(PAYMENT_REQUIRED_STATUSES.includes(sub.status) ? "PAYMENT_REQUIRED" : "CHANGE_PENDING", reason, state.openInvoiceUrl ? { hostedInvoiceUrl: state.openInvoiceUrl } : {});
  requireSeats(config, args.seats, Math.max(1, args.members));

  const stripe = getStripe();
  const subscription = await stripeRead("subscriptions.retrieve", () => stripe.subscriptions.retrieve(sub.stripeSubscriptionId));
  const customer = typeof subscription.customer === "string" ? subscription.customer : subscription.customer.id;
  if (customer !== account.stripeCustomerId) fail("FORBIDDEN", "That subscription belongs to another customer.");
  if (!LIVE_STATUSES.includes(subscription.status as SubscriptionStatus)) {
    fail(PAYMENT_REQUIRED_STATUSES.includes(subscription.status as SubscriptionStatus) ? "PAYMENT_REQUIRED" : "NO_SUBSCRIPTION", "Your subscription cannot change seats now.");
  }
  if (subscription.pending_update || subscription.schedule || subscription.cancel_at_period_end || subscription.cancel_at) {
    fail("CHANGE_PENDING", "A change is already pending on your subscription.");
  }
  const items = subscription.items.data;
  const item = items.find((i) => planForLookupKey(i.price.lookup_key) !== null) ?? items.find((i) => i.price.recurring?.usage_type !== "metered");
  if (!item) fail("STRIPE_ERROR", "Your subscription has no plan on Stripe. Contact support.");
  const from = item.quantity ?? 1;
  if (from === args.seats) fail("NOT_A_CHANGE", `You already have ${from} seats.`);
  const periodStart = item.current_period_start;
  const periodEnd = item.current_period_end;
  return {
    accountId: account.accountId,
    stripe,
    subscription,
    item,
    tier: sub.tier,
    config,
    from,
    to: args.seats,
    periodStart,
    periodEnd,
    prorationDate: Math.max(Math.floor((timeBucket(BUCKET_MS) * BUCKET_MS) / 1000), periodStart),
    currency: subscription.currency,
    unitAmount: item.price.unit_amount ?? 0,
  };
}

/** Reads a line's proration flag in current and older API shapes. */
function isProration(line: Stripe.InvoiceLineItem): boolean {
  const parent = line.parent as { subscription_item_details?: { proration?: boolean } | null } | null | undefined;
  return parent?.subscription_item_details?.proration ?? (line as unknown as { proration?: boolean }).proration ?? false;
}

/** Exact amounts a change to `seats` would bill (`invoices.createPreview`). Changes nothing. */
export async function previewSeats(ctx: ActionCtx, args: { ownerKey: string; seats: number; members: number }): Promise<SeatPreview> {
  const p = await prepare(ctx, args);
  const common = {
    from: p.from,
    to: p.to,
    currency: p.currency,
    unitAmount: p.unitAmount,
    nextInvoiceAmount: p.unitAmount * p.to,
    nextInvoiceAt: p.periodEnd * 1000,
    allowanceBefore: seatAllowance(p.tier, p.from),
    allowanceAfter: seatAllowance(p.tier, p.to),
  };
  if (p.to < p.from) return { ...common, kind: "decrease", dueNow: 0, prorationCredit: 0 };
  const preview = await stripeRead("invoices.createPreview", () =>
    p.stripe.invoices.createPreview({
      customer: typeof p.subscription.customer === "string" ? p.subscription.customer : p.subscription.customer.id,
      subscription: p.subscription.id,
      subscription_details: {
        items: [{ id: p.item.id, quantity: p.to }],
        proration_behavior: "always_invoice",
        proration_date: p.prorationDate,
      },
    }),
  );
  const lines = preview.lines?.data ?? [];
  const prorationCredit = lines.filter((l) => isProration(l) && l.amount < 0).reduce((sum, l) => sum - l.amount, 0);
  return { ...common, kind: "increase", dueNow: preview.amount_due, prorationCredit };
}

/**
 * Sets the subscription's seats to `seats` (see the module comment). The
 * audit entry is written by `seats.recordChange` once Stripe accepted it.
 */
export async function changeSeats(
  ctx: ActionCtx,
  args: { ownerKey: string; seats: number; members: number; requestId: string; actor: string; actorKind: "user" | "system" },
): Promise<SeatChangeResult> {
  if (!REQUEST_ID.test(args.requestId)) fail("INVALID_ARGUMENT", "Invalid request id.");
  const p = await prepare(ctx, args);
  const key = `seats:${p.subscription.id}:${p.from}->${p.to}:${args.requestId}`;
  const increase = p.to > p.from;
  type Outcome = { subscription: Stripe.Subscription } | { cardError: Stripe.errors.StripeCardError };
  const outcome = await stripeWrite<Outcome>("subscriptions.update", key, async (options) => {
    try {
      const subscription = await p.stripe.subscriptions.update(
        p.subscription.id,
        increase
          ? {
              items: [{ id: p.item.id, quantity: p.to }],
              proration_behavior: "always_invoice",
              proration_date: p.prorationDate,
              payment_behavior: "pending_if_incomplete",
              expand: ["latest_invoice"],
            }
          : { items: [{ id: p.item.id, quantity: p.to }], proration_behavior: "none" },
        options,
      );
      return { subscription };
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) return { cardError: error };
      throw error;
    }
  });
  if ("cardError" in outcome) {
    const requiresAction = outcome.cardError.code === "invoice_payment_intent_requires_action";
    return {
      status: requiresAction ? "requires_action" : "payment_failed",
      seats: p.from,
      hostedInvoiceUrl: null,
      message: requiresAction
        ? "Your bank needs you to confirm the payment for the new seats. Nothing changes until you do."
        : `Your card was declined, so you keep ${p.from} seats.`,
    };
  }
  const updated = outcome.subscription;
  if (updated.pending_update) {
    const invoice = typeof updated.latest_invoice === "object" ? updated.latest_invoice : null;
    return {
      status: "requires_action",
      seats: p.from,
      hostedInvoiceUrl: invoice?.hosted_invoice_url ?? null,
      message: `The payment for ${p.to} seats did not go through, so you keep ${p.from}. Pay the invoice to add them.`,
    };
  }
  await ctx.runMutation(internal.seats.recordChange, {
    accountId: p.accountId,
    actor: args.actor,
    actorKind: args.actorKind,
    from: p.from,
    to: p.to,
    reason: args.actorKind === "system" ? "Seats follow the member count" : "Seats changed by an organisation admin",
  });
  return {
    status: "applied",
    seats: p.to,
    hostedInvoiceUrl: null,
    message: increase
      ? `You now have ${p.to} seats. Your allowance updates in a moment.`
      : `You now have ${p.to} seats. You keep this period's allowance; the next invoice bills ${p.to} seats.`,
  };
}

/**
 * Members-mode sync: sets the seats to the member count (within the plan's
 * range) when the account is an organisation on a `members` plan with a
 * live subscription; `unchanged` otherwise. Same refusals as `changeSeats`
 * except that nothing to change is `unchanged`, not an error.
 */
export async function syncMemberSeats(
  ctx: ActionCtx,
  args: { ownerKey: string; members: number; requestId: string },
): Promise<SeatChangeResult> {
  const account = await requireAccount(ctx, args.ownerKey);
  const state: SeatState | null = await ctx.runQuery(internal.seats.state, { accountId: account.accountId });
  const sub = state?.subscription;
  const config = sub && state?.kind === "organization" ? seatConfig(sub.tier) : null;
  const unchanged = (seats: number, message: string): SeatChangeResult => ({ status: "unchanged", seats, hostedInvoiceUrl: null, message });
  if (!sub || !config || config.mode !== "members") return unchanged(sub?.quantity ?? 1, "Seats do not follow members on this plan.");
  const target = clampSeats(config, Math.max(1, args.members));
  if (target === sub.quantity) return unchanged(target, "Seats already match the members.");
  try {
    return await changeSeats(ctx, { ...args, seats: target, actor: "members-sync", actorKind: "system" });
  } catch (error) {
    // An earlier sync already set Stripe to this count; its events have not reached the mirror yet.
    if (isBillingError(error, "NOT_A_CHANGE")) return unchanged(target, "Seats already match the members.");
    throw error;
  }
}
