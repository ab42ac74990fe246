import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";
import { rootAlias } from "./vite.config.ts";

/**
 * Two projects:
 * - `convex`: backend functions under convex-test in the edge runtime, with
 *   the `worker`/`browser` export conditions Convex's default runtime bundles
 *   with, so the stripe SDK loads its worker (SubtleCrypto) build as it does
 *   in production.
 * - `ui`: React components under jsdom, with the client's `@/` alias
 *   (repository root, from vite.config.ts).
 * Node-side tests (scripts, the local stack) live in the `node` project.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "convex",
          include: ["tests/convex/**/*.test.ts"],
          environment: "edge-runtime",
          server: { deps: { inline: ["convex-test", "stripe"] } },
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
          include: ["tests/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
  },
});
