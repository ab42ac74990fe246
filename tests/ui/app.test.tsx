import { screen, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { fake } from "./helpers/fakeConvex";
import { balance, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  return renderApp(<RouterProvider router={router} />, { router: false });
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:check", { allowed: true, cost: 1, remaining: 40, reason: "ok" });
  fake.setQuery("billing:invoices", []);
});

afterEach(() => vi.restoreAllMocks());

describe("app shell and routes", () => {
  it("signed out: the dashboard shows a sign-in call to action and pricing; no plan badge or meter", async () => {
    fake.setAuth({ isAuthenticated: false });
    fake.setQuery("billing:subscription", null);
    fake.setQuery("tokens:balance", null);
    const { user, session } = renderAt("/");

    expect(await screen.findByTestId("sign-in-cta")).toBeInTheDocument();
    expect(screen.getByTestId("pricing-card-pro")).toBeInTheDocument();
    expect(screen.queryByTestId("plan-badge")).toBeNull();
    expect(screen.queryByTestId("token-meter")).toBeNull();
    await user.click(screen.getByTestId("demo-sign-in"));
    expect(session.openSignIn).toHaveBeenCalled();
  });

  it("signed in: header shows plan badge, live token meter and the account menu with sign out", async () => {
    fake.setQuery("billing:subscription", paid("pro"));
    fake.setQuery("tokens:balance", balance({ allowance: 150, used: 8, remaining: 142 }));
    fake.setQuery("users:current", { _id: "u1", name: "Ada Lovelace", email: "ada@example.test", clerkUserId: "ada" });
    const { user, session } = renderAt("/");

    expect(await screen.findByRole("heading", { name: "Welcome back, Ada" })).toBeInTheDocument();
    expect(screen.getByTestId("plan-badge")).toHaveTextContent("Pro");
    expect(screen.getByTestId("token-meter")).toHaveTextContent("142");
    fake.pushQuery("tokens:balance", balance({ allowance: 150, used: 9, remaining: 141 }));
    expect(screen.getByTestId("token-meter")).toHaveTextContent("141");

    await user.click(screen.getByTestId("account-menu"));
    expect(screen.getByTestId("account-name")).toHaveTextContent("Ada Lovelace");
    await user.click(screen.getByTestId("sign-out"));
    expect(session.signOut).toHaveBeenCalled();
  });

  it("the header meter says how many tokens running jobs hold, and only while they do", async () => {
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("tokens:balance", balance({ allowance: 50, used: 0, held: 15, remaining: 35 }));
    fake.setQuery("users:current", { _id: "u1", name: "Ada Lovelace", email: "ada@example.test", clerkUserId: "ada" });
    renderAt("/");

    expect(await screen.findByTestId("token-meter")).toHaveTextContent(/^35$/);
    expect(screen.getByTestId("token-meter-held")).toHaveTextContent("15 reserved");
    expect(screen.getByRole("link", { name: "35 tokens left, 15 tokens reserved for running jobs" })).toBeInTheDocument();

    fake.pushQuery("tokens:balance", balance({ allowance: 50, used: 15, held: 0, remaining: 35 }));
    expect(screen.queryByTestId("token-meter-held")).toBeNull();
    expect(screen.getByRole("link", { name: "35 tokens left" })).toBeInTheDocument();
  });

  it("/billing signed out asks to sign in", async () => {
    fake.setAuth({ isAuthenticated: false });
    fake.setQuery("billing:subscription", null);
    renderAt("/billing");
    expect(await screen.findByText("Sign in to see your billing")).toBeInTheDocument();
  });

  it("unknown paths render the 404 page", async () => {
    fake.setQuery("billing:subscription", paid("pro"));
    fake.setQuery("tokens:balance", balance());
    renderAt("/nope");
    expect(await screen.findByTestId("not-found")).toHaveTextContent("Page not found");
  });

  it("a failing query shows the section's error state, not a blank page", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    fake.setQuery("billing:subscription", paid("pro"));
    fake.setQuery("tokens:balance", balance());
    fake.setQuery("billing:invoices", () => {
      throw new Error("Server Error");
    });
    renderAt("/billing");
    const error = await screen.findByTestId("error-state");
    expect(within(error).getByRole("button", { name: "Try again" })).toBeInTheDocument();
    // The header and the rest of the page survive.
    expect(screen.getByTestId("plan-badge")).toHaveTextContent("Pro");
    expect(screen.getByTestId("subscription-tier")).toHaveTextContent("Pro");
  });
});
