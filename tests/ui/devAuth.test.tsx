import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from "vitest";
import type { ConvexReactClient } from "convex/react";
import { AccountMenu } from "@/src/features/auth/components/AccountMenu";
import { DevAuthProvider } from "@/src/features/auth/components/DevAuthProvider";
import { DevTokenCache } from "@/src/features/auth/hooks/devAuthClient";
import { StoreUser } from "@/src/features/auth/hooks/useStoreUser";
import { readConfig } from "@/src/lib/env";
import { fake } from "./helpers/fakeConvex";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const AUTH_URL = "http://127.0.0.1:3212";
const USERS = [
  { id: "alice", name: "Alice Free", email: "alice@example.test" },
  { id: "bob", name: "Bob Pro", email: "bob@example.test" },
];

let tokenCount = 0;
let fetchMock: Mock<(url: string, init?: RequestInit) => Promise<Response>>;

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } }));
}

beforeEach(() => {
  fake.reset();
  localStorage.clear();
  tokenCount = 0;
  fetchMock = vi.fn((url: string, init?: RequestInit): Promise<Response> => {
    if (url === `${AUTH_URL}/users`) return json(USERS);
    if (url === `${AUTH_URL}/token` && init?.method === "POST") {
      const { userId } = JSON.parse(init.body as string) as { userId: string };
      tokenCount += 1;
      return json({ token: `jwt-${userId}-${tokenCount}`, expiresAt: Date.now() + 60 * 60 * 1000 });
    }
    return json({ error: "not found" }, 404);
  });
  vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("DevTokenCache", () => {
  it("reuses a token until it nears expiry, refetches when forced or expired", async () => {
    let now = 1_000_000;
    const cache = new DevTokenCache(AUTH_URL, () => now);
    fetchMock.mockImplementation(() => json({ token: `t${++tokenCount}`, expiresAt: now + 120_000 }));

    expect(await cache.get("alice", false)).toBe("t1");
    expect(await cache.get("alice", false)).toBe("t1");
    expect(await cache.get("alice", true)).toBe("t2");
    now += 100_000; // within the 30 s margin of expiry
    expect(await cache.get("alice", false)).toBe("t3");
    expect(await cache.get("bob", false)).toBe("t4");
    expect(fetchMock).toHaveBeenCalledTimes(4);
  });

  it("shares one request between concurrent calls and rejects on a bad answer", async () => {
    const cache = new DevTokenCache(AUTH_URL);
    const [a, b] = await Promise.all([cache.get("alice", false), cache.get("alice", false)]);
    expect(a).toBe(b);
    expect(fetchMock).toHaveBeenCalledTimes(1);

    fetchMock.mockImplementation(() => json({ nope: true }));
    await expect(cache.get("bob", false)).rejects.toThrow(/unexpected token/);
  });
});

describe("DevAuthProvider", () => {
  const client = {} as ConvexReactClient;

  it("signs in as a chosen demo user, remembers it, gives Convex its token, and signs out", async () => {
    const user = userEvent.setup();
    render(
      <DevAuthProvider client={client} authUrl={AUTH_URL}>
        <AccountMenu />
      </DevAuthProvider>,
    );
    fake.setAuth({ isAuthenticated: false });
    expect(fake.authAdapter).toMatchObject({ isLoading: false, isAuthenticated: false });
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBeNull();

    await user.click(screen.getByTestId("demo-sign-in"));
    expect(screen.getByRole("dialog", { name: "Sign in as a demo user" })).toBeInTheDocument();
    await user.click(await screen.findByTestId("demo-user-bob"));

    expect(screen.queryByRole("dialog")).toBeNull();
    expect(JSON.parse(localStorage.getItem("devAuth.user")!)).toEqual({ id: "bob", name: "Bob Pro" });
    expect(fake.authAdapter!.isAuthenticated).toBe(true);
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-bob-1");
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-bob-1");
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: true })).toBe("jwt-bob-2");

    // Convex confirms the token → the account menu appears.
    fake.pushQuery("users:current", { _id: "u1", name: "Bob Pro", email: "bob@example.test", clerkUserId: "bob" });
    fake.setAuth({ isAuthenticated: true });
    await user.click(await screen.findByTestId("account-menu"));
    await user.click(screen.getByTestId("sign-out"));

    expect(localStorage.getItem("devAuth.user")).toBeNull();
    expect(fake.authAdapter!.isAuthenticated).toBe(false);
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBeNull();
  });

  it("restores the remembered user on load", async () => {
    localStorage.setItem("devAuth.user", JSON.stringify({ id: "alice", name: "Alice Free" }));
    render(
      <DevAuthProvider client={client} authUrl={AUTH_URL}>
        <span />
      </DevAuthProvider>,
    );
    expect(fake.authAdapter!.isAuthenticated).toBe(true);
    expect(await fake.authAdapter!.fetchAccessToken({ forceRefreshToken: false })).toBe("jwt-alice-1");
  });

  it("explains when the dev sign-in server is down", async () => {
    fetchMock.mockImplementation(() => Promise.reject(new TypeError("Failed to fetch")));
    const user = userEvent.setup();
    render(
      <DevAuthProvider client={client} authUrl={AUTH_URL}>
        <AccountMenu />
      </DevAuthProvider>,
    );
    fake.setAuth({ isAuthenticated: false });
    await user.click(screen.getByTestId("demo-sign-in"));
    expect(await screen.findByRole("alert")).toHaveTextContent("isn't reachable");
  });
});

describe("useStoreUser", () => {
  it("calls users.store once per identity, only after Convex confirms auth", async () => {
    const store = fake.setMutation("users:store", () => "users_1");
    fake.setAuth({ isAuthenticated: false });
    localStorage.setItem("devAuth.user", JSON.stringify({ id: "alice", name: "Alice Free" }));
    const user = userEvent.setup();
    render(
      <DevAuthProvider client={{} as ConvexReactClient} authUrl={AUTH_URL}>
        <StoreUser />
        <AccountMenu />
      </DevAuthProvider>,
    );
    expect(store).not.toHaveBeenCalled();

    fake.pushQuery("users:current", null);
    fake.setAuth({ isAuthenticated: true });
    await waitFor(() => expect(store).toHaveBeenCalledTimes(1));
    fake.pushQuery("users:current", { _id: "u1", name: "Alice Free", email: "a@x", clerkUserId: "alice" });
    expect(store).toHaveBeenCalledTimes(1);

    // Another identity → stored again.
    await user.click(screen.getByTestId("account-menu"));
    await user.click(screen.getByTestId("sign-out"));
    fake.setAuth({ isAuthenticated: false });
    await user.click(screen.getByTestId("demo-sign-in"));
    await user.click(await screen.findByTestId("demo-user-bob"));
    fake.setAuth({ isAuthenticated: true });
    await waitFor(() => expect(store).toHaveBeenCalledTimes(2));
  });
});

describe("readConfig", () => {
  it("defaults to dev sign-in against local servers", () => {
    expect(readConfig({} as ImportMetaEnv)).toEqual({ mode: "dev", convexUrl: "http://127.0.0.1:3210", devAuthUrl: "http://127.0.0.1:3212" });
  });
  it("uses Clerk when a publishable key is set", () => {
    expect(readConfig({ VITE_CLERK_PUBLISHABLE_KEY: "pk_test_x", VITE_CONVEX_URL: "https://x.convex.cloud" } as ImportMetaEnv)).toEqual({
      mode: "clerk",
      convexUrl: "https://x.convex.cloud",
      clerkPublishableKey: "pk_test_x",
    });
  });
});
