import { screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { browser } from "@/src/features/billing/lib/browser";
import { formatDate } from "@/src/lib/format";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { DAY, NOW, balance, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

const usd = (n: number) => new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" }).format(n);
type Attention = NonNullable<SubscriptionView["attention"]>;

function attention(kind: Attention["kind"], overrides: Partial<Attention> = {}): Attention {
  return { kind, hostedInvoiceUrl: "https://invoice.stripe.com/i/open", amountDue: 2900, currency: "usd", ...overrides };
}

function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  return renderApp(<RouterProvider router={router} />, { router: false });
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("tokens:check", { allowed: true, cost: 1, remaining: 40, reason: "ok" });
  fake.setQuery("tokens:balance", balance());
  fake.setQuery("billing:invoices", []);
  fake.setQuery("users:current", { _id: "u1", name: "Ada Lovelace", email: "ada@example.test", clerkUserId: "ada" });
});

afterEach(() => vi.restoreAllMocks());

describe("payment banner on every signed-in page", () => {
  it("past_due on the dashboard: failed payment, grace date, Pay invoice and Update card", async () => {
    const redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
    const portal = fake.setAction("billing:createPortalSession", () => ({ url: "https://billing.stripe.com/p/session/1" }));
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", status: "past_due", graceEndsAt: NOW + 7 * DAY, attention: attention("past_due") }));
    const { user } = renderAt("/");

    const banner = await screen.findByTestId("payment-banner");
    expect(banner).toHaveAttribute("data-kind", "past_due");
    expect(banner).toHaveAttribute("role", "alert");
    expect(banner).toHaveTextContent("Your last payment failed.");
    expect(banner).toHaveTextContent(`Update your card or pay the invoice by ${formatDate(NOW + 7 * DAY)} to keep Pro.`);
    expect(within(banner).getByTestId("payment-banner-pay")).toHaveTextContent("Pay invoice");
    expect(within(banner).getByTestId("payment-banner-pay")).toHaveAttribute("href", "https://invoice.stripe.com/i/open");

    await user.click(within(banner).getByTestId("payment-banner-update-card"));
    expect(portal).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://billing.stripe.com/p/session/1"));
  });

  it("action_required: worded as a confirmation, not a decline, with the link", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", attention: attention("action_required", { amountDue: 7000 }) }));
    renderAt("/");

    const banner = await screen.findByTestId("payment-banner");
    expect(banner).toHaveAttribute("data-kind", "action_required");
    expect(banner).toHaveAttribute("role", "status");
    expect(banner).toHaveTextContent("Confirm your payment.");
    expect(banner).toHaveTextContent(`Your bank asks you to confirm the payment of ${usd(70)} for Pro.`);
    expect(banner).not.toHaveTextContent(/failed|declined/i);
    expect(within(banner).getByTestId("payment-banner-pay")).toHaveTextContent("Confirm payment");
  });

  it("unpaid and incomplete have their own wording", async () => {
    fake.setQuery("billing:subscription", paid("starter", { planTier: "pro", status: "unpaid", attention: attention("unpaid") }));
    renderAt("/pricing");
    const banner = await screen.findByTestId("payment-banner");
    expect(banner).toHaveAttribute("data-kind", "unpaid");
    expect(banner).toHaveTextContent("Your plan is on hold: the invoice is unpaid.");
    expect(banner).toHaveTextContent(`Pay the open invoice of ${usd(29)} or update your card to restore Pro.`);

    fake.pushQuery("billing:subscription", paid("free", { planTier: "pro", status: "incomplete", attention: attention("incomplete", { hostedInvoiceUrl: null }) }));
    expect(screen.getByTestId("payment-banner")).toHaveAttribute("data-kind", "incomplete");
    expect(screen.getByTestId("payment-banner")).toHaveTextContent(`Complete the first payment of ${usd(29)} to start Pro.`);
    expect(screen.queryByTestId("payment-banner-pay")).toBeNull();
    expect(screen.getByTestId("payment-banner-update-card")).toBeInTheDocument();
  });

  it("shows on /billing too, and disappears once the payment goes through", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro", status: "past_due", attention: attention("past_due") }));
    renderAt("/billing");
    expect(await screen.findByTestId("payment-banner")).toBeInTheDocument();
    expect(screen.getAllByTestId("payment-banner")).toHaveLength(1);

    fake.pushQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    expect(screen.queryByTestId("payment-banner")).toBeNull();
  });

  it("no banner when nothing is owed, or when signed out", async () => {
    fake.setQuery("billing:subscription", paid("pro", { planTier: "pro" }));
    const { unmount } = renderAt("/");
    expect(await screen.findByRole("heading", { name: "Welcome back, Ada" })).toBeInTheDocument();
    expect(screen.queryByTestId("payment-banner")).toBeNull();
    unmount();

    fake.setAuth({ isAuthenticated: false });
    fake.setQuery("billing:subscription", null);
    renderAt("/");
    expect(await screen.findByTestId("sign-in-cta")).toBeInTheDocument();
    expect(screen.queryByTestId("payment-banner")).toBeNull();
  });
});
