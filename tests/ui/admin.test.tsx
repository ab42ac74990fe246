/**
 * The operator console (/admin): the staff gate, the accounts list with its
 * search, filters and pages, an account's detail, the actions (required
 * reason, confirmation, toasts), queue health and the audit log.
 *
 * convex/react is the shared fake plus a `usePaginatedQuery` over it:
 * `fake.setQuery(name, (args) => pages)` with `pages` an array of pages;
 * each `loadMore` reveals the next one.
 */
import { screen, within } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { routes } from "@/src/app/routes";
import type { AccountDetail, AccountRow, AuditRow, QueueHealth } from "@/src/features/admin/lib/types";
import { formatMoney } from "@/src/lib/format";
import { fake } from "./helpers/fakeConvex";
import { DAY, NOW, paid, plans } from "./helpers/fixtures";
import { renderApp } from "./helpers/render";

vi.mock("convex/react", async () => {
  const base = await import("./helpers/convexReactMock");
  const { useCallback, useState } = await import("react");
  type Ref = Parameters<typeof base.useQuery>[0];
  function usePaginatedQuery(ref: Ref, args: Record<string, unknown> | "skip", options: { initialNumItems: number }) {
    const pages = base.useQuery(ref, args === "skip" ? "skip" : { ...args, initialNumItems: options.initialNumItems }) as unknown[][] | undefined;
    const [loaded, setLoaded] = useState(1);
    const loadMore = useCallback(() => setLoaded((l) => l + 1), []);
    if (pages === undefined) return { results: [], status: "LoadingFirstPage", isLoading: true, loadMore };
    return {
      results: pages.slice(0, loaded).flat(),
      status: loaded >= pages.length ? "Exhausted" : "CanLoadMore",
      isLoading: false,
      loadMore,
    };
  }
  return { ...base, usePaginatedQuery };
});

// Several tests type a reason and walk a dialog: slower than the default 5 s on a busy machine.
vi.setConfig({ testTimeout: 20_000 });

function accountRow(overrides: Partial<AccountRow> = {}): AccountRow {
  return {
    accountId: "acc_1",
    ownerKey: "user:u1",
    kind: "personal",
    name: "Grace Hopper",
    email: "ada@example.com",
    tier: "pro",
    tierOverride: null,
    tierOverrideUntil: null,
    subscriptionStatus: "active",
    balance: 1250,
    overdueDays: null,
    lastInvoice: { amountDue: 2900, currency: "usd", status: "paid", created: NOW - 3 * DAY },
    stripeCustomerId: "cus_ada",
    ...overrides,
  };
}

function detail(overrides: Partial<AccountDetail> = {}): AccountDetail {
  return {
    account: accountRow(),
    subscription: null,
    scheduledChange: null,
    invoices: [],
    grants: [],
    holds: [],
    events: [],
    notifications: [],
    ...overrides,
  };
}

function auditRow(overrides: Partial<AuditRow> = {}): AuditRow {
  return {
    _id: "audit_1",
    _creationTime: NOW - 60_000,
    accountId: "acc_1",
    actorKind: "staff",
    actor: "user_staff",
    action: "grantTokens",
    before: JSON.stringify({ balance: 1150 }),
    after: JSON.stringify({ balance: 1250 }),
    reason: "Ticket 42: outage credit",
    ...overrides,
  };
}

function health(overrides: Partial<QueueHealth> = {}): QueueHealth {
  return {
    counts: { pending: 2, succeeded: 1000, ignored: 3, failed_retrying: 1, waiting: 0, dead: 1 },
    cappedStatuses: ["succeeded"],
    oldestPendingAgeMs: 5 * 60_000,
    dead: [{ eventId: "evt_dead1", type: "invoice.paid", lastError: "No price price_x", receivedAt: NOW - DAY }],
    lastReconciliation: null,
    ...overrides,
  };
}

function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  return { router, ...renderApp(<RouterProvider router={router} />, { router: false }) };
}

function signedInBasics() {
  fake.setQuery("plans:list", plans);
  fake.setQuery("billing:subscription", paid("starter"));
  fake.setQuery("billing:invoices", []);
}

// The route pages are lazy chunks: load them once up front so the first test's waits don't time out on a cold import.
beforeAll(async () => {
  await Promise.all([
    import("@/src/features/admin/components/AdminPage"),
    import("@/src/features/admin/components/AccountDetailPage"),
    import("@/src/app/dashboard/DashboardPage"),
  ]);
});

beforeEach(() => {
  fake.reset();
  signedInBasics();
});
afterEach(() => vi.restoreAllMocks());

describe("staff gate", () => {
  it("a non-staff user at /admin sees 'Staff only', no console, and no Console link", async () => {
    fake.setQuery("admin:me", { isStaff: false });
    const listAccounts = vi.fn(() => [[accountRow()]]);
    fake.setQuery("admin:listAccounts", listAccounts);
    renderAt("/admin");
    expect(await screen.findByRole("heading", { name: "Staff only" })).toBeInTheDocument();
    expect(screen.queryByTestId("admin-console")).not.toBeInTheDocument();
    expect(screen.queryByText("Grace Hopper")).not.toBeInTheDocument();
    expect(listAccounts).not.toHaveBeenCalled();
    expect(screen.queryByTestId("nav-admin")).not.toBeInTheDocument();
  });

  it("an account page is 'Staff only' too", async () => {
    fake.setQuery("admin:me", { isStaff: false });
    fake.setQuery("admin:accountDetail", detail());
    renderAt("/admin/accounts/acc_1");
    expect(await screen.findByRole("heading", { name: "Staff only" })).toBeInTheDocument();
    expect(screen.queryByTestId("admin-account")).not.toBeInTheDocument();
  });

  it("staff see the Console link and the console; a skeleton while admin.me loads", async () => {
    fake.setQuery("admin:listAccounts", () => [[accountRow()]]);
    renderAt("/admin");
    expect(await screen.findByRole("status", { name: "Checking access" })).toBeInTheDocument();
    fake.pushQuery("admin:me", { isStaff: true });
    expect(await screen.findByRole("heading", { name: "Operator console" })).toBeInTheDocument();
    expect(screen.getByTestId("nav-admin")).toHaveAttribute("href", "/admin");
  });

  it("a signed-out visitor is asked to sign in and never queries admin.me", async () => {
    const me = vi.fn(() => ({ isStaff: true }));
    fake.setQuery("admin:me", me);
    fake.auth = { isLoading: false, isAuthenticated: false };
    renderAt("/admin");
    expect(await screen.findByText("Sign in to the operator console")).toBeInTheDocument();
    expect(me).not.toHaveBeenCalled();
  });
});

describe("accounts list", () => {
  beforeEach(() => fake.setQuery("admin:me", { isStaff: true }));

  it("shows tier, status, balance, overdue days, last invoice in its currency, and the customer id", async () => {
    fake.setQuery("admin:listAccounts", () => [
      [
        accountRow(),
        accountRow({
          accountId: "acc_2",
          kind: "organization",
          name: "Acme Ltd",
          email: null,
          tier: "elite",
          tierOverride: "elite",
          tierOverrideUntil: NOW + 10 * DAY,
          subscriptionStatus: "past_due",
          balance: 0,
          overdueDays: 4,
          lastInvoice: { amountDue: 9900, currency: "eur", status: "open", created: NOW - DAY },
          stripeCustomerId: "cus_acme",
        }),
      ],
    ]);
    renderAt("/admin");
    const rows = await screen.findAllByTestId("admin-account-row");
    expect(rows).toHaveLength(2);
    const acme = within(rows[1]!);
    expect(acme.getByRole("link", { name: "Acme Ltd" })).toHaveAttribute("href", "/admin/accounts/acc_2");
    expect(acme.getByText("Organisation")).toBeInTheDocument();
    expect(acme.getByTestId("admin-account-tier")).toHaveTextContent("Elite");
    expect(acme.getByTestId("admin-account-comp")).toHaveTextContent(/Comped until/);
    expect(acme.getByText("Past due")).toBeInTheDocument();
    expect(acme.getByTestId("admin-account-overdue")).toHaveTextContent("4 days");
    expect(acme.getByText(formatMoney(9900, "eur"))).toBeInTheDocument();
    expect(acme.getByText("cus_acme")).toBeInTheDocument();
    const ada = within(rows[0]!);
    expect(ada.getByTestId("admin-account-balance")).toHaveTextContent("1,250");
    expect(ada.getByTestId("admin-account-overdue")).toHaveTextContent("—");
    expect(ada.getByText("$29.00")).toBeInTheDocument();
  });

  it("search and filters go to the server as arguments; no match shows an empty state", async () => {
    const listAccounts = vi.fn((args: Record<string, unknown>) => (args.search === "cus_none" ? [[]] : [[accountRow()]]));
    fake.setQuery("admin:listAccounts", listAccounts);
    const { user } = renderAt("/admin");
    await screen.findByTestId("admin-account-row");
    await user.type(screen.getByTestId("admin-search"), "cus_none{Enter}");
    expect(await screen.findByText("No accounts match")).toBeInTheDocument();
    expect(listAccounts).toHaveBeenLastCalledWith(expect.objectContaining({ search: "cus_none" }));

    await user.selectOptions(screen.getByTestId("admin-filter-tier"), "pro");
    await user.selectOptions(screen.getByTestId("admin-filter-status"), "past_due");
    await user.click(screen.getByTestId("admin-filter-overdue"));
    expect(listAccounts).toHaveBeenLastCalledWith(expect.objectContaining({ search: "cus_none", tier: "pro", status: "past_due", overdue: true }));
  });

  it("loads more accounts a page at a time, with a skeleton first", async () => {
    renderAt("/admin");
    fake.pushQuery("admin:listAccounts", () => undefined);
    expect(await screen.findByRole("status", { name: "Loading accounts" })).toBeInTheDocument();
    fake.pushQuery("admin:listAccounts", () => [[accountRow()], [accountRow({ accountId: "acc_2", name: "Bob" })]]);
    expect(await screen.findAllByTestId("admin-account-row")).toHaveLength(1);
    const { user } = { user: (await import("@testing-library/user-event")).default.setup() };
    await user.click(screen.getByTestId("admin-accounts-more"));
    expect(screen.getAllByTestId("admin-account-row")).toHaveLength(2);
    expect(screen.queryByTestId("admin-accounts-more")).not.toBeInTheDocument();
    expect(screen.getByTestId("admin-accounts-count")).toHaveTextContent("2 shown, that's all.");
  });
});

describe("account detail and actions", () => {
  beforeEach(() => {
    fake.setQuery("admin:me", { isStaff: true });
    fake.setQuery("admin:ledger", () => [[]]);
    fake.setQuery("admin:auditLog", () => [[auditRow()]]);
  });

  it("shows the account, empty sections, its audit entries and the events with their queue status", async () => {
    fake.setQuery(
      "admin:accountDetail",
      detail({
        events: [
          { eventId: "evt_1", type: "invoice.paid", status: "dead", lastError: "boom", receivedAt: NOW - DAY, attempts: 8, waitingFor: null },
        ] as AccountDetail["events"],
        notifications: [{ kind: "payment_failed", title: "Your payment failed", _creationTime: NOW - DAY, readAt: null }] as AccountDetail["notifications"],
      }),
    );
    renderAt("/admin/accounts/acc_1");
    expect(await screen.findByTestId("admin-account-title")).toHaveTextContent("Grace Hopper");
    expect(screen.getByTestId("admin-detail-balance")).toHaveTextContent("1,250");
    expect(screen.getByTestId("admin-subscription-empty")).toHaveTextContent("No subscription");
    expect(screen.getByTestId("admin-invoices-empty")).toBeInTheDocument();
    const event = screen.getByTestId("admin-event-row");
    expect(event).toHaveAttribute("data-status", "dead");
    expect(within(event).getByText("boom (after 8 attempts)")).toBeInTheDocument();
    expect(screen.getByTestId("admin-notification-row")).toHaveTextContent("Your payment failed");
    const audit = screen.getByTestId("admin-audit-row");
    expect(within(audit).getByTestId("admin-audit-actor")).toHaveTextContent("Staff · user_staff");
    expect(within(audit).getByTestId("admin-audit-reason")).toHaveTextContent("Ticket 42: outage credit");
    expect(within(audit).getByTestId("admin-audit-after")).toHaveTextContent('"balance": 1250');
    expect(screen.getByTestId("admin-ledger-empty")).toBeInTheDocument();
    // Clear comp needs a comp; replay is allowed because an event is dead.
    expect(screen.getByTestId("admin-action-clearComp")).toBeDisabled();
    expect(screen.getByTestId("admin-action-replay")).toBeEnabled();
  });

  it("shows the subscription, scheduled change, invoices in their currency, grants and open holds", async () => {
    fake.setQuery(
      "admin:accountDetail",
      detail({
        subscription: {
          stripeSubscriptionId: "sub_1",
          status: "active",
          tier: "pro",
          interval: "month",
          quantity: 1,
          currentPeriodStart: NOW - 10 * DAY,
          currentPeriodEnd: NOW + 20 * DAY,
          cancelAtPeriodEnd: false,
          cancelAt: null,
          trialEnd: null,
          pastDueSince: null,
          stripePriceId: "price_pro_month",
          scheduleId: "sub_sched_1",
        },
        scheduledChange: { tier: "starter", interval: "month", effectiveAt: NOW + 20 * DAY, pendingPayment: false },
        invoices: [
          {
            stripeInvoiceId: "in_1",
            number: "INV-0001",
            status: "open",
            billingReason: "subscription_cycle",
            amountDue: 2500,
            amountPaid: 0,
            amountRemaining: 2500,
            currency: "gbp",
            hostedInvoiceUrl: "https://pay.example/in_1",
            created: NOW - DAY,
          },
        ],
        grants: [
          {
            grantId: "g_1",
            category: "admin",
            status: "active",
            amount: 100,
            remaining: 60,
            startsAt: NOW - DAY,
            expiresAt: null,
            note: "Outage credit",
            sourceKey: "k",
          },
        ],
        holds: [{ holdId: "h_1", feature: "bulk_analysis", amount: 15, expiresAt: NOW + 60_000, createdAt: NOW }],
      }),
    );
    renderAt("/admin/accounts/acc_1");
    expect(await screen.findByTestId("admin-subscription-plan")).toHaveTextContent("Pro (monthly)");
    expect(screen.getByTestId("admin-subscription-status")).toHaveTextContent("Active");
    expect(screen.getByTestId("admin-scheduled-change-text")).toHaveTextContent("To Starter (monthly) on");
    const invoice = screen.getByTestId("admin-invoice-row");
    expect(within(invoice).getByRole("link", { name: "INV-0001" })).toHaveAttribute("href", "https://pay.example/in_1");
    expect(within(invoice).getAllByText("£25.00")).toHaveLength(1);
    expect(within(invoice).getByText("£0.00")).toBeInTheDocument();
    expect(screen.getByTestId("admin-grant-row")).toHaveTextContent("60 / 100");
    expect(screen.getByTestId("admin-grant-row")).toHaveTextContent("Outage credit");
    expect(screen.getByTestId("admin-hold-row")).toHaveTextContent("bulk_analysis");
  });

  it("grant tokens: submit disabled until amount and reason, a confirmation, the call, a success toast", async () => {
    fake.setQuery("admin:accountDetail", detail());
    const grant = fake.setMutation("admin:grantTokens", () => null);
    const { user } = renderAt("/admin/accounts/acc_1");
    await user.click(await screen.findByTestId("admin-action-grant"));
    const dialog = screen.getByTestId("admin-action-dialog");
    const review = within(dialog).getByTestId("admin-action-review");
    expect(review).toBeDisabled();
    await user.type(within(dialog).getByTestId("admin-action-amount"), "100");
    expect(review).toBeDisabled();
    await user.type(within(dialog).getByTestId("admin-action-reason"), "   ");
    expect(review).toBeDisabled();
    await user.type(within(dialog).getByTestId("admin-action-reason"), "Ticket 42: outage credit");
    expect(review).toBeEnabled();
    await user.click(review);
    expect(within(dialog).getByTestId("admin-action-summary")).toHaveTextContent("Grant 100 tokens to Grace Hopper.");
    expect(grant).not.toHaveBeenCalled();
    await user.click(within(dialog).getByTestId("admin-action-confirm"));
    expect(await screen.findByText("Granted 100 tokens")).toBeInTheDocument();
    expect(grant).toHaveBeenCalledTimes(1);
    const [args] = grant.mock.calls[0]!;
    expect(args).toEqual({ accountId: "acc_1", amount: 100, reason: "Ticket 42: outage credit", idempotencyKey: args.idempotencyKey });
    expect(args.idempotencyKey).toMatch(/^console:grant:/);
    expect(screen.queryByTestId("admin-action-dialog")).not.toBeInTheDocument();
  });

  it("a refused action shows the error as a toast and keeps the form", async () => {
    fake.setQuery("admin:accountDetail", detail({ account: accountRow({ tierOverride: "pro", tierOverrideUntil: NOW + DAY }) }));
    fake.setMutation("admin:clearComp", () => {
      throw new ConvexError({ code: "FORBIDDEN", message: "Staff only." });
    });
    const { user } = renderAt("/admin/accounts/acc_1");
    await user.click(await screen.findByTestId("admin-action-clearComp"));
    await user.type(screen.getByTestId("admin-action-reason"), "Customer asked");
    await user.click(screen.getByTestId("admin-action-review"));
    await user.click(screen.getByTestId("admin-action-confirm"));
    expect(await screen.findByText("Clear the comp failed: You don't have access to that")).toBeInTheDocument();
    expect(screen.getByText("Staff only.")).toBeInTheDocument();
    expect(screen.getByTestId("admin-action-dialog")).toHaveAttribute("data-state", "form");
    expect(screen.getByTestId("admin-action-reason")).toHaveValue("Customer asked");
  });

  it("comp a tier sends the tier and the end of the chosen day in ms", async () => {
    fake.setQuery("admin:accountDetail", detail());
    const comp = fake.setMutation("admin:compTier", () => null);
    const { user } = renderAt("/admin/accounts/acc_1");
    await user.click(await screen.findByTestId("admin-action-comp"));
    await user.selectOptions(screen.getByTestId("admin-action-tier"), "elite");
    const until = screen.getByTestId("admin-action-until");
    await user.clear(until);
    await user.type(until, "2099-01-31");
    await user.type(screen.getByTestId("admin-action-reason"), "Partner deal");
    await user.click(screen.getByTestId("admin-action-review"));
    await user.click(screen.getByTestId("admin-action-confirm"));
    await screen.findByText(/Comped Elite until/);
    expect(comp).toHaveBeenCalledWith({ accountId: "acc_1", tier: "elite", expiresAt: new Date("2099-01-31T23:59:59").getTime(), reason: "Partner deal" });
  });

  it("attach a coupon: needs a subscription, the coupon id and a reason, then says what Stripe attached", async () => {
    fake.setQuery("admin:accountDetail", detail());
    const { user, unmount } = renderAt("/admin/accounts/acc_1");
    expect(await screen.findByTestId("admin-action-coupon")).toBeDisabled();
    unmount();

    const subscription = {
      stripeSubscriptionId: "sub_1",
      status: "active" as const,
      tier: "pro" as const,
      interval: "month",
      quantity: 1,
      currentPeriodStart: NOW - 10 * DAY,
      currentPeriodEnd: NOW + 20 * DAY,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      trialEnd: null,
      pastDueSince: null,
      stripePriceId: "price_pro_month",
      scheduleId: null,
    };
    fake.setQuery("admin:accountDetail", detail({ subscription }));
    const attach = fake.setAction("admin:attachCoupon", () => ({
      status: "attached",
      couponId: "WELCOME20",
      couponName: "Welcome 20%",
      percentOff: 20,
      amountOff: null,
      currency: null,
    }));
    renderAt("/admin/accounts/acc_1");
    await user.click(await screen.findByTestId("admin-action-coupon"));
    await user.type(screen.getByTestId("admin-action-reason"), "Ticket 77");
    expect(screen.getByTestId("admin-action-review")).toBeDisabled();
    await user.type(screen.getByTestId("admin-action-coupon-id"), " WELCOME20 ");
    await user.click(screen.getByTestId("admin-action-review"));
    expect(screen.getByTestId("admin-action-summary")).toHaveTextContent("Attach coupon WELCOME20 to the subscription of");
    await user.click(screen.getByTestId("admin-action-confirm"));
    expect(await screen.findByText("Coupon Welcome 20% attached")).toBeInTheDocument();
    expect(attach).toHaveBeenCalledWith({ accountId: "acc_1", couponId: "WELCOME20", reason: "Ticket 77" });
  });

  it("resync runs the action with the reason", async () => {
    fake.setQuery("admin:accountDetail", detail());
    const resync = fake.setAction("admin:resyncCustomer", () => null);
    const { user } = renderAt("/admin/accounts/acc_1");
    await user.click(await screen.findByTestId("admin-action-resync"));
    await user.type(screen.getByTestId("admin-action-reason"), "Webhook outage");
    await user.click(screen.getByTestId("admin-action-review"));
    await user.click(screen.getByTestId("admin-action-confirm"));
    expect(await screen.findByText("Resynced from Stripe")).toBeInTheDocument();
    expect(resync).toHaveBeenCalledWith({ accountId: "acc_1", reason: "Webhook outage" });
  });

  it("an unknown account says so", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    fake.setQuery("admin:accountDetail", () => {
      throw new ConvexError({ code: "NOT_FOUND", message: "No such billing account." });
    });
    renderAt("/admin/accounts/acc_gone");
    expect(await screen.findByText("No such account")).toBeInTheDocument();
  });
});

describe("queue health and the global audit log", () => {
  beforeEach(() => fake.setQuery("admin:me", { isStaff: true }));

  it("shows counts by status, the oldest pending age, dead events, and replays one with a reason", async () => {
    fake.setQuery("admin:queueHealth", health());
    const replay = fake.setMutation("admin:replayDeadEvents", () => ({ replayed: 1 }));
    const { user } = renderAt("/admin?tab=queue");
    const counts = await screen.findByTestId("admin-queue-counts");
    expect(within(counts).getByText("Succeeded").nextSibling).toHaveTextContent("1,000+");
    expect(within(counts).getByText("Dead").nextSibling).toHaveTextContent("1");
    expect(screen.getByTestId("admin-queue-oldest")).toHaveTextContent("5 minutes");
    expect(screen.getByText("No reconciliation has run yet.")).toBeInTheDocument();
    fake.pushQuery(
      "admin:queueHealth",
      health({ lastReconciliation: { ranAt: NOW - 60_000, result: "ok", error: null, enqueued: 3, alreadyKnown: 12, revived: 0 } }),
    );
    expect(screen.getByTestId("admin-queue-reconciliation-result")).toHaveTextContent("OK · 3 enqueued, 12 already known, 0 revived");
    const row = screen.getByTestId("admin-queue-dead-row");
    expect(row).toHaveTextContent("No price price_x");
    await user.click(within(row).getByTestId("admin-queue-replay"));
    await user.type(screen.getByTestId("admin-action-reason"), "Price synced now");
    await user.click(screen.getByTestId("admin-action-review"));
    await user.click(screen.getByTestId("admin-action-confirm"));
    expect(await screen.findByText("Dead events queued again")).toBeInTheDocument();
    expect(replay).toHaveBeenCalledWith({ eventIds: ["evt_dead1"], reason: "Price synced now" });
  });

  it("an empty queue says there is nothing dead", async () => {
    fake.setQuery("admin:queueHealth", health({ dead: [], oldestPendingAgeMs: null }));
    renderAt("/admin?tab=queue");
    expect(await screen.findByText("No dead events")).toBeInTheDocument();
    expect(screen.getByTestId("admin-queue-oldest")).toHaveTextContent("None pending");
    expect(screen.queryByTestId("admin-queue-replay-all")).not.toBeInTheDocument();
  });

  it("the audit tab lists every account's entries with a link to each account", async () => {
    const auditLog = vi.fn(() => [[auditRow(), auditRow({ _id: "audit_2", action: "compTier", accountId: "acc_9", reason: "Partner" })]]);
    fake.setQuery("admin:auditLog", auditLog);
    const { user } = renderAt("/admin");
    fake.setQuery("admin:listAccounts", () => [[]]);
    await user.click(await screen.findByTestId("admin-tab-audit"));
    const rows = await screen.findAllByTestId("admin-audit-row");
    expect(rows).toHaveLength(2);
    expect(within(rows[1]!).getByTestId("admin-audit-action")).toHaveTextContent("Comp tier");
    expect(within(rows[1]!).getByRole("link", { name: "Account" })).toHaveAttribute("href", "/admin/accounts/acc_9");
    expect(auditLog).toHaveBeenCalledWith(expect.not.objectContaining({ accountId: expect.anything() as unknown }));
  });
});
