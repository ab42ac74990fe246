import { Component, type ErrorInfo, type ReactNode } from "react";
import { humanizeError } from "@/src/lib/errors";

type Props = {
  children: ReactNode;
  /** Rendered instead of the default panel; receives a reset callback. */
  fallback?: (error: unknown, reset: () => void) => ReactNode;
  /** When this value changes the boundary resets (e.g. the route path). */
  resetKey?: unknown;
};
type State = { error: unknown; hasError: boolean; resetKey: unknown };

/**
 * Catches render errors, including errors thrown by `useQuery` when a query
 * fails, and shows a recoverable panel instead of a blank page.
 */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, hasError: false, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error, hasError: true };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    if (props.resetKey !== state.resetKey) return { resetKey: props.resetKey, hasError: false, error: null };
    return null;
  }

  componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error("UI error", error, info.componentStack);
  }

  reset = () => this.setState({ hasError: false, error: null });

  render() {
    if (!this.state.hasError) return this.props.children;
    if (this.props.fallback) return this.props.fallback(this.state.error, this.reset);
    const human = humanizeError(this.state.error);
    return (
      <div className="error-state card" role="alert" data-testid="error-state">
        <h2>{human.code === "UNKNOWN" ? "This part of the page failed to load" : human.title}</h2>
        <p className="muted">{human.description ?? "Please try again."}</p>
        <button type="button" className="button button-secondary" onClick={this.reset}>
          Try again
        </button>
      </div>
    );
  }
}
