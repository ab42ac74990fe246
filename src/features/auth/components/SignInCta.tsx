import { PLANS } from "@/convex/billing/model/plans";
import { tokens } from "@/src/lib/format";
import { SignInButton } from "./AccountMenu";

/** Call to action for signed-out visitors. */
export function SignInCta({ title = "Sign in to get started", children }: { title?: string; children?: React.ReactNode }) {
  return (
    <div className="card cta" data-testid="sign-in-cta">
      <h2>{title}</h2>
      <p className="muted">{children ?? `Free accounts get ${tokens(PLANS.free.tokensPerPeriod)} every month. No card needed.`}</p>
      <SignInButton testId="sign-in-cta-button" />
    </div>
  );
}
