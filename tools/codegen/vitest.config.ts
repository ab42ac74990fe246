import { defineProject } from "vitest/config";

/** `npm test -w @offline/codegen` alone, or as the `codegen` project of the root config. */
export default defineProject({
  test: {
    name: "codegen",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
