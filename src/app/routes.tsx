import { lazy } from "react";
import type { RouteObject } from "react-router-dom";
import { Layout } from "./Layout";
import { NotFoundPage } from "./pages/NotFoundPage";

// Route pages load on demand; the shell (header, providers) is in the entry chunk.
const DashboardPage = lazy(() => import("./pages/DashboardPage"));
const PricingRoute = lazy(() => import("./pages/PricingRoute"));
const BillingRoute = lazy(() => import("./pages/BillingRoute"));
const CheckoutSuccessRoute = lazy(() => import("./pages/CheckoutSuccessRoute"));

export const routes: RouteObject[] = [
  {
    path: "/",
    element: <Layout />,
    children: [
      { index: true, element: <DashboardPage /> },
      { path: "pricing", element: <PricingRoute /> },
      { path: "billing", element: <BillingRoute /> },
      { path: "billing/success", element: <CheckoutSuccessRoute /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
