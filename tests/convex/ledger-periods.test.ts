import { describe, expect, test } from "vitest";
import { freePeriod, freePeriodSourceKey, utcMonthBounds, utcMonthId } from "../../convex/billing/model/periods";

const iso = (ms: number) => new Date(ms).toISOString();

describe("free-tier periods (UTC months)", () => {
  test("January 31 late evening belongs to January, ending at February 1", () => {
    const p = freePeriod(Date.parse("2026-01-31T23:59:59.999Z"));
    expect(p.periodKey).toBe("free:2026-01");
    expect(iso(p.periodStart)).toBe("2026-01-01T00:00:00.000Z");
    expect(iso(p.periodEnd)).toBe("2026-02-01T00:00:00.000Z");
  });

  test("February 29 of a leap year: the month has 29 days and ends at March 1", () => {
    const p = freePeriod(Date.parse("2028-02-29T12:00:00Z"));
    expect(p.periodKey).toBe("free:2028-02");
    expect(iso(p.periodStart)).toBe("2028-02-01T00:00:00.000Z");
    expect(iso(p.periodEnd)).toBe("2028-03-01T00:00:00.000Z");
    expect((p.periodEnd - p.periodStart) / 86_400_000).toBe(29);
    // Non-leap February has 28.
    const q = freePeriod(Date.parse("2026-02-28T12:00:00Z"));
    expect((q.periodEnd - q.periodStart) / 86_400_000).toBe(28);
  });

  test("December rolls over to January of the next year", () => {
    const p = freePeriod(Date.parse("2026-12-31T23:30:00Z"));
    expect(p.periodKey).toBe("free:2026-12");
    expect(iso(p.periodEnd)).toBe("2027-01-01T00:00:00.000Z");
    expect(freePeriod(p.periodEnd).periodKey).toBe("free:2027-01");
  });

  test("the boundary instant belongs to the new month (periodEnd is exclusive)", () => {
    const jan = freePeriod(Date.parse("2026-01-15T00:00:00Z"));
    expect(freePeriod(jan.periodEnd).periodKey).toBe("free:2026-02");
    expect(freePeriod(jan.periodEnd - 1).periodKey).toBe("free:2026-01");
  });

  test("months follow one another with no gap over several years", () => {
    let ms = Date.parse("2025-11-20T00:00:00Z");
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) {
      const p = freePeriod(ms);
      keys.push(p.periodKey);
      expect(freePeriod(p.periodEnd).periodStart).toBe(p.periodEnd);
      ms = p.periodEnd;
    }
    expect(new Set(keys).size).toBe(40);
    expect(keys.slice(0, 3)).toEqual(["free:2025-11", "free:2025-12", "free:2026-01"]);
  });

  test("helpers agree and the grant key is period:<periodKey>", () => {
    const ms = Date.parse("2026-07-04T05:06:07Z");
    expect(utcMonthId(ms)).toBe("2026-07");
    expect(utcMonthBounds(ms)).toEqual({ start: Date.UTC(2026, 6, 1), end: Date.UTC(2026, 7, 1) });
    expect(freePeriodSourceKey(freePeriod(ms))).toBe("period:free:2026-07");
    expect(() => utcMonthId(Number.NaN)).toThrow();
  });
});
