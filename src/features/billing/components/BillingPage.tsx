import { useQuery } from "convex/react";
import { api } from "@/convex/_generated/api";
import { ErrorBoundary } from "@/src/components/ErrorBoundary";
import { SkeletonCard } from "@/src/components/Skeleton";
import { InvoiceList } from "./InvoiceList";
import { SubscriptionCard } from "./SubscriptionCard";
import { TokenUsage } from "./TokenUsage";
import { SeatsCard } from "./seats/SeatsCard";
import { AutoRechargeCard } from "./tokens/AutoRechargeCard";

/** /billing: subscription, token usage, seats (organisations), auto-recharge and invoices. Rendered for signed-in users only. */
export function BillingPage() {
  const subscription = useQuery(api.billing.subscription);
  const balance = useQuery(api.tokens.balance);
  return (
    <div className="stack">
      <h1>Billing</h1>
      <div className="grid-2">
        {subscription === undefined ? (
          <SkeletonCard label="Loading subscription" />
        ) : subscription === null ? (
          <SkeletonCard label="Setting up your account" />
        ) : (
          <SubscriptionCard subscription={subscription} />
        )}
        {balance === undefined || balance === null ? <SkeletonCard label="Loading token usage" /> : <TokenUsage balance={balance} pastDue={subscription?.status === "past_due"} />}
      </div>
      <ErrorBoundary>
        <SeatsCard />
      </ErrorBoundary>
      <ErrorBoundary>
        <AutoRechargeCard />
      </ErrorBoundary>
      {/* Invoices fail on their own: the plan and usage above stay usable. */}
      <ErrorBoundary>
        <InvoiceList />
      </ErrorBoundary>
    </div>
  );
}
