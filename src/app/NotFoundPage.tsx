import { Link } from "react-router-dom";
import { ROUTES } from "@/src/lib/routes";

export function NotFoundPage() {
  return (
    <section className="card empty-state" data-testid="not-found">
      <h1>Page not found</h1>
      <p className="muted">That page doesn't exist.</p>
      <Link className="button button-primary" to={ROUTES.dashboard.path}>
        Go to the dashboard
      </Link>
    </section>
  );
}
