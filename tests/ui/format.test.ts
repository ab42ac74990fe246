import { describe, expect, it } from "vitest";
import { currencyExponent, formatDate, formatMoney } from "@/src/lib/format";
import { priceLabel, yearlySavings } from "@/src/features/billing/lib/pricing";

// Intl separates the amount and a trailing currency sign with a no-break space.
const nbsp = (s: string) => s.replace(/\u00a0|\u202f/g, " ");

describe("formatMoney (amounts in minor units)", () => {
  it("formats USD cents as dollars", () => {
    expect(formatMoney(1999, "usd", { locale: "en-US" })).toBe("$19.99");
    expect(formatMoney(290000, "USD", { locale: "en-US" })).toBe("$2,900.00");
    expect(formatMoney(0, "usd", { locale: "en-US" })).toBe("$0.00");
  });

  it("formats EUR cents in the locale's style", () => {
    expect(nbsp(formatMoney(1999, "eur", { locale: "de-DE" }))).toBe("19,99 €");
    expect(formatMoney(1999, "eur", { locale: "en-IE" })).toBe("€19.99");
  });

  it("does not divide zero-decimal currencies (JPY) by 100", () => {
    expect(currencyExponent("jpy")).toBe(0);
    expect(formatMoney(1500, "jpy", { locale: "en-US" })).toBe("¥1,500");
    expect(formatMoney(1500, "jpy", { locale: "ja-JP" })).toMatch(/1,500/);
  });

  it("uses three decimals where the currency has them (KWD)", () => {
    expect(currencyExponent("kwd")).toBe(3);
    expect(nbsp(formatMoney(1234, "kwd", { locale: "en-US" }))).toBe("KWD 1.234");
  });

  it("drops .00 for whole amounts only when compact", () => {
    expect(formatMoney(2900, "usd", { locale: "en-US", compact: true })).toBe("$29");
    expect(formatMoney(2950, "usd", { locale: "en-US", compact: true })).toBe("$29.50");
  });
});

describe("formatDate", () => {
  it("formats a millisecond timestamp as a date", () => {
    expect(formatDate(Date.UTC(2026, 2, 5, 12), "en-US")).toBe("Mar 5, 2026");
  });
});

describe("plan price labels", () => {
  const pro = { prices: { month: { amount: 2900, currency: "usd" }, year: { amount: 29000, currency: "usd" } } };

  it("labels monthly and yearly prices with the monthly equivalent", () => {
    expect(priceLabel(pro, "month", "en-US")).toEqual({ amount: "$29", per: "/month", monthlyEquivalent: null });
    expect(priceLabel(pro, "year", "en-US")).toEqual({ amount: "$290", per: "/year", monthlyEquivalent: "$24.17/month billed yearly" });
    expect(priceLabel({ prices: null }, "month")).toBeNull();
  });

  it("computes the best yearly saving", () => {
    expect(yearlySavings([pro, { prices: null }])).toBe("Save 17%");
    expect(yearlySavings([{ prices: null }])).toBeNull();
  });
});
