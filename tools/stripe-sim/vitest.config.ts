import { defineProject } from "vitest/config";

/** `npm test -w @offline/stripe-sim` alone, or as the `stripe-sim` project of the root config. */
export default defineProject({
  test: {
    name: "stripe-sim",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
