import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Random base62 string; Stripe ids are a prefix plus ~24 such characters. */
export function randomToken(length = 24): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** A new object id such as `cus_…`, `sub_…`, `cs_test_…`. */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}
