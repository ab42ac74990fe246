import { screen, waitFor } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useUpgradeModal } from "@/src/features/billing/components/upgrade/context";
import { browser } from "@/src/features/billing/lib/browser";
import { fake } from "./helpers/fakeConvex";
import { paid, plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function Opener() {
  const { openUpgrade } = useUpgradeModal();
  return (
    <>
      <button type="button" onClick={() => openUpgrade({ reason: "tier_required", feature: "deep_analysis", requiredTier: "pro" })}>
        Open upgrade
      </button>
      <button type="button">Elsewhere</button>
    </>
  );
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", subscription());
});

afterEach(() => vi.restoreAllMocks());

describe("UpgradeModal", () => {
  it("is a modal dialog labelled by its title, listing the higher tiers with what each adds", async () => {
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));

    const dialog = screen.getByRole("dialog", { name: "Deep analysis needs Pro" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    expect(screen.getByTestId("upgrade-modal-upgrade-starter")).toBeInTheDocument();
    expect(screen.getByTestId("upgrade-modal-upgrade-pro")).toHaveTextContent("Upgrade to Pro");
    expect(screen.getByTestId("upgrade-modal-upgrade-elite")).toBeInTheDocument();
    expect(screen.getByTestId("upgrade-modal-option-pro")).toHaveTextContent("Recommended");
    expect(screen.getByTestId("upgrade-modal-option-pro")).toHaveTextContent("+145 tokens per period");
    expect(screen.queryByTestId("upgrade-modal-upgrade-free")).toBeNull();
  });

  it("only offers tiers above the current one", async () => {
    fake.setQuery("billing:subscription", paid("pro"));
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    expect(screen.queryByTestId("upgrade-modal-upgrade-starter")).toBeNull();
    expect(screen.queryByTestId("upgrade-modal-upgrade-pro")).toBeNull();
    expect(screen.getByTestId("upgrade-modal-upgrade-elite")).toBeInTheDocument();
  });

  it("moves focus in, traps Tab and Shift+Tab, and Escape closes and restores focus", async () => {
    const { user } = renderApp(<Opener />);
    const opener = screen.getByRole("button", { name: "Open upgrade" });
    await user.click(opener);
    const dialog = screen.getByRole("dialog");

    const close = screen.getByTestId("upgrade-modal-close");
    const last = screen.getByTestId("upgrade-modal-dismiss");
    expect(close).toHaveFocus();

    // Forward through every control never leaves the dialog, and wraps to the first.
    for (let i = 0; i < 12; i++) {
      await user.tab();
      expect(dialog).toContainElement(document.activeElement as HTMLElement);
    }
    last.focus();
    await user.tab();
    expect(close).toHaveFocus();

    // Backward from the first wraps to the last.
    await user.tab({ shift: true });
    expect(last).toHaveFocus();
    expect(screen.getByRole("button", { name: "Elsewhere" })).not.toHaveFocus();

    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(opener).toHaveFocus();
  });

  it("the close button closes it", async () => {
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    await user.click(screen.getByTestId("upgrade-modal-close"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("upgrades through Checkout with the chosen interval, pending while in flight", async () => {
    const redirect = vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
    let resolve!: (v: { url: string }) => void;
    const checkout = fake.setAction("billing:createCheckoutSession", () => new Promise((r) => (resolve = r)));
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    await user.click(screen.getByTestId("upgrade-modal-interval"));
    await user.click(screen.getByTestId("upgrade-modal-upgrade-pro"));

    expect(checkout).toHaveBeenCalledWith({ tier: "pro", interval: "year" });
    expect(screen.getByTestId("upgrade-modal-upgrade-pro")).toBeDisabled();
    expect(screen.getByTestId("upgrade-modal-upgrade-elite")).toBeDisabled();
    resolve({ url: "https://checkout.stripe.com/c/pay/cs_modal" });
    await waitFor(() => expect(redirect).toHaveBeenCalledWith("https://checkout.stripe.com/c/pay/cs_modal"));
  });

  it("shows a typed checkout error as a toast and stays open", async () => {
    fake.setAction("billing:createCheckoutSession", () => {
      throw new ConvexError({ code: "STRIPE_NOT_CONFIGURED", message: "missing", variable: "STRIPE_SECRET_KEY" });
    });
    const { user } = renderApp(<Opener />);
    await user.click(screen.getByRole("button", { name: "Open upgrade" }));
    await user.click(screen.getByTestId("upgrade-modal-upgrade-elite"));
    expect(await screen.findByText("Billing isn't set up yet")).toBeInTheDocument();
    expect(screen.getByRole("dialog")).toBeInTheDocument();
    expect(screen.getByTestId("upgrade-modal-upgrade-elite")).toBeEnabled();
  });
});
