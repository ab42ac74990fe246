/**
 * Offline codegen for an app with a local component: the local backend's
 * component-app fixture (tools/local-backend/tests/fixtures/component-app, an
 * app with a local `counter` component), through the CLI with `--root`.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const FIXTURE = join(ROOT, "tools/local-backend/tests/fixtures/component-app");
const tmp = mkdtempSync(join(tmpdir(), "codegen-components-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function codegen(project: string, check: boolean) {
  const result = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "tools/codegen/src/codegen.ts"), "--root", project, ...(check ? ["--check"] : [])], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CONVEX_DEPLOYMENT: "" },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("offline codegen for an app with a local component", () => {
  it("reproduces the committed _generated of the app and of the component (--check)", () => {
    const { status, output } = codegen(FIXTURE, true);
    expect(output).toContain("convex/counter/_generated");
    expect(status).toBe(0);
  });

  it("types the component's public API, declared env and the app's components export from the analysis", () => {
    const component = readFileSync(join(FIXTURE, "convex/counter/_generated/component.ts"), "utf8");
    // Public functions only, each as seen from the parent (internal, bound to the instance name),
    // object fields in name order as a deployment returns them.
    expect(component).toMatch(/add: FunctionReference<\s*"mutation",\s*"internal",\s*\{ amount: number; name: string \},\s*number,\s*Name\s*>/);
    expect(component).toMatch(/get: FunctionReference<\s*"query",\s*"internal",\s*\{ name: string \},\s*number,\s*Name\s*>/);
    expect(component).not.toContain("current");
    const componentServer = readFileSync(join(FIXTURE, "convex/counter/_generated/server.ts"), "utf8");
    expect(componentServer).toContain('readonly MODE: "strict" | "loose";');
    expect(componentServer).toContain("readonly LABEL: string | undefined;");
    const appApi = readFileSync(join(FIXTURE, "convex/_generated/api.d.ts"), "utf8");
    expect(appApi).toContain('counter: import("../counter/_generated/component.js").ComponentApi<"counter">;');
    const appServer = readFileSync(join(FIXTURE, "convex/_generated/server.d.ts"), "utf8");
    expect(appServer).toContain("readonly COUNTER_TOKEN: string;");
  });

  it("fails the check when a component function's validators change", () => {
    const project = join(tmp, "changed-project");
    cpSync(FIXTURE, project, { recursive: true });
    const lib = join(project, "convex/counter/lib.ts");
    writeFileSync(lib, readFileSync(lib, "utf8").replace("args: { name: v.string(), amount: v.number() }", "args: { name: v.string(), amount: v.int64() }"));
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    const { status, output } = codegen(project, true);
    expect(status).toBe(1);
    expect(output).toContain("counter/_generated/component.ts");
    expect(output).not.toContain("counter/_generated/server.ts");
  });
});
