/// <reference types="vite/client" />
import { convexTest } from "convex-test";
import schema from "../../convex/schema";
import { registerBilling, registerNpmComponent } from "../lib/billingComponent";

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
 * The npm components the billing component installs (`@convex-dev/resend`
 * and its children), from their packages' compiled `dist/component`, each
 * with its schema. Registered under the instance paths a deployment gives
 * them (`billing/resend`, `billing/resend/emailWorkpool`, ...).
 */
const npmModules = {
  resend: import.meta.glob("../../node_modules/@convex-dev/resend/dist/component/**/*.js"),
  workpool: import.meta.glob("../../node_modules/@convex-dev/workpool/dist/component/**/*.js"),
  rateLimiter: import.meta.glob("../../node_modules/@convex-dev/rate-limiter/dist/component/**/*.js"),
  batchWorker: import.meta.glob("../../node_modules/@convex-dev/batch-worker/dist/component/**/*.js"),
};
const npmSchemas = import.meta.glob<{ default: Parameters<typeof registerNpmComponent>[2] }>(
  "../../node_modules/@convex-dev/{resend,workpool,rate-limiter,batch-worker}/dist/component/schema.js",
  { eager: true },
);
function npmSchema(pkg: string) {
  const schema = npmSchemas[`../../node_modules/@convex-dev/${pkg}/dist/component/schema.js`]?.default;
  if (!schema) throw new Error(`no schema for @convex-dev/${pkg}`);
  return schema;
}
const RESEND_TREE: [string, string, keyof typeof npmModules][] = [
  ["billing/resend", "resend", "resend"],
  ["billing/resend/rateLimiter", "rate-limiter", "rateLimiter"],
  ["billing/resend/emailWorkpool", "workpool", "workpool"],
  ["billing/resend/callbackWorkpool", "workpool", "workpool"],
  ["billing/resend/emailWorkpool/batchWorker", "batch-worker", "batchWorker"],
  ["billing/resend/callbackWorkpool/batchWorker", "batch-worker", "batchWorker"],
];
/** The npm components the app installs itself (`convex/convex.config.ts`). */
const APP_TREE: [string, string, keyof typeof npmModules][] = [
  ["seatSyncs", "workpool", "workpool"],
  ["seatSyncs/batchWorker", "batch-worker", "batchWorker"],
];

/**
 * A fresh in-memory deployment with Convex's transaction limits enforced:
 * the app with the billing component installed as `billing`.
 */
export function makeTest() {
  const t = convexTest({ schema, modules, transactionLimits: true });
  registerBilling(t, billingModules);
  for (const [path, pkg, modulesOf] of [...RESEND_TREE, ...APP_TREE]) registerNpmComponent(t, path, npmSchema(pkg), npmModules[modulesOf]);
  return t;
}
