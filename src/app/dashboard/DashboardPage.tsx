import { Authenticated, AuthLoading, Unauthenticated, useQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { SkeletonCard } from "@/src/components/Skeleton";
import { SignInCta } from "@/src/features/auth/components/SignInCta";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { TokenAlerts } from "@/src/features/billing/components/tokens/TokenAlerts";
import { AnalysesPanel } from "./AnalysesPanel";

function Greeting() {
  const user = useQuery(api.users.current);
  return <h1>{user?.name ? `Welcome back, ${user.name.split(" ")[0]}` : "Dashboard"}</h1>;
}

/** "/": the analyses demo when signed in; a sign-in call to action and pricing otherwise. */
export default function DashboardPage() {
  return (
    <>
      <AuthLoading>
        <SkeletonCard label="Checking sign-in" />
      </AuthLoading>
      <Authenticated>
        <div className="stack">
          <Greeting />
          <TokenAlerts />
          <AnalysesPanel />
        </div>
      </Authenticated>
      <Unauthenticated>
        <div className="stack">
          <section className="hero">
            <h1>Analyses that pay for themselves</h1>
            <p className="lead muted">Run quick, standard, bulk and deep analyses. Start free, upgrade when you need more tokens.</p>
          </section>
          <SignInCta />
          <PricingPage compact />
        </div>
      </Unauthenticated>
    </>
  );
}
