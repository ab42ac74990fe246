/**
 * Cross-tenant security (issue 10 §6): every public function of the app
 * (`convex/billing.ts`, `convex/tokens.ts`, `convex/users.ts`,
 * `convex/plans.ts`, `convex/seats.ts`) against an organisation, Acme, that has money, tokens,
 * a hold, invoices, a Stripe customer and auto-recharge settings. For each
 * function and each outsider:
 *
 * - signed out: queries answer empty, mutations and actions throw
 *   `UNAUTHENTICATED`;
 * - a member of another organisation: the call acts on their own
 *   organisation, so nothing of Acme's comes back, and ids of Acme's rows
 *   passed as arguments are refused (`NOT_FOUND`);
 * - a former member (removed through the signed Clerk webhook, with a token
 *   that still names Acme): queries answer empty, mutations and actions
 *   throw `FORBIDDEN`;
 * - a member without the admin role, on admin-only functions: `[]` / `null`
 *   from queries, `FORBIDDEN` from actions.
 *
 * After every call, Acme's rows in the billing component are byte-for-byte
 * what they were. The staff console (`convex/admin.ts`) has its own tests
 * (tests/convex/console*.test.ts): non-staff are refused there.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import * as billingModule from "../../convex/billing";
import { orgOwnerKey } from "../../convex/model/auth";
import * as plansModule from "../../convex/plans";
import * as seatsModule from "../../convex/seats";
import * as tokensModule from "../../convex/tokens";
import * as usersModule from "../../convex/users";
import { accountOf, billing, billingApi, billingSchema, runInBilling } from "../lib/billingComponent";
import type { ErrorCode } from "../../convex/billing/model/errors";
import { alice, bob, expectCode, inOrg, ISSUER, type TestConvex } from "./billingFixtures";
import { removeViaWebhook, stubClerkSecret } from "./clerkWebhookFixtures";
import { makeTest } from "./setup";

const ACME = "org_acme";
const OTHER = "org_other";
const carol = { subject: "user_carol", issuer: ISSUER, name: "Carol", email: "carol@example.com" };
const dave = { subject: "user_dave", issuer: ISSUER, name: "Dave", email: "dave@example.com" };

const acmeAdmin = inOrg(alice, ACME, "org:admin", "Acme Inc");
const acmeMember = inOrg(bob, ACME, "org:member", "Acme Inc");
/** An admin of another organisation. */
const otherOrgAdmin = inOrg(carol, OTHER, "org:admin", "Other Ltd");
/** Removed from Acme by Clerk's webhook; the token still names Acme. */
const formerMember = inOrg(dave, ACME, "org:admin", "Acme Inc");

/** Tokens granted to Acme: a balance no other account has, so it can be looked for in answers. */
const ACME_GRANT = 424_242;

type World = {
  t: TestConvex;
  acmeId: Id<"billingAccounts">;
  acmeHoldId: string;
  /** Strings that only Acme's data contains. */
  markers: string[];
};

async function world(): Promise<World> {
  const t = makeTest();
  for (const identity of [acmeAdmin, acmeMember, otherOrgAdmin, formerMember]) {
    await t.withIdentity(identity).mutation(api.users.store, {});
  }
  const acmeId = (await accountOf(t, orgOwnerKey(ACME)))!._id;
  await runInBilling(t, async (ctx) => {
    await ctx.db.patch("billingAccounts", acmeId, { stripeCustomerId: "cus_acme_secret", email: "billing@acme.test" });
    await ctx.db.insert("invoices", {
      stripeInvoiceId: "in_acme_secret",
      stripeCustomerId: "cus_acme_secret",
      accountId: acmeId,
      status: "paid",
      billingReason: "subscription_cycle",
      number: "ACME-0001",
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt: Date.now(),
      eventCreated: Math.floor(Date.now() / 1000),
      hostedInvoiceUrl: "https://invoice.stripe.test/in_acme_secret",
    });
    await ctx.db.insert("autoRechargeSettings", {
      accountId: acmeId,
      enabled: true,
      thresholdTokens: 31_337,
      packId: "pack_100",
      monthlyCap: 99_001,
      currency: "usd",
      monthKey: "2026-11",
      monthSpent: 0,
      consecutiveFailures: 0,
    });
  });
  await billing(t).mutation(billingApi.tokens.grant, { accountId: acmeId, amount: ACME_GRANT, reason: "cross-tenant fixture", idempotencyKey: "acme-grant" });
  await t.withIdentity(acmeAdmin).mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "acme-run-1" });
  const hold = await t.withIdentity(acmeMember).mutation(api.tokens.reserve, { feature: "summary", idempotencyKey: "acme-hold-1" });
  // Dave leaves Acme through the signed webhook path.
  await removeViaWebhook(t, ACME, dave.subject);
  const acmeBalance = (await t.withIdentity(acmeAdmin).query(api.tokens.balance, {}))!.remaining;
  return {
    t,
    acmeId,
    acmeHoldId: hold.holdId,
    markers: [acmeId, "org_acme", "Acme Inc", "cus_acme_secret", "in_acme_secret", "ACME-0001", "billing@acme.test", hold.holdId, "31337", "99001", String(acmeBalance)],
  };
}

/** Every row of the billing component that belongs to Acme (its account, and rows naming its id), serialised. */
async function acmeSnapshot(w: World): Promise<string> {
  return await runInBilling(w.t, async (ctx) => {
    const rows: unknown[] = [];
    for (const table of Object.keys(billingSchema.tables)) {
      const docs = await ctx.db.query(table as "billingAccounts").collect();
      for (const doc of docs as Record<string, unknown>[]) {
        if (doc._id === w.acmeId || doc.accountId === w.acmeId) rows.push({ table, doc });
      }
    }
    return JSON.stringify(rows);
  });
}

function expectNoAcmeData(w: World, answer: unknown, what: string) {
  const text = JSON.stringify(answer ?? null);
  for (const marker of w.markers) {
    expect(text.includes(marker), `${what} leaked ${marker}: ${text.slice(0, 300)}`).toBe(false);
  }
}

type Identity = object | null;
type Rule = "any" | "admin";

/** A public query, with what it answers when it has nothing to say. */
type QuerySpec = { name: string; rule: Rule; empty: unknown; run: (w: World, as: Identity) => Promise<unknown> };
/** A public mutation or action; `targetsAcme` calls pass an id of Acme's rows. */
type WriteSpec = {
  name: string;
  kind: "mutation" | "action";
  rule: Rule;
  run: (w: World, as: Identity) => Promise<unknown>;
  /** What a member of another organisation gets: acting on their own account succeeds or fails with one of these codes. */
  otherOrg: { ok: true } | { codes: ErrorCode[] };
};

const PAGE = { numItems: 50, cursor: null };

function client(w: World, as: Identity) {
  return as ? w.t.withIdentity(as) : w.t;
}

const QUERIES: QuerySpec[] = [
  { name: "billing.subscription", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.billing.subscription, {}) },
  { name: "billing.invoices", rule: "admin", empty: [], run: (w, as) => client(w, as).query(api.billing.invoices, { limit: 24 }) },
  { name: "billing.currency", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.billing.currency, {}) },
  { name: "tokens.balance", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.tokens.balance, {}) },
  {
    name: "tokens.check",
    rule: "any",
    empty: { allowed: false, reason: "signed_out" },
    run: (w, as) => client(w, as).query(api.tokens.check, { feature: "summary" }),
  },
  {
    name: "tokens.history",
    rule: "any",
    empty: { page: [], isDone: true },
    run: (w, as) => client(w, as).query(api.tokens.history, { paginationOpts: PAGE }),
  },
  { name: "tokens.grants", rule: "any", empty: [], run: (w, as) => client(w, as).query(api.tokens.grants, {}) },
  { name: "tokens.usage", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.tokens.usage, {}) },
  { name: "tokens.alerts", rule: "any", empty: [], run: (w, as) => client(w, as).query(api.tokens.alerts, {}) },
  { name: "tokens.autoRecharge", rule: "admin", empty: null, run: (w, as) => client(w, as).query(api.tokens.autoRecharge, {}) },
  { name: "users.current", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.users.current, {}) },
  { name: "users.activeAccount", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.users.activeAccount, {}) },
  { name: "seats.view", rule: "admin", empty: null, run: (w, as) => client(w, as).query(api.seats.view, {}) },
  { name: "seats.summary", rule: "any", empty: null, run: (w, as) => client(w, as).query(api.seats.summary, {}) },
];

const WRITES: WriteSpec[] = [
  {
    name: "tokens.consume",
    kind: "mutation",
    rule: "any",
    run: (w, as) => client(w, as).mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "acme-run-1" }),
    otherOrg: { ok: true },
  },
  {
    name: "tokens.reserve",
    kind: "mutation",
    rule: "any",
    run: (w, as) => client(w, as).mutation(api.tokens.reserve, { feature: "summary", idempotencyKey: "acme-hold-1" }),
    otherOrg: { ok: true },
  },
  {
    name: "tokens.settle (Acme's hold id)",
    kind: "mutation",
    rule: "any",
    run: (w, as) => client(w, as).mutation(api.tokens.settle, { holdId: w.acmeHoldId }),
    otherOrg: { codes: ["NOT_FOUND"] },
  },
  {
    name: "tokens.release (Acme's hold id)",
    kind: "mutation",
    rule: "any",
    run: (w, as) => client(w, as).mutation(api.tokens.release, { holdId: w.acmeHoldId }),
    otherOrg: { codes: ["NOT_FOUND"] },
  },
  { name: "tokens.dismissAlerts", kind: "mutation", rule: "any", run: (w, as) => client(w, as).mutation(api.tokens.dismissAlerts, {}), otherOrg: { ok: true } },
  {
    name: "tokens.setAutoRecharge",
    kind: "action",
    rule: "admin",
    run: (w, as) =>
      client(w, as).action(api.tokens.setAutoRecharge, { enabled: false, thresholdTokens: 1, packId: "pack_100", monthlyCap: 1 }),
    // Carol's own organisation: no saved card / no Stripe here.
    otherOrg: { codes: ["NO_PAYMENT_METHOD", "NO_CUSTOMER", "STRIPE_NOT_CONFIGURED", "INVALID_ARGUMENT"] },
  },
  {
    name: "billing.createCheckoutSession",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
    otherOrg: { codes: ["STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.createTopUpCheckoutSession",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.createTopUpCheckoutSession, { packId: "pack_100" }),
    otherOrg: { codes: ["STRIPE_NOT_CONFIGURED"] },
  },
  // Acme has a Stripe customer; Carol's organisation has none: NO_CUSTOMER proves hers was used.
  { name: "billing.createPortalSession", kind: "action", rule: "admin", run: (w, as) => client(w, as).action(api.billing.createPortalSession, {}), otherOrg: { codes: ["NO_CUSTOMER"] } },
  {
    name: "billing.previewPlanChange",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.previewPlanChange, { tier: "pro", interval: "month" }),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "NO_CUSTOMER", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.changePlan",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.changePlan, { tier: "pro", interval: "month" }),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "NO_CUSTOMER", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.cancelScheduledChange",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.cancelScheduledChange, {}),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "NOT_FOUND", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.cancelSubscription",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.cancelSubscription, {}),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.resumeSubscription",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.resumeSubscription, {}),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.previewEndTrial",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.previewEndTrial, {}),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "NO_CUSTOMER", "STRIPE_NOT_CONFIGURED"] },
  },
  {
    name: "billing.endTrialNow",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.billing.endTrialNow, {}),
    otherOrg: { codes: ["NO_SUBSCRIPTION", "NO_CUSTOMER", "STRIPE_NOT_CONFIGURED"] },
  },
  // Carol's organisation has no subscription: NO_SUBSCRIPTION proves hers was used.
  {
    name: "seats.preview",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.seats.preview, { seats: 2 }),
    otherOrg: { codes: ["NO_SUBSCRIPTION"] },
  },
  {
    name: "seats.change",
    kind: "action",
    rule: "admin",
    run: (w, as) => client(w, as).action(api.seats.change, { seats: 2, requestId: "acme-seats-1" }),
    otherOrg: { codes: ["NO_SUBSCRIPTION"] },
  },
];

/** Functions that touch no account: `users.store` is covered below; `plans.list` is the public catalogue. */
const NOT_ACCOUNT_SCOPED = ["plans.list", "users.store"];

let w: World;

beforeEach(async () => {
  stubClerkSecret();
  w = await world();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("every public function of the app is listed here", () => {
  test("billing, tokens, users, plans and seats: each public export is checked below (add new ones to QUERIES or WRITES)", () => {
    const modules = { billing: billingModule, tokens: tokensModule, users: usersModule, plans: plansModule, seats: seatsModule };
    const exported = Object.entries(modules).flatMap(([module, exports]) =>
      Object.entries(exports as Record<string, unknown>)
        .filter(([, fn]) => typeof fn === "function" && (fn as { isPublic?: boolean }).isPublic === true)
        .map(([name]) => `${module}.${name}`),
    );
    const covered = new Set([...QUERIES.map((q) => q.name), ...WRITES.map((m) => m.name.split(" ")[0]), ...NOT_ACCOUNT_SCOPED]);
    expect(exported.length).toBeGreaterThan(20);
    expect(exported.filter((name) => !covered.has(name))).toEqual([]);
  });
});

describe.each([
  ["signed out", null],
  ["a former member (removed by Clerk's webhook)", formerMember],
] as const)("%s", (_who, identity) => {
  test.each(QUERIES.map((q) => [q.name, q] as const))("%s answers empty", async (_name, spec) => {
    const answer = await spec.run(w, identity);
    if (spec.name === "users.activeAccount" && identity) {
      expect(answer).toEqual({ status: "removed", orgId: ACME });
    } else if (spec.name === "tokens.check") {
      expect(answer).toMatchObject(spec.empty as object);
    } else if (spec.name === "tokens.history") {
      expect(answer).toMatchObject(spec.empty as object);
    } else {
      expect(answer).toEqual(spec.empty);
    }
    expectNoAcmeData({ ...w, markers: w.markers.filter((m) => m !== "org_acme") }, answer, spec.name);
  });

  test.each(WRITES.map((m) => [m.name, m] as const))("%s is refused and changes nothing of Acme's", async (_name, spec) => {
    const before = await acmeSnapshot(w);
    const data = await expectCode(spec.run(w, identity), identity ? "FORBIDDEN" : "UNAUTHENTICATED");
    expectNoAcmeData(w, data, spec.name);
    expect(await acmeSnapshot(w)).toBe(before);
  });
});

describe("a member of another organisation", () => {
  test.each(QUERIES.map((q) => [q.name, q] as const))("%s answers about their own organisation only", async (_name, spec) => {
    const answer = await spec.run(w, otherOrgAdmin);
    expectNoAcmeData(w, answer, spec.name);
  });

  test.each(WRITES.map((m) => [m.name, m] as const))("%s acts on their own organisation; Acme is unchanged", async (_name, spec) => {
    const before = await acmeSnapshot(w);
    if ("ok" in spec.otherOrg) {
      const answer = await spec.run(w, otherOrgAdmin);
      expectNoAcmeData(w, answer, spec.name);
    } else {
      const error: unknown = await spec.run(w, otherOrgAdmin).then(
        () => new Error(`${spec.name} succeeded for another organisation`),
        (e: unknown) => e,
      );
      const code = (error as { data?: { code?: string } }).data?.code;
      expect(spec.otherOrg.codes, `${spec.name} threw ${String(code ?? error)}`).toContain(code);
      expectNoAcmeData(w, (error as { data?: unknown }).data, spec.name);
    }
    expect(await acmeSnapshot(w)).toBe(before);
  });

  test("Acme's own admin still sees Acme's data (the fixture is not empty)", async () => {
    const asAdmin = w.t.withIdentity(acmeAdmin);
    const invoices = await asAdmin.query(api.billing.invoices, {});
    expect(invoices.map((i) => i.number)).toEqual(["ACME-0001"]);
    // The checks above can fail: Acme's own answers carry its markers, and its own writes change the snapshot.
    expect(() => expectNoAcmeData(w, invoices, "Acme's invoices")).toThrow();
    const before = await acmeSnapshot(w);
    await asAdmin.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "acme-run-2" });
    expect(await acmeSnapshot(w)).not.toBe(before);
    expect(await asAdmin.query(api.tokens.autoRecharge, {})).toMatchObject({ thresholdTokens: 31_337 });
    expect((await asAdmin.query(api.tokens.balance, {}))!.remaining).toBeGreaterThan(ACME_GRANT - 100);
  });
});

describe("a member without the admin role", () => {
  const adminOnly = QUERIES.filter((q) => q.rule === "admin");
  test.each(adminOnly.map((q) => [q.name, q] as const))("admin-only %s answers empty", async (_name, spec) => {
    const answer = await spec.run(w, acmeMember);
    expect(answer).toEqual(spec.empty);
  });

  const adminWrites = WRITES.filter((m) => m.rule === "admin");
  test.each(adminWrites.map((m) => [m.name, m] as const))("admin-only %s is FORBIDDEN and changes nothing", async (_name, spec) => {
    const before = await acmeSnapshot(w);
    const data = await expectCode(spec.run(w, acmeMember), "FORBIDDEN");
    expect(data.message).toMatch(/Only organisation admins/);
    expect(await acmeSnapshot(w)).toBe(before);
  });

  test("every admin-only function is in the lists above", () => {
    expect(adminOnly.map((q) => q.name).sort()).toEqual(["billing.invoices", "seats.view", "tokens.autoRecharge"]);
    expect(adminWrites.length).toBe(WRITES.filter((m) => m.kind === "action").length);
  });
});

describe("users.store", () => {
  test("a former member's sign-in and another organisation's sign-in leave Acme unchanged", async () => {
    const before = await acmeSnapshot(w);
    await w.t.withIdentity(formerMember).mutation(api.users.store, {});
    await w.t.withIdentity(otherOrgAdmin).mutation(api.users.store, {});
    expect(await acmeSnapshot(w)).toBe(before);
    await expectCode(w.t.mutation(api.users.store, {}), "UNAUTHENTICATED");
  });
});
