import { ConvexProviderWithAuth, type ConvexReactClient } from "convex/react";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { toast } from "sonner";
import { SessionContext, type Session } from "@/src/lib/session";
import {
  createDevOrg,
  DevTokenCache,
  fetchDevUsers,
  NotAMemberError,
  orgsOfDevUser,
  readStoredDevOrg,
  readStoredDevUser,
  storeDevOrg,
  storeDevUser,
  type DevOrgRole,
  type DevUser,
  type DevUserOrg,
} from "@/src/features/auth/hooks/devAuthClient";
import { OrgControlsContext, type DevOrgControls } from "@/src/features/org/orgControls";
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
 *
 * Organisations: the active one (or the personal account) is remembered per
 * user; its tokens carry Clerk's org claims. Switching builds a new
 * `fetchAccessToken`, so Convex fetches a token for the new account and
 * re-runs every query, as ConvexProviderWithClerk does on Clerk's `orgId`.
 */
export function DevAuthProvider({ client, authUrl, children }: { client: ConvexReactClient; authUrl: string; children: ReactNode }) {
  const [user, setUser] = useState(readStoredDevUser);
  const [pickerOpen, setPickerOpen] = useState(false);
  const [cache] = useState(() => new DevTokenCache(authUrl));
  const userId = user?.id ?? null;
  const [orgId, setOrgId] = useState<string | null>(() => readStoredDevOrg(readStoredDevUser()?.id ?? null));
  const [orgsOf, setOrgsOf] = useState<{ userId: string; orgs: DevUserOrg[] } | null>(null);
  const orgs = useMemo(() => (orgsOf && orgsOf.userId === userId ? orgsOf.orgs : []), [orgsOf, userId]);

  // The signed-in user's organisations, from the issuer.
  useEffect(() => {
    if (!userId) return;
    const controller = new AbortController();
    fetchDevUsers(authUrl, controller.signal).then(
      (users) => setOrgsOf({ userId, orgs: orgsOfDevUser(users.find((u) => u.id === userId)) }),
      (error: unknown) => {
        if (!controller.signal.aborted) console.warn("Dev sign-in: could not list organisations", error);
      },
    );
    return () => controller.abort();
  }, [authUrl, userId]);

  const switchTo = useCallback(
    (next: string | null) => {
      if (!userId) return;
      storeDevOrg(userId, next);
      setOrgId(next);
    },
    [userId],
  );

  // Depends on the `user` object, not just its id: choosing the same user again
  // (e.g. after the issuer was down) must make Convex fetch a token again.
  const fetchAccessToken = useCallback(
    async ({ forceRefreshToken }: { forceRefreshToken: boolean }): Promise<string | null> => {
      if (!user) return null;
      try {
        return await cache.get(user.id, forceRefreshToken, orgId);
      } catch (error) {
        if (error instanceof NotAMemberError) {
          // Removed from the organisation: fall back to the personal account.
          toast.error("You are no longer a member of this organisation", { id: "dev-auth-org" });
          storeDevOrg(user.id, null);
          setOrgId(null);
          return null;
        }
        // Convex treats null as "not signed in"; tell the person why.
        console.warn("Dev sign-in: could not get a token", error);
        toast.error("Couldn't sign in", {
          id: "dev-auth-token",
          description: `The dev sign-in server at ${authUrl} didn't answer.`,
        });
        return null;
      }
    },
    [authUrl, cache, orgId, user],
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
      setOrgId(readStoredDevOrg(chosen.id));
      setPickerOpen(false);
    },
    [cache],
  );

  const signOut = useCallback(async () => {
    cache.clear();
    storeDevUser(null);
    setUser(null);
    setOrgId(null);
    return Promise.resolve();
  }, [cache]);

  const openSignIn = useCallback(() => setPickerOpen(true), []);

  const session = useMemo<Session>(
    () => ({ mode: "dev", identityKey: userId, displayName: user?.name ?? null, openSignIn, signOut }),
    [openSignIn, signOut, user?.name, userId],
  );

  const createOrg = useCallback(
    async (name: string, role: DevOrgRole) => {
      if (!userId) return;
      const org = await createDevOrg(authUrl, userId, name, role);
      setOrgsOf((current) => ({
        userId,
        orgs: [...(current?.userId === userId ? current.orgs : []).filter((o) => o.id !== org.id), org],
      }));
      switchTo(org.id);
    },
    [authUrl, switchTo, userId],
  );

  const orgControls = useMemo<DevOrgControls>(
    () => ({ mode: "dev", activeOrgId: orgId, orgs, switchTo, createOrg }),
    [createOrg, orgId, orgs, switchTo],
  );

  return (
    <AdapterContext.Provider value={adapter}>
      <SessionContext.Provider value={session}>
        <OrgControlsContext.Provider value={orgControls}>
          <ConvexProviderWithAuth client={client} useAuth={useDevConvexAuth}>
            {children}
          </ConvexProviderWithAuth>
        </OrgControlsContext.Provider>
        {pickerOpen ? <DemoSignInDialog authUrl={authUrl} onClose={() => setPickerOpen(false)} onChoose={signIn} /> : null}
      </SessionContext.Provider>
    </AdapterContext.Provider>
  );
}
