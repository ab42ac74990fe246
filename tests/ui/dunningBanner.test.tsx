/**
 * The dunning timeline in the browser (docs/DUNNING.md): "Payment overdue
 * for N days" on every page, the suspension wording, and the restriction
 * guard that leaves only Billing reachable.
 */
import { screen } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import { formatDate } from "@/src/lib/format";
import type { SubscriptionView } from "@/src/features/billing/lib/types";
import { fake } from "./helpers/fakeConvex";
import { DAY, balance, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

type Dunning = NonNullable<SubscriptionView["dunning"]>;

function overdue(days: number, fields: Partial<Dunning> = {}): Partial<SubscriptionView> {
  const overdueSince = Date.now() - days * DAY - 60_000;
  return {
    planTier: "pro",
    status: "past_due",
    attention: { kind: "past_due", hostedInvoiceUrl: "https://invoice.stripe.com/i/open", amountDue: 2900, currency: "usd" },
    dunning: {
      overdueSince,
      stage: "overdue",
      stepDay: days,
      suspendsAt: overdueSince + 30 * DAY,
      restrictsAt: overdueSince + 45 * DAY,
      adminBanner: days >= 14,
      ...fields,
    },
  };
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

describe("dunning banner and restriction", () => {
  it("day 14: 'Payment overdue for 14 days', the suspension date and the admin warning, on the dashboard", async () => {
    const view = overdue(14);
    fake.setQuery("billing:subscription", paid("pro", view));
    renderAt("/");
    const banner = await screen.findByTestId("payment-banner");
    expect(banner).toHaveTextContent("Payment overdue for 14 days.");
    expect(banner).toHaveTextContent(`pay the invoice by ${formatDate(view.dunning!.suspendsAt!)} to keep Pro`);
    expect(banner).toHaveAttribute("data-stage", "overdue");
    expect(banner).toHaveAttribute("data-admin-banner", "true");
    expect(screen.queryByTestId("restricted-guard")).toBeNull();
  });

  it("day 30: suspended wording (features off, tokens frozen), the page still shows", async () => {
    fake.setQuery("billing:subscription", paid("free", overdue(30, { stage: "suspended", suspendsAt: null })));
    renderAt("/");
    const banner = await screen.findByTestId("payment-banner");
    expect(banner).toHaveTextContent("Your account is suspended. Payment overdue for 30 days.");
    expect(banner).toHaveTextContent("tokens are frozen");
    expect(banner).toHaveAttribute("data-stage", "suspended");
    expect(screen.queryByTestId("restricted-guard")).toBeNull();
  });

  it("day 30 on Billing: the card names the suspended plan (Pro, not Free), the tokens read frozen and no packs are offered", async () => {
    fake.setQuery("billing:subscription", paid("free", overdue(30, { stage: "suspended", suspendsAt: null })));
    fake.setQuery("tokens:balance", balance({ remaining: 150, allowance: 150, frozen: true }));
    renderAt("/billing");
    const tier = await screen.findByTestId("subscription-tier");
    expect(tier).toHaveTextContent("Pro");
    expect(screen.getByTestId("subscription-dunning-stage")).toHaveTextContent("Suspended");
    expect(screen.getByTestId("change-plan")).toHaveTextContent("Change plan");
    expect(screen.getByTestId("tokens-frozen")).toHaveTextContent("Your 150 tokens are frozen");
    expect(screen.queryByText("Need more tokens?")).toBeNull();
    expect(screen.getByTestId("token-meter-frozen")).toHaveTextContent("frozen");
  });

  it("paid up: no stage pill, no frozen note, the meter says left", async () => {
    fake.setQuery("billing:subscription", paid("pro"));
    renderAt("/billing");
    expect(await screen.findByTestId("subscription-tier")).toHaveTextContent("Pro");
    expect(screen.queryByTestId("subscription-dunning-stage")).toBeNull();
    expect(screen.queryByTestId("tokens-frozen")).toBeNull();
    expect(screen.queryByTestId("token-meter-frozen")).toBeNull();
    expect(screen.getByText("Need more tokens?")).toBeInTheDocument();
  });

  it("day 45: restricted — other pages show the guard with a link to Billing; Billing itself still works", async () => {
    fake.setQuery("billing:subscription", paid("free", overdue(45, { stage: "restricted", suspendsAt: null, restrictsAt: null })));
    renderAt("/");
    const guard = await screen.findByTestId("restricted-guard");
    expect(guard).toHaveTextContent("Your account is restricted");
    expect(screen.getByTestId("restricted-guard-billing")).toHaveAttribute("href", "/billing");
    expect(screen.getByTestId("payment-banner")).toHaveTextContent("Payment overdue for 45 days.");
  });

  it("restricted on /billing: no guard, the billing page renders", async () => {
    fake.setQuery("billing:subscription", paid("free", overdue(45, { stage: "restricted", suspendsAt: null, restrictsAt: null })));
    renderAt("/billing");
    await screen.findByTestId("payment-banner");
    expect(screen.queryByTestId("restricted-guard")).toBeNull();
  });
});
