/**
 * The visitor's currency on the pricing page (docs/BILLING_COMPONENT.md
 * "Currencies"): the browser locale picks it, the switch changes and
 * remembers it, Checkout and token packs are bought in it, and an account
 * Stripe already bills in a currency is locked to it with a note.
 */
import { screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PricingPage } from "@/src/features/billing/components/pricing/PricingPage";
import { TokenPacks } from "@/src/features/billing/components/pricing/TokenPacks";
import { browser } from "@/src/features/billing/lib/browser";
import { CURRENCY_STORAGE_KEY, currencyForLocale, currencyForLocales, resolveCurrency } from "@/src/features/billing/lib/currency";
import { humanizeError } from "@/src/lib/errors";
import { ConvexError } from "convex/values";
import { fake } from "./helpers/fakeConvex";
import { plans, subscription } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", () => import("./helpers/convexReactMock"));

function useLanguages(languages: string[]) {
  vi.spyOn(navigator, "languages", "get").mockReturnValue(languages);
}

beforeEach(() => {
  fake.reset();
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", subscription());
  fake.setQuery("billing:currency", { billedCurrency: null });
  vi.spyOn(browser, "redirect").mockImplementation(() => undefined);
  localStorage.clear();
  sessionStorage.clear();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const price = (tier: string) => screen.getByTestId(`price-${tier}`).textContent ?? "";

describe("the currency rule", () => {
  it("maps locales: en-GB → GBP; euro-area regions and languages → EUR; everything else → USD", () => {
    expect(currencyForLocale("en-GB")).toBe("gbp");
    for (const tag of ["de-DE", "de", "fr-FR", "fr", "es", "it-IT", "nl", "pt-PT", "fi", "en-IE", "de-AT", "el-GR"]) {
      expect([tag, currencyForLocale(tag)]).toEqual([tag, "eur"]);
    }
    for (const tag of ["en-US", "en", "fr-CA", "de-CH", "ja-JP", "pt-BR", "not a locale!"]) {
      expect([tag, currencyForLocale(tag)]).toEqual([tag, "usd"]);
    }
    expect(currencyForLocales(["en-GB", "de-DE"])).toBe("gbp");
    expect(currencyForLocales([])).toBe("usd");
    expect(resolveCurrency("eur", "gbp", ["en-US"])).toEqual({ currency: "eur", source: "account" });
    expect(resolveCurrency(null, "gbp", ["de-DE"])).toEqual({ currency: "gbp", source: "chosen" });
    expect(resolveCurrency(undefined, "xyz", ["de-DE"])).toEqual({ currency: "eur", source: "locale" });
  });

  it("humanizes CURRENCY_LOCKED", () => {
    const human = humanizeError(new ConvexError({ code: "CURRENCY_LOCKED", message: "…", currency: "eur" }));
    expect(human).toMatchObject({ code: "CURRENCY_LOCKED", title: "Your account is billed in EUR", retryable: false });
  });
});

describe("pricing page currency", () => {
  it("a German browser sees euro prices and buys in EUR", async () => {
    useLanguages(["de-DE", "en"]);
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.test/eur" }));
    const { user } = renderApp(<PricingPage />, { route: "/pricing" });
    expect(screen.getByTestId("currency-select")).toHaveValue("eur");
    expect(price("pro")).toContain("€");
    expect(price("pro")).toContain("27");
    expect(screen.getByTestId("overage-rate-pro")).toHaveTextContent("€0.11");
    await user.click(screen.getByTestId("upgrade-button-pro"));
    expect(checkout).toHaveBeenCalledWith({ tier: "pro", interval: "month", currency: "eur" });
  });

  it("a US browser sees dollars and Checkout is called as before (no currency)", async () => {
    useLanguages(["en-US"]);
    const checkout = fake.setAction("billing:createCheckoutSession", () => ({ url: "https://checkout.test/usd" }));
    const { user } = renderApp(<PricingPage />, { route: "/pricing" });
    expect(screen.getByTestId("currency-select")).toHaveValue("usd");
    expect(price("pro")).toContain("$29");
    await user.click(screen.getByTestId("upgrade-button-starter"));
    expect(checkout).toHaveBeenCalledWith({ tier: "starter", interval: "month" });
  });

  it("the switch changes the prices and is remembered", async () => {
    useLanguages(["en-US"]);
    const { user, unmount } = renderApp(<PricingPage />, { route: "/pricing" });
    await user.selectOptions(screen.getByTestId("currency-select"), "gbp");
    expect(price("elite")).toContain("£79");
    expect(localStorage.getItem(CURRENCY_STORAGE_KEY)).toBe("gbp");
    unmount();
    renderApp(<PricingPage />, { route: "/pricing" });
    expect(screen.getByTestId("currency-select")).toHaveValue("gbp");
  });

  it("an account billed in EUR sees EUR, the switch disabled and the note, whatever the browser or the choice", () => {
    useLanguages(["en-GB"]);
    localStorage.setItem(CURRENCY_STORAGE_KEY, "usd");
    fake.setQuery("billing:currency", { billedCurrency: "eur" });
    renderApp(<PricingPage />, { route: "/pricing" });
    const select = screen.getByTestId("currency-select");
    expect(select).toHaveValue("eur");
    expect(select).toBeDisabled();
    expect(screen.getByTestId("currency-locked-note")).toHaveTextContent(
      "Your account is billed in EUR. Stripe keeps a customer in one currency once billed",
    );
    expect(price("starter")).toContain("€9");
  });
});

describe("token packs", () => {
  it("are priced and bought in the visitor's currency", async () => {
    useLanguages(["en-GB"]);
    const topUp = fake.setAction("billing:createTopUpCheckoutSession", () => ({ url: "https://checkout.test/gbp" }));
    const { user } = renderApp(<TokenPacks purchasedBefore={0} />);
    expect(screen.getByTestId("token-pack-price-pack_500")).toHaveTextContent("£32");
    await user.click(within(screen.getByTestId("buy-tokens-pack_500").parentElement!).getByRole("button"));
    expect(topUp).toHaveBeenCalledWith({ packId: "pack_500", currency: "gbp" });
  });
});
