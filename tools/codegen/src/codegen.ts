/**
 * Offline `convex codegen`.
 *
 * `npx convex codegen` goes through the push path and needs a deployment: it
 * calls `POST /api/get_config_hashes` and `POST /api/deploy2/start_push` and
 * builds `convex/_generated` (and each local component's `_generated`) from
 * the reply. A loopback stub answers both endpoints; for `start_push` it
 * evaluates the bundles the CLI sends and answers the analysis a deployment
 * would (functions, visibility, validators, schema, child components,
 * declared env): see ./codegen-analysis.ts.
 *
 * Usage (from the project root, which holds convex/; `--root <dir>` names
 * another, e.g. a test fixture):
 *   tsx tools/codegen/src/codegen.ts           regenerate convex/_generated (and components')
 *   tsx tools/codegen/src/codegen.ts --check   regenerate into a temp copy and fail
 *                                              (exit 1) if it differs from what is committed
 *   --root <dir>                               the project at <dir>; it needs no package.json
 *                                              or node_modules of its own (this tool's
 *                                              `convex` is used then)
 *
 * With CONVEX_DEPLOYMENT set (a real project), it runs the real
 * `npx convex codegen` instead.
 *
 * In code: `codegen(root)` and `checkCodegen(root)`.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { brotliDecompressSync } from "node:zlib";
import { analyzeStartPush, type StartPushRequest } from "./codegen-analysis";

/** The nearest `node_modules/convex/package.json` at or above `dir`, or null. */
function findConvexPackage(dir: string): string | null {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const candidate = join(at, "node_modules/convex/package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(at) === at) return null;
  }
}

/**
 * The `convex` package of the project at `root` (its CLI, the version the stub
 * reports, the `node_modules` it lives in): the project's own, else the one
 * this tool resolves (a fixture project without node_modules).
 */
function convexOf(root: string): { version: string; bin: string; nodeModules: string } {
  const own = join(root, "node_modules/convex/package.json");
  const packageJson = existsSync(own) ? own : findConvexPackage(import.meta.dirname);
  if (!packageJson) throw new Error(`no convex package for ${root} (install it, or run from a checkout with node_modules)`);
  const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
  const nodeModules = dirname(dirname(packageJson));
  return { version, bin: join(nodeModules, ".bin/convex"), nodeModules };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "br" ? brotliDecompressSync(body) : body;
}

function startStub(serverVersion: string, projectRoot: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void readBody(req).then(async (body) => {
      res.setHeader("content-type", "application/json");
      if (req.url?.startsWith("/api/get_config_hashes")) {
        res.end(
          JSON.stringify({
            config: { functions: "convex/" },
            moduleHashes: [],
            nodeDependencies: [],
            udfServerVersion: serverVersion,
          }),
        );
      } else if (req.url?.startsWith("/api/deploy2/start_push")) {
        try {
          const request = JSON.parse(body.toString("utf8")) as StartPushRequest;
          res.end(JSON.stringify(await analyzeStartPush(request, { serverVersion, projectRoot })));
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

/** Runs the convex CLI's codegen in `cwd` (which has package.json and node_modules) against the stub. */
async function codegenInto(cwd: string): Promise<number> {
  const convex = convexOf(cwd);
  const { server, port } = await startStub(convex.version, cwd);
  try {
    return await run(
      convex.bin,
      ["codegen", "--url", `http://127.0.0.1:${port}`, "--admin-key", "offline-codegen", "--typecheck", "disable"],
      cwd,
    );
  } finally {
    server.close();
  }
}

/**
 * Copies the project at `root` into a scratch directory and runs codegen
 * there; packages resolve from the project's node_modules, or this tool's. A
 * project without package.json (a fixture) gets one listing `convex`.
 */
async function codegenInScratch(root: string): Promise<{ scratch: string; code: number }> {
  const scratch = mkdtempSync(join(tmpdir(), "codegen-check-"));
  for (const entry of ["convex", "package.json", "tsconfig.json", "convex.json"]) {
    if (existsSync(join(root, entry))) cpSync(join(root, entry), join(scratch, entry), { recursive: true });
  }
  const convex = convexOf(root);
  if (!existsSync(join(scratch, "package.json"))) {
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ private: true, type: "module", dependencies: { convex: convex.version } }));
  }
  symlinkSync(convex.nodeModules, join(scratch, "node_modules"));
  return { scratch, code: await codegenInto(scratch) };
}

/**
 * Regenerates `<root>/convex/_generated` and each local component's
 * `_generated`; resolves with the CLI's exit code. A project with its own
 * package.json and node_modules is generated in place; any other (a fixture)
 * in a scratch copy whose `_generated` directories are copied back.
 */
export async function codegen(root: string): Promise<number> {
  if (existsSync(join(root, "package.json")) && existsSync(join(root, "node_modules"))) return await codegenInto(root);
  const { scratch, code } = await codegenInScratch(root);
  try {
    if (code !== 0) return code;
    const committedDir = join(root, "convex");
    const freshDir = join(scratch, "convex");
    for (const dir of new Set([...generatedDirs(committedDir), ...generatedDirs(freshDir)])) {
      rmSync(join(committedDir, dir), { recursive: true, force: true });
      if (existsSync(join(freshDir, dir))) cpSync(join(freshDir, dir), join(committedDir, dir), { recursive: true });
    }
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * `code`: the CLI's exit code when it failed, else 1 with drift, 0 without.
 * `dirs`: the `_generated` directories compared, relative to `convex/`
 * (`_generated`, `counter/_generated`, ...); `drift`: the differing files as
 * `<dir>/<file>`; `files`: how many files were compared.
 */
export type CheckResult = { code: number; dirs: string[]; drift: string[]; files: number };

/**
 * Regenerates into a scratch copy of the project at `root` (the tree is never
 * edited) and lists the files of its `_generated` directories (the app's and
 * each local component's) that differ from it.
 */
export async function checkCodegen(root: string): Promise<CheckResult> {
  const { scratch, code } = await codegenInScratch(root);
  try {
    if (code !== 0) return { code, dirs: [], drift: [], files: 0 };
    const committedDir = join(root, "convex");
    const freshDir = join(scratch, "convex");
    const dirs = [...new Set([...generatedDirs(committedDir), ...generatedDirs(freshDir)])].sort();
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
    return { code: drift.length > 0 ? 1 : 0, dirs, drift, files };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const rootFlag = args.indexOf("--root");
  if (rootFlag >= 0 && !args[rootFlag + 1]) throw new Error("--root needs a directory");
  const root = resolve(rootFlag >= 0 ? args[rootFlag + 1]! : process.cwd());
  const label = relative(process.cwd(), join(root, "convex")) || "convex";
  if (process.env.CONVEX_DEPLOYMENT && !check) {
    process.exit(await run(convexOf(root).bin, ["codegen"], root));
  }
  if (!check) {
    process.exit(await codegen(root));
  }
  const result = await checkCodegen(root);
  const dirs = result.dirs.map((d) => `${label}/${d}`).join(", ");
  if (result.drift.length > 0) {
    const again = root === process.cwd() ? "npm run codegen" : `npm run codegen -- --root ${relative(process.cwd(), root)}`;
    console.error(`${label}: generated files drifted from codegen output: ${result.drift.join(", ")}\nRun \`${again}\` and commit the result.`);
  } else if (result.code === 0) {
    console.log(`${dirs} match codegen (${result.files} files).`);
  }
  process.exit(result.code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
