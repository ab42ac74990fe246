/**
 * Offline codegen on a scratch copy of a one-module fixture app: it writes
 * `convex/_generated` naming the app's modules, the check passes on what it
 * wrote and names the drifted files once a module is added, and it never
 * edits the tree it checks.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCodegen, codegen } from "../src/codegen";

const REPO_NODE_MODULES = resolve(import.meta.dirname, "../../../node_modules");
let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), "codegen-fixture-"));
  cpSync(join(import.meta.dirname, "fixtures/app"), app, { recursive: true });
  symlinkSync(REPO_NODE_MODULES, join(app, "node_modules"));
});
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe("offline codegen", () => {
  it("generates the api for the app's modules without a deployment", async () => {
    expect(await codegen(app)).toBe(0);
    expect(readdirSync(join(app, "convex/_generated")).sort()).toEqual(["api.d.ts", "api.js", "dataModel.d.ts", "server.d.ts", "server.js"]);
    expect(readFileSync(join(app, "convex/_generated/api.d.ts"), "utf8")).toContain('import type * as notes from "../notes.js";');
  });

  it("passes the check on fresh output and names the drifted files after a module is added", async () => {
    expect(await checkCodegen(app)).toMatchObject({ code: 0, drift: [], files: 5 });
    writeFileSync(join(app, "convex/tags.ts"), 'import { queryGeneric } from "convex/server";\nexport const all = queryGeneric({ args: {}, handler: async () => [] });\n');
    const before = readFileSync(join(app, "convex/_generated/api.d.ts"), "utf8");
    const result = await checkCodegen(app);
    expect(result.code).toBe(1);
    expect(result.drift).toContain("_generated/api.d.ts");
    // The check regenerates in a scratch copy: the committed files stay as they were.
    expect(readFileSync(join(app, "convex/_generated/api.d.ts"), "utf8")).toBe(before);
  });
});
