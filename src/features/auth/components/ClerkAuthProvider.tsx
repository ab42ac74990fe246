import { ClerkProvider, OrganizationSwitcher, useAuth, useClerk, useUser } from "@clerk/react";
import type { ConvexReactClient } from "convex/react";
import { ConvexProviderWithClerk } from "convex/react-clerk";
import { useMemo, type ReactNode } from "react";
import { SessionContext, type Session } from "@/src/lib/session";
import { OrgControlsContext, type ClerkOrgControls } from "@/src/features/org/orgControls";

/**
 * Clerk's switcher: the personal account and the user's organisations.
 * Switching changes Clerk's active organisation; ConvexProviderWithClerk
 * then fetches a token with the new org claims and Convex re-runs every
 * query, so the page stays where it is.
 */
function ClerkOrgSwitcher() {
  return <OrganizationSwitcher hidePersonal={false} />;
}

const CLERK_ORG_CONTROLS: ClerkOrgControls = { mode: "clerk", Switcher: ClerkOrgSwitcher };

function ClerkSession({ children }: { children: ReactNode }) {
  const clerk = useClerk();
  const { user } = useUser();
  const { userId } = useAuth();
  const session = useMemo<Session>(
    () => ({
      mode: "clerk",
      identityKey: userId ?? null,
      displayName: user?.fullName ?? user?.primaryEmailAddress?.emailAddress ?? null,
      openSignIn: () => clerk.openSignIn(),
      signOut: () => clerk.signOut(),
    }),
    [clerk, user, userId],
  );
  return (
    <SessionContext.Provider value={session}>
      <OrgControlsContext.Provider value={CLERK_ORG_CONTROLS}>{children}</OrgControlsContext.Provider>
    </SessionContext.Provider>
  );
}

/**
 * Clerk sign-in (https://docs.convex.dev/auth/clerk): ClerkProvider >
 * ConvexProviderWithClerk, which fetches the `convex` JWT template token.
 * Loaded lazily so dev builds without a Clerk key don't ship Clerk.
 */
export default function ClerkAuthProvider({
  client,
  publishableKey,
  children,
}: {
  client: ConvexReactClient;
  publishableKey: string;
  children: ReactNode;
}) {
  return (
    <ClerkProvider publishableKey={publishableKey} afterSignOutUrl="/">
      <ConvexProviderWithClerk client={client} useAuth={useAuth}>
        <ClerkSession>{children}</ClerkSession>
      </ConvexProviderWithClerk>
    </ClerkProvider>
  );
}
