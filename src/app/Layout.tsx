import { Authenticated } from "convex/react";
import { Suspense } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { SkeletonCard } from "@/src/components/Skeleton";
import { AdminNavLink } from "@/src/features/admin/components/AdminNavLink";
import { AccountMenu } from "@/src/features/auth/components/AccountMenu";
import { PaymentBanner } from "@/src/features/billing/components/PaymentBanner";
import { SeatsPrompt } from "@/src/features/billing/components/seats/SeatsPrompt";
import { RestrictedGuard } from "@/src/features/billing/components/RestrictedGuard";
import { NotificationBell } from "@/src/features/notifications/components/NotificationBell";
import { AccountNotes } from "@/src/features/org/components/AccountNotes";
import { OrgSwitcher } from "@/src/features/org/components/OrgSwitcher";
import { PlanBadge } from "@/src/features/billing/components/PlanBadge";
import { TokenMeter } from "@/src/features/billing/components/tokens/TokenMeter";
import { NAV_ROUTES, ROUTES } from "@/src/lib/routes";

export function Layout() {
  const { pathname } = useLocation();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <NavLink to={ROUTES.dashboard.path} className="brand" aria-label="Home">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>
            <span className="brand-name">Tokenly</span>
          </NavLink>
          <nav className="nav" aria-label="Main">
            {NAV_ROUTES.map((route) => {
              if (route.staffOnly) return <AdminNavLink key={route.id} to={route.path} label={route.navLabel} end={route.navEnd} />;
              const link = (
                <NavLink key={route.id} to={route.path} end={route.navEnd}>
                  {route.navLabel}
                </NavLink>
              );
              return route.guard === "signedIn" ? <Authenticated key={route.id}>{link}</Authenticated> : link;
            })}
          </nav>
          <div className="topbar-right">
            <Authenticated>
              <OrgSwitcher />
              <PlanBadge />
              <TokenMeter />
              <NotificationBell />
            </Authenticated>
            <AccountMenu />
          </div>
        </div>
      </header>
      <main id="main" className="main">
        <Authenticated>
          <AccountNotes />
          <PaymentBanner />
          <SeatsPrompt />
        </Authenticated>
        <ErrorBoundary resetKey={pathname}>
          <Suspense fallback={<SkeletonCard label="Loading page" lines={5} />}>
            <RestrictedGuard>
              <Outlet />
            </RestrictedGuard>
          </Suspense>
        </ErrorBoundary>
      </main>
      <footer className="footer muted">Payments by Stripe · Prices shown before tax</footer>
    </div>
  );
}
