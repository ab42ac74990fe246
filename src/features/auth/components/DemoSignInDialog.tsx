import { useEffect, useState } from "react";
import { Dialog } from "@/src/components/Dialog";
import { Skeleton } from "@/src/components/Skeleton";
import { fetchDevUsers, type DevUser } from "@/src/features/auth/hooks/devAuthClient";

type Load = { status: "loading" } | { status: "error"; message: string } | { status: "ready"; users: DevUser[] };

/** Lists the local issuer's demo users; choosing one signs in as them. */
export function DemoSignInDialog({
  authUrl,
  onClose,
  onChoose,
}: {
  authUrl: string;
  onClose: () => void;
  onChoose: (user: DevUser) => void;
}) {
  const [load, setLoad] = useState<Load>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    fetchDevUsers(authUrl, controller.signal).then(
      (users) => setLoad({ status: "ready", users }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        console.warn("Dev sign-in: could not list users", error);
        setLoad({ status: "error", message: `The dev sign-in server at ${authUrl} isn't reachable. Start it with the local stack and try again.` });
      },
    );
    return () => controller.abort();
  }, [authUrl, attempt]);

  return (
    <Dialog
      open
      onClose={onClose}
      title="Sign in as a demo user"
      description="Local development sign-in: no password, tokens come from the local issuer."
      testId="demo-sign-in-dialog"
      closeTestId="demo-sign-in-close"
      size="sm"
    >
      {load.status === "loading" ? <Skeleton lines={3} label="Loading demo users" /> : null}
      {load.status === "error" ? (
        <div role="alert" className="stack-sm">
          <p>{load.message}</p>
          <button
            type="button"
            className="button button-secondary"
            onClick={() => {
              setLoad({ status: "loading" });
              setAttempt((n) => n + 1);
            }}
          >
            Try again
          </button>
        </div>
      ) : null}
      {load.status === "ready" && load.users.length === 0 ? <p className="muted">The dev sign-in server has no users.</p> : null}
      {load.status === "ready" && load.users.length > 0 ? (
        <ul className="user-list">
          {load.users.map((user) => (
            <li key={user.id}>
              <button type="button" className="user-choice" data-testid={`demo-user-${user.id}`} onClick={() => onChoose(user)}>
                <span className="avatar" aria-hidden="true">
                  {user.name.slice(0, 1).toUpperCase()}
                </span>
                <span className="user-choice-text">
                  <strong>{user.name}</strong>
                  <span className="muted">{user.email}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </Dialog>
  );
}
