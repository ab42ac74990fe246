/**
 * The history download: the ledger rows loaded on the page as RFC 4180 CSV
 * (header row, CRLF line ends, fields with a comma, quote or line break
 * quoted, quotes doubled), built in the browser.
 */
import { drawnFromText, featureName, reasonLabel, visibleNote } from "./labels";
import type { LedgerEntry } from "./types";

export const LEDGER_CSV_HEADER = [
  "Date (UTC)",
  "Type",
  "Description",
  "Feature",
  "Amount",
  "Balance after",
  "Drawn from",
  "Note",
  "Entry ID",
] as const;

/**
 * One CSV field. Text a spreadsheet would run as a formula (starting with
 * `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`, unless it is a plain
 * number such as `-3`; then fields with a comma, quote or line break are
 * quoted with inner quotes doubled.
 */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text) && !/^[+-]?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(fields: readonly (string | number | null | undefined)[]): string {
  return fields.map(csvField).join(",");
}

/** The CSV of `entries` (newest first, as loaded), header first; amounts as signed integers. */
export function ledgerCsv(entries: readonly LedgerEntry[]): string {
  const lines = [csvRow(LEDGER_CSV_HEADER)];
  for (const e of entries) {
    lines.push(
      csvRow([
        new Date(e._creationTime).toISOString(),
        e.reason,
        reasonLabel(e),
        e.feature ? featureName(e.feature) : "",
        e.amount,
        e.balanceAfter,
        drawnFromText(e) ?? "",
        visibleNote(e) ?? "",
        e._id,
      ]),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** `token-history-2026-03-05.csv` (the local date of `now`). */
export function csvFileName(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `token-history-${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}.csv`;
}

/** Saves `text` as a file through a temporary object URL and link click. */
export function downloadText(text: string, fileName: string, type = "text/csv;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the click has been handled; revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
