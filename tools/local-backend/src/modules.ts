/**
 * The modules map convex-test needs (`{ "<abs path>": () => import(path) }`),
 * built from a Convex functions directory the way `import.meta.glob` would in
 * a vitest setup file, so the backend runs in plain Node/tsx.
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const SOURCE = /\.(ts|tsx|js|jsx|mts|mjs)$/;
const SKIP = /(\.d\.ts|\.test\.[jt]sx?|\.spec\.[jt]sx?)$/;

/**
 * Absolute paths of the function-module files under `convexDir` (including
 * `_generated`), leaving out `skipDirs` (absolute: component directories).
 */
export function listModuleFiles(convexDir: string, skipDirs: readonly string[] = []): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".") || name === "node_modules") continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) {
        if (!skipDirs.includes(full)) walk(full);
      } else if (SOURCE.test(name) && !SKIP.test(name)) files.push(full);
    }
  };
  walk(convexDir);
  return files;
}

export type ModuleMap = Record<string, () => Promise<Record<string, unknown>>>;

/** `{ absolutePath: () => import(absolutePath) }` for every module file. */
export function buildModuleMap(convexDir: string, skipDirs: readonly string[] = []): ModuleMap {
  const files = listModuleFiles(convexDir, skipDirs);
  if (!files.some((f) => f.includes(`${sep}_generated${sep}`))) {
    throw new Error(`${convexDir} has no _generated directory; run \`npm run codegen\` first.`);
  }
  const map: ModuleMap = {};
  for (const file of files) {
    map[file] = () => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>;
  }
  return map;
}

/** The Convex module path of a file (`convex/lib/x.ts` → `lib/x`), as used in `"lib/x:fn"`. */
export function modulePathOf(convexDir: string, file: string): string {
  return relative(convexDir, file).split(sep).join("/").replace(SOURCE, "");
}

let bust = 0;
/**
 * Imports a module afresh (a new evaluation, not the ESM cache), for files that
 * read `process.env` at load time such as `auth.config.ts`: each backend in a
 * process evaluates it with its own environment, as a deployment would.
 */
export async function importFresh(file: string): Promise<Record<string, unknown>> {
  bust += 1;
  const url = `${pathToFileURL(file).href}?local-convex=${bust}`;
  return (await import(url)) as Record<string, unknown>;
}
