/**
 * Token alerts: thresholds from `BILLING_CONFIG.tokenAlerts`, each fired at
 * most once per allowance period, when a debit moves the account across it
 * (80% and 100% of the allowance used, the balance down to a few tokens).
 *
 * `maybeFireAlerts` runs inside `ledger.commit`, the one place every
 * movement is written, so every debit (consume, reserve, settle, clawback,
 * expiry) is covered in its own transaction. It reads nothing unless a
 * threshold was crossed; then one index look-up per crossed alert keeps it
 * idempotent per (account, period, alert).
 *
 * The hook for notifications: rows in `tokenAlerts`. The app shows unread
 * ones live (`tokens.alerts`); the notification centre and emails (issue
 * 11) read the same rows. Amounts are integer tokens.
 */
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { notify } from "./notifications";
import { BILLING_CONFIG } from "./plans";

type Counters = Pick<Doc<"tokenBalances">, "allowance" | "used" | "balance">;

/** The alerts `before` → `after` crosses, with their customer-facing message. */
export function crossedAlerts(before: Counters, after: Counters): { id: string; message: string }[] {
  const crossed: { id: string; message: string }[] = [];
  for (const alert of BILLING_CONFIG.tokenAlerts) {
    if (alert.kind === "allowance_used") {
      if (after.allowance <= 0) continue;
      // used ≥ percent% of allowance, in integers: used × 100 ≥ percent × allowance.
      const threshold = alert.percent * after.allowance;
      if (before.used * 100 < threshold && after.used * 100 >= threshold) {
        crossed.push({
          id: alert.id,
          message:
            alert.percent >= 100
              ? `You've used all ${after.allowance} tokens of this period's allowance.`
              : `You've used ${alert.percent}% of this period's ${after.allowance}-token allowance.`,
        });
      }
    } else if (before.balance > alert.tokens && after.balance <= alert.tokens) {
      crossed.push({ id: alert.id, message: `Only ${after.balance} tokens left.` });
    }
  }
  return crossed;
}

/** Records each alert the movement `before` → `after` crossed, once per period. Returns how many fired. */
export async function maybeFireAlerts(ctx: MutationCtx, before: Doc<"tokenBalances">, after: Counters & Pick<Doc<"tokenBalances">, "periodKey">): Promise<number> {
  const crossed = crossedAlerts(before, after);
  let fired = 0;
  const periodKey = after.periodKey ?? "none";
  for (const alert of crossed) {
    const notice = { periodKey, alertId: alert.id, message: alert.message, balance: after.balance };
    if (await recordNotice(ctx, before.accountId, notice)) fired += 1;
  }
  return fired;
}

/**
 * Records a one-off notice for the account in `tokenAlerts` (auto-recharge
 * results), once per (`periodKey`, `alertId`): `periodKey` names what it is
 * about, e.g. `attempt:<id>` or a UTC month. Returns false when it was
 * already recorded.
 */
export async function recordNotice(
  ctx: MutationCtx,
  accountId: Doc<"tokenBalances">["accountId"],
  notice: { periodKey: string; alertId: string; message: string; balance: number; actionUrl?: string },
): Promise<boolean> {
  const existing = await ctx.db
    .query("tokenAlerts")
    .withIndex("by_accountId_and_periodKey_and_alertId", (q) =>
      q.eq("accountId", accountId).eq("periodKey", notice.periodKey).eq("alertId", notice.alertId),
    )
    .first();
  if (existing) return false;
  await ctx.db.insert("tokenAlerts", { accountId, ...notice });
  await notify(ctx, noticeNotification(accountId, notice));
  return true;
}

/**
 * The notification-centre entry (and email) of a token alert or an
 * auto-recharge result, deduplicated like the alert (per period and alert
 * id). Auto-recharge failures that need the customer (declined, 3-D Secure,
 * turned off) are critical; usage alerts, the cap and successes are not.
 */
export function noticeNotification(
  accountId: Doc<"tokenBalances">["accountId"],
  notice: { periodKey: string; alertId: string; message: string; actionUrl?: string },
) {
  const autoRecharge = notice.alertId.startsWith("auto_recharge");
  const critical = ["auto_recharge_failed", "auto_recharge_action_required", "auto_recharge_disabled"].includes(notice.alertId);
  const titles: Record<string, string> = {
    auto_recharge_succeeded: "Auto-recharge topped up your tokens",
    auto_recharge_failed: "Auto-recharge payment failed",
    auto_recharge_action_required: "Confirm your auto-recharge payment",
    auto_recharge_disabled: "Auto-recharge is off",
    auto_recharge_cap: "Auto-recharge paused for this month",
  };
  return {
    accountId,
    kind: autoRecharge ? "auto_recharge" : "token_alert",
    dedupeKey: `${autoRecharge ? "auto_recharge" : "token_alert"}:${notice.periodKey}:${notice.alertId}`,
    title: titles[notice.alertId] ?? "Token usage alert",
    body: notice.message,
    link: notice.actionUrl ?? "/usage",
    critical,
  };
}
