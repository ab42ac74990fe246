/**
 * The route registry: every page's path, who may see it, and its nav label.
 * The router (src/app/routes.tsx) builds its routes from it, the header nav
 * lists `NAV_ROUTES`, and every in-app link takes its path from `ROUTES`, so a
 * path changes here and nowhere else in the client.
 *
 * Guards:
 * - `public`: anyone; the page itself may show more once signed in.
 * - `signedIn`: a skeleton while Convex checks the token, `signIn` (a sign-in
 *   call to action) when signed out; hidden from the nav when signed out.
 *
 * The server builds Stripe's return URLs from `SITE_URL` and these paths:
 * Checkout `success_url` = `${SITE_URL}${ROUTES.checkoutSuccess.path}?session_id=…`,
 * `cancel_url` = pricing (plans) or billing (token packs), the Portal's
 * `return_url` = billing. Moving those pages means changing the backend too.
 */
export type RouteGuard = "public" | "signedIn";

export type RouteEntry = {
  /** Absolute path as the router matches it. */
  readonly path: string;
  readonly guard: RouteGuard;
  /** Header nav label; routes without one are not in the nav. */
  readonly navLabel?: string;
  /** Nav highlighting: only on this exact path, not on its children. */
  readonly navEnd?: boolean;
  /** `signedIn` routes: the call to action shown to signed-out visitors. */
  readonly signIn?: { readonly title: string; readonly description: string };
  /** In the nav for staff only (`admin.me`); the page itself shows "Staff only" to anyone else. */
  readonly staffOnly?: boolean;
};

export const ROUTES = {
  dashboard: { path: "/", guard: "public", navLabel: "Dashboard", navEnd: true },
  pricing: { path: "/pricing", guard: "public", navLabel: "Pricing" },
  billing: {
    path: "/billing",
    guard: "signedIn",
    navLabel: "Billing",
    navEnd: true,
    signIn: { title: "Sign in to see your billing", description: "Your plan, token usage and invoices live here." },
  },
  usage: {
    path: "/usage",
    guard: "signedIn",
    navLabel: "Usage",
    signIn: { title: "Sign in to see your usage", description: "Your token balance, daily usage and history live here." },
  },
  /** The operator console (staff only; docs/OPERATOR_CONSOLE.md). */
  admin: {
    path: "/admin",
    guard: "signedIn",
    navLabel: "Console",
    staffOnly: true,
    signIn: { title: "Sign in to the operator console", description: "The console is for support staff." },
  },
  /** One account in the console; build links with react-router's `generatePath`. */
  adminAccount: {
    path: "/admin/accounts/:accountId",
    guard: "signedIn",
    signIn: { title: "Sign in to the operator console", description: "The console is for support staff." },
  },
  /** Stripe Checkout's return page; it handles a signed-out visitor itself. */
  checkoutSuccess: { path: "/billing/success", guard: "public" },
} as const satisfies Record<string, RouteEntry>;

export type RouteId = keyof typeof ROUTES;

/** The header nav, in order. */
export const NAV_ROUTES: readonly (RouteEntry & { id: RouteId; navLabel: string })[] = (
  Object.entries(ROUTES) as [RouteId, RouteEntry][]
).flatMap(([id, route]) => (route.navLabel ? [{ ...route, id, navLabel: route.navLabel }] : []));
