#!/usr/bin/env node
// Copied from ../shared/bench/anchor-convex-stripe/bench/compare.mjs (the shared webhook-cost
// harness, a measurement tool, not product code). See docs/BENCHMARKS.md.
// Side-by-side comparison of two result files written by runBench():
//   node bench/compare.mjs results/anchor-convex-stripe-latest.json path/to/other-latest.json
// Prints each metric for A (anchor) and B (other) and the ratio B/A. Per-run
// figures are reduced to the median across runs. Exits 2 if the two files were
// not produced from the same event stream (digest mismatch).
import { readFileSync } from "node:fs";

const [fa, fb] = process.argv.slice(2);
if (!fa || !fb) {
  console.error("usage: node bench/compare.mjs <anchor.json> <other.json>");
  process.exit(1);
}
const A = JSON.parse(readFileSync(fa, "utf8"));
const B = JSON.parse(readFileSync(fb, "utf8"));

const med = (xs) => {
  const s = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const across = (doc, f) => med(doc.runs.map(f));
const fmt = (x) => (Number.isNaN(x) ? "-" : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3));
const ratio = (a, b) => (a === 0 && b === 0 ? "=" : a === 0 ? "inf" : (b / a).toFixed(2) + "x");

const non2xx = (r) => Object.entries(r.overall.statuses).filter(([k]) => !k.startsWith("2")).reduce((a, [, v]) => a + v, 0);
const drainFns = (r) => r.totals.drain.mutation + r.totals.drain.query + r.totals.drain.action;

const rows = [
  ["stream wall ms (all deliveries)", (r) => r.streamWallMs],
  ["sum of response ms", (r) => r.sumResponseMs],
  ["per-delivery median ms", (r) => r.overall.ms.median],
  ["per-delivery p95 ms", (r) => r.overall.ms.p95],
  ["per-delivery p99 ms", (r) => r.overall.ms.p99],
  ["per-delivery max ms", (r) => r.overall.ms.max],
  ["non-2xx responses", non2xx],
  ["Stripe API calls before response", (r) => r.totals.stripeCalls],
  ["mutations before response", (r) => r.totals.mutation],
  ["queries before response", (r) => r.totals.query],
  ["actions before response", (r) => r.totals.action],
  ["documents read (resp.)", (r) => r.totals.documentsRead],
  ["documents written (resp.)", (r) => r.totals.documentsWritten],
  ["bytes written (resp.)", (r) => r.totals.bytesWritten],
  ["scheduled fns run after response", drainFns],
  ["Stripe API calls after response", (r) => r.totals.drain.stripeCalls],
  ["docs written after response", (r) => r.totals.drain.documentsWritten],
  ["sum of drain ms", (r) => r.sumDrainMs],
  ["response + drain ms", (r) => r.sumResponseMs + r.sumDrainMs],
  ["console lines", (r) => r.totals.logLines],
];

const out = [];
out.push(`A = ${A.label} (${fa})`);
out.push(`B = ${B.label} (${fb})`);
out.push(`stream A ${A.stream.digest} (${A.stream.deliveries} deliveries)  B ${B.stream.digest} (${B.stream.deliveries} deliveries)  runs A=${A.runs.length} B=${B.runs.length}`);
const same = A.stream.digest === B.stream.digest;
if (!same) out.push("WARNING: different event streams; ratios are not comparable");
out.push("");
out.push(`${"metric (median across runs)".padEnd(36)} ${"A".padStart(10)} ${"B".padStart(10)} ${"B/A".padStart(8)}`);
for (const [name, f] of rows) {
  const a = across(A, f);
  const b = across(B, f);
  out.push(`${name.padEnd(36)} ${fmt(a).padStart(10)} ${fmt(b).padStart(10)} ${ratio(a, b).padStart(8)}`);
}
out.push("");
out.push("per lifecycle step: median ms A | B | B/A   mean Stripe calls A | B   mean mutations A | B");
const steps = [...new Set([...Object.keys(A.runs[0].byStep), ...Object.keys(B.runs[0].byStep)])];
for (const s of steps) {
  const g = (doc, f) => across(doc, (r) => (r.byStep[s] ? f(r.byStep[s]) : NaN));
  const ma = g(A, (x) => x.ms.median);
  const mb = g(B, (x) => x.ms.median);
  out.push(
    `  ${s.padEnd(34)} ${fmt(ma).padStart(7)} | ${fmt(mb).padStart(7)} | ${ratio(ma, mb).padStart(7)}   ` +
      `${fmt(g(A, (x) => x.stripeCalls)).padStart(5)} | ${fmt(g(B, (x) => x.stripeCalls)).padStart(5)}   ` +
      `${fmt(g(A, (x) => x.mutations)).padStart(5)} | ${fmt(g(B, (x) => x.mutations)).padStart(5)}`,
  );
}
const fd = (doc, k) => across(doc, (r) => r.firstVsDuplicate[k].ms.median);
out.push(`  ${"(first deliveries)".padEnd(34)} ${fmt(fd(A, "first")).padStart(7)} | ${fmt(fd(B, "first")).padStart(7)} | ${ratio(fd(A, "first"), fd(B, "first")).padStart(7)}`);
out.push(`  ${"(redeliveries)".padEnd(34)} ${fmt(fd(A, "duplicate")).padStart(7)} | ${fmt(fd(B, "duplicate")).padStart(7)} | ${ratio(fd(A, "duplicate"), fd(B, "duplicate")).padStart(7)}`);
console.log(out.join("\n"));
process.exit(same ? 0 : 2);
