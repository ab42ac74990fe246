/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as admin from "../admin.js";
import type * as billing from "../billing.js";
import type * as functions from "../functions.js";
import type * as http from "../http.js";
import type * as memberUsage from "../memberUsage.js";
import type * as model_auth from "../model/auth.js";
import type * as model_memberKey from "../model/memberKey.js";
import type * as model_orgMemberships from "../model/orgMemberships.js";
import type * as model_roles from "../model/roles.js";
import type * as model_staff from "../model/staff.js";
import type * as model_users from "../model/users.js";
import type * as notifications from "../notifications.js";
import type * as orgMemberships from "../orgMemberships.js";
import type * as plans from "../plans.js";
import type * as seats from "../seats.js";
import type * as tokens from "../tokens.js";
import type * as users from "../users.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";

declare const fullApi: ApiFromModules<{
  admin: typeof admin;
  billing: typeof billing;
  functions: typeof functions;
  http: typeof http;
  memberUsage: typeof memberUsage;
  "model/auth": typeof model_auth;
  "model/memberKey": typeof model_memberKey;
  "model/orgMemberships": typeof model_orgMemberships;
  "model/roles": typeof model_roles;
  "model/staff": typeof model_staff;
  "model/users": typeof model_users;
  notifications: typeof notifications;
  orgMemberships: typeof orgMemberships;
  plans: typeof plans;
  seats: typeof seats;
  tokens: typeof tokens;
  users: typeof users;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

export declare const components: {
  billing: import("../billing/_generated/component.js").ComponentApi<"billing">;
  seatSyncs: import("@convex-dev/workpool/_generated/component.js").ComponentApi<"seatSyncs">;
};
