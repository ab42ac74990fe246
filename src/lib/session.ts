/**
 * The sign-in seam shared by features, implemented by the Clerk provider or the
 * local dev provider (src/features/auth). Whether Convex accepted the token is
 * NOT here: read that from `useConvexAuth()`.
 */
import { createContext, useContext } from "react";

export type Session = {
  mode: "clerk" | "dev";
  /** Stable id of the identity the provider believes is signed in (before Convex confirms it). */
  identityKey: string | null;
  /** A name to show before `users.current` loads. */
  displayName: string | null;
  /** Starts sign-in (opens Clerk's modal or the demo user picker). */
  openSignIn: () => void;
  signOut: () => Promise<void>;
};

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession must be used inside the auth provider");
  return session;
}
