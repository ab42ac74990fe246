import { useConvexAuth, useQuery } from "convex/react";
import type { ReactNode } from "react";
import { Link, useLocation } from "react-router-dom";
import { api } from "@/convex/_generated/api";
import { ROUTES } from "@/src/lib/routes";

/**
 * The client half of the dunning restriction (docs/DUNNING.md): while the
 * account is `restricted` for an overdue invoice, every page but Billing
 * shows a notice with a link to Billing instead of its content. The server
 * refuses the paid work itself (`ACCOUNT_RESTRICTED`); paying lifts both live.
 */
export function RestrictedGuard({ children }: { children: ReactNode }) {
  const { isAuthenticated } = useConvexAuth();
  const subscription = useQuery(api.billing.subscription, isAuthenticated ? {} : "skip");
  const { pathname } = useLocation();
  const restricted = subscription?.dunning?.stage === "restricted";
  if (!restricted || pathname === ROUTES.billing.path || pathname.startsWith(`${ROUTES.billing.path}/`)) return <>{children}</>;
  return (
    <section className="card" data-testid="restricted-guard" role="alert">
      <h1>Your account is restricted</h1>
      <p>An invoice has been overdue too long. Until it is paid, only the Billing page is available to members of this account.</p>
      <Link className="button button-primary" to={ROUTES.billing.path} data-testid="restricted-guard-billing">
        Go to Billing
      </Link>
    </section>
  );
}
