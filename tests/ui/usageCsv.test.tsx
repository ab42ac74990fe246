/** The usage page's pure helpers: CSV fields and rows, ledger wording, the daily series. */
import { describe, expect, it } from "vitest";
import { csvField, csvRow, ledgerCsv } from "@/src/features/usage/lib/csv";
import { drawOrderSentence, drawnFromText, reasonLabel, signedAmount } from "@/src/features/usage/lib/labels";
import { periodDays, usageSeries } from "@/src/features/usage/lib/series";
import type { LedgerEntry } from "@/src/features/usage/lib/types";

describe("CSV", () => {
  it("quotes fields with commas, quotes or line breaks and doubles inner quotes", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a, b")).toBe('"a, b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\rhere")).toBe('"cr\rhere"');
    expect(csvField(null)).toBe("");
    expect(csvField(undefined)).toBe("");
    expect(csvField(-3)).toBe("-3");
    expect(csvRow(["x", 'y,"z"', 0])).toBe('x,"y,""z""",0');
  });

  it("defuses text a spreadsheet would run as a formula, but not plain numbers", () => {
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("+cmd")).toBe("'+cmd");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("-1+2")).toBe("'-1+2");
    expect(csvField("=a,b")).toBe(`"'=a,b"`);
    expect(csvField("-3")).toBe("-3");
    expect(csvField("+10")).toBe("+10");
  });

  it("a ledger CSV is a header row and one CRLF-ended line per entry", () => {
    const rows: LedgerEntry[] = [
      {
        _id: "l1",
        _creationTime: Date.UTC(2026, 2, 5, 9, 30),
        amount: -5,
        reason: "consume",
        sourceKey: "k",
        balanceAfter: 10,
        feature: "bulk_analysis",
        drawnFrom: [{ grantId: "g", amount: 5, category: "plan_allowance" }],
      },
    ];
    expect(ledgerCsv(rows)).toBe(
      "Date (UTC),Type,Description,Feature,Amount,Balance after,Drawn from,Note,Entry ID\r\n" +
        "2026-03-05T09:30:00.000Z,consume,Used Bulk analysis,Bulk analysis,-5,10,5 from plan allowance,,l1\r\n",
    );
    expect(ledgerCsv([])).toBe("Date (UTC),Type,Description,Feature,Amount,Balance after,Drawn from,Note,Entry ID\r\n");
  });
});

describe("ledger wording", () => {
  it("returns say where the tokens went back to; zero-token parts are left out", () => {
    expect(
      drawnFromText({
        amount: 2,
        drawnFrom: [
          { grantId: "a", amount: 2, category: "plan_allowance" },
          { grantId: "b", amount: 0, category: "purchased" },
        ],
      }),
    ).toBe("2 back to plan allowance");
    expect(drawnFromText({ amount: -1, drawnFrom: [] })).toBeNull();
    expect(drawnFromText({ amount: -1 })).toBeNull();
  });

  it("labels each reason; a reason this client doesn't know reads as words", () => {
    expect(reasonLabel({ reason: "hold_release", amount: 15, feature: "bulk_analysis" })).toBe("Bulk analysis didn't finish: tokens returned");
    expect(reasonLabel({ reason: "plan_change", amount: -20 })).toBe("Allowance lowered (plan change)");
    expect(reasonLabel({ reason: "consume", amount: -1, feature: "mystery_feature" })).toBe("Used mystery_feature");
    expect(reasonLabel({ reason: "brand_new_reason" as LedgerEntry["reason"], amount: 1 })).toBe("Brand new reason");
    expect(signedAmount(1500)).toBe(`+${(1500).toLocaleString()}`);
    expect(signedAmount(-2)).toBe("\u22122");
  });

  it("the draw-order sentence names each run of a category once", () => {
    expect(drawOrderSentence(["plan_allowance", "purchased", "purchased", "admin"])).toBe(
      "Tokens are used in this order: plan allowance, then purchased, then support grant. Within that, tokens that expire sooner go first.",
    );
    expect(drawOrderSentence([])).toBe("");
  });
});

describe("daily series", () => {
  it("a period's days run from its start's UTC day to the day before its end", () => {
    expect(periodDays({ start: Date.UTC(2026, 1, 27, 15), end: Date.UTC(2026, 2, 2, 15) })).toEqual([
      "2026-02-27",
      "2026-02-28",
      "2026-03-01",
      "2026-03-02",
    ]);
    expect(periodDays({ start: 10, end: 10 })).toEqual([]);
  });

  it("sums per feature and day, orders features by use and aligns the previous period by day number", () => {
    const s = usageSeries({
      current: {
        start: Date.UTC(2026, 2, 1),
        end: Date.UTC(2026, 2, 4),
        days: [
          { day: "2026-03-01", feature: "quick_analysis", tokens: 1, runs: 1 },
          { day: "2026-03-03", feature: "bulk_analysis", tokens: 10, runs: 1 },
          { day: "2026-03-09", feature: "bulk_analysis", tokens: 99, runs: 1 },
        ],
      },
      previous: {
        start: Date.UTC(2026, 1, 25),
        end: Date.UTC(2026, 2, 1),
        days: [
          { day: "2026-02-27", feature: "quick_analysis", tokens: 2, runs: 2 },
          { day: "2026-02-28", feature: "quick_analysis", tokens: 7, runs: 7 },
        ],
      },
    });
    expect(s.days).toEqual(["2026-03-01", "2026-03-02", "2026-03-03"]);
    expect(s.features).toEqual(["bulk_analysis", "quick_analysis"]);
    expect(s.byFeature).toEqual({ quick_analysis: [1, 0, 0], bulk_analysis: [0, 0, 10] });
    expect(s.totals).toEqual([1, 0, 10]);
    // The previous period is one day longer here: its fourth day has no partner but counts in its total.
    expect(s.previousDays).toEqual(["2026-02-25", "2026-02-26", "2026-02-27"]);
    expect(s.previousTotals).toEqual([0, 0, 2]);
    expect(s.currentTotal).toBe(11);
    expect(s.previousTotal).toBe(9);
  });
});
