import type { ReactNode } from "react";
import { Toaster } from "sonner";
import { ConfirmProvider } from "../components/confirm";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { UpgradeModalProvider } from "../components/upgrade/UpgradeModal";
import { StoreUser } from "../features/auth/hooks/useStoreUser";
import { readConfig, type AppConfig } from "../lib/env";
import { AuthProvider } from "./AuthProvider";

/** ErrorBoundary > auth (Clerk or dev, each with its Convex provider) > app-wide dialogs > children (the router). */
export function AppProviders({ children, config = readConfig() }: { children: ReactNode; config?: AppConfig }) {
  return (
    <ErrorBoundary>
      <AuthProvider config={config}>
        <StoreUser />
        <ConfirmProvider>
          <UpgradeModalProvider>{children}</UpgradeModalProvider>
        </ConfirmProvider>
      </AuthProvider>
      {/* Bottom corner: a top-right toast would cover the header's live token meter just as a run changes it. */}
      <Toaster position="bottom-right" richColors closeButton />
    </ErrorBoundary>
  );
}
