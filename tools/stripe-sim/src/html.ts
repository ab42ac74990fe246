/** Server-rendered HTML for the hosted pages: no scripts, no external assets. */

export function esc(value: string | number | null | undefined): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** Minor units → "$29.00" (two-decimal currencies; enough for the catalogue). */
export function money(amount: number, currency: string): string {
  const sign = amount < 0 ? "-" : "";
  const abs = Math.abs(amount);
  const symbol = currency.toLowerCase() === "usd" ? "$" : `${currency.toUpperCase()} `;
  return `${sign}${symbol}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** Stripe seconds → `YYYY-MM-DD` (UTC). */
export function day(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "";
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f9fc;color:#1a1f36}
main{max-width:640px;margin:32px auto;background:#fff;border-radius:8px;padding:24px 32px;box-shadow:0 2px 8px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.test{display:inline-block;background:#ffde92;color:#8a5a00;font-size:12px;padding:2px 6px;border-radius:4px;margin-bottom:12px}
label{display:block;font-size:14px;margin:12px 0 4px}
input,select{width:100%;box-sizing:border-box;padding:8px 10px;font-size:15px;border:1px solid #ccd;border-radius:4px}
button{margin-top:12px;padding:9px 16px;font-size:15px;border:0;border-radius:4px;background:#635bff;color:#fff;cursor:pointer}
button.secondary{background:#e3e8ee;color:#1a1f36}button.danger{background:#df1b41}
.error{background:#fde8ec;color:#a41c3a;padding:10px;border-radius:4px;margin:12px 0}
.message{background:#e6f6ec;color:#0e6245;padding:10px;border-radius:4px;margin:12px 0}
table{width:100%;border-collapse:collapse;font-size:14px}td,th{text-align:left;padding:6px 4px;border-bottom:1px solid #eee}
.row{display:flex;justify-content:space-between;gap:12px;align-items:center}
.muted{color:#697386;font-size:14px}
section{border:1px solid #e3e8ee;border-radius:6px;padding:12px 16px;margin:12px 0}
form.inline{display:inline}
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main><span class="test" data-testid="test-mode-badge">Test mode · Stripe simulator</span>
${body}
</main></body></html>`;
}
