import { useAction } from "convex/react";
import { useCallback, useRef, useState } from "react";
import { toast } from "sonner";
import { api } from "../../convex/_generated/api";
import { browser } from "../lib/browser";
import { humanizeError } from "../lib/errors";
import { usePageRestore } from "./usePageRestore";

/**
 * Opens the Stripe Customer Portal (`billing.createPortalSession()` → redirect).
 * `NO_CUSTOMER` (never bought anything) becomes a friendly toast.
 */
export function usePortal() {
  const createPortalSession = useAction(api.billing.createPortalSession);
  const [pending, setPending] = useState(false);
  const inFlight = useRef(false);
  usePageRestore(
    useCallback(() => {
      inFlight.current = false;
      setPending(false);
    }, []),
  );

  /** Resolves true once the browser is being sent to the portal, false when it failed (toasted). */
  const openPortal = useCallback((): Promise<boolean> => {
    const attempt = async (): Promise<boolean> => {
      if (inFlight.current) return false;
      inFlight.current = true;
      setPending(true);
      try {
        const { url } = await createPortalSession();
        browser.redirect(url);
        return true;
      } catch (error) {
        inFlight.current = false;
        setPending(false);
        const human = humanizeError(error);
        toast.error(human.title, {
          description: human.description,
          action: human.code === "NETWORK" ? { label: "Retry", onClick: () => void attempt() } : undefined,
        });
        return false;
      }
    };
    return attempt();
  }, [createPortalSession]);

  return { openPortal, pending };
}
