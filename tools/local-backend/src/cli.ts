/**
 * CLI for the local Convex backend (`npm run local-backend -- [flags]`).
 *
 *   --port <n>          cloud origin port (WebSocket sync + HTTP API), default 3210
 *   --site-port <n>     HTTP actions port, default 3211
 *   --auth-port <n>     dev sign-in issuer port, default 3212
 *   --no-dev-auth       do not start the dev sign-in issuer
 *   --convex-dir <dir>  functions directory, default ./convex
 *   --env-file <file>   env vars for the functions, default .local/convex.env
 *   --persist [file]    keep the database in a file, default .local/convex-state.json
 *   --reset             start empty (deletes the persist file)
 *   --manual-crons      run crons.ts jobs only on demand (POST /_local/crons/run)
 *   --admin-key <key>   admin key (default: random, written to .local/admin-key)
 *   --redirect-fetch <from=to>  send functions' fetches to origin `from` to `to`
 *                       (repeatable), e.g. https://api.resend.com=http://127.0.0.1:3213
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startLocalBackend } from "./index";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "site-port": { type: "string" },
    "auth-port": { type: "string" },
    "no-dev-auth": { type: "boolean" },
    "convex-dir": { type: "string" },
    "env-file": { type: "string" },
    persist: { type: "string" },
    "no-persist": { type: "boolean" },
    reset: { type: "boolean" },
    "manual-crons": { type: "boolean" },
    "admin-key": { type: "string" },
    "redirect-fetch": { type: "string", multiple: true },
    help: { type: "boolean", short: "h" },
  },
  // `--persist` alone means the default file.
  args: process.argv.slice(2).map((a, i, all) => (a === "--persist" && (all[i + 1] === undefined || all[i + 1]!.startsWith("--")) ? "--persist=.local/convex-state.json" : a)),
});

if (values.help) {
  const text = (await import("node:fs")).readFileSync(new URL(import.meta.url), "utf8");
  console.log(/\/\*\*([\s\S]*?)\*\//.exec(text)?.[1]?.replace(/^ \* ?/gm, "") ?? "");
  process.exit(0);
}

const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number.parseInt(v, 10));

const backend = await startLocalBackend({
  port: num(values.port, 3210),
  sitePort: num(values["site-port"], 3211),
  devAuth: values["no-dev-auth"] ? false : { port: num(values["auth-port"], 3212), keyFile: ".local/dev-auth-key.json" },
  convexDir: values["convex-dir"],
  envFile: values["env-file"],
  persist: values["no-persist"] ? null : values.persist,
  reset: values.reset,
  crons: values["manual-crons"] ? "manual" : "schedule",
  adminKey: values["admin-key"],
  fetchRedirects: Object.fromEntries(
    (values["redirect-fetch"] ?? []).map((pair) => {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`--redirect-fetch wants from=to, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  ),
});
mkdirSync(".local", { recursive: true });
writeFileSync(".local/admin-key", `${backend.adminKey}\n`, { mode: 0o600 });
console.log(`[local-convex] ready. VITE_CONVEX_URL=${backend.url} CONVEX_SITE_URL=${backend.siteUrl}${backend.devAuth ? ` dev sign-in ${backend.devAuth.issuer}` : ""}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`[local-convex] ${signal}: saving and stopping`);
  void backend.close().finally(() => process.exit(0));
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
