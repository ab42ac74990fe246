/**
 * Offline `convex codegen`.
 *
 * `npx convex codegen` goes through the push path and needs a deployment: it
 * calls `POST /api/get_config_hashes` and `POST /api/deploy2/start_push` and
 * builds `convex/_generated` from the reply. For an app without child
 * components only the `components` export and the typed `env` depend on that
 * reply, so a loopback stub that answers both endpoints with an empty
 * analysis produces the same files as a real deployment would.
 *
 * Usage (from the project root, which holds convex/, convex.json and
 * node_modules; `--root <dir>` names another):
 *   tsx tools/codegen/src/codegen.ts           regenerate convex/_generated
 *   tsx tools/codegen/src/codegen.ts --check   regenerate into a temp copy and fail
 *                                              (exit 1) if it differs from what is committed
 *
 * With CONVEX_DEPLOYMENT set (a real project), it runs the real
 * `npx convex codegen` instead.
 *
 * In code: `codegen(root)` and `checkCodegen(root)`.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The `convex` package of the project at `root` (its CLI, and the version the stub reports). */
function convexOf(root: string): { version: string; bin: string } {
  const { version } = JSON.parse(readFileSync(join(root, "node_modules/convex/package.json"), "utf8")) as { version: string };
  return { version, bin: join(root, "node_modules/.bin/convex") };
}

function emptyAnalysis(serverVersion: string) {
  return {
    environmentVariables: {},
    externalDepsId: null,
    componentDefinitionPackages: {},
    appAuth: [],
    analysis: {
      "": {
        definition: {
          path: "",
          definitionType: { type: "app" },
          childComponents: [],
          httpMounts: {},
          exports: { type: "branch", branch: [] },
          envVars: [],
        },
        schema: null,
        functions: {},
        udfConfig: {
          serverVersion,
          importPhaseRngSeed: null,
          importPhaseUnixTimestamp: null,
        },
      },
    },
    app: {
      definitionPath: "",
      componentPath: "",
      args: {},
      childComponents: {},
      httpRoutes: { httpModuleRoutes: null, mounts: [] },
      exports: {},
    },
    schemaChange: { allocatedComponentIds: null, schemaIds: null },
  };
}

async function readBody(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // drain
  }
}

function startStub(serverVersion: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
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
        res.end(JSON.stringify(emptyAnalysis(serverVersion)));
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
  return readdirSync(dir).sort();
}

async function codegenInto(cwd: string): Promise<number> {
  const convex = convexOf(cwd);
  const { server, port } = await startStub(convex.version);
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

/** Regenerates `<root>/convex/_generated`; resolves with the CLI's exit code. */
export async function codegen(root: string): Promise<number> {
  return await codegenInto(root);
}

export type CheckResult = { code: number; drift: string[]; files: number };

/**
 * Regenerates into a scratch copy of the project at `root` (the tree is never
 * edited) and lists the files of `convex/_generated` that differ from it.
 * `code` is the CLI's exit code when it failed, else 1 with drift, 0 without.
 */
export async function checkCodegen(root: string): Promise<CheckResult> {
  const scratch = mkdtempSync(join(tmpdir(), "codegen-check-"));
  try {
    for (const entry of ["convex", "package.json", "tsconfig.json", "convex.json"]) {
      if (existsSync(join(root, entry))) cpSync(join(root, entry), join(scratch, entry), { recursive: true });
    }
    // Resolve packages from the real tree.
    symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
    const code = await codegenInto(scratch);
    if (code !== 0) return { code, drift: [], files: 0 };
    const committed = join(root, "convex/_generated");
    const fresh = join(scratch, "convex/_generated");
    const drift: string[] = [];
    const names = new Set([...(existsSync(committed) ? listFiles(committed) : []), ...listFiles(fresh)]);
    for (const name of names) {
      let a = "";
      let b = "";
      try { a = readFileSync(join(committed, name), "utf8"); } catch { /* missing */ }
      try { b = readFileSync(join(fresh, name), "utf8"); } catch { /* missing */ }
      if (a !== b) drift.push(name);
    }
    return { code: drift.length > 0 ? 1 : 0, drift, files: names.size };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const rootFlag = args.indexOf("--root");
  const root = resolve(rootFlag >= 0 && args[rootFlag + 1] ? args[rootFlag + 1]! : process.cwd());
  if (process.env.CONVEX_DEPLOYMENT && !check) {
    process.exit(await run(convexOf(root).bin, ["codegen"], root));
  }
  if (!check) {
    process.exit(await codegen(root));
  }
  const result = await checkCodegen(root);
  if (result.drift.length > 0) {
    console.error(`convex/_generated drifted from codegen output: ${result.drift.join(", ")}\nRun \`npm run codegen\` and commit the result.`);
  } else if (result.code === 0) {
    console.log(`convex/_generated matches codegen (${result.files} files).`);
  }
  process.exit(result.code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
