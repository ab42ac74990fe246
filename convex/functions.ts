/**
 * Function builders that resolve the caller, and the account they act on,
 * once (convex-helpers `customQuery` / `customMutation` / `customAction`,
 * https://stack.convex.dev/custom-functions). The billing component never
 * reads `ctx.auth`: these builders do (`model/auth.ts`), and hand it the
 * acting account's `ownerKey`: the active organisation's (`org:<id>`) when
 * the verified token names one, else the caller's personal account.
 *
 * Every builder states its role rule once (docs/ORGANISATIONS.md):
 *
 * - `callerQuery`: `ctx.caller` is the caller or `null` (signed out, not
 *   stored yet, removed from the token's organisation); queries return an
 *   empty answer rather than throwing, so the client can render that state.
 *   Any role.
 * - `adminQuery`: as `callerQuery`, but `ctx.caller` is also `null` for a
 *   member, so admin-only reads (invoices) answer empty for members.
 * - `callerMutation`: `ctx.caller` is required; throws `UNAUTHENTICATED`
 *   (signed out), `NOT_FOUND` (not stored yet) or `FORBIDDEN` (removed from
 *   the organisation). Any role.
 * - `adminMutation`: as `callerMutation`, and throws `FORBIDDEN` for a member.
 * - `callerAction`: `ctx.ownerKey` / `ctx.role` / `ctx.personKey` (the
 *   caller's Clerk user id) are required, resolved
 *   through the internal query `users.callerAccount` (actions have no
 *   `ctx.db`); throws as `callerMutation`.
 * - `adminAction`: as `callerAction`, and throws `FORBIDDEN` for a member.
 * - `staffQuery` / `staffMutation` / `staffAction`: the operator console
 *   (`admin.ts`); `ctx.staff` is the staff member (`model/staff.ts`: the
 *   `STAFF_USER_IDS` allowlist or the token's `staff: true` claim). All
 *   three throw `UNAUTHENTICATED` when signed out and `FORBIDDEN` for
 *   anyone else, queries included (the client asks `admin.me` first).
 */
import {
  customAction,
  customCtx,
  customMutation,
  customQuery,
} from "convex-helpers/server/customFunctions";
import { fail, failAccountNotSetUp } from "./billing/model/errors";
import { internal } from "./_generated/api";
import { action, env, mutation, query, type ActionCtx } from "./_generated/server";
import { isStaffIdentity, parseStaffIds, requireStaff, type Staff } from "./model/staff";
import { ADMIN_ONLY_MESSAGE, getCaller, requireAdmin, requireCaller, REMOVED_MESSAGE, type Role } from "./model/auth";

export const callerQuery = customQuery(
  query,
  customCtx(async (ctx) => ({ caller: await getCaller(ctx) })),
);

export const adminQuery = customQuery(
  query,
  customCtx(async (ctx) => {
    const caller = await getCaller(ctx);
    return { caller: caller?.role === "admin" ? caller : null };
  }),
);

export const callerMutation = customMutation(
  mutation,
  customCtx(async (ctx) => ({ caller: await requireCaller(ctx) })),
);

export const adminMutation = customMutation(
  mutation,
  customCtx(async (ctx) => {
    const caller = await requireCaller(ctx);
    requireAdmin(caller);
    return { caller };
  }),
);

/**
 * An action's caller: the acting account (`ownerKey`), the role on it, and
 * the person (`personKey`: the Clerk user id, `model/auth.ts` `personKeyOf`).
 */
type ActionCaller = { ownerKey: string; role: Role; personKey: string };

/** The acting account of an action's caller; throws as `requireCaller`. */
async function actionCaller(ctx: ActionCtx): Promise<ActionCaller> {
  // Checked here first so a signed-out caller gets UNAUTHENTICATED rather
  // than the "not set up yet" answer.
  if (!(await ctx.auth.getUserIdentity())) fail("UNAUTHENTICATED", "Sign in to continue.");
  const resolved: ({ status: "ok" } & ActionCaller) | { status: "signed_out" | "not_stored" | "removed" } =
    await ctx.runQuery(internal.users.callerAccount, {});
  if (resolved.status !== "ok") {
    if (resolved.status === "signed_out") fail("UNAUTHENTICATED", "Sign in to continue.");
    if (resolved.status === "removed") fail("FORBIDDEN", REMOVED_MESSAGE);
    failAccountNotSetUp();
  }
  return { ownerKey: resolved.ownerKey, role: resolved.role, personKey: resolved.personKey };
}

export const callerAction = customAction(
  action,
  // The return type is annotated: `internal.users` is typed from modules that use this builder.
  customCtx(async (ctx): Promise<ActionCaller> => await actionCaller(ctx)),
);

export const adminAction = customAction(
  action,
  customCtx(async (ctx): Promise<ActionCaller> => {
    const caller = await actionCaller(ctx);
    if (caller.role !== "admin") fail("FORBIDDEN", ADMIN_ONLY_MESSAGE);
    return caller;
  }),
);

/** The staff allowlist, read at call time from the app's `STAFF_USER_IDS`. */
function staffAllowlist(): Set<string> {
  return parseStaffIds(env.STAFF_USER_IDS);
}

export const staffQuery = customQuery(
  query,
  customCtx(async (ctx) => ({ staff: requireStaff(await ctx.auth.getUserIdentity(), staffAllowlist()) })),
);

export const staffMutation = customMutation(
  mutation,
  customCtx(async (ctx) => ({ staff: requireStaff(await ctx.auth.getUserIdentity(), staffAllowlist()) })),
);

export const staffAction = customAction(
  action,
  customCtx(async (ctx): Promise<{ staff: Staff }> => ({ staff: requireStaff(await ctx.auth.getUserIdentity(), staffAllowlist()) })),
);

/** Whether the caller is staff; false when signed out. For `admin.me`. */
export async function callerIsStaff(ctx: { auth: ActionCtx["auth"] }): Promise<boolean> {
  const identity = await ctx.auth.getUserIdentity();
  return identity !== null && isStaffIdentity(identity, staffAllowlist());
}
