/**
 * The Stripe simulator's control API (`/_sim/*`, docs/STRIPE_SIMULATOR.md),
 * used to look up what Stripe holds for a journey's user and to move time.
 * Times from the simulator are Stripe seconds unless named `…Ms`.
 */
import { E2E } from "./env";

export type SimDelivery = {
  id: string;
  eventId: string;
  eventType: string;
  attempt: number;
  duplicate: boolean;
  outcome: "pending" | "succeeded" | "failed" | "dropped";
  httpStatus: number | null;
  /** Real time (ms) the attempt finished: the endpoint's answer arrived. */
  at: number;
};

type SimCustomer = { id: string; email: string | null };
type SimSubscription = {
  id: string;
  customer: string | { id: string };
  status: string;
  created: number;
  cancel_at_period_end: boolean;
  cancel_at: number | null;
  discounts?: (string | { id: string })[];
  items: { data: { current_period_start: number; current_period_end: number; price: { lookup_key: string | null } }[] };
};
type SimPaymentIntent = { id: string; customer: string | { id: string } | null; created: number; metadata: Record<string, string> };
type SimState = {
  customers: Record<string, SimCustomer>;
  subscriptions: Record<string, SimSubscription>;
  paymentIntents: Record<string, SimPaymentIntent>;
};

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${E2E.stripeUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`simulator ${method} ${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

const idOf = (v: string | { id: string }) => (typeof v === "string" ? v : v.id);

/** `POST <path>` on the simulator's Stripe API with a test key (form-encoded), as an operator would in the Dashboard. */
export async function operatorPost<T>(path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${E2E.stripeUrl}${path}`, {
    method: "POST",
    headers: { authorization: "Bearer sk_test_e2e_operator", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`simulator POST ${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** The part of the simulator's config (`/_sim/config`) the journeys change; see tools/stripe-sim/src/config.ts. */
export type SimDunningConfig = {
  /** Days between a failed renewal attempt and each retry. */
  retryDays: number[];
  /** After the last retry: Stripe's "cancel", "mark unpaid" or "leave past-due". */
  finalAction: "cancel" | "unpaid" | "past_due";
};

export const sim = {
  state: () => call<SimState>("GET", "/_sim/state"),
  /** The simulator's dunning settings now. */
  dunning: async (): Promise<SimDunningConfig> => (await call<{ dunning: SimDunningConfig }>("GET", "/_sim/config")).dunning,
  /** Changes the dunning settings for every customer (restore them after the test); returns the new ones. */
  setDunning: async (patch: Partial<SimDunningConfig>): Promise<SimDunningConfig> =>
    (await call<{ dunning: SimDunningConfig }>("POST", "/_sim/config", { dunning: patch })).dunning,
  deliveries: async (): Promise<SimDelivery[]> => (await call<{ data: SimDelivery[] }>("GET", "/_sim/deliveries")).data,
  /** Waits until every queued webhook delivery (and retry) has finished. */
  idle: (timeoutMs = 15_000) => call<{ idle: boolean }>("GET", `/_sim/idle?timeoutMs=${timeoutMs}`),
  /** `{ subscription, to: "period_end" }` renews (or ends) that subscription now. */
  advance: (body: { subscription?: string; customer?: string; seconds?: number; to?: number | "period_end" }) =>
    call<{ clock: string | null; now: number }>("POST", "/_sim/advance", body),

  /**
   * Refunds `amount` (minor units; default all that is left) of a payment,
   * as an operator would in the Dashboard: `POST /v1/refunds` with a test key.
   */
  async refund(paymentIntent: string, amount?: number): Promise<{ id: string; amount: number }> {
    return await operatorPost("/v1/refunds", { payment_intent: paymentIntent, ...(amount === undefined ? {} : { amount: String(amount) }) });
  },

  /** The newest token-pack PaymentIntent of the customer with this email. Throws when there is none. */
  async topUpPaymentOf(email: string): Promise<string> {
    const state = await sim.state();
    const customers = new Set(Object.values(state.customers).filter((c) => c.email === email).map((c) => c.id));
    const intents = Object.values(state.paymentIntents)
      .filter((pi) => pi.customer && customers.has(idOf(pi.customer)) && pi.metadata.kind === "top_up")
      .sort((a, b) => b.created - a.created);
    if (!intents[0]) throw new Error(`the simulator has no token-pack payment for ${email}`);
    return intents[0].id;
  },

  /** The newest subscription of the customer with this email. Throws when there is none. */
  async subscriptionOf(email: string): Promise<SimSubscription> {
    const state = await sim.state();
    const customers = new Set(Object.values(state.customers).filter((c) => c.email === email).map((c) => c.id));
    const subs = Object.values(state.subscriptions)
      .filter((s) => customers.has(idOf(s.customer)))
      .sort((a, b) => b.created - a.created);
    if (!subs[0]) throw new Error(`the simulator has no subscription for ${email}`);
    return subs[0];
  },
};

export function periodEndOf(sub: SimSubscription): number {
  const item = sub.items.data[0];
  if (!item) throw new Error(`subscription ${sub.id} has no items`);
  return item.current_period_end;
}
