import { act, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CheckoutSuccessPage, isActivated } from "@/src/features/billing/components/CheckoutSuccessPage";
import { fake } from "./helpers/fakeConvex";
import { balance, paid, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

beforeEach(() => {
  fake.reset();
  sessionStorage.clear();
});

afterEach(() => {
  vi.useRealTimers();
});

const status = () => screen.getByTestId("success-status");

describe("/billing/success", () => {
  it("shows Activating, then flips live to the new plan when the subscription updates", () => {
    sessionStorage.setItem("billing.checkout.previousTier", "free");
    fake.setQuery("billing:subscription", subscription());
    renderApp(<CheckoutSuccessPage />, { route: "/billing/success?session_id=cs_test_1" });

    expect(status()).toHaveAttribute("data-state", "activating");
    expect(status()).toHaveAttribute("data-session-id", "cs_test_1");
    expect(screen.getByRole("heading", { name: "Activating your plan…" })).toBeInTheDocument();

    // The webhook landed: the reactive query pushes the new value (no polling, no reload).
    fake.pushQuery("billing:subscription", paid("pro"));
    expect(status()).toHaveAttribute("data-state", "active");
    expect(screen.getByRole("heading", { name: "You're on Pro" })).toBeInTheDocument();
    expect(sessionStorage.getItem("billing.checkout.previousTier")).toBeNull();
  });

  it("does not count the old paid tier as activation when upgrading from it", () => {
    sessionStorage.setItem("billing.checkout.previousTier", "starter");
    fake.setQuery("billing:subscription", paid("starter"));
    renderApp(<CheckoutSuccessPage />, { route: "/billing/success" });
    expect(status()).toHaveAttribute("data-state", "activating");
    fake.pushQuery("billing:subscription", paid("elite"));
    expect(screen.getByRole("heading", { name: "You're on Elite" })).toBeInTheDocument();
  });

  it("after the timeout without activation, says so and links to /billing; still flips if it arrives later", () => {
    vi.useFakeTimers();
    fake.setQuery("billing:subscription", subscription());
    renderApp(<CheckoutSuccessPage timeoutMs={30_000} />, { route: "/billing/success" });

    act(() => {
      vi.advanceTimersByTime(29_000);
    });
    expect(status()).toHaveAttribute("data-state", "activating");
    act(() => {
      vi.advanceTimersByTime(1_000);
    });
    expect(status()).toHaveAttribute("data-state", "delayed");
    expect(screen.getByTestId("success-billing-link")).toHaveAttribute("href", "/billing");

    fake.pushQuery("billing:subscription", paid("starter", { status: "trialing" }));
    expect(screen.getByRole("heading", { name: "Your Starter trial has started" })).toBeInTheDocument();
  });

  it("a token-pack checkout waits for the purchased tokens, then says they were added", () => {
    sessionStorage.setItem("billing.checkout.topUp", JSON.stringify({ packId: "pack_100", tokens: 100, purchasedBefore: 0 }));
    fake.setQuery("billing:subscription", paid("starter"));
    fake.setQuery("tokens:balance", balance({ purchased: 0 }));
    renderApp(<CheckoutSuccessPage />, { route: "/billing/success?session_id=cs_pay" });

    expect(status()).toHaveAttribute("data-kind", "top_up");
    expect(screen.getByRole("heading", { name: "Adding your tokens…" })).toBeInTheDocument();
    fake.pushQuery("tokens:balance", balance({ purchased: 100, remaining: 140 }));
    expect(screen.getByRole("heading", { name: "100 tokens added" })).toBeInTheDocument();
    expect(sessionStorage.getItem("billing.checkout.topUp")).toBeNull();
  });

  it("isActivated needs a paid, active or trialing tier above the previous one", () => {
    expect(isActivated(undefined, null)).toBe(false);
    expect(isActivated(null, null)).toBe(false);
    expect(isActivated(subscription(), null)).toBe(false);
    expect(isActivated(paid("pro", { status: "incomplete" }), null)).toBe(false);
    expect(isActivated(paid("pro"), null)).toBe(true);
    expect(isActivated(paid("pro"), "pro")).toBe(false);
    expect(isActivated(paid("elite"), "pro")).toBe(true);
  });
});
