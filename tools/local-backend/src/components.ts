/**
 * Local Convex components (https://docs.convex.dev/components) in the local
 * backend: a directory under the functions directory with its own
 * `convex.config.ts` (`defineComponent(name, { env })`), installed by the
 * app's `convex.config.ts` with `app.use(component, { env })`.
 *
 * What a deployment does at push, done here at start:
 * - evaluate the definitions. `use()` needs the imported child definition to
 *   carry `componentDefinitionPath` (the deployment's bundler adds it), so each
 *   component's `convex.config.ts` is imported first, children before parents,
 *   and given that property before its parent is evaluated;
 * - walk the app's `export()`: each installed child becomes a component
 *   instance at `componentPath` (`counter`, or `parent/child` when nested),
 *   registered in convex-test with `registerComponent(path, schema, modules)`;
 * - declared env: the app's required vars must be set, and each component sees
 *   exactly its declared vars, bound by its parent to a literal or to one of
 *   the parent's vars (`app.env.NAME`), plus `CONVEX_CLOUD_URL` /
 *   `CONVEX_SITE_URL`. A required var that ends up unset, or a value its
 *   validator refuses, fails the start as it would fail a push.
 *
 * Per-component env in one process: `_generated/server` exports
 * `env = globalThis.process.env`, captured when the module loads. The backend
 * replaces `process.env` once with a proxy that answers from the running
 * component's env (an AsyncLocalStorage entered by each registered function of
 * a component, see `wrapModules`) and from the real environment otherwise.
 *
 * A component's own `crons.ts` is run by the cron runner inside the
 * component (./cronRunner.ts).
 *
 * Components from npm packages (`@convex-dev/resend/convex.config`) load the
 * same way from the package's compiled directory (its `convex.config.js`,
 * `schema.js`, modules and `_generated`), children included.
 *
 * Not supported (refused, see docs/LOCAL_BACKEND.md "Components"): `httpPrefix` mounts.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { SchemaDefinition } from "convex/server";
import { buildModuleMap, type ModuleMap } from "./modules";
import { allowExtensionlessPackageImports } from "./resolveHook";

const CONFIG_FILES = ["convex.config.ts", "convex.config.js"];
const PLATFORM_ENV = ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL"];

type EnvBinding = { type: "value"; value: string } | { type: "envVar"; name: string };
type EnvDecl = { name: string; validator: ValidatorJson; optional: boolean };
type ValidatorJson = { type: string; value?: unknown; value_?: unknown; fields?: unknown } & Record<string, unknown>;

type DefinitionExport = {
  childComponents: { name: string; path: string; env: [string, EnvBinding][] | null }[];
  httpMounts: Record<string, string>;
  envVars?: [string, { type: "value"; value: string; optional?: boolean }][];
};
type RuntimeDefinition = {
  _name?: string;
  componentDefinitionPath?: string;
  defaultName?: string;
  export(): DefinitionExport;
};

/** One installed component instance. */
export type ComponentInstance = {
  /** `counter`, or `parent/child` for a component installed by a component. */
  componentPath: string;
  /** Definition directory relative to the functions directory (`counter`). */
  definitionPath: string;
  dir: string;
  env: EnvView;
};

/** What a component's functions see as `process.env` (its declared vars only). */
export type EnvView = { get(name: string): string | undefined; keys(): string[] };

export type ComponentTree = {
  /** Directories (absolute) holding a component definition: not app modules. */
  definitionDirs: string[];
  instances: ComponentInstance[];
};

/** Directories under `convexDir` with a `convex.config.*` of their own (component definitions). */
export function findComponentDirs(convexDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".") || name === "node_modules" || name === "_generated") continue;
      const full = join(dir, name);
      if (!statSync(full).isDirectory()) continue;
      if (CONFIG_FILES.some((f) => existsSync(join(full, f)))) found.push(full);
      walk(full);
    }
  };
  walk(convexDir);
  return found;
}

function configFile(dir: string): string | null {
  for (const f of CONFIG_FILES) if (existsSync(join(dir, f))) return join(dir, f);
  return null;
}

/**
 * Definition dirs a config imports, resolved: a local one
 * (`import x from "./counter/convex.config"`) or an npm package's
 * (`import resend from "@convex-dev/resend/convex.config"`, resolved from the
 * importing file as Node would, to the package's compiled component dir).
 */
function importedDefinitionDirs(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const dirs: string[] = [];
  for (const match of text.matchAll(/from\s+["']([^"']*convex\.config(?:\.[jt]s)?)["']/g)) {
    const spec = match[1]!;
    if (spec.startsWith(".")) dirs.push(dirname(resolve(dirname(file), spec)));
    else {
      allowExtensionlessPackageImports();
      dirs.push(dirname(createRequire(file).resolve(spec)));
    }
  }
  return dirs;
}

function posix(path: string): string {
  return path.split(sep).join("/");
}

async function importDefinition(file: string): Promise<RuntimeDefinition> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: RuntimeDefinition };
  if (!mod.default || typeof mod.default.export !== "function") throw new Error(`${file}: the default export is not a Convex app or component definition`);
  return mod.default;
}

function envDecls(exported: DefinitionExport): EnvDecl[] {
  return (exported.envVars ?? []).map(([name, decl]) => ({
    name,
    validator: JSON.parse(decl.value) as ValidatorJson,
    optional: decl.optional === true,
  }));
}

/** Whether `value` passes a string-like env validator (`v.string()`, `v.literal`, `v.union` of those). */
function accepts(validator: ValidatorJson, value: string): boolean {
  switch (validator.type) {
    case "string":
    case "any":
      return true;
    case "literal":
      return validator.value === value;
    case "union":
      return (validator.value as ValidatorJson[]).some((member) => accepts(member, value));
    default:
      return false;
  }
}

function checkEnv(owner: string, decls: EnvDecl[], view: EnvView): void {
  const problems: string[] = [];
  for (const decl of decls) {
    const value = view.get(decl.name);
    if (value === undefined) {
      if (!decl.optional) problems.push(`${decl.name} is required but not set`);
    } else if (!accepts(decl.validator, value)) {
      problems.push(`${decl.name}=${JSON.stringify(value)} does not match ${JSON.stringify(decl.validator)}`);
    }
  }
  if (problems.length > 0) throw new Error(`declared env of ${owner}: ${problems.join("; ")}`);
}

/**
 * Evaluates the app's and its components' definitions and returns the
 * installed component instances (parents before children) with their env.
 * `appEnv` reads the app's environment (the real `process.env`).
 * Throws on an `httpPrefix` mount, or declared env
 * that is missing or invalid.
 */
export async function loadComponentTree(convexDir: string, appEnv: (name: string) => string | undefined): Promise<ComponentTree> {
  const definitionDirs = findComponentDirs(convexDir);
  const appConfig = configFile(convexDir);
  if (!appConfig) return { definitionDirs, instances: [] };

  // Import component definitions children first, marking each with its path.
  const definitions = new Map<string, RuntimeDefinition>();
  const visiting = new Set<string>();
  const prepare = async (dir: string): Promise<void> => {
    if (definitions.has(dir)) return;
    if (visiting.has(dir)) throw new Error(`component definitions import each other: ${dir}`);
    visiting.add(dir);
    const file = configFile(dir);
    if (!file) throw new Error(`${dir} has no convex.config.ts`);
    for (const child of importedDefinitionDirs(file)) await prepare(child);
    const def = await importDefinition(file);
    const definitionPath = posix(relative(convexDir, dir));
    def.componentDefinitionPath = definitionPath;
    def.defaultName = def._name ?? definitionPath.split("/").pop()!;
    definitions.set(dir, def);
    visiting.delete(dir);
  };
  for (const child of importedDefinitionDirs(appConfig)) await prepare(child);
  const app = await importDefinition(appConfig);
  const appExport = app.export();
  const appView: EnvView = { get: appEnv, keys: () => [] };
  checkEnv("the app", envDecls(appExport), appView);

  const instances: ComponentInstance[] = [];
  const install = (parentPath: string, parentExport: DefinitionExport, parentEnv: (name: string) => string | undefined) => {
    if (Object.keys(parentExport.httpMounts).length > 0) {
      throw new Error(`httpPrefix mounts (${Object.keys(parentExport.httpMounts).join(", ")}) are not supported by the local backend; mount routes from the app's http.ts`);
    }
    for (const child of parentExport.childComponents) {
      const dir = join(convexDir, ...child.path.split("/"));
      const def = definitions.get(dir);
      if (!def) throw new Error(`component ${child.name}: no definition at ${dir}`);
      const childExport = def.export();
      const decls = envDecls(childExport);
      const bindings = new Map(child.env ?? []);
      const declared = new Set(decls.map((d) => d.name));
      const get = (name: string): string | undefined => {
        if (PLATFORM_ENV.includes(name)) return appEnv(name);
        if (!declared.has(name)) return undefined;
        const binding = bindings.get(name);
        if (!binding) return undefined;
        return binding.type === "value" ? binding.value : parentEnv(binding.name);
      };
      const componentPath = parentPath ? `${parentPath}/${child.name}` : child.name;
      const view: EnvView = { get, keys: () => [...PLATFORM_ENV, ...decls.map((d) => d.name)].filter((k) => get(k) !== undefined) };
      for (const name of bindings.keys()) {
        if (!declared.has(name)) throw new Error(`component ${componentPath}: env ${name} is passed but not declared by defineComponent`);
      }
      checkEnv(`component ${componentPath}`, decls, view);
      instances.push({ componentPath, definitionPath: child.path, dir, env: view });
      install(componentPath, childExport, get);
    }
  };
  install("", appExport, appEnv);
  return { definitionDirs, instances };
}

/** Imports a component's schema (`schema.ts` in its directory), or undefined. */
export async function loadComponentSchema(modules: ModuleMap, dir: string): Promise<SchemaDefinition<never, boolean> | undefined> {
  for (const [file, load] of Object.entries(modules)) {
    if (dirname(file) === dir && /^schema\.[mc]?[jt]sx?$/.test(file.slice(dir.length + 1))) {
      return (await load()).default as SchemaDefinition<never, boolean>;
    }
  }
  return undefined;
}

/** A component instance ready for convex-test's `registerComponent`. */
export type LoadedComponent = {
  componentPath: string;
  schema: SchemaDefinition<never, boolean> | undefined;
  /** Definition directory (absolute): module paths (`lib`, `crons`) are relative to it. */
  dir: string;
  /** The component's modules (its `_generated` included), each function entering its env. */
  modules: ModuleMap;
};

/**
 * The installed components of the app in `convexDir`, with module maps that
 * leave out nested component directories, and `appModules` to wrap the app's
 * own map (app functions run with the real environment even when a component
 * calls them back).
 */
export async function loadComponentInstances(
  convexDir: string,
  componentDirs: readonly string[],
  appEnv: (name: string) => string | undefined,
): Promise<{ components: LoadedComponent[]; appModules(modules: ModuleMap): ModuleMap }> {
  const tree = await loadComponentTree(convexDir, appEnv);
  const components: LoadedComponent[] = [];
  for (const instance of tree.instances) {
    const nested = componentDirs.filter((d) => d !== instance.dir && d.startsWith(instance.dir + sep));
    const raw = buildModuleMap(instance.dir, nested);
    components.push({
      componentPath: instance.componentPath,
      schema: await loadComponentSchema(raw, instance.dir),
      dir: instance.dir,
      modules: wrapModules(raw, instance.env),
    });
  }
  return { components, appModules: (modules) => wrapModules(modules, null) };
}

const envStorage = new AsyncLocalStorage<EnvView | null>();
let proxyInstalled = false;
let realEnv: NodeJS.ProcessEnv = process.env;

/** Reads the process's real environment (the app's), whichever function is running. */
export function readAppEnv(name: string): string | undefined {
  return realEnv[name];
}

/**
 * Replaces `process.env` (once per process) with a proxy that answers from
 * the running component's env view, and from the real environment when no
 * component function is running. Writes always go to the real environment.
 */
export function installComponentEnvProxy(): void {
  if (proxyInstalled) return;
  proxyInstalled = true;
  const real = process.env;
  realEnv = real;
  const view = () => envStorage.getStore() ?? null;
  process.env = new Proxy(real, {
    get(target, key) {
      const v = view();
      if (!v || typeof key !== "string") return Reflect.get(target, key) as unknown;
      return v.get(key);
    },
    has(target, key) {
      const v = view();
      if (!v || typeof key !== "string") return Reflect.has(target, key);
      return v.get(key) !== undefined;
    },
    ownKeys(target) {
      const v = view();
      return v ? v.keys() : Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      const v = view();
      if (!v || typeof key !== "string") return Reflect.getOwnPropertyDescriptor(target, key);
      const value = v.get(key);
      return value === undefined ? undefined : { value, writable: true, enumerable: true, configurable: true };
    },
  });
}

type Registered = ((...args: never[]) => unknown) & { _handler?: (...args: unknown[]) => unknown; isQuery?: boolean; isMutation?: boolean; isAction?: boolean };

/**
 * Wraps each registered function of the modules so its handler runs with
 * `env` as its `process.env` (null: the real environment, for the app).
 * convex-test calls a function through its `_handler`, so nested calls across
 * components each enter their own env.
 */
export function wrapModules(modules: ModuleMap, env: EnvView | null): ModuleMap {
  const wrapped: ModuleMap = {};
  for (const [file, load] of Object.entries(modules)) {
    let cached: Promise<Record<string, unknown>> | undefined;
    wrapped[file] = () => (cached ??= wrapModule(file, load));
  }
  return wrapped;

  async function wrapModule(file: string, load: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const mod = await load();
    if (file.includes(`${sep}_generated${sep}`)) return mod;
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(mod)) {
      const fn = value as Registered | null;
      if (typeof fn === "function" && typeof fn._handler === "function" && (fn.isQuery || fn.isMutation || fn.isAction)) {
        const handler = fn._handler;
        const copy = ((...args: never[]) => fn(...args)) as Registered;
        Object.assign(copy, fn, { _handler: (...args: unknown[]) => envStorage.run(env, () => handler(...args)) });
        out[name] = copy;
      } else {
        out[name] = value;
      }
    }
    return out;
  }
}
