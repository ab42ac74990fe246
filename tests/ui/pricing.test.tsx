import { act, screen, waitFor, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { browser } from "@/src/features/billing/lib/browser";
import { fake } from "./helpers/fakeConvex";
import { paid, plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

let redirect: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
  sessionStorage.clear();
});

afterEach(() => {
  vi.restoreAllMocks();
});

function card(tier: string) {
  return within(screen.getByTestId(`pricing-card-${tier}`));
}

describe("pricing page buttons by tier", () => {
  it("a free user sees Upgrade on starter, pro and elite, and Free marked current", () => {
    fake.setQuery("billing:subscription", subscription());
    renderApp(<PricingPage />);

    expect(card("free").getByText("Current plan")).toBeInTheDocument();
    expect(card("free").queryByRole("button", { name: "Upgrade" })).toBeNull();
    for (const tier of ["starter", "pro", "elite"]) {
      expect(card(tier).getByRole("button", { name: "Upgrade" })).toHaveAttribute("data-testid", `upgrade-button-${tier}`);
    }
  });

  it("a pro subscriber sees Upgrade only on elite; free is Included and starter switches at period end", () => {
    fake.setQuery("billing:subscription", paid("pro"));
    renderApp(<PricingPage />);

    expect(screen.getAllByRole("button", { name: "Upgrade" })).toHaveLength(1);
    expect(screen.getByTestId("upgrade-button-elite")).toBeEnabled();
    expect(card("pro").getByText("Current plan")).toBeInTheDocument();
    expect(card("free").getByText("Included")).toBeInTheDocument();
    expect(card("starter").getByRole("button", { name: "Switch at period end" })).toHaveAttribute("data-testid", "switch-button-starter");
    expect(screen.queryByTestId("upgrade-button-starter")).toBeNull();
  });

  it("an elite user has nothing to upgrade to", () => {
    fake.setQuery("billing:subscription", paid("elite"));
    renderApp(<PricingPage />);
    expect(screen.queryByRole("button", { name: "Upgrade" })).toBeNull();
    expect(card("elite").getByText("Current plan")).toBeInTheDocument();
  });

  it("shows prices per interval and switches to yearly", async () => {
    fake.setQuery("billing:subscription", subscription());
    const { user } = renderApp(<PricingPage />);

    expect(screen.getByTestId("price-pro")).toHaveTextContent("$29/month");
    expect(screen.getByTestId("price-free")).toHaveTextContent("Free");
    await user.click(screen.getByTestId("interval-toggle"));
    expect(screen.getByTestId("interval-toggle")).toHaveAttribute("aria-checked", "true");
    expect(screen.getByTestId("price-pro")).toHaveTextContent("$290/year");
    expect(screen.getByText(/Save 17%/)).toBeInTheDocument();
  });

  it("shows skeletons while plans load and sign-in buttons when signed out", async () => {
    fake.deleteQuery("plans:list");
    fake.setAuth({ isAuthenticated: false });
    fake.setQuery("billing:subscription", null);
    const { user, session } = renderApp(<PricingPage />);
    expect(screen.getAllByRole("status", { name: "Loading plans" }).length).toBeGreaterThan(0);

    fake.pushQuery("plans:list", plans);
    const button = screen.getByTestId("upgrade-button-pro");
    expect(button).toHaveTextContent("Sign in to upgrade");
    await user.click(button);
    expect(session.openSignIn).toHaveBeenCalledTimes(1);
  });
});

describe("checkout from the pricing page", () => {
  it("calls createCheckoutSession with tier and interval, disables buttons while pending, then redirects", async () => {
    fake.setQuery("billing:subscription", subscription());
    let resolve!: (value: { url: string }) => void;
    const checkout = fake.setAction("billing:createCheckoutSession", () => new Promise((r) => (resolve = r)));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("interval-toggle"));
    await user.click(screen.getByTestId("upgrade-button-pro"));

    expect(checkout).toHaveBeenCalledWith({ tier: "pro", interval: "year" });
    const pending = screen.getByTestId("upgrade-button-pro");
    expect(pending).toBeDisabled();
    expect(pending).toHaveTextContent("Redirecting…");
    expect(screen.getByTestId("upgrade-button-elite")).toBeDisabled();

    // A click on a disabled button does nothing; a second checkout never starts.
    await user.click(screen.getByTestId("upgrade-button-elite"));
    expect(checkout).toHaveBeenCalledTimes(1);

    resolve({ url: "https://checkout.stripe.com/c/pay/cs_test_123" });
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_test_123"));
    expect(sessionStorage.getItem("billing.checkout.previousTier")).toBe("free");
  });

  it("coming Back from Checkout (page restored from the back/forward cache) re-enables the buttons", async () => {
    fake.setQuery("billing:subscription", subscription());
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.stripe.com/c/pay/cs_back" }));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-pro"));
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_back"));
    expect(screen.getByTestId("upgrade-button-pro")).toHaveTextContent("Redirecting…");

    // A plain pageshow (a normal load) changes nothing; a restored one resets the pending state.
    act(() => {
      window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: false }));
    });
    expect(screen.getByTestId("upgrade-button-pro")).toBeDisabled();
    act(() => {
      window.dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }));
    });
    expect(screen.getByTestId("upgrade-button-pro")).toBeEnabled();
    expect(screen.getByTestId("upgrade-button-pro")).toHaveTextContent("Upgrade");

    await user.click(screen.getByTestId("upgrade-button-pro"));
    await waitFor(() => expect(checkout).toHaveBeenCalledTimes(2));
  });

  it("a subscriber's Upgrade opens the in-app plan change, not a second Checkout or the Portal", async () => {
    fake.setQuery("billing:subscription", paid("pro"));
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.example/never" }));
    const portal = fake.setAction("billing:createPortalSession", () => ({ url: "https://billing.stripe.com/p/session/sub" }));
    fake.setAction("billing:previewPlanChange", () => new Promise(() => undefined));
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));

    expect(screen.getByTestId("plan-change-dialog")).toBeInTheDocument();
    expect(portal).not.toHaveBeenCalled();
    expect(checkout).not.toHaveBeenCalled();
    expect(redirect).not.toHaveBeenCalled();
  });

  it("a canceled subscriber upgrades through Checkout again", async () => {
    fake.setQuery("billing:subscription", paid("free", { status: "canceled" }));
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.stripe.com/c/pay/cs_again" }));
    const { user } = renderApp(<PricingPage />);
    await user.click(screen.getByTestId("upgrade-button-starter"));
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_again"));
    expect(checkout).toHaveBeenCalledWith({ tier: "starter", interval: "month" });
  });

  const typedErrors = [
    { code: "NOT_AN_UPGRADE", message: "You already have a subscription. Change plans or fix payment from the billing portal.", toast: "Change your plan from Manage billing" },
    { code: "STRIPE_NOT_CONFIGURED", message: "STRIPE_SECRET_KEY is not set", toast: "Billing isn't set up yet" },
    { code: "PRICE_NOT_FOUND", message: "No price", toast: "This plan isn't available right now" },
    { code: "STRIPE_ERROR", message: "Stripe failed", toast: "The payment provider didn't respond" },
  ] as const;

  for (const { code, message, toast } of typedErrors) {
    it(`${code} becomes the toast "${toast}" and re-enables the button`, async () => {
      fake.setQuery("billing:subscription", subscription());
      fake.setAction("billing:createCheckoutSession", () => {
        throw new ConvexError({ code, message });
      });
      const { user } = renderApp(<PricingPage />);

      await user.click(screen.getByTestId("upgrade-button-starter"));

      expect(await screen.findByText(toast)).toBeInTheDocument();
      expect(screen.getByTestId("upgrade-button-starter")).toBeEnabled();
      expect(redirect).not.toHaveBeenCalled();
    });
  }

  it("UNAUTHENTICATED prompts sign-in", async () => {
    fake.setQuery("billing:subscription", subscription());
    fake.setAction("billing:createCheckoutSession", () => {
      throw new ConvexError({ code: "UNAUTHENTICATED", message: "Sign in to continue." });
    });
    const { user, session } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-pro"));
    expect(await screen.findByText("Sign in to upgrade")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(session.openSignIn).toHaveBeenCalled();
  });

  it("a network failure offers Retry, which tries again", async () => {
    fake.setQuery("billing:subscription", subscription());
    let calls = 0;
    const checkout = fake.setAction("billing:createCheckoutSession", () => {
      calls += 1;
      if (calls === 1) throw new Error("Connection lost while action was in flight");
      return { url: "https://checkout.stripe.com/c/pay/cs_retry" };
    });
    const { user } = renderApp(<PricingPage />);

    await user.click(screen.getByTestId("upgrade-button-elite"));
    expect(await screen.findByText("Couldn't reach the server")).toBeInTheDocument();
    expect(screen.getByText("Check your connection and try again.")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_retry"));
    expect(checkout).toHaveBeenCalledTimes(2);
    expect(checkout).toHaveBeenLastCalledWith({ tier: "elite", interval: "month" });
  });
});
