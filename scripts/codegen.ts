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
 * Usage:
 *   tsx scripts/codegen.ts           regenerate convex/_generated
 *   tsx scripts/codegen.ts --check   regenerate into a temp copy and fail
 *                                    (exit 1) if it differs from what is committed
 *
 * With CONVEX_DEPLOYMENT set (a real project), it runs the real
 * `npx convex codegen` instead.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const CONVEX_VERSION = JSON.parse(
  readFileSync(join(ROOT, "node_modules/convex/package.json"), "utf8"),
) as { version: string };

function emptyAnalysis() {
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
          serverVersion: CONVEX_VERSION.version,
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

function startStub(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
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
        res.end(JSON.stringify(emptyAnalysis()));
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
  const { server, port } = await startStub();
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

async function main() {
  const check = process.argv.includes("--check");
  if (process.env.CONVEX_DEPLOYMENT && !check) {
    process.exit(await run(join(ROOT, "node_modules/.bin/convex"), ["codegen"], ROOT));
  }
  if (!check) {
    process.exit(await codegenInto(ROOT));
  }
  // Regenerate in a scratch copy of the project so the check never edits the tree.
  const scratch = mkdtempSync(join(tmpdir(), "codegen-check-"));
  try {
    for (const entry of ["convex", "package.json", "tsconfig.json"]) {
      cpSync(join(ROOT, entry), join(scratch, entry), { recursive: true });
    }
    cpSync(join(ROOT, "convex.json"), join(scratch, "convex.json"));
    // Resolve packages from the real tree.
    const { symlinkSync } = await import("node:fs");
    symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"));
    const code = await codegenInto(scratch);
    if (code !== 0) process.exit(code);
    const committed = join(ROOT, "convex/_generated");
    const fresh = join(scratch, "convex/_generated");
    const drift: string[] = [];
    const names = new Set([...listFiles(committed), ...listFiles(fresh)]);
    for (const name of names) {
      let a = "";
      let b = "";
      try { a = readFileSync(join(committed, name), "utf8"); } catch { /* missing */ }
      try { b = readFileSync(join(fresh, name), "utf8"); } catch { /* missing */ }
      if (a !== b) drift.push(name);
    }
    if (drift.length > 0) {
      console.error(`convex/_generated drifted from codegen output: ${drift.join(", ")}\nRun \`npm run codegen\` and commit the result.`);
      process.exit(1);
    }
    console.log(`convex/_generated matches codegen (${names.size} files).`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
