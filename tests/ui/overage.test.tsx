/**
 * The customer sees overage as it accrues: this period's overage tokens,
 * what they will be billed (at the meter price, in the price's currency),
 * and the period's limit while overage is on.
 */
import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BillingPage } from "@/src/features/billing/components/BillingPage";
import { formatMoney } from "@/src/lib/format";
import { fake } from "./helpers/fakeConvex";
import { balance, paid } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

beforeEach(() => {
  fake.reset();
  sessionStorage.clear();
  fake.setQuery("billing:invoices", []);
  fake.setQuery("billing:subscription", paid("pro"));
});

describe("overage on the billing page", () => {
  it("shows this period's overage tokens, the estimated amount and the room left under the limit, live", () => {
    fake.setQuery("tokens:balance", balance({ allowance: 150, used: 150, remaining: 0, overage: 30, overageAmount: 360, overageCurrency: "usd", overageCap: 100 }));
    renderApp(<BillingPage />);
    const line = screen.getByTestId("tokens-overage");
    expect(line).toHaveAttribute("data-overage", "30");
    expect(line).toHaveTextContent("30 tokens used beyond your balance this period");
    expect(screen.getByTestId("tokens-overage-amount")).toHaveTextContent(formatMoney(360, "usd"));
    expect(screen.getByTestId("tokens-overage-cap")).toHaveTextContent("up to 100 tokens a period (70 left)");

    fake.pushQuery("tokens:balance", balance({ allowance: 150, used: 150, remaining: 0, overage: 42, overageAmount: 504, overageCurrency: "usd", overageCap: 100 }));
    expect(screen.getByTestId("tokens-overage-amount")).toHaveTextContent(formatMoney(504, "usd"));
    expect(screen.getByTestId("tokens-overage-cap")).toHaveTextContent("(58 left)");
  });

  it("says nothing about overage where it is blocked (no limit) and none was used", () => {
    fake.setQuery("tokens:balance", balance({ overage: 0 }));
    renderApp(<BillingPage />);
    expect(screen.queryByTestId("tokens-overage")).toBeNull();
    expect(screen.queryByTestId("tokens-overage-cap")).toBeNull();
  });

  it("with overage on but none used yet, explains the limit without an amount", () => {
    fake.setQuery("tokens:balance", balance({ overage: 0, overageCap: 500 }));
    renderApp(<BillingPage />);
    expect(screen.queryByTestId("tokens-overage")).toBeNull();
    expect(screen.getByTestId("tokens-overage-cap")).toHaveTextContent("up to 500 tokens a period;");
  });
});
