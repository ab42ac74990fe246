import { useMutation, useQuery } from "convex/react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { humanizeError } from "@/src/lib/errors";

/**
 * Which non-critical notification emails the signed-in user gets on this
 * account. Critical billing mail (payment failed, confirm a payment,
 * suspension) always goes and is not listed.
 */
export function NotificationSettings() {
  const prefs = useQuery(api.notifications.preferences);
  const save = useMutation(api.notifications.setPreferences);
  if (prefs === undefined) return <p className="muted">Loading email settings…</p>;
  if (prefs === null) return <p className="muted">Sign in to manage email settings.</p>;

  const toggle = async (kind: string, on: boolean) => {
    const muted = new Set(prefs.mutedKinds);
    if (on) muted.delete(kind);
    else muted.add(kind);
    try {
      await save({ mutedKinds: [...muted] });
      toast.success("Email settings saved");
    } catch (error) {
      const human = humanizeError(error);
      toast.error(human.title, { description: human.description });
    }
  };

  return (
    <div className="notification-settings" data-testid="notification-settings">
      <p className="muted">
        Email goes to {prefs.billingEmail ?? "the account's billing email"}. Critical billing notices are always sent.
      </p>
      {prefs.optionalKinds.map((k) => (
        <label key={k.kind} className="notification-setting">
          <input
            type="checkbox"
            checked={!prefs.mutedKinds.includes(k.kind)}
            onChange={(e) => void toggle(k.kind, e.target.checked)}
            data-testid={`notification-email-${k.kind}`}
          />
          {k.label}
        </label>
      ))}
    </div>
  );
}
