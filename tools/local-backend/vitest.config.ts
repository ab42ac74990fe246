import { defineProject } from "vitest/config";

/** `npm test -w @offline/local-backend` alone, or as the `local-backend` project of the root config. */
export default defineProject({
  test: {
    name: "local-backend",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    // npm components ship compiled ESM with extensionless relative imports
    // (`./logging`), which a deployment's bundler resolves; Node's loader
    // does not, so Vite transforms them (tsx, the CLI's loader, resolves them itself).
    server: { deps: { inline: [/@convex-dev\//] } },
  },
});
