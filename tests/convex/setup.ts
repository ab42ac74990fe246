/// <reference types="vite/client" />
import { convexTest } from "convex-test";
import schema from "../../convex/schema";

/**
 * Every Convex module, including `_generated`, for convex-test. Files with
 * two dots (`api.d.ts`, `auth.config.ts`) are not modules. Written as an
 * include plus a negative pattern: the single extglob `!(*.*.*)*.*s` after a
 * `../..` prefix matched nothing under this Vite version.
 */
export const modules = import.meta.glob(["../../convex/**/*.*s", "!../../convex/**/*.*.*s"]);

/** A fresh in-memory deployment with Convex's transaction limits enforced. */
export function makeTest() {
  return convexTest({ schema, modules, transactionLimits: true });
}
