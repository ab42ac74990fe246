/**
 * Initial-JavaScript budget check, run after `vite build`.
 *
 * "Initial" = what the browser must download before the first render: the
 * entry module(s) referenced by `<script type="module" src>` in dist/index.html
 * plus everything they import statically (`<link rel="modulepreload">` lists
 * them, and we also follow static `import ... from "./x.js"` inside chunks).
 * Lazily imported route chunks are not counted.
 *
 * Prints each file's gzip size and the total; exits 1 above the budget
 * (default 200 KB gzip = 200 * 1024 bytes; override with BUNDLE_BUDGET_KB).
 *
 * Usage: tsx scripts/bundle-size.ts [distDir]
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const dist = resolve(process.argv[2] ?? join(import.meta.dirname, "..", "dist"));
const budgetKb = Number(process.env.BUNDLE_BUDGET_KB ?? 200);

const indexPath = join(dist, "index.html");
if (!existsSync(indexPath)) {
  console.error(`bundle-size: ${indexPath} not found; run vite build first.`);
  process.exit(2);
}
const html = readFileSync(indexPath, "utf8");

function attr(tag: string, name: string): string | null {
  const match = new RegExp(`\\b${name}\\s*=\\s*["']([^"']+)["']`, "i").exec(tag);
  return match?.[1] ?? null;
}

/** dist-relative path of a URL in index.html, or null when external. */
function localPath(url: string, from = dist): string | null {
  if (/^(https?:)?\/\//i.test(url) || url.startsWith("data:")) return null;
  const clean = url.split(/[?#]/)[0]!;
  return normalize(clean.startsWith("/") ? join(dist, clean) : join(from, clean));
}

const entries = new Set<string>();
for (const [tag] of html.matchAll(/<script\b[^>]*>/gi)) {
  if (attr(tag, "type") !== "module") continue;
  const src = attr(tag, "src");
  const path = src ? localPath(src) : null;
  if (path) entries.add(path);
}
for (const [tag] of html.matchAll(/<link\b[^>]*>/gi)) {
  if (attr(tag, "rel") !== "modulepreload") continue;
  const href = attr(tag, "href");
  const path = href ? localPath(href) : null;
  if (path) entries.add(path);
}

if (entries.size === 0) {
  console.error("bundle-size: no module scripts found in dist/index.html");
  process.exit(2);
}

// Follow static imports (not `import(...)`) so a chunk split off the entry still counts.
const initial = new Set<string>();
const queue = [...entries];
while (queue.length > 0) {
  const file = queue.pop()!;
  if (initial.has(file) || !existsSync(file)) continue;
  initial.add(file);
  const code = readFileSync(file, "utf8");
  for (const match of code.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[\w*${}\s,]+from\s*)?["']([^"']+\.js)["']/g)) {
    const path = localPath(match[1]!, dirname(file));
    if (path) queue.push(path);
  }
}

let total = 0;
const rows: [string, number, number][] = [];
for (const file of initial) {
  const raw = readFileSync(file);
  const gz = gzipSync(raw, { level: 9 }).length;
  total += gz;
  rows.push([file.slice(dist.length + 1), raw.length, gz]);
}
rows.sort((a, b) => b[2] - a[2]);

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
for (const [name, raw, gz] of rows) console.log(`  ${name.padEnd(48)} ${kb(raw).padStart(10)} raw ${kb(gz).padStart(10)} gzip`);
console.log(`Initial JavaScript: ${kb(total)} gzip across ${rows.length} file(s); budget ${budgetKb} KB.`);
if (total > budgetKb * 1024) {
  console.error(`bundle-size: over budget by ${kb(total - budgetKb * 1024)}.`);
  process.exit(1);
}
