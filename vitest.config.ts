import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";
import { rootAlias } from "./vite.config.ts";

/**
 * Projects (`npx vitest run` runs them all; benchmarks are in vitest.bench.config.ts):
 * - `convex`: backend functions under convex-test in the edge runtime, with
 *   the `worker`/`browser` export conditions Convex's default runtime bundles
 *   with, so the stripe SDK loads its worker (SubtleCrypto) build as it does
 *   in production.
 * - `ui`: React components under jsdom, with the client's `@/` alias
 *   (repository root, from vite.config.ts).
 * - `node`: the app's Node-side tests (its config and scripts with the
 *   offline stack, the lifecycle run).
 * - one project per offline tool under tools/ (its own vitest.config.ts).
 */
export default defineConfig({
  test: {
    projects: [
      "tools/*/vitest.config.ts",
      {
        test: {
          name: "convex",
          include: ["tests/convex/**/*.test.ts"],
          environment: "edge-runtime",
          // `@convex-dev/*`: npm components (Resend and its children) ship ESM with extensionless imports.
          server: { deps: { inline: ["convex-test", "stripe", /@convex-dev\//] } },
          testTimeout: 30_000,
        },
        ssr: { resolve: { conditions: ["worker", "browser"], externalConditions: ["worker", "browser"] } },
        resolve: { conditions: ["worker", "browser"] },
      },
      {
        plugins: [react()],
        resolve: { alias: [rootAlias] },
        test: {
          name: "ui",
          include: ["tests/ui/**/*.test.{ts,tsx}"],
          environment: "jsdom",
          setupFiles: ["tests/ui/setup.ts"],
        },
      },
      {
        test: {
          name: "node",
          include: ["tests/node/**/*.test.ts", "tests/lifecycle/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
  },
});
