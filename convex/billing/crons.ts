/**
 * The billing component's scheduled jobs
 * (https://docs.convex.dev/scheduling/cron-jobs); they run inside the
 * component, so the app installing it needs no crons of its own. Times are
 * UTC. Off the top of the hour on purpose: Convex spreads load better away
 * from :00. Each job works in bounded batches and schedules its own
 * continuation.
 */
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

// Free-tier allowances: every free account whose period ended gets the new UTC
// month's allowance. Hourly so an account that fell back to free mid-month
// (its paid period ended) is renewed within the hour; idempotent per month.
crons.hourly("reset free-tier tokens", { minuteUTC: 7 }, internal.tokens.resetFreeTier, {});
// The dunning timeline (docs/DUNNING.md): reminders, suspension and restriction of
// overdue accounts, reading only accounts whose next step is due (`by_dunningNextAt`).
crons.hourly("dunning timeline", { minuteUTC: 23 }, internal.dunning.sweep, {});
// Token grants past their expiry (promotions, expiring packs) leave the balance; bounded batches.
crons.interval("expire token grants", { minutes: 5 }, internal.tokens.expireGrants, {});
// Holds neither settled nor released within their TTL give their tokens back.
crons.interval("release expired token holds", { minutes: 1 }, internal.tokens.expireHolds, {});
// Auto-recharge payments that went quiet (the action died) are charged again with the same idempotency key.
crons.interval("redrive stalled auto-recharges", { minutes: 5 }, internal.autoRecharge.redriveStale, {});
// Overage reports Stripe's meter has not taken yet (a debit schedules its own run; this is the safety net and the retries).
crons.interval("report overage to Stripe", { minutes: 1 }, internal.metering.report, {});
// Closed periods with overage checked against Stripe's meter event summaries; differences kept for staff.
crons.interval("reconcile overage with Stripe", { minutes: 30 }, internal.metering.reconcile, {});
// The ledger invariant (balance = ledger = active grants) on every account; drift is recorded.
crons.daily("audit token balances", { hourUTC: 4, minuteUTC: 17 }, internal.tokens.auditBalances, {});
// Stripe events due for a retry whose own scheduled run was lost (safety net; bounded batch).
crons.interval("sweep webhook retries", { minutes: 1 }, internal.webhooks.sweepRetries, {});
// Raw payloads of Stripe events settled over 30 days ago (the event rows stay); bounded batches.
crons.daily("compact settled webhook payloads", { hourUTC: 3, minuteUTC: 41 }, internal.webhooks.compactPayloads, {});
// Stripe events whose webhook delivery was lost: re-listed from the API and queued (idempotent by event id).
crons.cron("reconcile missed Stripe events", "11,26,41,56 * * * *", internal.reconcile.reconcileEvents, {});

export default crons;
