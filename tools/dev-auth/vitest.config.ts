import { defineProject } from "vitest/config";

/** `npm test -w @offline/dev-auth` alone, or as the `dev-auth` project of the root config. */
export default defineProject({
  test: {
    name: "dev-auth",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
