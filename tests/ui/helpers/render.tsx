import { render, type RenderOptions } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement, ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { Toaster } from "sonner";
import { vi } from "vitest";
import { ConfirmProvider } from "@/src/components/confirm";
import { PlanChangeProvider } from "@/src/features/billing/components/planChange/PlanChangeProvider";
import { UpgradeModalProvider } from "@/src/features/billing/components/upgrade/UpgradeModal";
import { SessionContext, type Session } from "@/src/lib/session";

export function fakeSession(overrides: Partial<Session> = {}): Session {
  return {
    mode: "dev",
    identityKey: "user_1",
    displayName: "Ada Lovelace",
    openSignIn: vi.fn(),
    signOut: vi.fn(() => Promise.resolve()),
    ...overrides,
  };
}

/**
 * Renders `ui` inside the app's providers (minus the real auth/Convex, which
 * convexReactMock replaces): session seam, confirm + plan-change + upgrade dialogs, a
 * MemoryRouter at `route`, and sonner's Toaster so toasts are visible text.
 */
export function renderApp(
  ui: ReactElement,
  { route = "/", session = fakeSession(), router = true, ...options }: { route?: string; session?: Session; router?: boolean } & RenderOptions = {},
) {
  const user = userEvent.setup();
  const Wrapper = ({ children }: { children: ReactNode }) => {
    const inner = (
      <ConfirmProvider>
        <PlanChangeProvider>
          <UpgradeModalProvider>{children}</UpgradeModalProvider>
        </PlanChangeProvider>
      </ConfirmProvider>
    );
    return (
      <SessionContext.Provider value={session}>
        {router ? <MemoryRouter initialEntries={[route]}>{inner}</MemoryRouter> : inner}
        <Toaster />
      </SessionContext.Provider>
    );
  };
  return { user, session, ...render(ui, { wrapper: Wrapper, ...options }) };
}
