/// <reference types="vite/client" />
import { convexTest } from "convex-test";
import schema from "../../convex/schema";

/** Every Convex module, including `_generated`, for convex-test. */
export const modules = import.meta.glob("../../convex/**/!(*.*.*)*.*s");

/** A fresh in-memory deployment with Convex's transaction limits enforced. */
export function makeTest() {
  return convexTest({ schema, modules, transactionLimits: true });
}
