import type { ReactNode } from "react";
import { Toaster } from "sonner";
import { ConfirmProvider } from "@/src/components/confirm";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { PlanChangeProvider } from "@/src/features/billing/components/planChange/PlanChangeProvider";
import { UpgradeModalProvider } from "@/src/features/billing/components/upgrade/UpgradeModal";
import { StoreUser } from "@/src/features/auth/hooks/useStoreUser";
import { readConfig, type AppConfig } from "@/src/lib/env";
import { AuthProvider } from "./AuthProvider";

/** ErrorBoundary > auth (Clerk or dev, each with its Convex provider) > app-wide dialogs (confirm, plan change, upgrade) > children (the router). */
export function AppProviders({ children, config = readConfig() }: { children: ReactNode; config?: AppConfig }) {
  return (
    <ErrorBoundary>
      <AuthProvider config={config}>
        <StoreUser />
        <ConfirmProvider>
          <PlanChangeProvider>
            <UpgradeModalProvider>{children}</UpgradeModalProvider>
          </PlanChangeProvider>
        </ConfirmProvider>
      </AuthProvider>
      {/* Bottom corner: a top-right toast would cover the header's live token meter just as a run changes it. */}
      <Toaster position="bottom-right" richColors closeButton />
    </ErrorBoundary>
  );
}
