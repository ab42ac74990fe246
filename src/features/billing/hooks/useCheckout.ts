import { useAction, useConvexAuth } from "convex/react";
import { useCallback } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { DEFAULT_CURRENCY, type Currency, type Interval, type PaidTier } from "@/convex/billing/model/plans";
import { browser, rememberCheckout } from "@/src/features/billing/lib/browser";
import { humanizeError } from "@/src/lib/errors";
import { useSession } from "@/src/lib/session";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { usePortal } from "./usePortal";
import { retryAction, useRedirectPending } from "./useRedirectPending";

/**
 * Starts Stripe Checkout for a plan: `billing.createCheckoutSession({ tier, interval, currency?, trial?, seats? })`
 * then a full-page redirect to the returned URL.
 *
 * A caller whose subscription Stripe still bills (active, trialing, past_due,
 * unpaid) is sent to the Customer Portal instead: the server refuses a second
 * subscription (NOT_AN_UPGRADE) and plan switches, with proration, happen
 * there (https://docs.stripe.com/customer-management/configure-portal).
 *
 * - One checkout at a time: `pendingTier` is set until the page leaves (or the
 *   call fails); a second click while pending is ignored.
 * - Signed-out callers get a sign-in prompt instead of a failing call.
 * - Typed errors become toasts (src/lib/errors.ts); transport failures offer Retry;
 *   NOT_AN_UPGRADE (e.g. already subscribed: plan changes go through the
 *   Customer Portal) offers Manage billing.
 */
type CurrentPlan = Pick<SubscriptionView, "tier" | "status" | "hasCustomer">;

/** Mirrors the server's rule for "already has a subscription Stripe bills". */
const BILLED_STATUSES: readonly string[] = ["active", "trialing", "past_due", "unpaid"];

function hasBilledSubscription(current: CurrentPlan): boolean {
  return current.hasCustomer && BILLED_STATUSES.includes(current.status);
}

export function useCheckout() {
  const createCheckoutSession = useAction(api.billing.createCheckoutSession);
  const { isAuthenticated } = useConvexAuth();
  const { openSignIn } = useSession();
  const { openPortal } = usePortal();
  const { pending: pendingTier, begin, end } = useRedirectPending<PaidTier>();

  const promptSignIn = useCallback(() => {
    toast.info("Sign in to upgrade", {
      id: "sign-in-to-upgrade",
      description: "You need an account before choosing a plan.",
      action: { label: "Sign in", onClick: openSignIn },
    });
  }, [openSignIn]);

  const startCheckout = useCallback(
    (
      tier: PaidTier,
      interval: Interval,
      current: CurrentPlan | null = null,
      currency: Currency = DEFAULT_CURRENCY,
      trial = false,
      /** Seats an organisation admin chose for a per-seat plan (docs/SEATS.md); the server checks them. */
      seats?: number,
    ): Promise<void> => {
      const attempt = async (): Promise<void> => {
        if (!begin(tier)) return;
        if (!isAuthenticated) {
          end();
          promptSignIn();
          return;
        }
        if (current && hasBilledSubscription(current)) {
          if (!(await openPortal())) end();
          return;
        }
        try {
          // The currency only when not the default: the server resolves the amount, and refuses
          // one the account is not billed in (CURRENCY_LOCKED).
          // `trial` starts the plan's free trial; a second one is refused (TRIAL_ALREADY_USED).
          const { url } = await createCheckoutSession({
            tier,
            interval,
            ...(currency !== DEFAULT_CURRENCY ? { currency } : {}),
            ...(trial ? { trial: true } : {}),
            ...(seats !== undefined ? { seats } : {}),
          });
          rememberCheckout({ previousTier: current?.tier ?? null, topUp: null });
          // The pending state stays on while the browser navigates away.
          browser.redirect(url);
        } catch (error) {
          end();
          const human = humanizeError(error);
          if (human.code === "UNAUTHENTICATED") {
            promptSignIn();
            return;
          }
          toast.error(human.title, {
            description: human.description,
            action:
              human.code === "NOT_AN_UPGRADE"
                ? { label: "Manage billing", onClick: () => void openPortal() }
                : retryAction(human, () => void attempt()),
          });
        }
      };
      return attempt();
    },
    [begin, createCheckoutSession, end, isAuthenticated, openPortal, promptSignIn],
  );

  return { startCheckout, pendingTier };
}
