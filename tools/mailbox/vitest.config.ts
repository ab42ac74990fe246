import { defineProject } from "vitest/config";

/** `npm test -w @offline/mailbox` alone, or as the `mailbox` project of the root config. */
export default defineProject({
  test: {
    name: "mailbox",
    include: ["tests/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
  },
});
