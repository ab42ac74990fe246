import { ConvexProviderWithAuth, type ConvexReactClient } from "convex/react";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { toast } from "sonner";
import { SessionContext, type Session } from "@/src/lib/session";
import { DevTokenCache, readStoredDevUser, storeDevUser, type DevUser } from "@/src/features/auth/hooks/devAuthClient";
import { DemoSignInDialog } from "./DemoSignInDialog";

type ConvexAuthAdapter = {
  isLoading: boolean;
  isAuthenticated: boolean;
  fetchAccessToken: (args: { forceRefreshToken: boolean }) => Promise<string | null>;
};

const AdapterContext = createContext<ConvexAuthAdapter | null>(null);

/** The `useAuth` hook ConvexProviderWithAuth calls (https://docs.convex.dev/auth/advanced/custom-auth). */
function useDevConvexAuth(): ConvexAuthAdapter {
  const adapter = useContext(AdapterContext);
  if (!adapter) throw new Error("useDevConvexAuth outside DevAuthProvider");
  return adapter;
}

/**
 * Sign-in without Clerk, for local development and browser tests: pick a demo
 * user from the local token issuer; the choice is remembered in localStorage.
 * Gives Convex the same interface ConvexProviderWithClerk does.
 */
export function DevAuthProvider({ client, authUrl, children }: { client: ConvexReactClient; authUrl: string; children: ReactNode }) {
  const [user, setUser] = useState(readStoredDevUser);
  const [pickerOpen, setPickerOpen] = useState(false);
  const [cache] = useState(() => new DevTokenCache(authUrl));
  const userId = user?.id ?? null;

  // Depends on the `user` object, not just its id: choosing the same user again
  // (e.g. after the issuer was down) must make Convex fetch a token again.
  const fetchAccessToken = useCallback(
    async ({ forceRefreshToken }: { forceRefreshToken: boolean }): Promise<string | null> => {
      if (!user) return null;
      try {
        return await cache.get(user.id, forceRefreshToken);
      } catch (error) {
        // Convex treats null as "not signed in"; tell the person why.
        console.warn("Dev sign-in: could not get a token", error);
        toast.error("Couldn't sign in", {
          id: "dev-auth-token",
          description: `The dev sign-in server at ${authUrl} didn't answer.`,
        });
        return null;
      }
    },
    [authUrl, cache, user],
  );

  const adapter = useMemo<ConvexAuthAdapter>(
    () => ({ isLoading: false, isAuthenticated: userId !== null, fetchAccessToken }),
    [fetchAccessToken, userId],
  );

  const signIn = useCallback(
    (chosen: DevUser) => {
      cache.clear();
      storeDevUser(chosen);
      setUser({ id: chosen.id, name: chosen.name });
      setPickerOpen(false);
    },
    [cache],
  );

  const signOut = useCallback(async () => {
    cache.clear();
    storeDevUser(null);
    setUser(null);
    return Promise.resolve();
  }, [cache]);

  const openSignIn = useCallback(() => setPickerOpen(true), []);

  const session = useMemo<Session>(
    () => ({ mode: "dev", identityKey: userId, displayName: user?.name ?? null, openSignIn, signOut }),
    [openSignIn, signOut, user?.name, userId],
  );

  return (
    <AdapterContext.Provider value={adapter}>
      <SessionContext.Provider value={session}>
        <ConvexProviderWithAuth client={client} useAuth={useDevConvexAuth}>
          {children}
        </ConvexProviderWithAuth>
        {pickerOpen ? <DemoSignInDialog authUrl={authUrl} onClose={() => setPickerOpen(false)} onChoose={signIn} /> : null}
      </SessionContext.Provider>
    </AdapterContext.Provider>
  );
}
