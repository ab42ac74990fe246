#!/usr/bin/env node
// Prints this app's webhook cost next to the official component's, then
// issue 8's budgets with ✓/✗. Usage (npm run bench:anchor runs it):
//   node tests/bench/anchor/report.mjs [baseline.json] [ours.json]
// Defaults: tests/bench/anchor/baseline/anchor-convex-stripe.json and
// tests/bench/anchor/results/convex-stripe-billing-latest.json.
//
// 1. compare.mjs (the shared harness's side-by-side table, response phase).
// 2. Response, drain (scheduled processing) and their sum, for both apps.
// 3. Budgets, on response + drain, median across passes:
//    - registered function calls per delivery ≤ 1.25 (mutations, queries and
//      actions, nested and scheduled ones included, as instrument.ts counts);
//    - documents written ≤ 1.5× the official component's;
//    - bytes written ≤ 2× the official component's;
//    - Stripe API calls = 0;
//    - every redelivery: ≤ 1 document read and 0 written.
// Exit: 0 all budgets met, 1 some budget missed, 2 the streams differ.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [fa = join(here, "baseline", "anchor-convex-stripe.json"), fb = join(here, "results", "convex-stripe-billing-latest.json")] =
  process.argv.slice(2);

const compared = spawnSync(process.execPath, [join(here, "compare.mjs"), fa, fb], { stdio: "inherit" });
if (compared.status === 2) {
  console.error("\nThe two result files come from different streams: no budget verdict.");
  process.exit(2);
}
if (compared.status !== 0) process.exit(compared.status ?? 1);

const A = JSON.parse(readFileSync(fa, "utf8"));
const B = JSON.parse(readFileSync(fb, "utf8"));

const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const across = (doc, f) => med(doc.runs.map(f));
const fns = (p) => p.mutation + p.query + p.action;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
const int = (x) => Math.round(x).toLocaleString("en-US");

// --- response / drain / total ------------------------------------------------
const measures = [
  ["function calls", fns, int],
  ["  mutations", (p) => p.mutation, int],
  ["  queries", (p) => p.query, int],
  ["  actions", (p) => p.action, int],
  ["documents read", (p) => p.documentsRead, int],
  ["documents written", (p) => p.documentsWritten, int],
  ["bytes read", (p) => p.bytesRead, mb],
  ["bytes written", (p) => p.bytesWritten, mb],
  ["Stripe API calls", (p) => p.stripeCalls, int],
];
const phases = {
  response: (r) => r.totals,
  drain: (r) => r.totals.drain,
};
const total = (doc, f) => across(doc, (r) => f(r.totals) + f(r.totals.drain));
const pad = (s, n) => String(s).padStart(n);
const out = [];
out.push("");
out.push(`response + drain (scheduled processing), median across passes; A = ${A.label}, B = ${B.label}`);
out.push(`${"measure".padEnd(20)} ${pad("A resp", 10)} ${pad("A drain", 10)} ${pad("A total", 10)}   ${pad("B resp", 10)} ${pad("B drain", 10)} ${pad("B total", 10)} ${pad("B/A", 7)}`);
for (const [name, f, show] of measures) {
  const a = total(A, f);
  const b = total(B, f);
  const ratio = a === 0 && b === 0 ? "=" : a === 0 ? "inf" : `${(b / a).toFixed(2)}x`;
  out.push(
    `${name.padEnd(20)} ${pad(show(across(A, (r) => f(phases.response(r)))), 10)} ${pad(show(across(A, (r) => f(phases.drain(r)))), 10)} ${pad(show(a), 10)}   ` +
      `${pad(show(across(B, (r) => f(phases.response(r)))), 10)} ${pad(show(across(B, (r) => f(phases.drain(r)))), 10)} ${pad(show(b), 10)} ${pad(ratio, 7)}`,
  );
}
const drainMs = (doc) => across(doc, (r) => r.sumDrainMs).toFixed(1);
out.push(`${"drain ms (sum)".padEnd(20)} ${pad("", 10)} ${pad(drainMs(A), 10)} ${pad("", 10)}   ${pad("", 10)} ${pad(drainMs(B), 10)}`);
const drainErrors = B.runs.flatMap((r) => (r.results ?? []).filter((d) => d.drainError));
if (drainErrors.length) out.push(`drain errors in B: ${drainErrors.length} (first: ${drainErrors[0].drainError})`);

// --- budgets -------------------------------------------------------------------
const deliveries = B.runs[0].deliveries;
const verdicts = [];
const budget = (ok, text) => {
  verdicts.push(ok);
  out.push(`  ${ok ? "✓" : "✗"} ${text}`);
};
out.push("");
out.push(`budgets (issue 8), B on ${int(deliveries)} deliveries, response + drain:`);
const calls = total(B, fns);
budget(
  calls / deliveries <= 1.25,
  `function calls per delivery ${(calls / deliveries).toFixed(3)} ≤ 1.25 ` +
    `(${int(calls)}: ${int(total(B, (p) => p.mutation))} mutations, ${int(total(B, (p) => p.query))} queries, ${int(total(B, (p) => p.action))} actions)`,
);
const written = (doc) => total(doc, (p) => p.documentsWritten);
budget(
  written(B) <= 1.5 * written(A),
  `documents written ${int(written(B))} ≤ 1.5 × ${int(written(A))} = ${int(1.5 * written(A))} (${(written(B) / written(A)).toFixed(2)}×)`,
);
const bytes = (doc) => total(doc, (p) => p.bytesWritten);
budget(bytes(B) <= 2 * bytes(A), `bytes written ${mb(bytes(B))} ≤ 2 × ${mb(bytes(A))} = ${mb(2 * bytes(A))} (${(bytes(B) / bytes(A)).toFixed(2)}×)`);
const stripe = total(B, (p) => p.stripeCalls);
budget(stripe === 0, `Stripe API calls ${int(stripe)} = 0`);
const redeliveries = B.runs.flatMap((r) => (r.results ?? []).filter((d) => d.duplicate));
if (redeliveries.length === 0) {
  budget(false, "per redelivery: no per-delivery rows in the results file");
} else {
  const read = redeliveries.map((d) => d.response.documentsRead + d.drain.documentsRead);
  const wrote = redeliveries.map((d) => d.response.documentsWritten + d.drain.documentsWritten);
  const mean = (xs) => (xs.reduce((a, x) => a + x, 0) / xs.length).toFixed(2);
  budget(
    Math.max(...read) <= 1 && Math.max(...wrote) === 0,
    `per redelivery ≤ 1 document read and 0 written: read max ${Math.max(...read)} (mean ${mean(read)}), ` +
      `written max ${Math.max(...wrote)} (mean ${mean(wrote)}), over ${redeliveries.length} redeliveries in ${B.runs.length} passes`,
  );
}

// --- where the written documents go ---------------------------------------------
// Which rows each table is, next to what the official component keeps (one
// row per Stripe object: checkout sessions, subscriptions, invoices). The
// groups are this repo's tables; docs/BENCHMARKS.md explains each.
const GROUPS = [
  ["rows the official component also keeps", ["billingAccounts", "subscriptions", "invoices"]],
  ["the durable event queue (issue 8)", ["webhookEvents", "webhookPayloads"]],
  ["tokens: ledger, grants, balances, paid coverage (issue 9)", ["tokenLedger", "tokenGrants", "tokenBalances", "paidCoverage"]],
  ["audit log (issue 10)", ["auditLog"]],
  ["notifications (issue 11)", ["notifications"]],
];
const byTable = {};
for (const table of new Set(B.runs.flatMap((r) => Object.keys(r.writesByTable ?? {})))) {
  byTable[table] = across(B, (r) => r.writesByTable?.[table] ?? 0);
}
if (Object.keys(byTable).length > 0) {
  out.push("");
  out.push(`documents written by table, B (median across passes); A wrote ${int(written(A))} in all:`);
  const grouped = new Set();
  const sums = [];
  for (const [group, tables] of GROUPS) {
    const present = tables.filter((t) => byTable[t]);
    const sum = present.reduce((a, t) => a + byTable[t], 0);
    sums.push(sum);
    present.forEach((t) => grouped.add(t));
    out.push(`  ${group.padEnd(58)} ${pad(int(sum), 6)}   ${present.map((t) => `${t} ${int(byTable[t])}`).join(", ")}`);
  }
  const other = Object.keys(byTable).filter((t) => !grouped.has(t));
  if (other.length) out.push(`  ${"other".padEnd(58)} ${pad(int(other.reduce((a, t) => a + byTable[t], 0)), 6)}   ${other.map((t) => `${t} ${int(byTable[t])}`).join(", ")}`);
  const pipeline = sums[0] + sums[1];
  out.push(
    `  the first two groups alone (no tokens, audit or notifications): ${int(pipeline)}, ${(pipeline / written(A)).toFixed(2)}× A ` +
      `(budget ${int(1.5 * written(A))})`,
  );
}
const met = verdicts.filter(Boolean).length;
out.push(`${met}/${verdicts.length} budgets met`);
console.log(out.join("\n"));
process.exit(met === verdicts.length ? 0 : 1);
