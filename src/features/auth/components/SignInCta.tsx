import { useSession } from "../../../lib/session";

/** Call to action for signed-out visitors. */
export function SignInCta({ title = "Sign in to get started", children }: { title?: string; children?: React.ReactNode }) {
  const { mode, openSignIn } = useSession();
  return (
    <div className="card cta" data-testid="sign-in-cta">
      <h2>{title}</h2>
      <p className="muted">{children ?? "Free accounts get 5 tokens every month. No card needed."}</p>
      <button type="button" className="button button-primary" data-testid="sign-in-cta-button" onClick={openSignIn}>
        {mode === "dev" ? "Sign in as a demo user" : "Sign in"}
      </button>
    </div>
  );
}
