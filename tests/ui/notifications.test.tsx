import { screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { badgeText } from "@/src/features/notifications/components/NotificationBell";
import { fake } from "./helpers/fakeConvex";
import { balance, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function renderDashboard() {
  const router = createMemoryRouter(routes, { initialEntries: ["/"] });
  return renderApp(<RouterProvider router={router} />, { router: false });
}

const failed = {
  id: "n1",
  kind: "payment_failed",
  title: "Your payment failed",
  body: "We couldn't collect $20.00.",
  link: "https://invoice.stripe.test/i/1",
  critical: true,
  createdAt: Date.UTC(2026, 2, 5),
};
const planChanged = { id: "n2", kind: "plan_changed", title: "You are now on Pro", body: "Welcome to Pro.", link: "/billing", critical: false, createdAt: Date.UTC(2026, 2, 4), readAt: 1 };

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:check", { allowed: true, cost: 1, remaining: 4, reason: "ok" });
  fake.setQuery("tokens:balance", balance({ remaining: 4 }));
  fake.setQuery("tokens:alerts", []);
  fake.setQuery("billing:invoices", []);
  fake.setQuery("users:current", { _id: "u1", name: "Ada Lovelace", email: "ada@example.test", clerkUserId: "ada" });
});

describe("the notification bell", () => {
  it("shows the live unread count, lists notifications with their links, and marking read clears the badge", async () => {
    fake.setQuery("notifications:unreadCount", 1);
    fake.setQuery("notifications:list", [failed, planChanged]);
    const markRead = fake.setMutation("notifications:markRead", () => {
      fake.setQuery("notifications:unreadCount", 0);
      fake.setQuery("notifications:list", [{ ...failed, readAt: 2 }, planChanged]);
      return null;
    });
    const { user } = renderDashboard();
    expect(await screen.findByTestId("notification-count")).toHaveTextContent("1");
    await user.click(screen.getByTestId("notification-bell"));
    const panel = await screen.findByTestId("notification-panel");
    const items = within(panel).getAllByTestId("notification-item");
    expect(items.map((i) => i.textContent)).toEqual([expect.stringContaining("Your payment failed"), expect.stringContaining("You are now on Pro")]);
    expect(within(items[0]!).getByRole("link", { name: "Open" })).toHaveAttribute("href", "https://invoice.stripe.test/i/1");
    expect(within(items[1]!).getByRole("link", { name: "Open" })).toHaveAttribute("href", "/billing");
    await user.click(within(items[0]!).getByTestId("notification-mark-read"));
    expect(markRead).toHaveBeenCalledWith({ id: "n1" });
    await waitFor(() => expect(screen.queryByTestId("notification-count")).toBeNull());
  });

  it("says so when there is nothing, and offers the email settings without critical kinds", async () => {
    fake.setQuery("notifications:unreadCount", 0);
    fake.setQuery("notifications:list", []);
    fake.setQuery("notifications:preferences", {
      mutedKinds: ["plan_changed"],
      optionalKinds: [
        { kind: "plan_changed", label: "Plan changes" },
        { kind: "refund_received", label: "Refunds" },
      ],
      billingEmail: "ada@example.test",
    });
    const save = fake.setMutation("notifications:setPreferences", () => null);
    const { user } = renderDashboard();
    await user.click(await screen.findByTestId("notification-bell"));
    expect(await screen.findByTestId("notification-empty")).toBeInTheDocument();
    await user.click(screen.getByTestId("notification-settings-toggle"));
    const settings = await screen.findByTestId("notification-settings");
    expect(settings).toHaveTextContent("ada@example.test");
    expect(within(settings).getByTestId("notification-email-plan_changed")).not.toBeChecked();
    await user.click(within(settings).getByTestId("notification-email-refund_received"));
    expect(save).toHaveBeenCalledWith({ mutedKinds: ["plan_changed", "refund_received"] });
  });

  it("caps the badge at 99+", () => {
    expect(badgeText(5)).toBe("5");
    expect(badgeText(100)).toBe("99+");
  });
});
