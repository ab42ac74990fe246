import { lazy, Suspense, type ReactNode } from "react";
import { DevAuthProvider } from "@/src/features/auth/components/DevAuthProvider";
import type { AppConfig } from "@/src/lib/env";
import { convexClientFor } from "./convexClient";

const ClerkAuthProvider = lazy(() => import("@/src/features/auth/components/ClerkAuthProvider"));

function FullPageStatus({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <main className="full-page" role="status">
      <h1>{title}</h1>
      {children ? <p className="muted">{children}</p> : null}
    </main>
  );
}

/**
 * Clerk when VITE_CLERK_PUBLISHABLE_KEY is set, else the local dev sign-in.
 * Both provide Convex auth (useConvexAuth) and the Session seam (src/lib/session.ts).
 */
export function AuthProvider({ config, children }: { config: AppConfig; children: ReactNode }) {
  if (config.mode === "dev") {
    return (
      <DevAuthProvider client={convexClientFor(config.convexUrl)} authUrl={config.devAuthUrl}>
        {children}
      </DevAuthProvider>
    );
  }
  if (!config.convexUrl) {
    return (
      <FullPageStatus title="Configuration needed">
        VITE_CLERK_PUBLISHABLE_KEY is set but VITE_CONVEX_URL is not. Set the Convex deployment URL and rebuild.
      </FullPageStatus>
    );
  }
  return (
    <Suspense fallback={<FullPageStatus title="Loading…" />}>
      <ClerkAuthProvider client={convexClientFor(config.convexUrl)} publishableKey={config.clerkPublishableKey}>
        {children}
      </ClerkAuthProvider>
    </Suspense>
  );
}
