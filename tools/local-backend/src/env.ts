/**
 * Environment for the functions the local backend runs.
 *
 * A real deployment keeps env vars in the dashboard (`npx convex env set`);
 * locally they come from a dotenv-style file (default `.local/convex.env`):
 *
 * ```
 * # comment
 * STRIPE_SECRET_KEY=sk_test_123
 * GREETING="hello world"
 * ```
 *
 * One `KEY=VALUE` per line; blank lines and `#` comments are ignored; values
 * may be wrapped in single or double quotes (double quotes understand `\n`).
 */
import { existsSync, readFileSync } from "node:fs";

/** Parses dotenv-style text. Throws on a line that is neither blank, a comment nor `KEY=VALUE`. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`env file line ${index + 1}: expected KEY=VALUE, got ${JSON.stringify(raw)}`);
    const key = match[1]!;
    let value = match[2]!;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    } else {
      // Unquoted: a ` #` starts a trailing comment, as in most dotenv dialects.
      value = value.replace(/\s+#.*$/, "");
    }
    out[key] = value;
  });
  return out;
}

/** Reads an env file; a missing file is an empty environment. */
export function readEnvFile(path: string | undefined): Record<string, string> {
  if (!path || !existsSync(path)) return {};
  return parseEnvFile(readFileSync(path, "utf8"));
}

/**
 * Sets `vars` into `process.env` and returns a function that restores the
 * previous values, so an in-process backend leaves the host's env as it found it.
 */
export function applyEnv(vars: Record<string, string>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(vars)) {
    previous.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
