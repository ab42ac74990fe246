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
  /** Every one-shot query call, in order. */
  oneShotCalls: { name: string; args: Record<string, unknown> }[] = [];

  reset() {
    this.queries.clear();
    this.mutations.clear();
    this.actions.clear();
    this.oneShotCalls = [];
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

  deleteQuery(name: string) {
    this.queries.delete(name);
    this.emit();
  }

  setAuth(auth: Partial<typeof this.auth>) {
    this.auth = { ...this.auth, ...auth };
    this.emit();
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
