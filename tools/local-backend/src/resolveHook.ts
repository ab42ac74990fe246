/**
 * npm components ship compiled ESM whose relative imports may lack an
 * extension (`@convex-dev/batch-worker`'s `import { logLevel } from "./logging"`).
 * A deployment's bundler resolves those; Node's ESM loader refuses them. So
 * before loading an npm component, the backend registers (once per process) a
 * resolve hook that retries such a specifier, from a file under
 * `node_modules`, with `.js` and then `/index.js`. Other imports are untouched.
 */
import { register } from "node:module";

const HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith("./") || specifier.startsWith("../");
    const fromPackage = typeof context.parentURL === "string" && context.parentURL.includes("/node_modules/");
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !relative || !fromPackage || /\\.[cm]?js$/.test(specifier)) throw error;
    for (const suffix of [".js", "/index.js"]) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // try the next suffix
      }
    }
    throw error;
  }
}
`;

let registered = false;

/** Registers the extension-retry resolve hook (idempotent). */
export function allowExtensionlessPackageImports(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
}
