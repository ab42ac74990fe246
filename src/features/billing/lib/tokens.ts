import { BILLING_CONFIG } from "@/convex/billing/model/plans";
import type { TokenBalance } from "@/src/features/billing/lib/types";

/**
 * Whether the balance is running low: at most `lowTokensThreshold` tokens
 * left, and fewer than the period brought (allowance plus purchased). A plan
 * whose whole allowance is that small (Free: 5) is not "running low" before
 * any of it is used.
 */
export function isRunningLow(balance: Pick<TokenBalance, "remaining" | "allowance" | "purchased">): boolean {
  return balance.remaining <= BILLING_CONFIG.lowTokensThreshold && balance.remaining < balance.allowance + balance.purchased;
}
