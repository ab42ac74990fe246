/**
 * Module that replaces "convex/react" in component tests:
 *   vi.mock("convex/react", () => import("./helpers/convexReactMock"));
 * Backed by `fake` (./fakeConvex.ts).
 */
import type { FunctionReference } from "convex/server";
import { useCallback, useSyncExternalStore, type ReactNode } from "react";
import { fake, nameOf } from "./fakeConvex";

function useVersion() {
  return useSyncExternalStore(fake.subscribe, () => fake.version);
}

export function useQuery(ref: FunctionReference<"query">, args?: Record<string, unknown> | "skip"): unknown {
  useVersion();
  if (args === "skip") return undefined;
  return fake.readQuery(nameOf(ref), args ?? {});
}

/**
 * `usePaginatedQuery` over the fake: the query's value is the whole list
 * (one page, exhausted); unset = the first page loading.
 */
export function usePaginatedQuery(ref: FunctionReference<"query">, args: Record<string, unknown> | "skip") {
  useVersion();
  const value = args === "skip" ? undefined : (fake.readQuery(nameOf(ref), args) as unknown[] | undefined);
  const loadMore = useCallback(() => undefined, []);
  return value === undefined
    ? { results: [], status: "LoadingFirstPage" as const, isLoading: true, loadMore }
    : { results: value, status: "Exhausted" as const, isLoading: false, loadMore };
}

export function useMutation(ref: FunctionReference<"mutation">) {
  const name = nameOf(ref);
  return useCallback((args?: Record<string, unknown>) => fake.mutation(name)(args ?? {}), [name]);
}

export function useAction(ref: FunctionReference<"action">) {
  const name = nameOf(ref);
  return useCallback((args?: Record<string, unknown>) => fake.action(name)(args ?? {}), [name]);
}

const client = {
  query: (ref: FunctionReference<"query">, args?: Record<string, unknown>) => {
    const name = nameOf(ref);
    fake.oneShotCalls.push({ name, args: args ?? {} });
    return Promise.resolve(fake.readQuery(name, args ?? {}));
  },
};

export function useConvex() {
  return client;
}

export function useConvexAuth() {
  useVersion();
  return { ...fake.auth, isRefreshing: false };
}

export function Authenticated({ children }: { children: ReactNode }) {
  const { isLoading, isAuthenticated } = useConvexAuth();
  return !isLoading && isAuthenticated ? <>{children}</> : null;
}

export function Unauthenticated({ children }: { children: ReactNode }) {
  const { isLoading, isAuthenticated } = useConvexAuth();
  return !isLoading && !isAuthenticated ? <>{children}</> : null;
}

export function AuthLoading({ children }: { children: ReactNode }) {
  const { isLoading } = useConvexAuth();
  return isLoading ? <>{children}</> : null;
}

type AuthAdapter = {
  isLoading: boolean;
  isAuthenticated: boolean;
  fetchAccessToken: (args: { forceRefreshToken: boolean }) => Promise<string | null>;
};

/** Calls the provider's useAuth like the real one and records the latest result in `fake.authAdapter`. */
export function ConvexProviderWithAuth({ children, useAuth }: { children: ReactNode; useAuth: () => AuthAdapter }) {
  const adapter = useAuth();
  fake.authAdapter = adapter;
  return <>{children}</>;
}

export class ConvexReactClient {
  constructor(readonly url: string) {}
}
