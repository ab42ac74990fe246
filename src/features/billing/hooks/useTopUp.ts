import { useAction } from "convex/react";
import { useCallback } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { DEFAULT_CURRENCY, type Currency, type TokenPack } from "@/convex/billing/model/plans";
import { browser, rememberCheckout } from "@/src/features/billing/lib/browser";
import { humanizeError } from "@/src/lib/errors";
import { retryAction, useRedirectPending } from "./useRedirectPending";

/**
 * Buys a token pack: `billing.createTopUpCheckoutSession({ packId, currency? })` (a one-off
 * Checkout in `payment` mode) then a redirect. The tokens are granted by the
 * webhook; /billing/success waits for `tokens.balance.purchased` to grow.
 */
export function useTopUp() {
  const createTopUp = useAction(api.billing.createTopUpCheckoutSession);
  const { pending: pendingPack, begin, end } = useRedirectPending<string>();

  const buy = useCallback(
    (pack: TokenPack, purchasedBefore: number | null, currency: Currency = DEFAULT_CURRENCY): Promise<void> => {
      const attempt = async (): Promise<void> => {
        if (!begin(pack.id)) return;
        try {
          const { url } = await createTopUp({ packId: pack.id, ...(currency !== DEFAULT_CURRENCY ? { currency } : {}) });
          rememberCheckout({ previousTier: null, topUp: { packId: pack.id, tokens: pack.tokens, purchasedBefore } });
          browser.redirect(url);
        } catch (error) {
          end();
          const human = humanizeError(error);
          toast.error(human.code === "UNAUTHENTICATED" ? "Sign in to buy tokens" : human.title, {
            description: human.description,
            action: retryAction(human, () => void attempt()),
          });
        }
      };
      return attempt();
    },
    [begin, createTopUp, end],
  );

  return { buy, pendingPack };
}
