import { Authenticated, AuthLoading, Unauthenticated } from "convex/react";
import type { ReactNode } from "react";
import { SkeletonCard } from "@/src/components/Skeleton";
import { SignInCta } from "@/src/features/auth/components/SignInCta";
import type { RouteEntry } from "@/src/lib/routes";

/**
 * The `signedIn` guard of the route registry (src/lib/routes.ts). Trusts what
 * Convex confirmed (`useConvexAuth`), not the sign-in provider's own state.
 */
export function RequireSignIn({ signIn, children }: { signIn: RouteEntry["signIn"]; children: ReactNode }) {
  return (
    <>
      <AuthLoading>
        <SkeletonCard label="Checking sign-in" />
      </AuthLoading>
      <Authenticated>{children}</Authenticated>
      <Unauthenticated>
        <SignInCta title={signIn?.title}>{signIn?.description}</SignInCta>
      </Unauthenticated>
    </>
  );
}
