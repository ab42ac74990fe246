import { defineProject } from "vitest/config";

/** `npm test -w @offline/local-backend` alone, or as the `local-backend` project of the root config. */
export default defineProject({
  test: {
    name: "local-backend",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
