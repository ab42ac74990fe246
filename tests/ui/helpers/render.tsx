import { render, type RenderOptions } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactElement, ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { Toaster } from "sonner";
import { vi } from "vitest";
import { ConfirmProvider } from "../../../src/components/confirm";
import { UpgradeModalProvider } from "../../../src/components/upgrade/UpgradeModal";
import { SessionContext, type Session } from "../../../src/lib/session";

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
 * convexReactMock replaces): session seam, confirm + upgrade dialogs, a
 * MemoryRouter at `route`, and sonner's Toaster so toasts are visible text.
 */
export function renderApp(ui: ReactElement, { route = "/", session = fakeSession(), ...options }: { route?: string; session?: Session } & RenderOptions = {}) {
  const user = userEvent.setup();
  const Wrapper = ({ children }: { children: ReactNode }) => (
    <SessionContext.Provider value={session}>
      <MemoryRouter initialEntries={[route]}>
        <ConfirmProvider>
          <UpgradeModalProvider>{children}</UpgradeModalProvider>
        </ConfirmProvider>
      </MemoryRouter>
      <Toaster />
    </SessionContext.Provider>
  );
  return { user, session, ...render(ui, { wrapper: Wrapper, ...options }) };
}
