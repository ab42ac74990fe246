import { Authenticated, AuthLoading, Unauthenticated, useQuery } from "convex/react";
import { useEffect, useId, useRef, useState } from "react";
import { toast } from "sonner";
import { api } from "@/convex/_generated/api";
import { useSession } from "@/src/lib/session";

/** Sign-in button (header and call to action): "Sign in as a demo user" (dev) or "Sign in" (Clerk). */
export function SignInButton({ testId = "demo-sign-in" }: { testId?: string }) {
  const { mode, openSignIn } = useSession();
  return (
    <button type="button" className="button button-primary" data-testid={testId} onClick={openSignIn}>
      {mode === "dev" ? "Sign in as a demo user" : "Sign in"}
    </button>
  );
}

function SignedInMenu() {
  const session = useSession();
  const user = useQuery(api.users.current);
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const name = user?.name || session.displayName || "Account";

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const signOut = () => {
    setOpen(false);
    session.signOut().catch(() => toast.error("Couldn't sign out", { description: "Please try again." }));
  };

  return (
    <div className="account-menu" ref={rootRef}>
      <button
        type="button"
        className="account-trigger"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls={menuId}
        data-testid="account-menu"
        onClick={() => setOpen((o) => !o)}
      >
        <span className="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
        </span>
        <span className="account-name" data-testid="account-name">
          {name}
        </span>
      </button>
      {open ? (
        <div className="menu" id={menuId}>
          <div className="menu-header">
            <strong>{name}</strong>
            {user?.email ? <span className="muted">{user.email}</span> : null}
          </div>
          <button type="button" className="menu-item" data-testid="sign-out" onClick={signOut}>
            Sign out
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** Account area of the header: sign-in button, or the user's menu with sign out. */
export function AccountMenu() {
  return (
    <>
      <AuthLoading>
        <span className="skeleton-pill" aria-label="Checking sign-in" />
      </AuthLoading>
      <Unauthenticated>
        <SignInButton />
      </Unauthenticated>
      <Authenticated>
        <SignedInMenu />
      </Authenticated>
    </>
  );
}
