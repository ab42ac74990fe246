/**
 * Function builders that resolve the caller once (convex-helpers
 * `customQuery` / `customMutation`, https://stack.convex.dev/custom-functions).
 *
 * - `callerQuery`: `ctx.caller` is the signed-in caller or `null`; queries
 *   return an empty answer for signed-out callers rather than throwing, so the
 *   client can render a signed-out state.
 * - `callerMutation`: `ctx.caller` is required; throws `UNAUTHENTICATED`.
 *
 * Actions have no `ctx.db`; they resolve the caller through an internal query
 * (see `billing.ts`).
 */
import { customCtx, customMutation, customQuery } from "convex-helpers/server/customFunctions";
import { mutation, query } from "./_generated/server";
import { getCaller, requireCaller } from "./model/auth";

export const callerQuery = customQuery(
  query,
  customCtx(async (ctx) => ({ caller: await getCaller(ctx) })),
);

export const callerMutation = customMutation(
  mutation,
  customCtx(async (ctx) => ({ caller: await requireCaller(ctx) })),
);
