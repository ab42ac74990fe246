/**
 * The Clerk wiring (src/features/auth/components/ClerkAuthProvider.tsx) with
 * `@clerk/react` mocked: ClerkProvider gets the publishable key, Convex gets
 * Clerk's token through `ConvexProviderWithClerk` (the real one from
 * convex/react-clerk), and the Session seam reflects Clerk's user.
 */
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ConvexReactClient } from "convex/react";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import ClerkAuthProvider from "@/src/features/auth/components/ClerkAuthProvider";
import { useSession } from "@/src/lib/session";

const clerk = vi.hoisted(() => ({
  providerProps: [] as Record<string, unknown>[],
  auth: {} as {
    isLoaded: boolean;
    isSignedIn: boolean;
    userId: string | null;
    sessionId: string | null;
    sessionClaims: Record<string, unknown> | null;
  },
  user: null as { fullName: string | null; primaryEmailAddress: { emailAddress: string } | null } | null,
  getToken: vi.fn<(options: { template?: string; skipCache?: boolean }) => Promise<string | null>>(),
  openSignIn: vi.fn(),
  signOut: vi.fn(() => Promise.resolve()),
}));

vi.mock("@clerk/react", () => ({
  ClerkProvider: ({ children, ...props }: { children: ReactNode } & Record<string, unknown>) => {
    clerk.providerProps.push(props);
    return <>{children}</>;
  },
  useAuth: () => ({ ...clerk.auth, orgId: null, orgRole: null, getToken: clerk.getToken }),
  useUser: () => ({ user: clerk.user }),
  useClerk: () => ({ openSignIn: clerk.openSignIn, signOut: clerk.signOut }),
}));

function SessionProbe() {
  const session = useSession();
  return (
    <div>
      <span data-testid="mode">{session.mode}</span>
      <span data-testid="identity">{session.identityKey ?? "none"}</span>
      <span data-testid="name">{session.displayName ?? "none"}</span>
      <button type="button" onClick={session.openSignIn}>
        Sign in
      </button>
      <button type="button" onClick={() => void session.signOut()}>
        Sign out
      </button>
    </div>
  );
}

type FetchToken = (args: { forceRefreshToken: boolean }) => Promise<string | null>;

function renderWithClerk() {
  const setAuth = vi.fn<(fetchToken: FetchToken) => void>();
  const client = { setAuth, clearAuth: vi.fn() } as unknown as ConvexReactClient;
  render(
    <ClerkAuthProvider client={client} publishableKey="pk_test_abc">
      <SessionProbe />
    </ClerkAuthProvider>,
  );
  return { setAuth };
}

beforeEach(() => {
  clerk.providerProps.length = 0;
  clerk.auth = { isLoaded: true, isSignedIn: true, userId: "user_ada", sessionId: "sess_1", sessionClaims: { aud: "something-else" } };
  clerk.user = { fullName: "Ada Lovelace", primaryEmailAddress: { emailAddress: "ada@example.test" } };
  clerk.getToken.mockReset().mockResolvedValue("clerk-jwt");
  clerk.openSignIn.mockReset();
  clerk.signOut.mockClear();
});

describe("ClerkAuthProvider", () => {
  it("passes the publishable key to ClerkProvider and gives Convex the `convex` JWT template's token", async () => {
    const { setAuth } = renderWithClerk();

    expect(clerk.providerProps[0]).toMatchObject({ publishableKey: "pk_test_abc", afterSignOutUrl: "/" });
    expect(setAuth).toHaveBeenCalled();
    const fetchToken = setAuth.mock.calls[0]![0];
    await expect(fetchToken({ forceRefreshToken: false })).resolves.toBe("clerk-jwt");
    expect(clerk.getToken).toHaveBeenLastCalledWith({ template: "convex", skipCache: false });
    await fetchToken({ forceRefreshToken: true });
    expect(clerk.getToken).toHaveBeenLastCalledWith({ template: "convex", skipCache: true });
  });

  it("uses the session token itself when Clerk's Convex integration sets aud=convex", async () => {
    clerk.auth.sessionClaims = { aud: "convex" };
    const { setAuth } = renderWithClerk();
    await setAuth.mock.calls[0]![0]({ forceRefreshToken: false });
    expect(clerk.getToken).toHaveBeenLastCalledWith({ skipCache: false });
  });

  it("maps Clerk's user onto the session: identity, display name, sign in and sign out", async () => {
    const user = userEvent.setup();
    renderWithClerk();
    expect(screen.getByTestId("mode")).toHaveTextContent("clerk");
    expect(screen.getByTestId("identity")).toHaveTextContent("user_ada");
    expect(screen.getByTestId("name")).toHaveTextContent("Ada Lovelace");

    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(clerk.openSignIn).toHaveBeenCalledTimes(1);
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    expect(clerk.signOut).toHaveBeenCalledTimes(1);
  });

  it("falls back to the email without a full name, and asks Convex for nothing while signed out", () => {
    clerk.user = { fullName: null, primaryEmailAddress: { emailAddress: "grace@example.test" } };
    clerk.auth = { isLoaded: true, isSignedIn: false, userId: null, sessionId: null, sessionClaims: null };
    const { setAuth } = renderWithClerk();
    expect(screen.getByTestId("name")).toHaveTextContent("grace@example.test");
    expect(screen.getByTestId("identity")).toHaveTextContent("none");
    expect(setAuth).not.toHaveBeenCalled();
  });
});
