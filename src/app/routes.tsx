import { lazy, type ComponentType } from "react";
import type { RouteObject } from "react-router-dom";
import { ROUTES, type RouteEntry, type RouteId } from "@/src/lib/routes";
import { Layout } from "./Layout";
import { NotFoundPage } from "./NotFoundPage";
import { RequireSignIn } from "./RequireSignIn";

// Route pages load on demand; the shell (header, providers) is in the entry chunk.
// One page per registry entry: a route added to ROUTES without a page here (or
// the reverse) fails the typecheck.
const PAGES: Record<RouteId, ComponentType> = {
  dashboard: lazy(() => import("./dashboard/DashboardPage")),
  pricing: lazy(() => import("@/src/features/billing/components/pricing/PricingPage").then((m) => ({ default: () => <m.PricingPage /> }))),
  billing: lazy(() => import("@/src/features/billing/components/BillingPage").then((m) => ({ default: m.BillingPage }))),
  usage: lazy(() => import("@/src/features/usage/components/UsagePage").then((m) => ({ default: m.UsagePage }))),
  admin: lazy(() => import("@/src/features/admin/components/AdminPage").then((m) => ({ default: m.AdminPage }))),
  adminAccount: lazy(() => import("@/src/features/admin/components/AccountDetailPage").then((m) => ({ default: m.AccountDetailPage }))),
  checkoutSuccess: lazy(() =>
    import("@/src/features/billing/components/CheckoutSuccessPage").then((m) => ({ default: () => <m.CheckoutSuccessPage /> })),
  ),
};

function routeFor(id: RouteId, route: RouteEntry): RouteObject {
  const Page = PAGES[id];
  const page = <Page />;
  const element = route.guard === "signedIn" ? <RequireSignIn signIn={route.signIn}>{page}</RequireSignIn> : page;
  return route.path === ROUTES.dashboard.path ? { index: true, element } : { path: route.path, element };
}

/** The router's tree: every registry route (src/lib/routes.ts) inside the app's Layout, then the 404. */
export const routes: RouteObject[] = [
  {
    path: ROUTES.dashboard.path,
    element: <Layout />,
    children: [
      ...(Object.entries(ROUTES) as [RouteId, RouteEntry][]).map(([id, route]) => routeFor(id, route)),
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
