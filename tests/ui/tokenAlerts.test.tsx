import { screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { fake } from "./helpers/fakeConvex";
import { balance, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function renderDashboard() {
  const router = createMemoryRouter(routes, { initialEntries: ["/"] });
  return renderApp(<RouterProvider router={router} />, { router: false });
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:check", { allowed: true, cost: 1, remaining: 4, reason: "ok" });
  fake.setQuery("tokens:balance", balance({ remaining: 4 }));
  fake.setQuery("billing:invoices", []);
  fake.setQuery("users:current", { _id: "u1", name: "Ada Lovelace", email: "ada@example.test", clerkUserId: "ada" });
});

describe("token alerts on the dashboard", () => {
  it("shows each unread alert, and dismissing calls the server once", async () => {
    fake.setQuery("tokens:alerts", [
      { alertId: "allowance_80", message: "You've used 80% of this period's 50-token allowance.", balance: 10, firedAt: 2 },
      { alertId: "low_balance", message: "Only 4 tokens left.", balance: 4, firedAt: 1 },
    ]);
    const dismiss = fake.setMutation("tokens:dismissAlerts", () => {
      fake.setQuery("tokens:alerts", []);
      return 2;
    });
    const { user } = renderDashboard();
    const banner = await screen.findByTestId("token-alerts");
    expect(banner).toHaveAttribute("role", "status");
    expect(within(banner).getByTestId("token-alert-allowance_80")).toHaveTextContent("80% of this period's 50-token allowance");
    expect(within(banner).getByTestId("token-alert-low_balance")).toHaveTextContent("Only 4 tokens left.");
    await user.click(within(banner).getByTestId("token-alerts-dismiss"));
    expect(dismiss).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.queryByTestId("token-alerts")).not.toBeInTheDocument());
  });

  it("an auto-recharge waiting for the bank links to where the purchase is completed", async () => {
    const url = "https://checkout.stripe.test/c/pay/cs_3ds";
    fake.setQuery("tokens:alerts", [
      { alertId: "auto_recharge_action_required", message: "Your bank asks you to confirm the $10.00 auto-recharge.", balance: 3, firedAt: 1, actionUrl: url },
    ]);
    renderDashboard();
    const item = await screen.findByTestId("token-alert-auto_recharge_action_required");
    expect(within(item).getByRole("link", { name: "Complete the purchase" })).toHaveAttribute("href", url);
  });

  it("shows nothing when there are no unread alerts", async () => {
    fake.setQuery("tokens:alerts", []);
    renderDashboard();
    await screen.findByText(/Welcome back/);
    expect(screen.queryByTestId("token-alerts")).not.toBeInTheDocument();
  });
});
