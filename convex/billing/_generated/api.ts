/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as accounts from "../accounts.js";
import type * as audit from "../audit.js";
import type * as autoRecharge from "../autoRecharge.js";
import type * as checkout from "../checkout.js";
import type * as client from "../client.js";
import type * as console from "../console.js";
import type * as coupons from "../coupons.js";
import type * as crons from "../crons.js";
import type * as dunning from "../dunning.js";
import type * as emails_templates from "../emails/templates.js";
import type * as endTrial from "../endTrial.js";
import type * as memberUsage from "../memberUsage.js";
import type * as metering from "../metering.js";
import type * as model_access from "../model/access.js";
import type * as model_accounts from "../model/accounts.js";
import type * as model_alerts from "../model/alerts.js";
import type * as model_allowance from "../model/allowance.js";
import type * as model_audit from "../model/audit.js";
import type * as model_autoRecharge from "../model/autoRecharge.js";
import type * as model_autoRechargeCharge from "../model/autoRechargeCharge.js";
import type * as model_billingActions from "../model/billingActions.js";
import type * as model_billingModel from "../model/billingModel.js";
import type * as model_clawback from "../model/clawback.js";
import type * as model_console from "../model/console.js";
import type * as model_coupons from "../model/coupons.js";
import type * as model_coverage from "../model/coverage.js";
import type * as model_currency from "../model/currency.js";
import type * as model_currentSubscription from "../model/currentSubscription.js";
import type * as model_dunning from "../model/dunning.js";
import type * as model_dunningPolicy from "../model/dunningPolicy.js";
import type * as model_endTrial from "../model/endTrial.js";
import type * as model_errors from "../model/errors.js";
import type * as model_eventOutcome from "../model/eventOutcome.js";
import type * as model_grants from "../model/grants.js";
import type * as model_holds from "../model/holds.js";
import type * as model_invoiceSync from "../model/invoiceSync.js";
import type * as model_ledger from "../model/ledger.js";
import type * as model_memberUsage from "../model/memberUsage.js";
import type * as model_meterReporter from "../model/meterReporter.js";
import type * as model_metering from "../model/metering.js";
import type * as model_notifications from "../model/notifications.js";
import type * as model_periods from "../model/periods.js";
import type * as model_planChanges from "../model/planChanges.js";
import type * as model_planNotices from "../model/planNotices.js";
import type * as model_planViews from "../model/planViews.js";
import type * as model_plans from "../model/plans.js";
import type * as model_prices from "../model/prices.js";
import type * as model_reconcile from "../model/reconcile.js";
import type * as model_scheduleSync from "../model/scheduleSync.js";
import type * as model_seats from "../model/seats.js";
import type * as model_stripeClient from "../model/stripeClient.js";
import type * as model_stripeEventHandlers from "../model/stripeEventHandlers.js";
import type * as model_stripeShapes from "../model/stripeShapes.js";
import type * as model_stripeWebhook from "../model/stripeWebhook.js";
import type * as model_subscriptionSync from "../model/subscriptionSync.js";
import type * as model_tokens from "../model/tokens.js";
import type * as model_trials from "../model/trials.js";
import type * as model_usage from "../model/usage.js";
import type * as model_validators from "../model/validators.js";
import type * as model_webhookPipeline from "../model/webhookPipeline.js";
import type * as model_webhookQueue from "../model/webhookQueue.js";
import type * as notifications from "../notifications.js";
import type * as planChanges from "../planChanges.js";
import type * as reconcile from "../reconcile.js";
import type * as seats from "../seats.js";
import type * as stripePrices from "../stripePrices.js";
import type * as tokens from "../tokens.js";
import type * as trials from "../trials.js";
import type * as webhooks from "../webhooks.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import { anyApi, componentsGeneric } from "convex/server";

const fullApi: ApiFromModules<{
  accounts: typeof accounts;
  audit: typeof audit;
  autoRecharge: typeof autoRecharge;
  checkout: typeof checkout;
  client: typeof client;
  console: typeof console;
  coupons: typeof coupons;
  crons: typeof crons;
  dunning: typeof dunning;
  "emails/templates": typeof emails_templates;
  endTrial: typeof endTrial;
  memberUsage: typeof memberUsage;
  metering: typeof metering;
  "model/access": typeof model_access;
  "model/accounts": typeof model_accounts;
  "model/alerts": typeof model_alerts;
  "model/allowance": typeof model_allowance;
  "model/audit": typeof model_audit;
  "model/autoRecharge": typeof model_autoRecharge;
  "model/autoRechargeCharge": typeof model_autoRechargeCharge;
  "model/billingActions": typeof model_billingActions;
  "model/billingModel": typeof model_billingModel;
  "model/clawback": typeof model_clawback;
  "model/console": typeof model_console;
  "model/coupons": typeof model_coupons;
  "model/coverage": typeof model_coverage;
  "model/currency": typeof model_currency;
  "model/currentSubscription": typeof model_currentSubscription;
  "model/dunning": typeof model_dunning;
  "model/dunningPolicy": typeof model_dunningPolicy;
  "model/endTrial": typeof model_endTrial;
  "model/errors": typeof model_errors;
  "model/eventOutcome": typeof model_eventOutcome;
  "model/grants": typeof model_grants;
  "model/holds": typeof model_holds;
  "model/invoiceSync": typeof model_invoiceSync;
  "model/ledger": typeof model_ledger;
  "model/memberUsage": typeof model_memberUsage;
  "model/meterReporter": typeof model_meterReporter;
  "model/metering": typeof model_metering;
  "model/notifications": typeof model_notifications;
  "model/periods": typeof model_periods;
  "model/planChanges": typeof model_planChanges;
  "model/planNotices": typeof model_planNotices;
  "model/planViews": typeof model_planViews;
  "model/plans": typeof model_plans;
  "model/prices": typeof model_prices;
  "model/reconcile": typeof model_reconcile;
  "model/scheduleSync": typeof model_scheduleSync;
  "model/seats": typeof model_seats;
  "model/stripeClient": typeof model_stripeClient;
  "model/stripeEventHandlers": typeof model_stripeEventHandlers;
  "model/stripeShapes": typeof model_stripeShapes;
  "model/stripeWebhook": typeof model_stripeWebhook;
  "model/subscriptionSync": typeof model_subscriptionSync;
  "model/tokens": typeof model_tokens;
  "model/trials": typeof model_trials;
  "model/usage": typeof model_usage;
  "model/validators": typeof model_validators;
  "model/webhookPipeline": typeof model_webhookPipeline;
  "model/webhookQueue": typeof model_webhookQueue;
  notifications: typeof notifications;
  planChanges: typeof planChanges;
  reconcile: typeof reconcile;
  seats: typeof seats;
  stripePrices: typeof stripePrices;
  tokens: typeof tokens;
  trials: typeof trials;
  webhooks: typeof webhooks;
}> = anyApi as any;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
> = anyApi as any;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
> = anyApi as any;

export const components = componentsGeneric() as unknown as {
  resend: import("@convex-dev/resend/_generated/component.js").ComponentApi<"resend">;
};
