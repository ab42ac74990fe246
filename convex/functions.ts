/**
 * Function builders that resolve the caller once (convex-helpers
 * `customQuery` / `customMutation` / `customAction`,
 * https://stack.convex.dev/custom-functions). The billing component never
 * reads `ctx.auth`: these builders do, and hand it the caller's `ownerKey`.
 *
 * - `callerQuery`: `ctx.caller` is the signed-in caller or `null`; queries
 *   return an empty answer for signed-out callers rather than throwing, so the
 *   client can render a signed-out state.
 * - `callerMutation`: `ctx.caller` is required; throws `UNAUTHENTICATED`
 *   (signed out) or `NOT_FOUND` (not stored yet).
 * - `callerAction`: `ctx.ownerKey` is required, resolved through the internal
 *   query `users.callerOwnerKey` (actions have no `ctx.db`); throws as
 *   `callerMutation`.
 */
import {
  customAction,
  customCtx,
  customMutation,
  customQuery,
} from "convex-helpers/server/customFunctions";
import { fail, failAccountNotSetUp } from "./billing/model/errors";
import { internal } from "./_generated/api";
import { action, mutation, query } from "./_generated/server";
import { getCaller, requireCaller } from "./model/auth";

export const callerQuery = customQuery(
  query,
  customCtx(async (ctx) => ({ caller: await getCaller(ctx) })),
);

export const callerMutation = customMutation(
  mutation,
  customCtx(async (ctx) => ({ caller: await requireCaller(ctx) })),
);

export const callerAction = customAction(
  action,
  // The return type is annotated: `internal.users` is typed from modules that use this builder.
  customCtx(async (ctx): Promise<{ ownerKey: string }> => {
    // Checked here first so a signed-out caller gets UNAUTHENTICATED rather
    // than the "not set up yet" answer.
    if (!(await ctx.auth.getUserIdentity())) fail("UNAUTHENTICATED", "Sign in to continue.");
    const ownerKey: string | null = await ctx.runQuery(internal.users.callerOwnerKey, {});
    if (ownerKey === null) failAccountNotSetUp();
    return { ownerKey };
  }),
);
