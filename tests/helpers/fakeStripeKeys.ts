/**
 * Stripe API keys for tests that only need a key's *mode*: the backend tells
 * live from test by the `sk_live_` / `rk_live_` prefix. These are not keys
 * and grant nothing; they are assembled from parts so that no string in the
 * repository looks like a committed live secret to a reader or a scanner.
 */
export function fakeLiveKey(kind: "sk" | "rk" = "sk"): string {
  return [kind, "live", "not", "a", "real", "key"].join("_");
}

/** A test-mode secret key of the same fake shape. */
export function fakeTestKey(kind: "sk" | "rk" = "sk"): string {
  return [kind, "test", "not", "a", "real", "key"].join("_");
}
