/**
 * Issue 12, currencies: a visitor whose browser says de-DE sees the pricing
 * page in euros, buys Pro in EUR through Checkout, and their invoices on
 * /billing are in EUR; once billed, the currency switch is locked to EUR and
 * says why.
 */
import { PLANS } from "../../convex/billing/model/plans";
import { CARDS, expect, payOnCheckout, signIn, startUpgradeFromPricing, test } from "./support/app";
import { E2E_USERS } from "./support/users";

test.use({ journeyName: "12-currency", locale: "de-DE" });

/** The page's own formatting (the browser's locale): "27 €" / "27,00 €". */
const eur = (minor: number, compact = false) =>
  new Intl.NumberFormat("de-DE", {
    style: "currency",
    currency: "EUR",
    ...(compact && minor % 100 === 0 ? { minimumFractionDigits: 0, maximumFractionDigits: 0 } : {}),
  }).format(minor / 100);
/** Compares text with Intl's output, whatever space (NBSP or narrow NBSP) it put before the symbol. */
const spaced = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s/g, "\\s"));

test("a EUR visitor sees euros, buys in EUR and is billed in EUR; the switch is then locked", async ({ page, journey }) => {
  const user = E2E_USERS.currency;
  const proEur = PLANS.pro.prices!.month.currencyOptions.eur;
  await signIn(page, user);
  await page.goto("/pricing");
  const select = page.getByTestId("currency-select");
  await expect(select).toHaveValue("eur");
  await expect(select).toBeEnabled();
  await expect(page.getByTestId("price-pro")).toContainText(spaced(eur(proEur, true)));
  await expect(page.getByTestId("price-pro")).not.toContainText("$");
  await journey.shot("pricing-in-eur");

  await startUpgradeFromPricing(page, "pro");
  // The simulator's hosted Checkout charges the price's EUR option.
  await expect(page.getByTestId("checkout-total")).toHaveText(`EUR ${(proEur / 100).toFixed(2)}`);
  await payOnCheckout(page, CARDS.visa, user.name);
  await expect(page.getByTestId("success-status")).toHaveAttribute("data-state", "active");
  await expect(page.getByTestId("plan-badge")).toHaveText("Pro");

  await page.getByRole("link", { name: "Billing", exact: true }).click();
  const invoice = page.getByTestId("invoice-row").first();
  await expect(invoice.getByTestId("invoice-amount")).toHaveText(spaced(eur(proEur)));
  // Token packs are offered in the account's currency too.
  await expect(page.getByTestId("token-pack-price-pack_100")).toContainText("€");
  await journey.shot("billing-in-eur");

  // Stripe keeps a billed customer in one currency: the switch is locked and says so.
  await page.goto("/pricing");
  await expect(select).toHaveValue("eur");
  await expect(select).toBeDisabled();
  await expect(page.getByTestId("currency-locked-note")).toContainText("Your account is billed in EUR");
  await journey.shot("switch-locked");
});
