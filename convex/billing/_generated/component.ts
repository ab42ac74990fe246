/* eslint-disable */
/**
 * Generated `ComponentApi` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type { FunctionReference } from "convex/server";

/**
 * A utility for referencing a Convex component's exposed API.
 *
 * Useful when expecting a parameter like `components.myComponent`.
 * Usage:
 * ```ts
 * async function myFunction(ctx: QueryCtx, component: ComponentApi) {
 *   return ctx.runQuery(component.someFile.someQuery, { ...args });
 * }
 * ```
 */
export type ComponentApi<Name extends string | undefined = string | undefined> =
  {
    accounts: {
      ensure: FunctionReference<
        "mutation",
        "internal",
        {
          email?: string;
          kind: "personal" | "organization";
          name?: string;
          ownerKey: string;
        },
        string,
        Name
      >;
      get: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        null | {
          _id: string;
          graceEndsAt: number | null;
          stripeCustomerId: string | null;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
          tierOverride:
            "free" | "starter" | "pro" | "elite" | "internal" | null;
        },
        Name
      >;
      invoices: FunctionReference<
        "query",
        "internal",
        { limit?: number; ownerKey: string },
        Array<{
          amountDue: number;
          amountPaid: number;
          amountRemaining: number;
          billingReason: string | null;
          createdAt: number;
          creditAdded: number;
          creditApplied: number;
          currency: string;
          description: string | null;
          discount?: number;
          hostedInvoiceUrl: string | null;
          id: string;
          invoicePdf: string | null;
          kind: "subscription" | "top_up" | "other";
          lines?: Array<{
            amount: number;
            description: string;
            quantity?: number;
            usage?: boolean;
          }>;
          number: string | null;
          periodEnd: number | null;
          periodStart: number | null;
          status: "draft" | "open" | "paid" | "uncollectible" | "void";
          subtotal?: number;
          tax?: number;
          taxIncluded?: number;
          total: number;
        }>,
        Name
      >;
      subscription: FunctionReference<
        "query",
        "internal",
        { ownerKey: string; personKey?: string },
        {
          attention: {
            amountDue: number | null;
            currency: string | null;
            hostedInvoiceUrl: string | null;
            kind: "past_due" | "action_required" | "unpaid" | "incomplete";
          } | null;
          cancelAt: number | null;
          cancelAtPeriodEnd: boolean;
          cancelScheduled: boolean;
          creditBalance: number;
          creditCurrency: string | null;
          currentPeriodEnd: number | null;
          dunning?: {
            adminBanner: boolean;
            overdueSince: number;
            restrictsAt: number | null;
            stage: "overdue" | "suspended" | "restricted" | null;
            stepDay: number | null;
            suspendsAt: number | null;
          } | null;
          endedAt: number | null;
          graceEndsAt: number | null;
          hasCustomer: boolean;
          hasPaymentMethod: boolean | null;
          interval: "month" | "year" | null;
          pendingUpdate: {
            expiresAt: number;
            interval: "month" | "year";
            tier: "free" | "starter" | "pro" | "elite" | "internal";
          } | null;
          planTier: "free" | "starter" | "pro" | "elite" | "internal" | null;
          scheduledChange: {
            effectiveAt: number;
            interval: "month" | "year";
            tier: "free" | "starter" | "pro" | "elite" | "internal";
          } | null;
          status:
            | "incomplete"
            | "incomplete_expired"
            | "trialing"
            | "active"
            | "past_due"
            | "canceled"
            | "unpaid"
            | "paused"
            | "none";
          tier: "free" | "starter" | "pro" | "elite" | "internal";
          trialEnd: number | null;
          trialUsed: boolean;
        } | null,
        Name
      >;
    };
    audit: {
      listAll: FunctionReference<
        "query",
        "internal",
        {
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            _creationTime: number;
            _id: string;
            accountId?: string;
            action: string;
            actor: string;
            actorKind: "user" | "staff" | "stripe" | "cron" | "system";
            after?: string;
            before?: string;
            reason?: string;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
      listForAccount: FunctionReference<
        "query",
        "internal",
        {
          accountId: string;
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            _creationTime: number;
            _id: string;
            accountId?: string;
            action: string;
            actor: string;
            actorKind: "user" | "staff" | "stripe" | "cron" | "system";
            after?: string;
            before?: string;
            reason?: string;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
    };
    autoRecharge: {
      configure: FunctionReference<
        "action",
        "internal",
        {
          enabled: boolean;
          monthlyCap: number;
          ownerKey: string;
          packId: string;
          thresholdTokens: number;
        },
        null,
        Name
      >;
      get: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        null | {
          consecutiveFailures: number;
          currency: string;
          disabledReason: "failures" | null;
          enabled: boolean;
          lastAttempt: null | {
            actionUrl: string | null;
            amount: number;
            createdAt: number;
            currency: string;
            failureMessage: string | null;
            status: "pending" | "succeeded" | "failed" | "requires_action";
            tokens: number;
          };
          monthlyCap: number;
          packId: string;
          recent: Array<{
            actionUrl: string | null;
            amount: number;
            createdAt: number;
            currency: string;
            failureMessage: string | null;
            status: "pending" | "succeeded" | "failed" | "requires_action";
            tokens: number;
          }>;
          spentThisMonth: number;
          thresholdTokens: number;
        },
        Name
      >;
    };
    checkout: {
      createCheckoutSession: FunctionReference<
        "action",
        "internal",
        {
          currency?: "usd" | "eur" | "gbp";
          interval: "month" | "year";
          members?: number;
          ownerKey: string;
          personKey?: string;
          seats?: number;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
          trial?: boolean;
        },
        { url: string },
        Name
      >;
      createPortalSession: FunctionReference<
        "action",
        "internal",
        { ownerKey: string },
        { url: string },
        Name
      >;
      createTopUpCheckoutSession: FunctionReference<
        "action",
        "internal",
        { currency?: "usd" | "eur" | "gbp"; ownerKey: string; packId: string },
        { url: string },
        Name
      >;
      currency: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        { billedCurrency: string | null },
        Name
      >;
    };
    console: {
      accountDetail: FunctionReference<
        "query",
        "internal",
        { accountId: string },
        {
          account: {
            accountId: string;
            balance: number;
            email: string | null;
            kind: "personal" | "organization";
            lastInvoice: {
              amountDue: number;
              created: number;
              currency: string;
              status: string;
            } | null;
            name: string | null;
            overdueDays: number | null;
            ownerKey: string;
            stripeCustomerId: string | null;
            subscriptionStatus: string | null;
            tier: "free" | "starter" | "pro" | "elite" | "internal";
            tierOverride:
              "free" | "starter" | "pro" | "elite" | "internal" | null;
            tierOverrideUntil: number | null;
          };
          events: Array<{
            attempts: number;
            eventId: string;
            lastError: string | null;
            receivedAt: number;
            status:
              | "pending"
              | "succeeded"
              | "ignored"
              | "failed_retrying"
              | "waiting"
              | "dead";
            type: string;
            waitingFor: string | null;
          }>;
          grants: Array<{
            amount: number;
            category: string;
            expiresAt: number | null;
            grantId: string;
            note: string | null;
            remaining: number;
            sourceKey: string;
            startsAt: number;
            status: string;
          }>;
          holds: Array<{
            amount: number;
            createdAt: number;
            expiresAt: number;
            feature: string;
            holdId: string;
          }>;
          invoices: Array<{
            amountDue: number;
            amountPaid: number;
            amountRemaining: number;
            billingReason: string | null;
            created: number;
            currency: string;
            hostedInvoiceUrl: string | null;
            number: string | null;
            status: string;
            stripeInvoiceId: string;
          }>;
          notifications: Array<{
            _creationTime: number;
            kind: string;
            readAt: number | null;
            title: string;
          }>;
          scheduledChange: {
            effectiveAt: number;
            interval: string | null;
            pendingPayment: boolean;
            tier: "free" | "starter" | "pro" | "elite" | "internal";
          } | null;
          subscription: {
            cancelAt: number | null;
            cancelAtPeriodEnd: boolean;
            currentPeriodEnd: number | null;
            currentPeriodStart: number | null;
            interval: string | null;
            pastDueSince: number | null;
            quantity: number;
            scheduleId: string | null;
            status:
              | "incomplete"
              | "incomplete_expired"
              | "trialing"
              | "active"
              | "past_due"
              | "canceled"
              | "unpaid"
              | "paused";
            stripePriceId: string | null;
            stripeSubscriptionId: string;
            tier: "free" | "starter" | "pro" | "elite" | "internal";
            trialEnd: number | null;
          } | null;
        } | null,
        Name
      >;
      clearComp: FunctionReference<
        "mutation",
        "internal",
        { accountId: string; actor: string; reason: string },
        {
          cleared: boolean;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
        },
        Name
      >;
      compTier: FunctionReference<
        "mutation",
        "internal",
        {
          accountId: string;
          actor: string;
          expiresAt: number;
          reason: string;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
        },
        { tier: "free" | "starter" | "pro" | "elite" | "internal" },
        Name
      >;
      debitTokens: FunctionReference<
        "mutation",
        "internal",
        {
          accountId: string;
          actor: string;
          amount: number;
          idempotencyKey?: string;
          reason: string;
        },
        { applied: boolean; balance: number; sourceKey: string },
        Name
      >;
      forceFreeReset: FunctionReference<
        "mutation",
        "internal",
        { accountId: string; actor: string; reason: string },
        {
          balance: number;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
        },
        Name
      >;
      grantTokens: FunctionReference<
        "mutation",
        "internal",
        {
          accountId: string;
          actor: string;
          amount: number;
          idempotencyKey?: string;
          reason: string;
        },
        { applied: boolean; balance: number; sourceKey: string },
        Name
      >;
      ledgerPage: FunctionReference<
        "query",
        "internal",
        {
          accountId: string;
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            _creationTime: number;
            _id: string;
            amount: number;
            balanceAfter: number;
            drawnFrom?: Array<{
              amount: number;
              category:
                | "plan_allowance"
                | "purchased"
                | "promotional"
                | "admin"
                | "rollover";
              grantId: string;
            }>;
            feature?: string;
            note?: string;
            reason:
              | "period_grant"
              | "period_expire"
              | "rollover"
              | "plan_change"
              | "consume"
              | "top_up"
              | "admin_grant"
              | "promotional_grant"
              | "grant_expire"
              | "hold"
              | "hold_settle"
              | "hold_release"
              | "refund_clawback"
              | "dispute_freeze"
              | "dispute_release"
              | "dispute_lost";
            sourceKey: string;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
      listAccounts: FunctionReference<
        "query",
        "internal",
        {
          overdue?: boolean;
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
          search?: string;
          status?:
            | "incomplete"
            | "incomplete_expired"
            | "trialing"
            | "active"
            | "past_due"
            | "canceled"
            | "unpaid"
            | "paused";
          tier?: "free" | "starter" | "pro" | "elite" | "internal";
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            accountId: string;
            balance: number;
            email: string | null;
            kind: "personal" | "organization";
            lastInvoice: {
              amountDue: number;
              created: number;
              currency: string;
              status: string;
            } | null;
            name: string | null;
            overdueDays: number | null;
            ownerKey: string;
            stripeCustomerId: string | null;
            subscriptionStatus: string | null;
            tier: "free" | "starter" | "pro" | "elite" | "internal";
            tierOverride:
              "free" | "starter" | "pro" | "elite" | "internal" | null;
            tierOverrideUntil: number | null;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
      queueHealth: FunctionReference<
        "query",
        "internal",
        {},
        {
          cappedStatuses: Array<string>;
          counts: Record<string, number>;
          dead: Array<{
            eventId: string;
            lastError: string | null;
            receivedAt: number;
            type: string;
          }>;
          lastReconciliation: {
            alreadyKnown: number;
            enqueued: number;
            error: string | null;
            ranAt: number;
            result: string;
            revived: number;
          } | null;
          oldestPendingAgeMs: number | null;
        },
        Name
      >;
      replayDeadEvents: FunctionReference<
        "mutation",
        "internal",
        {
          accountId?: string;
          actor: string;
          eventIds?: Array<string>;
          reason: string;
        },
        { requeued: Array<string>; skipped: Array<string> },
        Name
      >;
      resyncCustomer: FunctionReference<
        "action",
        "internal",
        { accountId: string; actor: string; reason: string },
        {
          invoices: number;
          subscriptions: number;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
          waiting: Array<string>;
        },
        Name
      >;
    };
    coupons: {
      attachToAccount: FunctionReference<
        "action",
        "internal",
        {
          accountId: string;
          couponId: string;
          operator?: string;
          reason: string;
        },
        {
          accountId: string;
          amountOff: number | null;
          at: number;
          couponId: string;
          couponName: string | null;
          currency: string | null;
          discountId: string | null;
          operator: string | null;
          percentOff: number | null;
          reason: string;
          status: "attached" | "already_attached";
          stripeCustomerId: string;
          stripeSubscriptionId: string;
        },
        Name
      >;
    };
    dunning: {
      runForAccount: FunctionReference<
        "mutation",
        "internal",
        { accountId: string; actor: string; reason: string },
        {
          fired: Array<string>;
          overdueDays: number | null;
          stage: "overdue" | "suspended" | "restricted" | null;
        },
        Name
      >;
    };
    endTrial: {
      endTrialNow: FunctionReference<
        "action",
        "internal",
        { ownerKey: string },
        {
          hostedInvoiceUrl: string | null;
          message: string;
          status: "paid" | "requires_action" | "payment_failed";
        },
        Name
      >;
      previewEndTrial: FunctionReference<
        "action",
        "internal",
        { ownerKey: string },
        {
          allowance: number;
          currency: string;
          dueNow: number;
          interval: "month" | "year";
          nextRenewalAt: number;
          tier: "starter" | "pro" | "elite";
          trialAllowance: number;
          trialEnd: number;
        },
        Name
      >;
    };
    memberUsage: {
      list: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        null | {
          current: {
            members: Array<{
              cap: number | null;
              held: number;
              memberKey: string;
              used: number;
            }>;
            periodEnd: number | null;
            periodKey: string;
            periodStart: number;
            truncated: boolean;
          };
          previous: null | {
            members: Array<{
              cap: number | null;
              held: number;
              memberKey: string;
              used: number;
            }>;
            periodEnd: number | null;
            periodKey: string;
            periodStart: number;
            truncated: boolean;
          };
        },
        Name
      >;
      mine: FunctionReference<
        "query",
        "internal",
        { memberKey: string; ownerKey: string },
        null | {
          cap: number | null;
          held: number;
          memberKey: string;
          periodEnd: number | null;
          periodKey: string;
          used: number;
        },
        Name
      >;
      setCap: FunctionReference<
        "mutation",
        "internal",
        {
          actor: string;
          capTokens: number | null;
          memberKey: string;
          ownerKey: string;
          reason?: string;
        },
        { after: number | null; before: number | null },
        Name
      >;
    };
    metering: {
      reconciliation: FunctionReference<
        "query",
        "internal",
        { limit?: number },
        {
          mismatches: Array<{
            accountId: string;
            lastError?: string;
            periodEnd: number;
            periodKey: string;
            periodStart: number;
            reconciledAt?: number;
            status: "open" | "matched" | "mismatch";
            stripeTokens?: number;
            tokens: number;
            unbillableTokens?: number;
          }>;
          open: Array<{
            accountId: string;
            lastError?: string;
            periodEnd: number;
            periodKey: string;
            periodStart: number;
            reconciledAt?: number;
            status: "open" | "matched" | "mismatch";
            stripeTokens?: number;
            tokens: number;
            unbillableTokens?: number;
          }>;
        },
        Name
      >;
    };
    notifications: {
      list: FunctionReference<
        "query",
        "internal",
        {
          ownerKey: string;
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            body: string;
            createdAt: number;
            critical: boolean;
            id: string;
            kind: string;
            link?: string;
            readAt?: number;
            title: string;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
      markAllRead: FunctionReference<
        "mutation",
        "internal",
        { ownerKey: string },
        number,
        Name
      >;
      markRead: FunctionReference<
        "mutation",
        "internal",
        { id: string; ownerKey: string },
        null,
        Name
      >;
      preferences: FunctionReference<
        "query",
        "internal",
        { ownerKey: string; userKey: string },
        {
          billingEmail: string | null;
          mutedKinds: Array<string>;
          optionalKinds: Array<{ kind: string; label: string }>;
        },
        Name
      >;
      setPreferences: FunctionReference<
        "mutation",
        "internal",
        {
          email?: string;
          mutedKinds: Array<string>;
          ownerKey: string;
          userKey: string;
        },
        null,
        Name
      >;
      unreadCount: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        number,
        Name
      >;
    };
    planChanges: {
      cancelScheduledChange: FunctionReference<
        "action",
        "internal",
        { ownerKey: string },
        { canceled: boolean },
        Name
      >;
      cancelSubscription: FunctionReference<
        "action",
        "internal",
        {
          comment?: string;
          feedback?:
            | "customer_service"
            | "low_quality"
            | "missing_features"
            | "other"
            | "switched_service"
            | "too_complex"
            | "too_expensive"
            | "unused";
          ownerKey: string;
        },
        { cancelAt: number },
        Name
      >;
      changePlan: FunctionReference<
        "action",
        "internal",
        {
          interval: "month" | "year";
          ownerKey: string;
          tier: "starter" | "pro" | "elite";
        },
        {
          effectiveAt: number | null;
          hostedInvoiceUrl: string | null;
          message: string;
          status:
            "applied" | "scheduled" | "requires_action" | "payment_failed";
        },
        Name
      >;
      previewPlanChange: FunctionReference<
        "action",
        "internal",
        {
          interval: "month" | "year";
          ownerKey: string;
          tier: "starter" | "pro" | "elite";
        },
        {
          adjustments?: {
            discount: number;
            subtotal: number;
            tax: number;
            total: number;
          };
          allowanceAfter: number;
          creditApplied: number;
          currency: string;
          dueNow: number;
          effectiveAt: number;
          interval: "month" | "year";
          kind: "upgrade" | "downgrade";
          newPlanCharge: number;
          nextInvoiceAmount: number;
          nextInvoiceAt: number;
          otherCharges: number;
          prorationCredit: number;
          tier: "free" | "starter" | "pro" | "elite" | "internal";
          tokensNow: number;
        },
        Name
      >;
      resumeSubscription: FunctionReference<
        "action",
        "internal",
        { ownerKey: string },
        { resumed: boolean },
        Name
      >;
    };
    seats: {
      change: FunctionReference<
        "action",
        "internal",
        {
          actor: string;
          members: number;
          ownerKey: string;
          requestId: string;
          seats: number;
        },
        {
          hostedInvoiceUrl: string | null;
          message: string;
          seats: number;
          status:
            "applied" | "unchanged" | "requires_action" | "payment_failed";
        },
        Name
      >;
      membersChanged: FunctionReference<
        "mutation",
        "internal",
        { members: number; ownerKey: string },
        { notified: boolean; sync: boolean },
        Name
      >;
      preview: FunctionReference<
        "action",
        "internal",
        { members: number; ownerKey: string; seats: number },
        {
          allowanceAfter: number;
          allowanceBefore: number;
          currency: string;
          dueNow: number;
          from: number;
          kind: "increase" | "decrease";
          nextInvoiceAmount: number;
          nextInvoiceAt: number;
          prorationCredit: number;
          to: number;
          unitAmount: number;
        },
        Name
      >;
      syncMembers: FunctionReference<
        "action",
        "internal",
        { members: number; ownerKey: string; requestId: string },
        {
          hostedInvoiceUrl: string | null;
          message: string;
          seats: number;
          status:
            "applied" | "unchanged" | "requires_action" | "payment_failed";
        },
        Name
      >;
      view: FunctionReference<
        "query",
        "internal",
        { members: number; ownerKey: string },
        {
          allowancePerExtraSeat: number;
          allowancePerPeriod: number;
          blocked: string | null;
          max: number;
          members: number;
          min: number;
          mode: "chosen" | "members" | null;
          overCapacity: boolean;
          paidSeats: number | null;
          perSeat: boolean;
          seats: number;
          tier: "free" | "starter" | "pro" | "elite" | "internal" | null;
          windowAllowance: number;
        } | null,
        Name
      >;
    };
    tokens: {
      alerts: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        Array<{
          actionUrl?: string;
          alertId: string;
          balance: number;
          firedAt: number;
          message: string;
        }>,
        Name
      >;
      balance: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        null | {
          allowance: number;
          frozen?: boolean;
          held: number;
          overage: number;
          overageAmount?: number;
          overageCap?: number;
          overageCurrency?: string;
          periodEnd: number | null;
          purchased: number;
          remaining: number;
          used: number;
        },
        Name
      >;
      check: FunctionReference<
        "query",
        "internal",
        {
          complexity?: "low" | "medium" | "high";
          feature: string;
          ownerKey: string | null;
        },
        {
          allowed: boolean;
          cost: number;
          currency?: string;
          overage?: number;
          overageAmount?: number;
          reason: "ok" | "insufficient_tokens" | "tier_required" | "signed_out";
          remaining: number;
          requiredTier?: "free" | "starter" | "pro" | "elite" | "internal";
        },
        Name
      >;
      checkInvariant: FunctionReference<
        "query",
        "internal",
        { accountId: string },
        {
          balance: number;
          entries: number;
          grantsSum: number;
          ledgerSum: number;
          ok: boolean;
          problems: Array<string>;
        },
        Name
      >;
      consume: FunctionReference<
        "mutation",
        "internal",
        {
          complexity?: "low" | "medium" | "high";
          feature: string;
          idempotencyKey: string;
          memberKey?: string;
          ownerKey: string;
        },
        {
          cost: number;
          duplicate: boolean;
          overage: number;
          remaining: number;
        },
        Name
      >;
      drift: FunctionReference<
        "query",
        "internal",
        { limit?: number },
        Array<{
          accountId: string;
          detectedAt: number;
          problems: Array<string>;
        }>,
        Name
      >;
      grant: FunctionReference<
        "mutation",
        "internal",
        {
          accountId: string;
          amount: number;
          category?: "admin" | "promotional";
          expiresAt?: number;
          idempotencyKey?: string;
          priority?: number;
          reason: string;
        },
        { applied: boolean; balance: number; sourceKey: string },
        Name
      >;
      grants: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        Array<{
          amount: number;
          category:
            | "plan_allowance"
            | "purchased"
            | "promotional"
            | "admin"
            | "rollover";
          expiresAt: number | null;
          grantId: string;
          note?: string;
          priority: number;
          remaining: number;
          startsAt: number;
        }>,
        Name
      >;
      history: FunctionReference<
        "query",
        "internal",
        {
          ownerKey: string;
          paginationOpts: {
            cursor: string | null;
            endCursor?: string | null;
            id?: number;
            maximumBytesRead?: number;
            maximumRowsRead?: number;
            numItems: number;
          };
        },
        {
          continueCursor: string;
          isDone: boolean;
          page: Array<{
            _creationTime: number;
            _id: string;
            amount: number;
            balanceAfter: number;
            drawnFrom?: Array<{
              amount: number;
              category:
                | "plan_allowance"
                | "purchased"
                | "promotional"
                | "admin"
                | "rollover";
              grantId: string;
            }>;
            feature?: string;
            note?: string;
            reason:
              | "period_grant"
              | "period_expire"
              | "rollover"
              | "plan_change"
              | "consume"
              | "top_up"
              | "admin_grant"
              | "promotional_grant"
              | "grant_expire"
              | "hold"
              | "hold_settle"
              | "hold_release"
              | "refund_clawback"
              | "dispute_freeze"
              | "dispute_release"
              | "dispute_lost";
            sourceKey: string;
          }>;
          pageStatus?: "SplitRecommended" | "SplitRequired" | null;
          splitCursor?: string | null;
        },
        Name
      >;
      markAlertsRead: FunctionReference<
        "mutation",
        "internal",
        { ownerKey: string },
        number,
        Name
      >;
      release: FunctionReference<
        "mutation",
        "internal",
        { holdId: string; ownerKey: string },
        { duplicate: boolean; remaining: number; returned: number },
        Name
      >;
      reserve: FunctionReference<
        "mutation",
        "internal",
        {
          complexity?: "low" | "medium" | "high";
          estimate?: number;
          feature: string;
          idempotencyKey: string;
          memberKey?: string;
          ownerKey: string;
          ttlMs?: number;
        },
        {
          amount: number;
          duplicate: boolean;
          expiresAt: number;
          holdId: string;
          remaining: number;
          status: "open" | "settled" | "released" | "expired";
        },
        Name
      >;
      settle: FunctionReference<
        "mutation",
        "internal",
        { actual?: number; holdId: string; ownerKey: string },
        {
          charged: number;
          duplicate: boolean;
          overage: number;
          remaining: number;
          returned: number;
          shortfall: number;
        },
        Name
      >;
      usage: FunctionReference<
        "query",
        "internal",
        { ownerKey: string },
        null | {
          current: {
            days: Array<{
              day: string;
              feature: string;
              runs: number;
              tokens: number;
            }>;
            end: number;
            start: number;
          };
          previous: {
            days: Array<{
              day: string;
              feature: string;
              runs: number;
              tokens: number;
            }>;
            end: number;
            start: number;
          };
        },
        Name
      >;
    };
    webhooks: {
      list: FunctionReference<
        "query",
        "internal",
        {
          limit?: number;
          status?:
            | "pending"
            | "succeeded"
            | "ignored"
            | "failed_retrying"
            | "waiting"
            | "dead";
        },
        Array<{
          _creationTime: number;
          _id: string;
          attempts: number;
          eventCreated: number;
          eventId: string;
          lastError?: string;
          livemode: boolean;
          nextAttemptAt?: number;
          processedAt?: number;
          receivedAt: number;
          status:
            | "pending"
            | "succeeded"
            | "ignored"
            | "failed_retrying"
            | "waiting"
            | "dead";
          stripeCustomerId?: string;
          type: string;
          waitingFor?: string;
        }>,
        Name
      >;
      receive: FunctionReference<
        "mutation",
        "internal",
        {
          apiVersion?: string;
          eventCreated: number;
          eventId: string;
          livemode?: boolean;
          payload: string;
          stripeCustomerId?: string;
          type: string;
        },
        {
          duplicate: boolean;
          status:
            | "pending"
            | "succeeded"
            | "ignored"
            | "failed_retrying"
            | "waiting"
            | "dead";
        },
        Name
      >;
      recordForRetry: FunctionReference<
        "mutation",
        "internal",
        {
          apiVersion?: string;
          error: string;
          eventCreated: number;
          eventId: string;
          livemode?: boolean;
          payload: string;
          stripeCustomerId?: string;
          type: string;
        },
        {
          duplicate: boolean;
          status:
            | "pending"
            | "succeeded"
            | "ignored"
            | "failed_retrying"
            | "waiting"
            | "dead";
        },
        Name
      >;
      replay: FunctionReference<
        "mutation",
        "internal",
        { eventId: string },
        {
          requeued: boolean;
          status:
            | "pending"
            | "succeeded"
            | "ignored"
            | "failed_retrying"
            | "waiting"
            | "dead"
            | "not_found";
        },
        Name
      >;
    };
  };
