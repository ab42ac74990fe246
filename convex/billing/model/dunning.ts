/**
 * The dunning timeline (docs/DUNNING.md): what happens, day by day, while a
 * subscription invoice Stripe failed to collect stays unpaid.
 *
 * - **Overdue since**: the due date of the account's oldest unpaid
 *   subscription invoice (status `open` or `uncollectible`, amount remaining
 *   > 0) that is overdue: its Stripe `due_date` (`send_invoice`), else its
 *   first failed collection attempt (`charge_automatically`: the earliest
 *   `invoice.payment_failed` / `payment_action_required` event's `created`),
 *   stored as `invoices.dueAt` / `paymentFailedAt`. Kept on
 *   `billingAccounts.overdueSince` (ms).
 * - **Episode**: from the first overdue invoice until none is left; named by
 *   the invoice that opened it (`billingAccounts.dunningEpisode`).
 * - **Steps** (`BILLING_CONFIG.dunning.steps`): each fires once per episode
 *   (a `dunningSteps` row per account, episode and step), in day order, with
 *   an `appendAudit` entry and a `notify` (dedupe key
 *   `<kind>:<episode>:<step>`). A reminder already overtaken by a later due
 *   step (the sweep ran late, a test clock jumped) is recorded as skipped
 *   and not sent: a stale reminder is noise. Suspension and restriction
 *   always fire.
 * - **Stage** (`billingAccounts.dunningStage`): the latest stage of the
 *   fired steps; suspended/restricted take the paid tier away
 *   (`model/access.ts`) and freeze tokens (`model/dunningPolicy.ts`).
 * - **Clearing**: when no overdue invoice is left (paid, voided), the
 *   episode ends at once: the fields are cleared and the tier is settled
 *   again in the same transaction.
 * - **Declined plan changes** (`invoices.pendingUpdate`, the invoice of a
 *   subscription's `pending_update`): never overdue. Stripe keeps the
 *   subscription as it was and voids the invoice when the update expires.
 *   When the invoice's failure came before the subscription event that
 *   names it, `markPendingUpdateInvoice` withdraws the day-0 notice (its
 *   email is still held) and ends the episode it opened.
 *
 * Writers: the invoice handler (`syncDunning` after each invoice event), the
 * test clock handler, the sweep cron and `dunning.runForAccount`
 * (`advanceDunning`).
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { recomputeAccountTier } from "./access";
import { appendAudit, stripeActor, type AuditActor } from "./audit";
import type { EventClock } from "./eventOutcome";
import { DAY_MS, dunningSteps, laterStage, overdueDays, type DunningStep } from "./dunningPolicy";
import { notify } from "./notifications";

/** Who runs a step, and why (a staff run gives its reason; it lands on the audit entries). */
export type DunningActor = AuditActor & { reason?: string };
import type { DunningStage } from "./validators";

/** Open (and uncollectible) invoices read per account to find the oldest overdue one. */
export const OVERDUE_INVOICE_SCAN = 50;

/** Invoice statuses that still owe money: `uncollectible` invoices can still be paid at Stripe. */
const UNPAID_STATUSES = ["open", "uncollectible"] as const;

/** When an invoice became overdue (ms), or undefined when it is not (yet) a dunning matter. */
export function invoiceOverdueAt(invoice: Doc<"invoices">): number | undefined {
  if (invoice.status !== "open" && invoice.status !== "uncollectible") return undefined;
  if (invoice.stripeSubscriptionId === undefined || invoice.topUp || invoice.amountRemaining <= 0) return undefined;
  // A declined plan change (`pending_update`): the plan is not at risk.
  if (invoice.pendingUpdate) return undefined;
  return invoice.dueAt ?? invoice.paymentFailedAt;
}

/** The account's oldest overdue invoice and its overdue date, or null. Bounded reads. */
export async function oldestOverdueInvoice(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
): Promise<{ invoice: Doc<"invoices">; since: number } | null> {
  let best: { invoice: Doc<"invoices">; since: number } | null = null;
  for (const status of UNPAID_STATUSES) {
    const rows = await ctx.db
      .query("invoices")
      .withIndex("by_accountId_and_status", (q) => q.eq("accountId", accountId).eq("status", status))
      .take(OVERDUE_INVOICE_SCAN);
    for (const invoice of rows) {
      const since = invoiceOverdueAt(invoice);
      if (since === undefined) continue;
      if (!best || since < best.since || (since === best.since && invoice.stripeInvoiceId < best.invoice.stripeInvoiceId)) {
        best = { invoice, since };
      }
    }
  }
  return best;
}

/**
 * Brings the account's dunning episode in line with its invoices at `nowMs`
 * (ms): starts an episode when an invoice became overdue, moves
 * `overdueSince` to the oldest one, fires the steps now due, or ends the
 * episode (and restores the tier) when nothing is overdue any more. Called
 * after every invoice event, whatever order they come in: the result only
 * depends on the invoice rows.
 */
export async function syncDunning(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
  actor: DunningActor,
): Promise<AdvanceResult> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account) return NOT_OVERDUE;
  const oldest = await oldestOverdueInvoice(ctx, accountId);
  if (!oldest) {
    if (account.dunningEpisode !== undefined || account.overdueSince !== undefined) await endEpisode(ctx, account, nowMs, actor);
    return NOT_OVERDUE;
  }
  if (account.dunningEpisode === undefined) {
    await ctx.db.patch("billingAccounts", accountId, {
      overdueSince: oldest.since,
      dunningEpisode: oldest.invoice.stripeInvoiceId,
      dunningStage: undefined,
      dunningStep: undefined,
      dunningNextAt: nextStepAt(oldest.since, undefined),
    });
    await appendAudit(ctx, {
      ...actor,
      accountId,
      action: "dunning.started",
      after: { episode: oldest.invoice.stripeInvoiceId, overdueSince: oldest.since },
      ...(actor.reason ? { reason: actor.reason } : {}),
    });
  } else if (account.overdueSince !== oldest.since) {
    await ctx.db.patch("billingAccounts", accountId, { overdueSince: oldest.since });
  }
  return await advanceDunning(ctx, accountId, nowMs, actor);
}

const NOT_OVERDUE: AdvanceResult = { overdueDays: null, stage: null, fired: [] };

/** When the first step after `lastStepId` is due (ms), or undefined when none is left. */
function nextStepAt(overdueSince: number, lastStepId: string | undefined): number | undefined {
  const steps = dunningSteps();
  const index = lastStepId === undefined ? -1 : steps.findIndex((s) => s.id === lastStepId);
  const next = steps[index + 1];
  return next === undefined ? undefined : overdueSince + next.day * DAY_MS;
}

export type AdvanceResult = {
  /** Whole days overdue at the time given (null when not overdue). */
  overdueDays: number | null;
  stage: DunningStage | null;
  /** Step ids fired now (notified or recorded as skipped). */
  fired: string[];
};

/**
 * Fires every step due at `nowMs` (ms) that has not fired in the account's
 * current episode, then stores the stage, the last step and when the next
 * is due, and settles the tier when the stage moved. Idempotent: a step
 * fires once per (account, episode, step). Does nothing without an episode.
 */
export async function advanceDunning(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  nowMs: number,
  actor: DunningActor,
): Promise<AdvanceResult> {
  const account = await ctx.db.get("billingAccounts", accountId);
  if (!account || account.dunningEpisode === undefined || account.overdueSince === undefined) return NOT_OVERDUE;
  const episode = account.dunningEpisode;
  const days = overdueDays(account.overdueSince, nowMs);
  const steps = dunningSteps();
  const due = steps.filter((s) => s.day <= days);
  const fired: string[] = [];
  for (const [i, step] of due.entries()) {
    const done = await ctx.db
      .query("dunningSteps")
      .withIndex("by_accountId_and_episode_and_step", (q) =>
        q.eq("accountId", accountId).eq("episode", episode).eq("step", step.id),
      )
      .unique();
    if (done) continue;
    const skipped = step.kind === "dunning_reminder" && i < due.length - 1;
    await ctx.db.insert("dunningSteps", { accountId, episode, step: step.id, overdueDays: days, ...(skipped ? { skipped: true } : {}) });
    await appendAudit(ctx, {
      ...actor,
      accountId,
      action: `dunning.${step.kind === "payment_failed" ? "payment_failed" : step.kind.replace("dunning_", "")}`,
      before: { stage: account.dunningStage ?? null },
      after: { step: step.id, stage: step.stage, overdueDays: days, episode, ...(skipped ? { skipped: true } : {}) },
      ...(skipped ? { reason: "overtaken by a later step due at the same time" } : actor.reason ? { reason: actor.reason } : {}),
    });
    if (!skipped) await notifyStep(ctx, account, episode, step, days);
    fired.push(step.id);
  }
  // Never back: a step already fired stays (an event stamped earlier than
  // the last sweep runs this at an earlier time).
  const lastIndex = Math.max(due.length - 1, account.dunningStep === undefined ? -1 : steps.findIndex((s) => s.id === account.dunningStep));
  const reached = steps.slice(0, lastIndex + 1);
  const stage = reached.reduce<DunningStage | undefined>((s, step) => laterStage(s, step.stage), undefined);
  const last = reached.at(-1)?.id;
  const nextAt = nextStepAt(account.overdueSince, last);
  if (account.dunningStage !== stage || account.dunningStep !== last || account.dunningNextAt !== nextAt) {
    await ctx.db.patch("billingAccounts", accountId, { dunningStage: stage, dunningStep: last, dunningNextAt: nextAt });
  }
  if (account.dunningStage !== stage) await recomputeAccountTier(ctx, accountId, nowMs);
  return { overdueDays: days, stage: stage ?? null, fired };
}

/** The notification of one step, linked to the overdue invoice's hosted page when known. */
async function notifyStep(
  ctx: MutationCtx,
  account: Doc<"billingAccounts">,
  episode: string,
  step: DunningStep,
  days: number,
): Promise<void> {
  const invoice = await ctx.db
    .query("invoices")
    .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", episode))
    .unique();
  // A 3-D Secure renewal is a confirmation to give, not a decline: its
  // `action_required` notice stands in for the day-0 "payment failed".
  if (step.kind === "payment_failed" && invoice?.actionRequired) return;
  const amount = invoice ? formatAmount(invoice.amountRemaining, invoice.currency) : "the amount due";
  const suspendDay = dunningSteps().find((s) => s.stage === "suspended")?.day;
  const restrictDay = dunningSteps().find((s) => s.stage === "restricted")?.day;
  const text: Record<DunningStep["kind"], { title: string; body: string }> = {
    payment_failed: {
      title: "Your payment failed",
      body: `We couldn't collect ${amount}. Update your card or pay the invoice to keep your plan; Stripe will also retry the card.`,
    },
    dunning_reminder: {
      title: `Payment overdue for ${days} days`,
      body: `${amount} is still unpaid.${suspendDay !== undefined ? ` Paid features are suspended ${suspendDay} days after the due date.` : ""} Pay the invoice to keep your plan.`,
    },
    dunning_suspended: {
      title: "Your account is suspended",
      body: `${amount} has been overdue for ${days} days: paid features are off and tokens are frozen.${restrictDay !== undefined ? ` On day ${restrictDay} only billing stays available.` : ""} Paying restores everything at once.`,
    },
    dunning_restricted: {
      title: "Your account is restricted",
      body: `${amount} has been overdue for ${days} days: members can reach only the billing page until it is paid. Paying restores everything at once.`,
    },
  };
  await notify(ctx, {
    accountId: account._id,
    kind: step.kind,
    dedupeKey: `${step.kind}:${episode}:${step.id}`,
    ...text[step.kind],
    link: invoice?.hostedInvoiceUrl ?? "/billing",
    critical: step.kind !== "dunning_reminder",
    // Stripe sends `payment_failed` and, for 3-D Secure, `payment_action_required`
    // for the same attempt, in either order: hold the decline email so the
    // confirmation notice can withdraw it (`notifyActionRequired`).
    ...(step.kind === "payment_failed" ? { emailDelayMs: PAYMENT_FAILED_EMAIL_HOLD_MS } : {}),
  });
}

/**
 * How long the day-0 "payment failed" email waits (ms) for a
 * `payment_action_required` of the same invoice that withdraws it.
 */
export const PAYMENT_FAILED_EMAIL_HOLD_MS = 30_000;

/** The dedupe key of the day-0 notice of the episode opened by `stripeInvoiceId`. */
function dayZeroDedupeKey(stripeInvoiceId: string): string {
  const first = dunningSteps()[0];
  return `payment_failed:${stripeInvoiceId}:${first?.id ?? "day_0_payment_failed"}`;
}

/** "€12.00" (minor units → the currency's display, `Intl`). */
function formatAmount(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  const digits = new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  return new Intl.NumberFormat("en", { style: "currency", currency: code }).format(minor / 10 ** digits);
}

/**
 * Notifies the customer that a renewal needs 3-D Secure (critical, once per
 * invoice): a confirmation to give, not a decline. Linked to the hosted
 * invoice page where they confirm.
 */
export async function notifyActionRequired(ctx: MutationCtx, invoice: Doc<"invoices">): Promise<void> {
  // A "payment failed" notice already raised for this invoice (its event came
  // first) was a confirmation to give, not a decline: withdraw it unless its
  // email has already been handed to Resend (then it stays, and is true too).
  const declined = await ctx.db
    .query("notifications")
    .withIndex("by_accountId_and_dedupeKey", (q) =>
      q.eq("accountId", invoice.accountId).eq("dedupeKey", dayZeroDedupeKey(invoice.stripeInvoiceId)),
    )
    .unique();
  if (declined && declined.emailStatus !== "queued") await ctx.db.delete("notifications", declined._id);
  await notify(ctx, {
    accountId: invoice.accountId,
    kind: "action_required",
    dedupeKey: `action_required:${invoice.stripeInvoiceId}`,
    title: "Confirm your payment",
    body: actionRequiredBody(invoice),
    ...(invoice.hostedInvoiceUrl ? { link: invoice.hostedInvoiceUrl } : {}),
    critical: true,
  });
}

/**
 * The "Confirm your payment" text: for a renewal, what to do; for a pending
 * update's invoice (a plan change, seats, ending a trial), also that nothing
 * changes until it is confirmed and the current plan is not at risk.
 */
function actionRequiredBody(invoice: Doc<"invoices">): string {
  const amount = formatAmount(invoice.amountRemaining, invoice.currency);
  if (invoice.pendingUpdate) {
    return `Your bank asks you to confirm the payment of ${amount} for the change you asked for. Open the invoice to confirm it; until then nothing changes, and your current plan is not at risk.`;
  }
  return `Your bank asks you to confirm the payment of ${amount}. Open the invoice to confirm it; nothing was declined.`;
}

/**
 * `stripeInvoiceId` is the invoice of a subscription's pending update
 * (`customer.subscription.*` with `pending_update` and `latest_invoice`): a
 * declined (or unconfirmed) plan change, not an unpaid renewal. Marks the
 * invoice row `pendingUpdate` when it is mirrored and not yet marked; if
 * dunning already counted it (its `payment_failed` came first), withdraws
 * the day-0 "payment failed" notice (unless its email was already handed to
 * Resend) and the steps of the episode it opened, and brings the episode in
 * line (ended when nothing else is overdue) in the same mutation. Writes
 * nothing when the row is missing (`syncInvoice` marks it from the mirror)
 * or already marked.
 */
export async function markPendingUpdateInvoice(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  stripeInvoiceId: string,
  clock: EventClock,
  nowMs: number,
): Promise<void> {
  const invoice = await ctx.db
    .query("invoices")
    .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", stripeInvoiceId))
    .unique();
  if (!invoice || invoice.pendingUpdate || invoice.accountId !== accountId) return;
  // The subscription keeps cycling while an update is pending: a renewal can
  // be `latest_invoice` then, and it stays a dunning matter.
  if (!isPendingUpdateReason(invoice.billingReason)) return;
  await ctx.db.patch("invoices", invoice._id, { pendingUpdate: true });
  await withdrawDunningOf(ctx, invoice);
  // A "Confirm your payment" notice raised before we knew: it now says the plan is not at risk.
  const confirm = await ctx.db
    .query("notifications")
    .withIndex("by_accountId_and_dedupeKey", (q) => q.eq("accountId", accountId).eq("dedupeKey", `action_required:${stripeInvoiceId}`))
    .unique();
  const body = actionRequiredBody({ ...invoice, pendingUpdate: true });
  if (confirm && confirm.body !== body) await ctx.db.patch("notifications", confirm._id, { body });
  const at = Math.max(nowMs, clock.eventCreated * 1000);
  const actor: DunningActor = {
    ...stripeActor(clock.eventId),
    reason: `invoice ${stripeInvoiceId} is a pending plan change, not an overdue renewal`,
  };
  const account = await ctx.db.get("billingAccounts", accountId);
  // The episode this invoice opened ends; another overdue invoice (if any) opens its own below.
  if (account?.dunningEpisode === stripeInvoiceId) await endEpisode(ctx, account, at, actor);
  await syncDunning(ctx, accountId, at, actor);
}

/**
 * Ends the account's dunning episode: the dunning fields cleared, a
 * `dunning.cleared` audit entry (the actor's reason, else "no overdue
 * invoice is left"), and the tier settled again at `nowMs`.
 */
async function endEpisode(ctx: MutationCtx, account: Doc<"billingAccounts">, nowMs: number, actor: DunningActor): Promise<void> {
  await ctx.db.patch("billingAccounts", account._id, {
    overdueSince: undefined,
    dunningStage: undefined,
    dunningStep: undefined,
    dunningEpisode: undefined,
    dunningNextAt: undefined,
  });
  await appendAudit(ctx, {
    ...actor,
    accountId: account._id,
    action: "dunning.cleared",
    before: { episode: account.dunningEpisode ?? null, stage: account.dunningStage ?? null, overdueSince: account.overdueSince ?? null },
    after: { stage: null },
    reason: actor.reason ?? "no overdue invoice is left (paid or voided)",
  });
  await recomputeAccountTier(ctx, account._id, nowMs);
}

/**
 * Whether an invoice's `billing_reason` can be a pending update's: the
 * update's own invoice is `subscription_update` (plan, seats, trial end);
 * a renewal (`subscription_cycle`) issued while an update is pending is not.
 */
export function isPendingUpdateReason(billingReason: string | undefined): boolean {
  return billingReason === "subscription_update";
}

/**
 * Takes back what dunning sent for a pending-update invoice: its day-0
 * notice (unless the email is already with Resend: then it was sent and
 * stays) and, when it opened the account's episode, that episode's step
 * rows (bounded by the number of steps).
 */
async function withdrawDunningOf(ctx: MutationCtx, invoice: Doc<"invoices">): Promise<void> {
  const dayZero = await ctx.db
    .query("notifications")
    .withIndex("by_accountId_and_dedupeKey", (q) =>
      q.eq("accountId", invoice.accountId).eq("dedupeKey", dayZeroDedupeKey(invoice.stripeInvoiceId)),
    )
    .unique();
  if (dayZero && dayZero.emailStatus !== "queued") await ctx.db.delete("notifications", dayZero._id);
  for (const step of dunningSteps()) {
    const done = await ctx.db
      .query("dunningSteps")
      .withIndex("by_accountId_and_episode_and_step", (q) =>
        q.eq("accountId", invoice.accountId).eq("episode", invoice.stripeInvoiceId).eq("step", step.id),
      )
      .unique();
    if (done) await ctx.db.delete("dunningSteps", done._id);
  }
}

/** Accounts whose next step is due at `nowMs`, oldest first, through `by_dunningNextAt`. */
export async function dueAccounts(
  ctx: MutationCtx,
  nowMs: number,
  cursor: string | null,
  numItems: number,
): Promise<{ page: Doc<"billingAccounts">[]; isDone: boolean; continueCursor: string }> {
  return await ctx.db
    .query("billingAccounts")
    .withIndex("by_dunningNextAt", (q) => q.gte("dunningNextAt", 0).lte("dunningNextAt", nowMs))
    .paginate({ cursor, numItems });
}

/**
 * After an invoice event is mirrored: notifies a 3-D Secure renewal once
 * (`action_required`), then brings the account's dunning episode in line
 * with its invoices at the later of `nowMs` and the event's time (a test
 * clock runs ahead of the wall clock), as the Stripe event.
 */
export async function afterInvoiceEvent(
  ctx: MutationCtx,
  accountId: Id<"billingAccounts">,
  stripeInvoiceId: string,
  eventType: string,
  clock: EventClock,
  nowMs: number,
): Promise<void> {
  if (eventType === "invoice.payment_action_required") {
    const row = await ctx.db
      .query("invoices")
      .withIndex("by_stripeInvoiceId", (q) => q.eq("stripeInvoiceId", stripeInvoiceId))
      .unique();
    if (row && row.status === "open" && row.actionRequired) await notifyActionRequired(ctx, row);
  }
  await syncDunning(ctx, accountId, Math.max(nowMs, clock.eventCreated * 1000), stripeActor(clock.eventId));
}
