import { useAction } from "convex/react";
import { useCallback, useRef, useState } from "react";
import { toast } from "sonner";
import { api } from "../../convex/_generated/api";
import type { TokenPack } from "../../convex/model/plans";
import { browser, rememberTierBeforeCheckout, rememberTopUpCheckout } from "../lib/browser";
import { humanizeError } from "../lib/errors";
import { usePageRestore } from "./usePageRestore";

/**
 * Buys a token pack: `billing.createTopUpCheckoutSession({ packId })` (a one-off
 * Checkout in `payment` mode) then a redirect. The tokens are granted by the
 * webhook; /billing/success waits for `tokens.balance.purchased` to grow.
 */
export function useTopUp() {
  const createTopUp = useAction(api.billing.createTopUpCheckoutSession);
  const [pendingPack, setPendingPack] = useState<string | null>(null);
  const inFlight = useRef(false);
  usePageRestore(
    useCallback(() => {
      inFlight.current = false;
      setPendingPack(null);
    }, []),
  );

  const buy = useCallback(
    (pack: TokenPack, purchasedBefore: number | null): Promise<void> => {
      const attempt = async (): Promise<void> => {
        if (inFlight.current) return;
        inFlight.current = true;
        setPendingPack(pack.id);
        try {
          const { url } = await createTopUp({ packId: pack.id });
          rememberTierBeforeCheckout(null);
          rememberTopUpCheckout({ packId: pack.id, tokens: pack.tokens, purchasedBefore });
          browser.redirect(url);
        } catch (error) {
          inFlight.current = false;
          setPendingPack(null);
          const human = humanizeError(error);
          toast.error(human.code === "UNAUTHENTICATED" ? "Sign in to buy tokens" : human.title, {
            description: human.description,
            action: human.code === "NETWORK" ? { label: "Retry", onClick: () => void attempt() } : undefined,
          });
        }
      };
      return attempt();
    },
    [createTopUp],
  );

  return { buy, pendingPack };
}
