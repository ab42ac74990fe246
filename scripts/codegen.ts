/**
 * Offline `convex codegen`.
 *
 * `npx convex codegen` goes through the push path and needs a deployment: it
 * calls `POST /api/get_config_hashes` and `POST /api/deploy2/start_push` and
 * builds `convex/_generated` (and each local component's `_generated`) from
 * the reply. A loopback stub answers both endpoints; for `start_push` it
 * evaluates the bundles the CLI sends and answers the analysis a deployment
 * would (functions, visibility, validators, schema, child components,
 * declared env): see scripts/codegen-analysis.ts.
 *
 * Usage:
 *   tsx scripts/codegen.ts           regenerate convex/_generated
 *   tsx scripts/codegen.ts --check   regenerate into a temp copy and fail
 *                                    (exit 1) if it differs from what is committed
 *   --project <dir>                  another project (`<dir>/convex`, e.g. a test
 *                                    fixture); it needs no package.json
 *
 * With CONVEX_DEPLOYMENT set (a real project), it runs the real
 * `npx convex codegen` instead.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { brotliDecompressSync } from "node:zlib";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { analyzeStartPush, type StartPushRequest } from "./codegen-analysis";

const ROOT = resolve(import.meta.dirname, "..");
const CONVEX_VERSION = JSON.parse(
  readFileSync(join(ROOT, "node_modules/convex/package.json"), "utf8"),
) as { version: string };

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "br" ? brotliDecompressSync(body) : body;
}

function startStub(projectRoot: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void readBody(req).then(async (body) => {
      res.setHeader("content-type", "application/json");
      if (req.url?.startsWith("/api/get_config_hashes")) {
        res.end(
          JSON.stringify({
            config: { functions: "convex/" },
            moduleHashes: [],
            nodeDependencies: [],
            udfServerVersion: CONVEX_VERSION.version,
          }),
        );
      } else if (req.url?.startsWith("/api/deploy2/start_push")) {
        try {
          const request = JSON.parse(body.toString("utf8")) as StartPushRequest;
          res.end(JSON.stringify(await analyzeStartPush(request, { serverVersion: CONVEX_VERSION.version, projectRoot })));
        } catch (e) {
          res.statusCode = 400;
          res.end(JSON.stringify({ code: "OfflineAnalysisFailed", message: (e as Error).message }));
        }
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: "NotFound", message: req.url }));
      }
    });
  });
  return new Promise((ok) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      ok({ server, port: typeof addr === "object" && addr ? addr.port : 0 });
    });
  });
}

function run(cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd, stdio: "inherit", env: { ...process.env, CONVEX_DEPLOYMENT: "" } });
    child.on("exit", (code) => ok(code ?? 1));
  });
}

function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Paths of the `_generated` directories under `convexDir` (the app's and each local component's), relative to it. */
function generatedDirs(convexDir: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const name of listFiles(join(convexDir, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      if (name === "node_modules" || name.startsWith(".") || !statSync(join(convexDir, child)).isDirectory()) continue;
      if (name === "_generated") found.push(child);
      else walk(child);
    }
  };
  walk("");
  return found.sort();
}

async function codegenInto(cwd: string): Promise<number> {
  const { server, port } = await startStub(cwd);
  try {
    return await run(
      join(ROOT, "node_modules/.bin/convex"),
      ["codegen", "--url", `http://127.0.0.1:${port}`, "--admin-key", "offline-codegen", "--typecheck", "disable"],
      cwd,
    );
  } finally {
    server.close();
  }
}

/**
 * Copies the project into a scratch directory and runs codegen there; packages
 * resolve from the project's node_modules, or this repository's.
 */
async function codegenInScratch(project: string): Promise<{ scratch: string; code: number }> {
  const scratch = mkdtempSync(join(tmpdir(), "codegen-check-"));
  for (const entry of ["convex", "package.json", "tsconfig.json", "convex.json"]) {
    if (existsSync(join(project, entry))) cpSync(join(project, entry), join(scratch, entry), { recursive: true });
  }
  if (!existsSync(join(scratch, "package.json"))) {
    // A fixture project: the CLI only needs `convex` among the dependencies.
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ private: true, type: "module", dependencies: { convex: CONVEX_VERSION.version } }));
  }
  const ownModules = join(project, "node_modules");
  symlinkSync(existsSync(ownModules) ? ownModules : join(ROOT, "node_modules"), join(scratch, "node_modules"));
  return { scratch, code: await codegenInto(scratch) };
}

function projectArg(): string {
  const index = process.argv.indexOf("--project");
  if (index < 0) return ROOT;
  const value = process.argv[index + 1];
  if (!value) throw new Error("--project needs a directory");
  return resolve(value);
}

async function main() {
  const check = process.argv.includes("--check");
  const project = projectArg();
  const label = relative(ROOT, join(project, "convex")) || "convex";
  if (process.env.CONVEX_DEPLOYMENT && !check && project === ROOT) {
    process.exit(await run(join(ROOT, "node_modules/.bin/convex"), ["codegen"], ROOT));
  }
  if (!check && project === ROOT) {
    process.exit(await codegenInto(ROOT));
  }
  // Regenerate in a scratch copy of the project so the check never edits the
  // tree (and a fixture project needs no package.json of its own).
  const { scratch, code } = await codegenInScratch(project);
  try {
    if (code !== 0) process.exit(code);
    const committedDir = join(project, "convex");
    const freshDir = join(scratch, "convex");
    const dirs = [...new Set([...generatedDirs(committedDir), ...generatedDirs(freshDir)])].sort();
    if (!check) {
      for (const dir of dirs) {
        rmSync(join(committedDir, dir), { recursive: true, force: true });
        if (existsSync(join(freshDir, dir))) cpSync(join(freshDir, dir), join(committedDir, dir), { recursive: true });
      }
      console.log(`Wrote ${dirs.map((d) => `${label}/${d}`).join(", ")}.`);
      return;
    }
    const drift: string[] = [];
    let files = 0;
    for (const dir of dirs) {
      const committed = join(committedDir, dir);
      const fresh = join(freshDir, dir);
      const names = new Set([...listFiles(committed), ...listFiles(fresh)]);
      files += names.size;
      for (const name of names) {
        let a = "";
        let b = "";
        try { a = readFileSync(join(committed, name), "utf8"); } catch { /* missing */ }
        try { b = readFileSync(join(fresh, name), "utf8"); } catch { /* missing */ }
        if (a !== b) drift.push(`${dir}/${name}`);
      }
    }
    if (drift.length > 0) {
      console.error(`${label}: generated files drifted from codegen output: ${drift.join(", ")}\nRun \`npm run codegen${project === ROOT ? "" : ` -- --project ${relative(ROOT, project)}`}\` and commit the result.`);
      process.exit(1);
    }
    console.log(`${dirs.map((d) => `${label}/${d}`).join(", ")} match codegen (${files} files).`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
