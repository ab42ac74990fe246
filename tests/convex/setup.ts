/// <reference types="vite/client" />
import { convexTest } from "convex-test";
import schema from "../../convex/schema";
import { registerBilling } from "../lib/billingComponent";

/**
 * Every Convex module of the app, including `_generated`, for convex-test,
 * without the billing component's folder, whose modules are registered with
 * the component. Files with two dots (`api.d.ts`, `auth.config.ts`,
 * `convex.config.ts`) are not modules. Written as an include plus negative
 * patterns: the single extglob `!(*.*.*)*.*s` after a `../..` prefix matched
 * nothing under this Vite version.
 */
export const modules = import.meta.glob([
  "../../convex/**/*.*s",
  "!../../convex/**/*.*.*s",
  "!../../convex/billing/**",
]);

/** The billing component's modules, its own `_generated` included. */
export const billingModules = import.meta.glob(["../../convex/billing/**/*.*s", "!../../convex/billing/**/*.*.*s"]);

/**
 * A fresh in-memory deployment with Convex's transaction limits enforced:
 * the app with the billing component installed as `billing`.
 */
export function makeTest() {
  const t = convexTest({ schema, modules, transactionLimits: true });
  registerBilling(t, billingModules);
  return t;
}
