/**
 * Reaching the billing component (`convex/billing/`) from tests, under
 * vitest and under the node harness alike.
 *
 * - `registerBilling(t, modules)`: registers it on a convex-test instance as
 *   `billing`, the name `convex/convex.config.ts` installs it under.
 * - `billing(t)`: calls any of its functions, internal ones included, each
 *   in its own transaction as `t.query` / `t.mutation` / `t.action` do, by
 *   the component's own references (`billingApi`, `billingInternal`):
 *   `billing(t).mutation(billingInternal.webhooks.process, { eventId })`.
 * - `runInBilling(t, fn)`: `t.run` inside the component, so `ctx.db` is its
 *   tables (seeding, reading back). `accountOf(t, ownerKey)` reads an account.
 *
 * convex-test implements these (`runInComponent`, `*FromPath`) without typing
 * them on its accessor; they are typed here once.
 */
import {
  getFunctionName,
  type FunctionArgs,
  type FunctionReference,
  type FunctionReturnType,
  type GenericMutationCtx,
  type SchemaDefinition,
  type GenericSchema,
} from "convex/server";
import type { DataModel as BillingDataModel, Doc } from "../../convex/billing/_generated/dataModel";
import { api as billingApi, internal as billingInternal } from "../../convex/billing/_generated/api";
import billingSchema from "../../convex/billing/schema";
import { accountByOwnerKey } from "../../convex/billing/model/accounts";

export { billingApi, billingInternal, billingSchema };

/** The name the app installs the component under. */
export const BILLING_COMPONENT = "billing";

export type BillingMutationCtx = GenericMutationCtx<BillingDataModel>;
type FunctionPath = { componentPath: string; udfPath: string };
type ComponentAccess = {
  registerComponent(path: string, schema: SchemaDefinition<GenericSchema, boolean>, modules: Record<string, () => Promise<unknown>>): void;
  runInComponent<T>(path: string, fn: (ctx: BillingMutationCtx) => Promise<T>): Promise<T>;
  queryFromPath(path: FunctionPath, args: unknown): Promise<unknown>;
  mutationFromPath(path: FunctionPath, args: unknown): Promise<unknown>;
  actionFromPath(path: FunctionPath, args: unknown): Promise<unknown>;
};

function access(t: object): ComponentAccess {
  return t as unknown as ComponentAccess;
}

/** Registers the billing component on `t` with its modules (`convex/billing/**`, `_generated` included). */
export function registerBilling(t: object, modules: Record<string, () => Promise<unknown>>): void {
  access(t).registerComponent(BILLING_COMPONENT, billingSchema, modules);
}

/** Registers an npm component instance (e.g. `billing/resend`) on `t` with its schema and compiled modules. */
export function registerNpmComponent(
  t: object,
  path: string,
  schema: SchemaDefinition<GenericSchema, boolean>,
  modules: Record<string, () => Promise<unknown>>,
): void {
  access(t).registerComponent(path, schema, modules);
}

/** `fn` in one mutation transaction inside the component: `ctx.db` reads and writes its tables. */
export async function runInBilling<T>(t: object, fn: (ctx: BillingMutationCtx) => Promise<T>): Promise<T> {
  return await access(t).runInComponent(BILLING_COMPONENT, fn);
}

function pathOf(ref: FunctionReference<"query" | "mutation" | "action", "public" | "internal">): FunctionPath {
  return { componentPath: BILLING_COMPONENT, udfPath: getFunctionName(ref) };
}

/** Calls the component's functions (public or internal) by its own references, as `t.query` etc. do for the app's. */
export function billing(t: object) {
  const a = access(t);
  return {
    query: async <F extends FunctionReference<"query", "public" | "internal">>(ref: F, args: FunctionArgs<F>) =>
      (await a.queryFromPath(pathOf(ref), args)) as FunctionReturnType<F>,
    mutation: async <F extends FunctionReference<"mutation", "public" | "internal">>(ref: F, args: FunctionArgs<F>) =>
      (await a.mutationFromPath(pathOf(ref), args)) as FunctionReturnType<F>,
    action: async <F extends FunctionReference<"action", "public" | "internal">>(ref: F, args: FunctionArgs<F>) =>
      (await a.actionFromPath(pathOf(ref), args)) as FunctionReturnType<F>,
  };
}

/** The billing account with this owner key (`user:<users id>` for a personal account), or null. */
export async function accountOf(t: object, ownerKey: string): Promise<Doc<"billingAccounts"> | null> {
  return await runInBilling(t, (ctx) => accountByOwnerKey(ctx, ownerKey));
}
