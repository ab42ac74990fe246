/**
 * Organisation accounts (issue 10 §1 and §6): the active organisation comes
 * from the verified token's claims only, admins manage billing, members
 * spend and read, other organisations and former members reach nothing.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/billing/_generated/dataModel";
import { orgOwnerKey } from "../../convex/model/auth";
import { membershipEventFrom } from "../../convex/model/orgMemberships";
import { accountOf, runInBilling } from "../lib/billingComponent";
import { alice, bob, expectCode, inOrg, ISSUER, seedOrgAccount, type TestConvex } from "./billingFixtures";
import { makeTest } from "./setup";

const carol = { subject: "user_carol", issuer: ISSUER, name: "Carol", email: "carol@example.com" };
const ACME = "org_acme";
const OTHER = "org_other";
const aliceAdmin = inOrg(alice, ACME, "org:admin", "Acme Inc");
const bobMember = inOrg(bob, ACME, "org:member", "Acme Inc");
const carolOtherAdmin = inOrg(carol, OTHER, "org:admin", "Other Ltd");

afterEach(() => {
  vi.unstubAllEnvs();
});

async function signUp(t: TestConvex, ...identities: object[]) {
  for (const identity of identities) await t.withIdentity(identity).mutation(api.users.store, {});
}

async function seedInvoice(t: TestConvex, accountId: Id<"billingAccounts">, id: string) {
  await runInBilling(t, async (ctx) => {
    await ctx.db.insert("invoices", {
      stripeInvoiceId: id,
      stripeCustomerId: "cus_acme",
      accountId,
      status: "paid",
      billingReason: "subscription_cycle",
      number: `NUM-${id}`,
      amountDue: 2900,
      amountPaid: 2900,
      amountRemaining: 0,
      currency: "usd",
      createdAt: Date.now(),
      eventCreated: Math.floor(Date.now() / 1000),
      hostedInvoiceUrl: `https://invoice.stripe.test/${id}`,
    });
  });
}

async function removeFromOrg(t: TestConvex, subject: string, orgId: string, eventAt = Date.now()) {
  await t.mutation(internal.orgMemberships.record, {
    clerkOrgId: orgId,
    clerkUserId: subject,
    status: "removed",
    role: "member",
    eventAt,
  });
}

describe("organisation accounts", () => {
  test("the first sign-in in an organisation creates its account, named after it; the personal account stays", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin);

    const org = await accountOf(t, orgOwnerKey(ACME));
    expect(org).toMatchObject({ kind: "organization", ownerKey: "org:org_acme", tier: "free", name: "Acme Inc" });
    expect(org?.email).toBeUndefined();
    expect(await t.withIdentity(aliceAdmin).query(api.users.activeAccount, {})).toEqual({
      status: "ok",
      kind: "organization",
      orgId: ACME,
      name: "Acme Inc",
      role: "admin",
      accountReady: true,
    });
    expect(await t.withIdentity(alice).query(api.users.activeAccount, {})).toEqual({
      status: "ok",
      kind: "personal",
      orgId: null,
      name: "Alice",
      role: "admin",
      accountReady: true,
    });
    // A second member's sign-in finds the same account.
    await signUp(t, bobMember);
    const accounts = await runInBilling(t, async (ctx) => await ctx.db.query("billingAccounts").collect());
    expect(accounts.map((a) => a.ownerKey).filter((k) => k.startsWith("org:"))).toEqual(["org:org_acme"]);
  });

  test("an org admin acts on the organisation's account: invoices, Portal, Checkout, auto-recharge settings", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin);
    const orgAccount = (await accountOf(t, orgOwnerKey(ACME)))!;
    await seedInvoice(t, orgAccount._id, "in_acme_1");

    const asAdmin = t.withIdentity(aliceAdmin);
    expect((await asAdmin.query(api.billing.invoices, {})).map((i) => i.number)).toEqual(["NUM-in_acme_1"]);
    expect(await t.withIdentity(alice).query(api.billing.invoices, {})).toEqual([]);
    // Past the role check: the component answers (no customer / no Stripe key), not FORBIDDEN.
    await expectCode(asAdmin.action(api.billing.createPortalSession, {}), "NO_CUSTOMER");
    await expectCode(asAdmin.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }), "STRIPE_NOT_CONFIGURED");
    await expectCode(asAdmin.action(api.billing.createTopUpCheckoutSession, { packId: "pack_100" }), "STRIPE_NOT_CONFIGURED");
  });

  test("a member spends the organisation's tokens and sees its balance and plan, not invoices or payment settings", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    const orgAccount = (await accountOf(t, orgOwnerKey(ACME)))!;
    await seedInvoice(t, orgAccount._id, "in_acme_1");
    const asMember = t.withIdentity(bobMember);
    const asAdmin = t.withIdentity(aliceAdmin);

    const before = (await asAdmin.query(api.tokens.balance, {}))!.remaining;
    const personalBefore = (await t.withIdentity(bob).query(api.tokens.balance, {}))!.remaining;
    const spent = await asMember.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "bob-1" });
    expect(spent.duplicate).toBe(false);
    expect((await asAdmin.query(api.tokens.balance, {}))!.remaining).toBe(before - spent.cost);
    expect((await asMember.query(api.tokens.balance, {}))!.remaining).toBe(before - spent.cost);
    expect((await t.withIdentity(bob).query(api.tokens.balance, {}))!.remaining).toBe(personalBefore);
    expect(await asMember.query(api.billing.subscription, {})).toMatchObject({ tier: "free" });

    expect(await asMember.query(api.billing.invoices, {})).toEqual([]);
    expect(await asMember.query(api.tokens.autoRecharge, {})).toBeNull();
    const forbidden = [
      asMember.action(api.billing.createCheckoutSession, { tier: "pro", interval: "month" }),
      asMember.action(api.billing.createPortalSession, {}),
      asMember.action(api.billing.createTopUpCheckoutSession, { packId: "pack_100" }),
      asMember.action(api.billing.previewPlanChange, { tier: "pro", interval: "month" }),
      asMember.action(api.billing.changePlan, { tier: "pro", interval: "month" }),
      asMember.action(api.billing.cancelScheduledChange, {}),
      asMember.action(api.billing.cancelSubscription, {}),
      asMember.action(api.billing.resumeSubscription, {}),
      asMember.action(api.tokens.setAutoRecharge, { enabled: true, thresholdTokens: 10, packId: "x", monthlyCap: 5000 }),
    ];
    for (const call of forbidden) await expectCode(call, "FORBIDDEN");
    const data = await expectCode(asMember.action(api.billing.createPortalSession, {}), "FORBIDDEN");
    expect(data.message).toMatch(/Only organisation admins can manage billing/);
  });

  test("members' alerts come without payment links", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    const orgAccount = (await accountOf(t, orgOwnerKey(ACME)))!;
    await runInBilling(t, async (ctx) => {
      await ctx.db.insert("tokenAlerts", {
        accountId: orgAccount._id,
        periodKey: "none",
        alertId: "auto_recharge_action",
        message: "Confirm the payment with your bank.",
        balance: 3,
        actionUrl: "https://checkout.stripe.test/3ds",
      });
    });
    const adminAlerts = await t.withIdentity(aliceAdmin).query(api.tokens.alerts, {});
    const memberAlerts = await t.withIdentity(bobMember).query(api.tokens.alerts, {});
    expect(adminAlerts.map((a) => a.actionUrl)).toEqual(["https://checkout.stripe.test/3ds"]);
    expect(memberAlerts).toHaveLength(1);
    expect(memberAlerts[0]).not.toHaveProperty("actionUrl");
    expect(memberAlerts[0]!.message).toBe("Confirm the payment with your bank.");
  });

  test("a caller can't reach another organisation's data by any argument", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin, carolOtherAdmin);
    const acme = (await accountOf(t, orgOwnerKey(ACME)))!;
    await seedInvoice(t, acme._id, "in_acme_1");
    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "a-1" });
    const asCarol = t.withIdentity(carolOtherAdmin);

    expect(await asCarol.query(api.billing.invoices, {})).toEqual([]);
    expect((await asCarol.query(api.tokens.balance, {}))!.used).toBe(0);
    const page = await asCarol.query(api.tokens.history, { paginationOpts: { numItems: 20, cursor: null } });
    expect(page.page.some((row) => row.feature === "summary")).toBe(false);

    // Hostile arguments naming the other account are refused by the validators.
    const hostile = { ownerKey: orgOwnerKey(ACME), orgId: ACME, accountId: acme._id };
    for (const [name, call] of [
      ["invoices", () => asCarol.query(api.billing.invoices, hostile as never)],
      ["balance", () => asCarol.query(api.tokens.balance, hostile as never)],
      ["subscription", () => asCarol.query(api.billing.subscription, hostile as never)],
      ["store", () => asCarol.mutation(api.users.store, hostile as never)],
      ["consume", () => asCarol.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "c", ...hostile })],
      ["portal", () => asCarol.action(api.billing.createPortalSession, hostile as never)],
    ] as const) {
      await expect(call(), name).rejects.toThrow(/Validator error/);
    }
    // A token for Acme's id but another user: only a member's own token names the org; the
    // claims are signed by the identity provider, which checks membership.
    expect((await t.withIdentity(aliceAdmin).query(api.tokens.balance, {}))!.used).toBeGreaterThan(0);
  });

  test("switching organisation changes the account every function acts on", async () => {
    const t = makeTest();
    const aliceOther = inOrg(alice, OTHER, "org:member", "Other Ltd");
    await signUp(t, alice, aliceAdmin, aliceOther);

    await t.withIdentity(aliceAdmin).mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "k" });
    // The same idempotency key in another account is another debit.
    const inOther = await t.withIdentity(aliceOther).mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "k" });
    expect(inOther.duplicate).toBe(false);

    const used = async (identity: object) => (await t.withIdentity(identity).query(api.tokens.balance, {}))!.used;
    expect(await used(aliceAdmin)).toBeGreaterThan(0);
    expect(await used(aliceOther)).toBeGreaterThan(0);
    expect(await used(alice)).toBe(0);
    expect(await t.withIdentity(aliceOther).query(api.users.activeAccount, {})).toMatchObject({ orgId: OTHER, role: "member" });
    await expectCode(t.withIdentity(aliceOther).action(api.billing.createPortalSession, {}), "FORBIDDEN");
    await expectCode(t.withIdentity(alice).action(api.billing.createPortalSession, {}), "NO_CUSTOMER");
  });

  test("the session token v2 `o` claim is read when the template claims are absent", async () => {
    const t = makeTest();
    const v2Admin = { ...alice, o: { id: ACME, rol: "admin", slg: "acme" } };
    const v2Member = { ...bob, o: { id: ACME, rol: "member", slg: "acme" } };
    await signUp(t, v2Admin, v2Member);
    expect(await accountOf(t, orgOwnerKey(ACME))).toMatchObject({ kind: "organization", name: "acme" });
    expect(await t.withIdentity(v2Admin).query(api.users.activeAccount, {})).toMatchObject({ orgId: ACME, role: "admin" });
    expect(await t.withIdentity(v2Member).query(api.users.activeAccount, {})).toMatchObject({ orgId: ACME, role: "member" });
    await expectCode(t.withIdentity(v2Member).action(api.billing.createPortalSession, {}), "FORBIDDEN");
  });

  test("activeAccount says when the organisation's account is not created yet, until users.store runs", async () => {
    const t = makeTest();
    await signUp(t, alice);
    expect(await t.withIdentity(aliceAdmin).query(api.users.activeAccount, {})).toMatchObject({ orgId: ACME, accountReady: false });
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).toBeNull();
    await signUp(t, aliceAdmin);
    expect(await t.withIdentity(aliceAdmin).query(api.users.activeAccount, {})).toMatchObject({ orgId: ACME, accountReady: true });
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).not.toBeNull();
  });

  test("signed out: empty answers and UNAUTHENTICATED", async () => {
    const t = makeTest();
    await seedOrgAccount(t, ACME);
    expect(await t.query(api.billing.invoices, {})).toEqual([]);
    expect(await t.query(api.tokens.balance, {})).toBeNull();
    expect(await t.query(api.users.activeAccount, {})).toBeNull();
    await expectCode(t.action(api.billing.createPortalSession, {}), "UNAUTHENTICATED");
    await expectCode(t.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "x" }), "UNAUTHENTICATED");
  });
});

describe("membership changes from Clerk's webhooks", () => {
  test("a removed member loses access at once, even with a token that still names the organisation", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin, bobMember);
    const asMember = t.withIdentity(bobMember);
    expect(await asMember.query(api.tokens.balance, {})).not.toBeNull();

    await removeFromOrg(t, bob.subject, ACME);

    expect(await asMember.query(api.tokens.balance, {})).toBeNull();
    expect(await asMember.query(api.billing.subscription, {})).toBeNull();
    expect(await asMember.query(api.tokens.history, { paginationOpts: { numItems: 5, cursor: null } })).toMatchObject({ page: [] });
    expect(await asMember.query(api.users.activeAccount, {})).toEqual({ status: "removed", orgId: ACME });
    const data = await expectCode(asMember.mutation(api.tokens.consume, { feature: "summary", idempotencyKey: "b" }), "FORBIDDEN");
    expect(data.message).toMatch(/no longer a member/);
    await expectCode(asMember.action(api.billing.createPortalSession, {}), "FORBIDDEN");
    // The personal account is untouched.
    expect(await t.withIdentity(bob).query(api.tokens.balance, {})).not.toBeNull();
    // The admin is not affected.
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).not.toBeNull();
  });

  test("a removed admin is refused too; a later re-add restores access, an older event changes nothing", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin);
    await removeFromOrg(t, alice.subject, ACME, 2_000);
    await expectCode(t.withIdentity(aliceAdmin).action(api.billing.createPortalSession, {}), "FORBIDDEN");
    // An older "created" delivered late does not revive the membership.
    expect(
      await t.mutation(internal.orgMemberships.record, {
        clerkOrgId: ACME,
        clerkUserId: alice.subject,
        status: "active",
        role: "admin",
        eventAt: 1_000,
      }),
    ).toBe(false);
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).toBeNull();
    await t.mutation(internal.orgMemberships.record, {
      clerkOrgId: ACME,
      clerkUserId: alice.subject,
      status: "active",
      role: "admin",
      eventAt: 3_000,
    });
    expect(await t.withIdentity(aliceAdmin).query(api.tokens.balance, {})).not.toBeNull();
    await expectCode(t.withIdentity(aliceAdmin).action(api.billing.createPortalSession, {}), "NO_CUSTOMER");
  });

  test("a recorded demotion makes a token's admin a member at once", async () => {
    const t = makeTest();
    await signUp(t, aliceAdmin);
    await t.mutation(internal.orgMemberships.record, {
      clerkOrgId: ACME,
      clerkUserId: alice.subject,
      status: "active",
      role: "member",
      eventAt: Date.now(),
    });
    expect(await t.withIdentity(aliceAdmin).query(api.users.activeAccount, {})).toMatchObject({ role: "member" });
    expect(await t.withIdentity(aliceAdmin).query(api.billing.invoices, {})).toEqual([]);
    await expectCode(t.withIdentity(aliceAdmin).action(api.billing.createPortalSession, {}), "FORBIDDEN");
  });

  test("a removed member's sign-in does not create or reach the organisation's account", async () => {
    const t = makeTest();
    await removeFromOrg(t, bob.subject, ACME);
    await signUp(t, bobMember);
    expect(await accountOf(t, orgOwnerKey(ACME))).toBeNull();
  });
});

describe("membershipEventFrom (Clerk webhook bodies)", () => {
  const body = (type: string, role = "org:member") => ({
    type,
    timestamp: 1_700_000_000_000,
    object: "event",
    data: { organization: { id: ACME, name: "Acme Inc" }, public_user_data: { user_id: "user_bob" }, role, updated_at: 1 },
  });

  test("maps created/updated to active and deleted to removed, with the role and Clerk's event time", () => {
    expect(membershipEventFrom(body("organizationMembership.created", "org:admin"))).toEqual({
      clerkOrgId: ACME,
      clerkUserId: "user_bob",
      status: "active",
      role: "admin",
      eventAt: 1_700_000_000_000,
    });
    expect(membershipEventFrom(body("organizationMembership.updated"))).toMatchObject({ status: "active", role: "member" });
    expect(membershipEventFrom(body("organizationMembership.deleted"))).toMatchObject({ status: "removed" });
  });

  test("ignores other events and bodies without the ids", () => {
    expect(membershipEventFrom(body("user.created"))).toBeNull();
    expect(membershipEventFrom({ type: "organizationMembership.deleted", data: { organization: {} } })).toBeNull();
    expect(membershipEventFrom(null)).toBeNull();
  });
});
