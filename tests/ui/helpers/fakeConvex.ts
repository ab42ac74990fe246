/**
 * A stand-in for the Convex React client, keyed by function name
 * (`getFunctionName(api.billing.subscription)` → "billing:subscription").
 *
 * - Queries: `fake.setQuery(name, value | (args) => value)`; missing means
 *   loading (`undefined`), as with the real client. Setting a value re-renders
 *   subscribers, like a live update over the WebSocket.
 * - Mutations/actions: `fake.setMutation(name, fn)` / `fake.setAction(name, fn)`
 *   register `vi.fn`s the test can assert on.
 * - One-shot `useConvex().query(...)` reads the same query table.
 * - Auth: `fake.setAuth({ isLoading, isAuthenticated })`.
 */
import { act } from "@testing-library/react";
import { getFunctionName, type FunctionReference } from "convex/server";
import { vi, type Mock } from "vitest";

/** A value, or a function of the query's args (typed loosely: tests pass either). */
type QueryValue = unknown;
type Fn = Mock<(args: Record<string, unknown>) => Promise<unknown>>;

class FakeConvex {
  private queries = new Map<string, QueryValue>();
  private mutations = new Map<string, Fn>();
  private actions = new Map<string, Fn>();
  private listeners = new Set<() => void>();
  version = 0;
  auth = { isLoading: false, isAuthenticated: true };
  /** What the auth provider under test last gave ConvexProviderWithAuth. */
  authAdapter: {
    isLoading: boolean;
    isAuthenticated: boolean;
    fetchAccessToken: (args: { forceRefreshToken: boolean }) => Promise<string | null>;
  } | null = null;
  /** Every one-shot query call, in order. */
  oneShotCalls: { name: string; args: Record<string, unknown> }[] = [];

  reset() {
    this.queries.clear();
    this.mutations.clear();
    this.actions.clear();
    this.oneShotCalls = [];
    this.authAdapter = null;
    this.auth = { isLoading: false, isAuthenticated: true };
    this.emit();
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit() {
    this.version += 1;
    for (const l of this.listeners) l();
  }

  setQuery(name: string, value: QueryValue) {
    this.queries.set(name, value);
    this.emit();
  }

  /** setQuery for an already-rendered tree: a live update, flushed inside act(). */
  pushQuery(name: string, value: QueryValue) {
    act(() => this.setQuery(name, value));
  }

  deleteQuery(name: string) {
    this.queries.delete(name);
    this.emit();
  }

  /** Changes what useConvexAuth reports (flushed inside act(), as a live change). */
  setAuth(auth: Partial<typeof this.auth>) {
    act(() => {
      this.auth = { ...this.auth, ...auth };
      this.emit();
    });
  }

  readQuery(name: string, args: Record<string, unknown>): unknown {
    if (!this.queries.has(name)) return undefined;
    const value = this.queries.get(name);
    return typeof value === "function" ? (value as (a: Record<string, unknown>) => unknown)(args) : value;
  }

  setMutation(name: string, impl: (args: Record<string, unknown>) => unknown): Fn {
    const fn: Fn = vi.fn((args: Record<string, unknown>) => Promise.resolve().then(() => impl(args)));
    this.mutations.set(name, fn);
    return fn;
  }

  setAction(name: string, impl: (args: Record<string, unknown>) => unknown): Fn {
    const fn: Fn = vi.fn((args: Record<string, unknown>) => Promise.resolve().then(() => impl(args)));
    this.actions.set(name, fn);
    return fn;
  }

  mutation(name: string): Fn {
    const fn = this.mutations.get(name);
    if (!fn) throw new Error(`No fake mutation registered for ${name}`);
    return fn;
  }

  action(name: string): Fn {
    const fn = this.actions.get(name);
    if (!fn) throw new Error(`No fake action registered for ${name}`);
    return fn;
  }
}

export const fake = new FakeConvex();

export function nameOf(ref: FunctionReference<"query" | "mutation" | "action">): string {
  return getFunctionName(ref);
}
