import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <section className="card empty-state" data-testid="not-found">
      <h1>Page not found</h1>
      <p className="muted">That page doesn't exist.</p>
      <Link className="button button-primary" to="/">
        Go to the dashboard
      </Link>
    </section>
  );
}
