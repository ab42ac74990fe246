/**
 * The analysis a Convex deployment returns from `POST /api/deploy2/start_push`,
 * computed offline from the request the `convex` 1.48 CLI sends, so offline
 * codegen handles apps with child components and declared env.
 *
 * The request carries, for the app and for each component definition, the
 * esbuild bundles of its `convex.config.ts`, `schema.ts` and function modules
 * (paths like `lib.js`, shared chunks under `_deps/`). A deployment evaluates
 * them in its isolate; here they are written to a temp directory and imported
 * in Node:
 *
 * - definitions: a definition bundle imports its children as
 *   `./_componentDeps/<base64url(definition path)>`, which a deployment
 *   resolves to `{ componentDefinitionPath, defaultName }`; the same object is
 *   supplied here, then the default export's `export()` gives the definition
 *   metadata (child components with their env bindings, http mounts, declared
 *   `envVars`);
 * - functions: every registered function a module exports, with its
 *   `udfType`, visibility and `exportArgs()` / `exportReturns()` JSON;
 * - schema: `export()` of the default export;
 * - a child component's `exports`: its public functions as a tree of module
 *   path segments (what becomes `ComponentApi` in its `_generated/component.ts`
 *   and `components.<name>` in the parent's `_generated/api`).
 *
 * `auth.config.js` is not evaluated (codegen does not use `appAuth`), and
 * modules are evaluated with the codegen process's env, as a deployment
 * evaluates them with its own.
 *
 * Shapes: node_modules/convex/src/cli/lib/deployApi/{startPush,
 * componentDefinition,definitionConfig,modules}.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type ModuleConfig = { path: string; source: string; sourceMap?: string; environment: "isolate" | "node" };

type DefinitionConfig = {
  /** "" for the app. */
  definitionPath: string;
  definition: ModuleConfig | null;
  dependencies: string[];
  schema: ModuleConfig | null;
  functions: ModuleConfig[];
};

/** The parts of the start_push request this file reads. */
export type StartPushRequest = {
  appDefinition: {
    definition: ModuleConfig | null;
    dependencies: string[];
    schema: ModuleConfig | null;
    changedModules: ModuleConfig[];
    unchangedModuleHashes: unknown[];
  };
  componentDefinitions: (Omit<DefinitionConfig, "definition"> & { definition: ModuleConfig })[];
};

type ComponentExports = { type: "leaf"; leaf: string } | { type: "branch"; branch: [string, ComponentExports][] };

type EnvVarDecl = [string, { type: "value"; value: string; optional?: boolean }];

type DefinitionMetadata = {
  path: string;
  definitionType: { type: "app"; httpPrefix?: string } | { type: "childComponent"; name: string; args?: unknown[] };
  childComponents: { name: string; path: string; args?: unknown[]; env?: [string, { type: "value"; value: string } | { type: "envVar"; name: string }][] | null }[];
  httpMounts: Record<string, string>;
  exports: { type: "branch"; branch: [string, ComponentExports][] };
  envVars: EnvVarDecl[];
};

type AnalyzedFunction = {
  name: string;
  pos: null;
  udfType: "Query" | "Mutation" | "Action";
  visibility: { kind: "public" | "internal" } | null;
  args: string | null;
  returns: string | null;
};

type AnalyzedModule = {
  functions: AnalyzedFunction[];
  httpRoutes: { path: string; method: string }[] | null;
  cronSpecs: null;
  sourceMapped: null;
};

export type EvaluatedComponentDefinition = {
  definition: DefinitionMetadata;
  schema: { tables: unknown[]; schemaValidation: boolean } | null;
  functions: Record<string, AnalyzedModule>;
  udfConfig: { serverVersion: string; importPhaseRngSeed: null; importPhaseUnixTimestamp: null };
};

type CheckedComponent = {
  definitionPath: string;
  componentPath: string;
  args: Record<string, never>;
  childComponents: Record<string, CheckedComponent>;
  httpRoutes: { httpModuleRoutes: { path: string; method: string }[] | null; mounts: string[] };
  exports: Record<string, never>;
};

export type StartPushResponse = {
  environmentVariables: Record<string, string>;
  externalDepsId: null;
  componentDefinitionPackages: Record<string, never>;
  appAuth: never[];
  analysis: Record<string, EvaluatedComponentDefinition>;
  app: CheckedComponent;
  schemaChange: { allocatedComponentIds: null; schemaIds: null };
};

type RegisteredFunction = {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
  exportReturns?: () => string;
};

type RuntimeDefinition = { export(): Omit<DefinitionMetadata, "path" | "envVars"> & { envVars?: EnvVarDecl[]; name?: string } };

/** Modules a deployment does not analyse as function modules. */
function isFunctionModule(path: string): boolean {
  return !path.startsWith("_deps/") && path !== "auth.config.js" && path !== "schema.js" && path !== "convex.config.js";
}

/**
 * A validator's JSON as a deployment returns it: it keeps object fields in a
 * sorted map, so they come back in name order (union members keep theirs).
 * Codegen prints fields in the order it receives them.
 */
export function canonicalValidatorJson(json: string): string {
  const canon = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(canon);
    if (typeof node !== "object" || node === null) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = canon(value);
    if (out.type === "object" && typeof out.value === "object" && out.value !== null && !Array.isArray(out.value)) {
      const fields = out.value as Record<string, unknown>;
      out.value = Object.fromEntries(Object.keys(fields).sort(compareNames).map((k) => [k, fields[k]]));
    }
    return out;
  };
  return JSON.stringify(canon(JSON.parse(json)));
}

/** Byte order, as Rust's BTreeMap<String, _> sorts. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function analyzeExports(mod: Record<string, unknown>): AnalyzedFunction[] {
  const functions: AnalyzedFunction[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value !== "function" && (typeof value !== "object" || value === null)) continue;
    const fn = value as RegisteredFunction;
    const udfType = fn.isQuery ? "Query" : fn.isMutation ? "Mutation" : fn.isAction ? "Action" : null;
    if (!udfType || typeof fn.exportArgs !== "function") continue;
    functions.push({
      name,
      pos: null,
      udfType,
      visibility: fn.isPublic ? { kind: "public" } : fn.isInternal ? { kind: "internal" } : null,
      args: canonicalValidatorJson(fn.exportArgs()),
      returns: typeof fn.exportReturns === "function" ? canonicalValidatorJson(fn.exportReturns()) : null,
    });
  }
  return functions;
}

function httpRoutesOf(mod: Record<string, unknown>): { path: string; method: string }[] | null {
  const router = mod.default as { isRouter?: boolean; getRoutes?: () => [string, string, unknown][] } | undefined;
  if (!router?.isRouter || typeof router.getRoutes !== "function") return null;
  return router.getRoutes().map(([path, method]) => ({ path, method }));
}

/** A child component's API: its public functions, keyed by module path segments then name. */
function exportsOf(functions: Record<string, AnalyzedModule>): { type: "branch"; branch: [string, ComponentExports][] } {
  type Tree = Map<string, Tree | string>;
  const root: Tree = new Map();
  for (const [modulePath, mod] of Object.entries(functions)) {
    const segments = modulePath.replace(/\.js$/, "").split("/");
    for (const fn of mod.functions) {
      if (fn.visibility?.kind !== "public") continue;
      let node = root;
      for (const segment of segments) {
        let next = node.get(segment);
        if (typeof next === "string") throw new Error(`Ambiguous export ${segment} in ${modulePath}`);
        if (!next) {
          next = new Map();
          node.set(segment, next);
        }
        node = next;
      }
      node.set(fn.name, `_reference/function/${modulePath.replace(/\.js$/, "")}:${fn.name}`);
    }
  }
  const serialize = (tree: Tree): { type: "branch"; branch: [string, ComponentExports][] } => ({
    type: "branch",
    branch: [...tree.entries()]
      .sort(([a], [b]) => compareNames(a, b))
      .map(([key, child]) => [key, typeof child === "string" ? { type: "leaf", leaf: child } : serialize(child)]),
  });
  return serialize(root);
}

function definitionDir(root: string, definitionPath: string): string {
  return join(root, definitionPath === "" ? "_app" : `_components/${Buffer.from(definitionPath).toString("base64url")}`);
}

function writeModule(dir: string, mod: ModuleConfig) {
  const file = join(dir, mod.path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, mod.source);
}

async function importFile(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/**
 * Evaluates the definitions and modules of a start_push request and returns
 * the response a deployment would give for codegen. `projectRoot` is where
 * bare imports of `"use node"` modules resolve (its `node_modules`).
 * Throws with the module path when a module fails to evaluate.
 */
export async function analyzeStartPush(request: StartPushRequest, options: { serverVersion: string; projectRoot: string }): Promise<StartPushResponse> {
  const scratch = mkdtempSync(join(tmpdir(), "convex-offline-analysis-"));
  try {
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ type: "module" }));
    symlinkSync(join(options.projectRoot, "node_modules"), join(scratch, "node_modules"));

    const app = request.appDefinition;
    const definitions: DefinitionConfig[] = [
      {
        definitionPath: "",
        definition: app.definition,
        dependencies: app.dependencies,
        schema: app.schema,
        functions: app.changedModules,
      },
      ...request.componentDefinitions,
    ];
    if (app.unchangedModuleHashes.length > 0) {
      throw new Error("offline analysis needs every module in the request (the stub reports no remote hashes)");
    }

    const udfConfig = { serverVersion: options.serverVersion, importPhaseRngSeed: null, importPhaseUnixTimestamp: null };
    const metadata = new Map<string, DefinitionMetadata>();
    const pending = [...definitions];
    // Children first: a parent's definition needs each child's name.
    while (pending.length > 0) {
      const index = pending.findIndex((d) => d.dependencies.every((dep) => metadata.has(dep)));
      if (index < 0) throw new Error(`component definitions form a cycle: ${pending.map((d) => d.definitionPath).join(", ")}`);
      const def = pending.splice(index, 1)[0]!;
      metadata.set(def.definitionPath, await evaluateDefinition(scratch, def, metadata));
    }

    const analysis: Record<string, EvaluatedComponentDefinition> = {};
    for (const def of definitions) {
      const dir = definitionDir(scratch, def.definitionPath);
      for (const mod of def.functions) writeModule(dir, mod);
      const functions: Record<string, AnalyzedModule> = {};
      for (const mod of [...def.functions].sort((a, b) => (a.path < b.path ? -1 : 1))) {
        if (!isFunctionModule(mod.path)) continue;
        let evaluated: Record<string, unknown>;
        try {
          evaluated = await importFile(join(dir, mod.path));
        } catch (e) {
          throw new Error(`${def.definitionPath || "app"}: evaluating ${mod.path} failed: ${(e as Error).stack ?? String(e)}`);
        }
        functions[mod.path] = {
          functions: analyzeExports(evaluated),
          httpRoutes: mod.path === "http.js" ? httpRoutesOf(evaluated) : null,
          cronSpecs: null,
          sourceMapped: null,
        };
      }
      let schema: EvaluatedComponentDefinition["schema"] = null;
      if (def.schema) {
        writeModule(join(dir, "_schema"), def.schema);
        const mod = await importFile(join(dir, "_schema", def.schema.path));
        const exported = JSON.parse(canonicalValidatorJson((mod.default as { export(): string }).export())) as { tables: { tableName: string }[]; schemaValidation: boolean };
        // Tables in name order, as a deployment's sorted map returns them.
        schema = { ...exported, tables: [...exported.tables].sort((a, b) => compareNames(a.tableName, b.tableName)) };
      }
      const definition = metadata.get(def.definitionPath)!;
      if (def.definitionPath !== "") definition.exports = exportsOf(functions);
      analysis[def.definitionPath] = { definition, schema, functions, udfConfig };
    }

    return {
      environmentVariables: {},
      externalDepsId: null,
      componentDefinitionPackages: {},
      appAuth: [],
      analysis,
      app: checkedComponent("", "", analysis),
      schemaChange: { allocatedComponentIds: null, schemaIds: null },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function evaluateDefinition(scratch: string, def: DefinitionConfig, known: Map<string, DefinitionMetadata>): Promise<DefinitionMetadata> {
  const isApp = def.definitionPath === "";
  if (!def.definition) {
    // An app without convex.config.ts.
    return {
      path: "",
      definitionType: { type: "app" },
      childComponents: [],
      httpMounts: {},
      exports: { type: "branch", branch: [] },
      envVars: [],
    };
  }
  let source = def.definition.source;
  for (const dep of def.dependencies) {
    const child = known.get(dep)!;
    const name = child.definitionType.type === "childComponent" ? child.definitionType.name : dep.split("/").pop()!;
    const stand = `export default ${JSON.stringify({ componentDefinitionPath: dep, defaultName: name })};`;
    const specifier = `./_componentDeps/${Buffer.from(dep).toString("base64url")}`;
    source = source.split(JSON.stringify(specifier)).join(JSON.stringify(`data:text/javascript,${encodeURIComponent(stand)}`));
  }
  const dir = join(definitionDir(scratch, def.definitionPath), "_definition");
  writeModule(dir, { ...def.definition, source });
  let exported: ReturnType<RuntimeDefinition["export"]>;
  try {
    const mod = await importFile(join(dir, def.definition.path));
    exported = (mod.default as RuntimeDefinition).export();
  } catch (e) {
    throw new Error(`${isApp ? "app" : def.definitionPath}: evaluating convex.config failed: ${(e as Error).stack ?? String(e)}`);
  }
  const { name: _name, envVars, ...rest } = exported;
  // A deployment keeps declared env and child env bindings in sorted maps.
  const sortedEnv = (envVars ?? []).map(([name, decl]): EnvVarDecl => [name, { ...decl, value: canonicalValidatorJson(decl.value) }]).sort(([a], [b]) => compareNames(a, b));
  const childComponents = rest.childComponents.map((child) => ({ ...child, env: child.env ? [...child.env].sort(([a], [b]) => compareNames(a, b)) : [] }));
  return { ...rest, childComponents, path: def.definitionPath, envVars: sortedEnv };
}

function checkedComponent(definitionPath: string, componentPath: string, analysis: Record<string, EvaluatedComponentDefinition>): CheckedComponent {
  const def = analysis[definitionPath]!;
  const children: Record<string, CheckedComponent> = {};
  for (const child of def.definition.childComponents) {
    children[child.name] = checkedComponent(child.path, componentPath ? `${componentPath}/${child.name}` : child.name, analysis);
  }
  return {
    definitionPath,
    componentPath,
    args: {},
    childComponents: children,
    httpRoutes: { httpModuleRoutes: def.functions["http.js"]?.httpRoutes ?? null, mounts: Object.keys(def.definition.httpMounts) },
    exports: {},
  };
}
