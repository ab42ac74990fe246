import { Authenticated, AuthLoading, Unauthenticated } from "convex/react";
import { SkeletonCard } from "../../components/Skeleton";
import { SignInCta } from "../../features/auth/components/SignInCta";
import { BillingPage } from "../../features/billing/components/BillingPage";

export default function BillingRoute() {
  return (
    <>
      <AuthLoading>
        <SkeletonCard label="Checking sign-in" />
      </AuthLoading>
      <Authenticated>
        <BillingPage />
      </Authenticated>
      <Unauthenticated>
        <SignInCta title="Sign in to see your billing">Your plan, token usage and invoices live here.</SignInCta>
      </Unauthenticated>
    </>
  );
}
