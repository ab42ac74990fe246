import { Authenticated } from "convex/react";
import { Suspense } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { SkeletonCard } from "../components/Skeleton";
import { AccountMenu } from "../features/auth/components/AccountMenu";
import { PaymentBanner } from "../features/billing/components/PaymentBanner";
import { PlanBadge } from "../features/billing/components/PlanBadge";
import { TokenMeter } from "../features/tokens/components/TokenMeter";

export function Layout() {
  const { pathname } = useLocation();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <NavLink to="/" className="brand" aria-label="Home">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>
            <span className="brand-name">Tokenly</span>
          </NavLink>
          <nav className="nav" aria-label="Main">
            <NavLink to="/" end>
              Dashboard
            </NavLink>
            <NavLink to="/pricing">Pricing</NavLink>
            <Authenticated>
              <NavLink to="/billing" end>
                Billing
              </NavLink>
            </Authenticated>
          </nav>
          <div className="topbar-right">
            <Authenticated>
              <PlanBadge />
              <TokenMeter />
            </Authenticated>
            <AccountMenu />
          </div>
        </div>
      </header>
      <main id="main" className="main">
        <Authenticated>
          <PaymentBanner />
        </Authenticated>
        <ErrorBoundary resetKey={pathname}>
          <Suspense fallback={<SkeletonCard label="Loading page" lines={5} />}>
            <Outlet />
          </Suspense>
        </ErrorBoundary>
      </main>
      <footer className="footer muted">Payments by Stripe · Prices shown before tax</footer>
    </div>
  );
}
