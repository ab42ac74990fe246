import { useMutation, useQuery } from "convex/react";
import { useState } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { ConfirmPurchaseLink } from "./AutoRechargeCard";
import { humanizeError } from "@/src/lib/errors";

/**
 * Unread token alerts (80% / 100% of the allowance used, low balance) and
 * auto-recharge notices (bought, declined, turned off, confirm with your
 * bank — with a link), live from `tokens.alerts`: each fires once on the
 * server.
 * Offers more tokens, and dismisses them all at once.
 */
export function TokenAlerts() {
  const alerts = useQuery(api.tokens.alerts);
  const dismiss = useMutation(api.tokens.dismissAlerts);
  const { openUpgrade } = useUpgradeModal();
  const [dismissing, setDismissing] = useState(false);
  if (!alerts || alerts.length === 0) return null;

  const onDismiss = async () => {
    setDismissing(true);
    try {
      await dismiss();
    } catch (error) {
      const human = humanizeError(error);
      toast.error("Couldn't dismiss the alerts", { description: human.description ?? human.title });
    } finally {
      setDismissing(false);
    }
  };

  return (
    <section className="banner banner-warning" role="status" aria-label="Token alerts" data-testid="token-alerts">
      <ul style={{ margin: 0, paddingLeft: "1.1rem" }}>
        {alerts.map((alert) => (
          <li key={`${alert.alertId}-${alert.firedAt}`} data-testid={`token-alert-${alert.alertId}`}>
            {alert.message}
            {alert.actionUrl ? (
              <>
                {" "}
                <ConfirmPurchaseLink href={alert.actionUrl} testId={`token-alert-action-${alert.alertId}`} />
              </>
            ) : null}
          </li>
        ))}
      </ul>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={() => openUpgrade({ reason: "low_tokens" })}>
          Get more tokens
        </button>
        <button type="button" className="button button-secondary" onClick={() => void onDismiss()} disabled={dismissing} data-testid="token-alerts-dismiss">
          {dismissing ? "Dismissing…" : "Dismiss"}
        </button>
      </div>
    </section>
  );
}
