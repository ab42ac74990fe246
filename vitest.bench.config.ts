import { defineConfig } from "vitest/config";

/**
 * Benchmarks, not tests: run by `npm run bench:anchor`, never by `npm test`
 * (vitest.config.ts's projects do not include `tests/bench/`).
 *
 * Same runtime settings as the `convex` project in vitest.config.ts (and the
 * shared anchor harness's config): the edge runtime, the `worker`/`browser`
 * export conditions Convex's default runtime bundles with (so the stripe SDK
 * loads its worker build), and convex-test and stripe inlined. One file at a
 * time, with room for a warm-up pass and three measured passes.
 */
export default defineConfig({
  // Inlining stripe makes Vite print sourcemap warnings by the hundred.
  logLevel: "error",
  ssr: { resolve: { conditions: ["worker", "browser"], externalConditions: ["worker", "browser"] } },
  resolve: { conditions: ["worker", "browser"] },
  test: {
    name: "bench",
    include: ["tests/bench/**/*.bench.test.ts"],
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test", "stripe"] } },
    testTimeout: 1_800_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
