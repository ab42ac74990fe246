import { useAction } from "convex/react";
import { useCallback } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { browser } from "@/src/features/billing/lib/browser";
import { humanizeError } from "@/src/lib/errors";
import { retryAction, useRedirectPending } from "./useRedirectPending";

/**
 * Opens the Stripe Customer Portal (`billing.createPortalSession()` → redirect).
 * `NO_CUSTOMER` (never bought anything) becomes a friendly toast.
 */
export function usePortal() {
  const createPortalSession = useAction(api.billing.createPortalSession);
  const { pending, begin, end } = useRedirectPending<true>();

  /** Resolves true once the browser is being sent to the portal, false when it failed (toasted). */
  const openPortal = useCallback((): Promise<boolean> => {
    const attempt = async (): Promise<boolean> => {
      if (!begin(true)) return false;
      try {
        const { url } = await createPortalSession();
        browser.redirect(url);
        return true;
      } catch (error) {
        end();
        const human = humanizeError(error);
        toast.error(human.title, { description: human.description, action: retryAction(human, () => void attempt()) });
        return false;
      }
    };
    return attempt();
  }, [begin, createPortalSession, end]);

  return { openPortal, pending: pending !== null };
}
